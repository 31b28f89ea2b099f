"""The dashboard's figures equal what the ledger says, however its rows were written.

Ledger rows are written as the gateway writes them (in-flight rows then their completion,
batched, marked lost, deleted with their run) on SQLite and Postgres; the figures the
service reads from the trigger-kept rollups are compared with aggregations of the
`model_calls` rows themselves, before and after the deltas are folded.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import column, delete, insert, inspect, select
from sqlalchemy import table as sa_table

from app.db import ledger_repo, rollup_repo
from app.db.dashboard_repo import Window
from app.db.engine import create_engine
from app.db.migrate import upgrade_database
from app.db.models import ModelCall, Run
from app.db.rollup_models import LedgerRollup
from app.services import dashboard
from app.services.container import Services, build_services
from app.settings import Settings

MODELS = [("edge-a", "edge"), ("edge-b", "edge"), ("mid-a", "mid"), ("frontier-a", "frontier")]
FINAL = ["ok", "ok", "ok", "ok", "error", "invalid_output", "rejected", "cache_hit", "replayed"]
NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)


def _row(rng: random.Random, tenant: str, hours_ago: int, run_id: str | None) -> dict[str, Any]:
    model, tier = rng.choice(MODELS)
    return {
        "id": str(uuid.uuid4()),
        "tenant_id": tenant,
        "run_id": run_id,
        "node": "n",
        "call_key": str(uuid.uuid4()),
        "attempt": 1,
        "task_class": rng.choice(["math", "chat", None]),
        "routing_reason": "test",
        "requested": tier,
        "tier": tier,
        "model": model,
        "provider": "simulator",
        "request": {},
        "prompt_tokens": rng.randint(10, 500),
        "cost_usd": 0.001,
        "status": "in_flight",
        "fallback_of": str(uuid.uuid4()) if rng.random() < 0.2 else None,
        "api_key_id": None,
        "created_at": NOW - timedelta(hours=hours_ago, minutes=rng.randint(0, 29)),
    }


def _completion(rng: random.Random, row: dict[str, Any]) -> dict[str, Any]:
    status = rng.choice(FINAL)
    return {
        "b_id": row["id"],
        "status": status,
        "error": None,
        "response": None,
        "prompt_tokens": rng.randint(10, 500),
        "completion_tokens": rng.randint(1, 300),
        "cached_tokens": rng.randint(0, 5),
        "cost_usd": 0.0 if status in ("cache_hit", "replayed") else rng.uniform(1e-5, 1e-2),
        "latency_ms": math.exp(rng.uniform(0, 8)),
        "ttft_ms": math.exp(rng.uniform(0, 6)) if rng.random() < 0.5 else None,
        "finish_reason": "stop",
        "completed_at": NOW,
    }


async def _write_ledger(services: Services, rng: random.Random, count: int) -> None:
    """Rows of two tenants over three hours: completed in batches, some left in flight, some
    marked lost, one run's rows deleted with the run."""
    async with services.sessions.begin() as session:
        session.add(Run(id="gone", thread_id="t", graph="g", version=1, input={}, tenant_id="acme"))
    rows = [
        _row(rng, rng.choice(["acme", "acme", "globex"]), rng.randint(0, 120), None)
        for _ in range(count)
    ]
    rows += [_row(rng, "acme", 0, "gone") for _ in range(5)]
    async with services.sessions.begin() as session:
        await ledger_repo.add_calls_batch(session, rows)
    done = [_completion(rng, r) for r in rows[: count - 10]] + [
        _completion(rng, r) for r in rows[count:]
    ]
    for start in range(0, len(done), 25):
        async with services.sessions.begin() as session:
            await ledger_repo.complete_calls_batch(session, done[start : start + 25])
    async with services.sessions.begin() as session:
        await ledger_repo.mark_lost(session, [r["id"] for r in rows[count - 10 : count - 5]])
        await ledger_repo.complete_call(session, rows[0]["id"], status="error", cost_usd=0.5)


async def _ledger(services: Services, window: Window) -> list[ModelCall]:
    """The window's finished rows (a call counts in the hour it started)."""
    async with services.sessions() as session:
        query = select(ModelCall).where(
            ModelCall.tenant_id == window.tenant_id,
            ModelCall.status.not_in(("in_flight", "replayed")),
            ModelCall.created_at >= window.since,
            ModelCall.created_at < window.until,
        )
        return list((await session.execute(query)).scalars())


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def _check(services: Services, *windows: Window) -> None:
    for window in windows:
        await _check_window(services, window)


