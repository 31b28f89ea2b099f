"""Dashboard queries over a big ledger: p50/p95 of each, with 1,000,000 model calls in Postgres.

Creates a Postgres database, migrates it, seeds `--calls` finished ledger rows (through the
rollup triggers, as the gateway's writes go: INSERT ... SELECT generate_series in chunks)
spread over `--days` days, two tenants (90% / 10%), the catalog's models, six task classes,
statuses, fallbacks, cache hits, API keys, streamed calls with a TTFT; `--runs` runs and
`--feedback` feedback rows. Then folds the rollups (as a worker's minute sweep does) and
times each dashboard query the way the API calls it (the service function, one pooled
connection), `--repeat` times after a warm-up, printing p50/p95 per query; then what the
rollup triggers add to writing one ledger call (with and without them, alternating). Drops
the database at the end (`--keep` keeps it).

    python benchmarks/dashboard_queries.py [--calls 1000000] [--days 30] [--repeat 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db import rollup_repo
from app.db.dashboard_repo import Window
from app.services import dashboard, routing_stats
from app.services import runs as run_service
from app.services.container import Services, build_services
from app.services.dashboard_window import make_window
from app.settings import Settings

PG_ADMIN = os.environ.get("ROUTEGRAPH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MODELS = [
    ("edge-a", "edge"),
    ("edge-b", "edge"),
    ("mid-a", "mid"),
    ("mid-b", "mid"),
    ("frontier-a", "frontier"),
    ("frontier-b", "frontier"),
]
CLASSES = ["math", "code", "chat", "extraction", "reasoning", "knowledge"]
CHUNK = 100_000


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def seed_sql(start: int, count: int, runs: int, days: int, now: datetime) -> str:
    """`count` finished ledger rows numbered from `start`; the distributions by hash of i."""
    models = _array([m for m, _ in MODELS])
    tiers = _array([t for _, t in MODELS])
    return f"""
INSERT INTO model_calls (id, tenant_id, run_id, node, call_key, attempt, task_class,
  routing_reason, requested, tier, model, provider, request, prompt_tokens, completion_tokens,
  cached_tokens, cost_usd, latency_ms, ttft_ms, status, fallback_of, api_key_id, saved_usd,
  created_at, completed_at)
SELECT 'c' || i, CASE WHEN i % 10 = 0 THEN 'globex' ELSE 'acme' END,
  CASE WHEN i % 2 = 0 THEN 'r' || (i % {runs}) END, 'node', 'k' || i, 1,
  ({_array(CLASSES)})[1 + (i * 7) % 6], 'bench', t.tier, t.tier, t.model, 'simulator', '{{}}',
  100 + (i * 13) % 900, 10 + (i * 17) % 400, (i * 3) % 50,
  CASE WHEN s.status IN ('cache_hit') THEN 0 ELSE 0.00001 * (1 + (i * 11) % 500) END,
  exp(3 + 5 * ((i * 7919) % 1000) / 1000.0),
  CASE WHEN i % 3 = 0 THEN exp(2 + 4 * ((i * 104729) % 1000) / 1000.0) END,
  s.status, CASE WHEN i % 25 = 0 THEN 'f' || i END,
  CASE WHEN i % 2 = 1 THEN 'key' || (i % 4) END,
  CASE WHEN s.status = 'cache_hit' THEN 0.001 END,
  TIMESTAMPTZ '{now.isoformat()}' - ((i * 2654435761) % ({days} * 86400)) * INTERVAL '1 second',
  TIMESTAMPTZ '{now.isoformat()}'
FROM generate_series({start}::bigint, {start + count - 1}) AS i,
  LATERAL (SELECT ({models})[1 + (i * 31) % 6] AS model, ({tiers})[1 + (i * 31) % 6] AS tier) t,
  LATERAL (SELECT CASE WHEN i % 50 = 1 THEN 'error' WHEN i % 97 = 2 THEN 'invalid_output'
    WHEN i % 301 = 3 THEN 'rejected' WHEN i % 20 = 5 THEN 'cache_hit' ELSE 'ok' END
    AS status) s
