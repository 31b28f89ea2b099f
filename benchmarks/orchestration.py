"""Engine overhead: a 3-node no-op graph submitted over REST and followed on SSE to its end.

Starts `routegraph serve` (plus `--workers N` extra `routegraph worker` processes) on a
fresh SQLite file or Postgres database, loads `benchmarks/noop_graph/langgraph.json`
(the way a user brings their own LangGraph graph) and prints, per backend:

- start-up: launch of `serve` until `/healthz` answers 200 (database already migrated);
- c=1: p50/p99 of submit -> terminal event seen on the run's SSE stream, sequential runs;
- queued -> started: from the run's own event timestamps (server clocks, not the client's);
- c=16: completed runs per second with 16 clients each submitting and following runs;
- server CPU ms per run: user+system CPU of the service processes over the c=16 phase,
  divided by the runs completed in it (the client's CPU is reported apart);
- the same c=1 / c=16 figures again after 100,000 finished runs (and their events) are
  bulk-inserted into the store.

    python benchmarks/orchestration.py [--db sqlite|postgres|both] [--runs 200]
        [--duration 10] [--concurrency 16] [--workers 0] [--seed-runs 100000]
        [--service-dir DIR --builtin-noop]   # measure another checkout (see --help)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "benchmarks" / "noop_graph" / "langgraph.json"
PG_ADMIN = os.environ.get("ROUTEGRAPH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TERMINAL = {"succeeded", "failed", "cancelled", "budget_exceeded"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Service:
    """`serve` and optional extra workers as child processes of this script."""

    database_url: str
    service_dir: Path
    builtin_noop: bool
    workers: int
    log_dir: Path
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "ROUTEGRAPH_DATABASE_URL": self.database_url,
            "ROUTEGRAPH_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(self.service_dir),
        }
        if not self.builtin_noop:
            env["ROUTEGRAPH_CONFIG"] = str(CONFIG)
        return env

    def _spawn(self, *args: str, name: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            cwd=self.service_dir,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def migrate(self) -> None:
        self._spawn("migrate", name="migrate").wait(timeout=120)

    def start(self) -> float:
        """Launch serve (and workers); return seconds until /healthz answered 200."""
        started = time.perf_counter()
        self.processes.append(self._spawn("serve", "--port", str(self.port), name="serve"))
        with httpx.Client(base_url=self.base_url, timeout=2) as client:
            while True:
                if self.processes[0].poll() is not None:
                    raise RuntimeError((self.log_dir / "serve.log").read_text()[-3000:])
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        ready = time.perf_counter() - started
        for index in range(self.workers):
            self.processes.append(self._spawn("worker", name=f"worker-{index}"))
        return ready

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.processes if p.poll() is None)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def one_run(client: httpx.AsyncClient) -> tuple[float, float | None, str]:
    """Submit a run, follow its SSE stream to the terminal event: (latency s, queued->started
    ms from event timestamps, final status)."""
    started = time.perf_counter()
    response = await client.post("/v1/runs", json={"graph": "noop", "input": {"question": "q"}})
    response.raise_for_status()
    run_id = response.json()["id"]
    stamps: dict[str, str] = {}
    status = "?"
    async with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
        async for line in stream.aiter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            stamps.setdefault(event["kind"], event["at"])
            if event["kind"] in TERMINAL:
                status = event["kind"]
                break
    latency = time.perf_counter() - started
    wake = None
    if "queued" in stamps and ("started" in stamps or "resumed" in stamps):
        begin = stamps.get("started") or stamps["resumed"]
        wake = (_ts(begin) - _ts(stamps["queued"])) * 1000
    return latency, wake, status


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def sequential(base_url: str, runs: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for _ in range(10):  # warm-up: connections, caches, first-call imports
            await one_run(client)
        latencies, wakes = [], []
        for _ in range(runs):
            latency, wake, status = await one_run(client)
            assert status == "succeeded", status
            latencies.append(latency * 1000)
            if wake is not None:
                wakes.append(wake)
    return {
        "c1_p50_ms": statistics.median(latencies),
        "c1_p99_ms": percentile(latencies, 0.99),
        "queued_to_started_p50_ms": statistics.median(wakes) if wakes else float("nan"),
        "queued_to_started_p99_ms": percentile(wakes, 0.99) if wakes else float("nan"),
    }


async def concurrent(service: Service, clients: int, duration: float) -> dict[str, float]:
    done = 0
    failures = 0
    stop_at = time.perf_counter() + duration

    async def client_loop() -> None:
        nonlocal done, failures
        async with httpx.AsyncClient(base_url=service.base_url, timeout=120) as client:
            while time.perf_counter() < stop_at:
                _, _, status = await one_run(client)
                if status == "succeeded":
                    done += 1
                else:
                    failures += 1

    cpu_before, client_before = service.cpu(), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    cpu_used, client_used = service.cpu() - cpu_before, time.process_time() - client_before
    return {
        "c16_runs_per_s": done / elapsed,
        "c16_failed": failures,
        "server_cpu_ms_per_run": cpu_used / max(done, 1) * 1000,
        "client_cpu_ms_per_run": client_used / max(done, 1) * 1000,
    }


async def poll_storm(service: Service, pollers: int, duration: float) -> dict[str, float]:
    """`pollers` clients hammer GET /v1/runs/{id} while one client runs runs one after the
    other: the API must stay responsive and never starve the worker."""
    stop_at = time.perf_counter() + duration
    polls = 0
    latencies: list[float] = []

    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as client:
        first = await client.post("/v1/runs", json={"graph": "noop", "input": {"question": "q"}})
        run_id = first.json()["id"]

        async def poller() -> None:
            nonlocal polls
            async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as own:
                while time.perf_counter() < stop_at:
                    (await own.get(f"/v1/runs/{run_id}")).raise_for_status()
                    polls += 1

        async def runner() -> None:
            while time.perf_counter() < stop_at:
                latency, _, status = await one_run(client)
                assert status == "succeeded", status
                latencies.append(latency * 1000)

        started = time.perf_counter()
        await asyncio.gather(runner(), *(poller() for _ in range(pollers)))
        elapsed = time.perf_counter() - started
    return {
        "storm_polls_per_s": polls / elapsed,
        "storm_runs_per_s": len(latencies) / elapsed,
        "storm_run_p50_ms": statistics.median(latencies),
    }


def seed_finished_runs(database_url: str, count: int) -> float:
    """Bulk-insert `count` succeeded runs with five events each; returns seconds taken."""
    started = time.perf_counter()
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.split("///", 1)[1])
        conn.execute(
            """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO runs (id, thread_id, graph, version, input, status, priority, epoch,
              cancel_requested, cost_usd, output, created_at, started_at, finished_at)
            SELECT printf('seed-%08d', i), printf('seed-thread-%08d', i), 'noop', 1,
              '{"question": "q"}', 'succeeded', 0, 1, 0, 0.0, '{"answer": "a"}',
              datetime('now', '-1 day'), datetime('now', '-1 day'), datetime('now', '-1 day')
            FROM n""",
            (count,),
        )
        conn.execute(
            """INSERT INTO run_events (run_id, seq, at, kind, node, payload)
            SELECT r.id, k.seq, r.created_at, k.kind, NULL, '{}' FROM runs r,
              (SELECT 1 AS seq, 'queued' AS kind UNION ALL SELECT 2, 'started'
               UNION ALL SELECT 3, 'node_started' UNION ALL SELECT 4, 'node_finished'
               UNION ALL SELECT 5, 'succeeded') k
            WHERE r.id LIKE 'seed-%'"""
        )
        conn.commit()
        conn.close()
    else:
        with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
            conn.execute(
                """INSERT INTO runs (id, thread_id, graph, version, input, status, priority,
                  epoch, cancel_requested, cost_usd, output, created_at, started_at,
                  finished_at)
                SELECT 'seed-' || lpad(i::text, 8, '0'), 'seed-thread-' || i, 'noop', 1,
                  '{"question": "q"}', 'succeeded', 0, 1, false, 0.0, '{"answer": "a"}',
                  now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
                FROM generate_series(1, %s) AS i""",
                (count,),
            )
            conn.execute(
                """INSERT INTO run_events (run_id, seq, at, kind, node, payload)
                SELECT r.id, k.seq, r.created_at, k.kind, NULL, '{}' FROM runs r
                CROSS JOIN (VALUES (1, 'queued'), (2, 'started'), (3, 'node_started'),
                  (4, 'node_finished'), (5, 'succeeded')) AS k(seq, kind)
                WHERE r.id LIKE 'seed-%%'"""
            )
            conn.execute("ANALYZE")
    return time.perf_counter() - started


async def measure(args: argparse.Namespace, backend: str, database_url: str, tmp: Path) -> None:
    service = Service(database_url, args.service_dir, args.builtin_noop, args.workers, log_dir=tmp)
    service.migrate()
    try:
        ready = service.start()
        print(f"\n[{backend}] start-up to /healthz 200: {ready:.2f} s", flush=True)
        empty = await sequential(service.base_url, args.runs)
        empty |= await concurrent(service, args.concurrency, args.duration)
        if args.poll_storm:
            empty |= await poll_storm(service, args.poll_storm, args.duration)
        report(f"{backend}, empty store", empty)
        if args.seed_runs:
            took = seed_finished_runs(database_url, args.seed_runs)
            print(f"[{backend}] seeded {args.seed_runs:,} finished runs in {took:.1f} s")
            seeded = await sequential(service.base_url, args.runs)
            seeded |= await concurrent(service, args.concurrency, args.duration)
            report(f"{backend}, {args.seed_runs:,} runs in store", seeded)
    finally:
        service.stop()


def report(title: str, figures: dict[str, float]) -> None:
    print(f"  {title}:")
    for key, value in figures.items():
        print(f"    {key:<26} {value:9.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=200, help="sequential runs for c=1")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of c=16 load")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0, help="extra worker processes")
    parser.add_argument("--seed-runs", type=int, default=100_000)
    parser.add_argument(
        "--poll-storm", type=int, default=16, help="clients polling GET /v1/runs/{id} (0: skip)"
    )
    parser.add_argument(
        "--service-dir", type=Path, default=REPO, help="checkout whose `app` package is run"
    )
    parser.add_argument(
        "--builtin-noop",
        action="store_true",
        help="the checkout registers `noop` itself (for checkouts without langgraph.json)",
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; service from {args.service_dir}")
    with tempfile.TemporaryDirectory(prefix="rg-orch-") as tmp_dir:
        tmp = Path(tmp_dir)
        if args.db in ("sqlite", "both"):
            await measure(args, "sqlite", f"sqlite+aiosqlite:///{tmp / 'bench.db'}", tmp)
        if args.db in ("postgres", "both"):
            name = f"rg_orch_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
                await measure(args, "postgres", f"{base}/{name}", tmp)
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