async def _check_window(services: Services, window: Window) -> None:
    calls = await _ledger(services, window)
    assert calls
    frontier = services.catalog.chain("frontier")[0]
    ok = [c for c in calls if c.status == "ok"]
    spend = sum(c.cost_usd for c in calls)
    attempts = [c for c in calls if c.status in dashboard.ATTEMPT_STATUSES]
    requests = sum(1 for c in calls if c.fallback_of is None)

    got = await dashboard.overview(services, window)
    assert got["requests"] == requests
    assert got["attempts"] == len(attempts)
    assert got["successful_requests"] == sum(1 for c in calls if c.status in ("ok", "cache_hit"))
    assert got["spend_usd"] == pytest.approx(spend)
    assert got["frontier_equivalent_usd"] == pytest.approx(
        frontier.cost_usd(
            sum(c.prompt_tokens for c in ok),
            sum(c.completion_tokens for c in ok),
            sum(c.cached_tokens for c in ok),
        )
    )
    errors = sum(1 for c in attempts if c.status != "ok")
    assert got["error_rate"] == pytest.approx(errors / len(attempts))
    fallbacks = sum(1 for c in calls if c.fallback_of is not None)
    assert got["fallback_rate"] == pytest.approx(fallbacks / requests)
    assert got["cache_hits"] == sum(1 for c in calls if c.status == "cache_hit")
    assert sum(p["calls"] for p in got["series"]) == len(calls)

    by_model = {
        (r["model"], r["tier"]): r for r in (await dashboard.models(services, window))["models"]
    }
    grouped: dict[tuple[str, str], list[ModelCall]] = defaultdict(list)
    for c in calls:
        grouped[(c.model, c.tier)].append(c)
    assert set(by_model) == set(grouped)
    for key, rows in grouped.items():
        figure = by_model[key]
        assert figure["calls"] == len(rows)
        assert figure["spend_usd"] == pytest.approx(sum(c.cost_usd for c in rows))
        for kind in dashboard.ERROR_KINDS:
            assert figure["errors_by_kind"][kind] == sum(1 for c in rows if c.status == kind)
        for metric, values in (
            ("latency", [c.latency_ms for c in rows if c.status in ("ok", "invalid_output")]),
            (
                "ttft",
                [
                    c.ttft_ms
                    for c in rows
                    if c.status in ("ok", "invalid_output") and c.ttft_ms is not None
                ],
            ),
        ):
            if not values:
                assert f"{metric}_p50_ms" not in figure
                continue
            assert figure[f"{metric}_samples"] == len(values)
            for q in (50, 95):
                lo, hi = figure[f"{metric}_p{q}_bin_ms"]
                exact = _nearest_rank(values, q / 100)
                assert lo <= exact < hi, (key, metric, q, exact, lo, hi)
                assert abs(figure[f"{metric}_p{q}_ms"] / exact - 1) < 0.1

    classes = await dashboard.task_classes(services, window)
    first = defaultdict(int)
    for c in calls:
        if c.fallback_of is None:
            first[(c.task_class or dashboard.FIXED_ROUTE_CLASS, c.tier)] += 1
    shown = {
        (r["task_class"], tier): n
        for r in classes["classes"]
        for tier, n in r["requests_by_tier"].items()
    }
    assert shown == dict(first)


async def test_figures_match_the_ledger_before_and_after_folding_on_both_databases(
    database_url: str,
) -> None:
    settings = Settings(database_url=database_url)
    async with build_services(settings) as services:
        await _write_ledger(services, random.Random(7), 400)
        hour = NOW.replace(minute=0)
        # Hourly rows only (up to 3 days); whole days from the daily rows plus partial days.
        windows = (
            Window("acme", hour - timedelta(hours=5), hour + timedelta(hours=1)),
            Window("acme", hour - timedelta(hours=100), hour + timedelta(hours=1)),
            Window("acme", hour - timedelta(days=20), hour - timedelta(hours=30)),
        )
        await _check(services, *windows)
        async with services.sessions.begin() as session:
            await session.execute(delete(Run).where(Run.id == "gone"))  # cascades to its calls
        await _check(services, *windows)
        async with services.sessions.begin() as session:
            await rollup_repo.compact(session)
        async with services.sessions() as session:
            left = await session.execute(
                select(LedgerRollup.id).where(LedgerRollup.compacted.is_(False))
            )
            assert left.all() == []  # every delta folded
        await _check(services, *windows)
        # New deltas after a fold (a completion, a lost call) still count once.
        await _write_ledger_more(services)
        await _check(services, *windows)
        async with services.sessions.begin() as session:
            await rollup_repo.compact(session)
        await _check(services, *windows)
        # Another tenant's figures are its own.
        globex = Window("globex", windows[1].since, windows[1].until)
        other = await dashboard.overview(services, globex)
        assert other["attempts"] == sum(
            1 for c in await _ledger(services, globex) if c.status in dashboard.ATTEMPT_STATUSES
        )


async def _write_ledger_more(services: Services) -> None:
    rng = random.Random(11)
    rows = [_row(rng, "acme", rng.choice([1, 50, 90]), None) for _ in range(30)]
    async with services.sessions.begin() as session:
        await ledger_repo.add_calls_batch(session, rows)
    async with services.sessions.begin() as session:
        await ledger_repo.complete_calls_batch(session, [_completion(rng, r) for r in rows[:24]])
        await ledger_repo.mark_lost(session, [r["id"] for r in rows[24:]])


async def test_calls_written_before_the_migration_are_in_the_rollups(
    empty_database_url: str,
) -> None:
    upgrade_database(empty_database_url, "0011")
    rng = random.Random(3)
    rows = [_row(rng, "acme", rng.randint(0, 100), None) for _ in range(60)]
    done = {c["b_id"]: c for c in (_completion(rng, r) for r in rows)}
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            # The table as it was at 0011 (reflected: the model has later migrations' columns).
            names = await connection.run_sync(
                lambda sync: [c["name"] for c in inspect(sync).get_columns("model_calls")]
            )
            typed = ModelCall.__table__.c
            table = sa_table("model_calls", *(column(name, typed[name].type) for name in names))
            finished = [
                {**r, **{k: v for k, v in done[r["id"]].items() if k != "b_id"}} for r in rows
            ]
            await connection.execute(
                insert(table),
                [{k: v for k, v in row.items() if k in names} for row in finished],
            )
    finally:
        await engine.dispose()
    upgrade_database(empty_database_url)
    async with build_services(Settings(database_url=empty_database_url)) as services:
        hour = NOW.replace(minute=0)
        await _check(
            services,
            Window("acme", hour - timedelta(hours=5), hour + timedelta(hours=1)),
            Window("acme", hour - timedelta(days=6), hour + timedelta(hours=1)),
        )