"""


def seed(url: str, calls: int, runs: int, feedback: int, days: int) -> float:
    """Seed the database; returns the seconds the ledger rows took (triggers included)."""
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"""INSERT INTO runs (id, tenant_id, thread_id, graph, version, input, status,
              priority, epoch, recoveries, crashes, solo, steps_done, steps_at_claim, event_seq,
              cancel_requested, cost_usd, created_at)
            SELECT 'r' || i, CASE WHEN i % 10 = 0 THEN 'globex' ELSE 'acme' END, 't' || i,
              'plan_execute', 1, '{{}}',
              CASE WHEN i % 17 = 0 THEN 'failed' ELSE 'succeeded' END, 0, 1, 0, 0, false, 3, 0,
              5, false, 0.01,
              TIMESTAMPTZ '{now.isoformat()}'
                - ((i * 40503) % ({days} * 86400)) * INTERVAL '1 second'
            FROM generate_series(0::bigint, {runs - 1}) AS i"""
        )
        for key in range(4):
            conn.execute(
                "INSERT INTO api_keys (id, tenant_id, name, key_hash, prefix, budget_usd, "
                "budget_period, created_at) VALUES (%s, 'acme', %s, %s, 'rg-bench', 50, 'month', "
                "now())",
                (f"key{key}", f"bench {key}", uuid.uuid4().hex * 2),
            )
        conn.execute(
            f"""INSERT INTO feedback (tenant_id, call_id, run_id, source, score, scope, task_class,
              cluster, tier, model, prior_p, condition, created_at, updated_at)
            SELECT 'acme', 'c' || i, NULL, 'user', (i % 5) / 4.0, '*',
              ({_array(CLASSES)})[1 + i % 6], '*', 'edge', 'edge-a', 0.5, '',
              now() - (i % ({days} * 86400)) * INTERVAL '1 second', now()
            FROM generate_series(1, {feedback}) AS i"""
        )
        started = time.perf_counter()
        for start in range(0, calls, CHUNK):
            conn.execute(seed_sql(start, min(CHUNK, calls - start), runs, days, now))
            print(f"  seeded {min(start + CHUNK, calls):,} calls", file=sys.stderr)
        elapsed = time.perf_counter() - started
        conn.execute("ANALYZE")
    return elapsed


TRIGGERS = ("ledger_rollup_insert", "ledger_rollup_update", "ledger_rollup_delete")


def write_cost(url: str, calls: int, rounds: int = 4) -> tuple[float, float]:
    """Mean ms per ledger call written as the gateway writes one (an in-flight row, then its
    completion, each its own transaction), with the rollup triggers and without, in
    alternating rounds."""
    per: dict[bool, list[float]] = {True: [], False: []}
    with psycopg.connect(url, autocommit=True) as conn:
        for round_ in range(rounds * 2):
            triggers = round_ % 2 == 0
            for name in TRIGGERS:
                state = "ENABLE" if triggers else "DISABLE"
                conn.execute(f"ALTER TABLE model_calls {state} TRIGGER {name}")
            started = time.perf_counter()
            for i in range(calls):
                call = f"w{round_}-{i}"
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO model_calls (id, tenant_id, call_key, attempt, routing_reason,"
                        " requested, tier, model, provider, request, prompt_tokens,"
                        " completion_tokens, cached_tokens, cost_usd, latency_ms, status,"
                        " created_at) VALUES (%s, 'acme', %s, 1, 'bench', 'edge', 'edge',"
                        " 'edge-a', 'simulator', '{}', 100, 0, 0, 0.001, 0, 'in_flight', now())",
                        (call, call),
                    )
                with conn.transaction():
                    conn.execute(
                        "UPDATE model_calls SET status = 'ok', completion_tokens = 40,"
                        " cost_usd = 0.0009, latency_ms = 120, completed_at = now() WHERE id = %s",
                        (call,),
                    )
            per[triggers].append((time.perf_counter() - started) * 1000 / calls)
        for name in TRIGGERS:
            conn.execute(f"ALTER TABLE model_calls ENABLE TRIGGER {name}")
    return statistics.mean(per[True]), statistics.mean(per[False])


def timed(
    name: str, make: Callable[[], Awaitable[Any]], repeat: int
) -> Callable[[], Awaitable[tuple[str, list[float]]]]:
    async def run() -> tuple[str, list[float]]:
        await make()  # warm-up
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            await make()
            samples.append((time.perf_counter() - started) * 1000)
        return name, samples

    return run


def queries(services: Services, repeat: int) -> list[Callable[[], Awaitable[Any]]]:
    now = datetime.now(UTC)
    month = make_window("acme", now - timedelta(days=30), now)
    week = make_window("acme", now - timedelta(days=7), now)
    day = make_window("acme", None, None)

    def at(window: Window) -> str:
        return f"{(window.until - window.since).days or 1}d"

    suite: list[Callable[[], Awaitable[Any]]] = []
    for window in (month, week, day):
        span = at(window)
        suite += [
            timed(f"overview {span}", lambda w=window: dashboard.overview(services, w), repeat),
            timed(f"models {span}", lambda w=window: dashboard.models(services, w), repeat),
            timed(
                f"task classes {span}", lambda w=window: dashboard.task_classes(services, w), repeat
            ),
        ]
    suite += [
        timed("budgets", lambda: dashboard.budgets(services, "acme"), repeat),
        timed(
            "runs list (page of 50)",
            lambda: run_service.list_runs(
                services, "acme", status=None, graph=None, limit=50, cursor=None
            ),
            repeat,
        ),
        timed(
            "runs list, status=failed, 7d",
            lambda: run_service.list_runs(
                services,
                "acme",
                status="failed",
                graph="plan_execute",
                limit=50,
                cursor=None,
                created_since=now - timedelta(days=7),
                created_until=now,
            ),
            repeat,
        ),
        timed(
            "routing stats",
            lambda: routing_stats.learned_rows(services.sessions, services.settings),
            repeat,
        ),
    ]
    return suite


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def measure(url: str, args: argparse.Namespace) -> None:
    settings = Settings(database_url=url)
    async with build_services(settings) as services:
        seeded_s = float("nan")
        if not args.reuse:
            print("seeding ...", file=sys.stderr)
            seeded_s = await asyncio.to_thread(
                seed, url.replace("+psycopg", ""), args.calls, args.runs, args.feedback, args.days
            )
        started = time.perf_counter()
        async with services.sessions.begin() as session:
            await rollup_repo.compact(session)
        fold_s = time.perf_counter() - started
        # The first fold deleted every delta row at once; a minute's fold deletes a few, and
        # autovacuum keeps up with those. Start the timings from that steady state.
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        async with services.sessions() as session:
            from sqlalchemy import text

            rollup_rows = (
                await session.execute(text("SELECT count(*) FROM ledger_rollup"))
            ).scalar()
            hist_rows = (
                await session.execute(text("SELECT count(*) FROM ledger_latency_hist"))
            ).scalar()
        results = [await run() for run in queries(services, args.repeat)]
        with_triggers, without = await asyncio.to_thread(
            write_cost, url.replace("+psycopg", ""), args.write_calls
        )
    print(
        f"\n{args.calls:,} ledger rows over {args.days} days (seeded in {seeded_s:.1f} s through "
        f"the triggers, {args.calls / seeded_s:,.0f} rows/s), {args.runs:,} runs, "
        f"{args.feedback:,} feedback rows; first fold of the rollups {fold_s:.1f} s -> "
        f"{rollup_rows:,} rollup rows, {hist_rows:,} histogram rows; {args.repeat} runs each\n"
    )
    print(f"| {'query':32} | p50 ms | p95 ms | max ms |")
    print(f"| {'-' * 32} | ------ | ------ | ------ |")
    for name, samples in results:
        print(
            f"| {name:32} | {percentile(samples, 0.5):6.1f} | {percentile(samples, 0.95):6.1f} "
            f"| {max(samples):6.1f} |"
        )
    print(
        f"\nledger write per call (in-flight row + completion, 2 transactions), "
        f"{args.write_calls} calls x 4 rounds each: {with_triggers:.2f} ms with the rollup "
        f"triggers, {without:.2f} ms without (+{with_triggers - without:.2f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--feedback", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--write-calls", type=int, default=500, help="per write-cost round")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", metavar="DATABASE", help="time a database seeded before")
    args = parser.parse_args()
    name = args.reuse or f"rg_bench_dash_{uuid.uuid4().hex[:8]}"
    if args.reuse:
        args.keep = True
    else:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    try:
        asyncio.run(measure(url, args))
    finally:
        if not args.keep:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept database {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
