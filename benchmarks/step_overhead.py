"""Orchestration overhead per graph step: a run's wall time minus its model-call time.

Runs the plan_execute graph N times in-process (worker + real database + simulator with
zero latency over loopback) on SQLite and on Postgres and prints, per backend, the
overhead per node execution: checkpoint writes, event and ledger rows, lease renewal,
budget checks and routing: everything but the model calls themselves, as the gateway
timed them (LiteLLM plus the HTTP round trip to the simulator).

    python benchmarks/step_overhead.py [--runs 20] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from app.db.models import ModelCall, RunEvent
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker
from devtools.demo import DEFAULT_QUESTION
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# The demo question: three priced items, a total, a split (5 plan steps).
QUESTION = DEFAULT_QUESTION


async def measure(database_url: str, simulator_url: str, runs: int) -> list[float]:
    """Overhead per node execution (ms), one figure per run (after one warm-up run)."""
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    figures: list[float] = []
    async with build_services(settings) as services:
        worker = Worker(services)
        for index in range(runs + 1):
            body = SubmitRun(graph="plan_execute", input={"question": QUESTION})
            run, _ = await run_service.submit_run(services, body)
            started = time.perf_counter()
            assert await worker.run_once() == "succeeded"
            wall_ms = (time.perf_counter() - started) * 1000
            async with services.sessions() as session:
                model_ms = (
                    await session.execute(
                        select(func.sum(ModelCall.latency_ms)).where(ModelCall.run_id == run.id)
                    )
                ).scalar_one()
                steps = (
                    await session.execute(
                        select(func.count())
                        .select_from(RunEvent)
                        .where(RunEvent.run_id == run.id, RunEvent.kind == "node_finished")
                    )
                ).scalar_one()
            if index > 0:  # the first run pays one-off imports and connection set-up
                figures.append((wall_ms - model_ms) / steps)
    return figures


def report(name: str, figures: list[float]) -> None:
    ordered = sorted(figures)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    print(
        f"{name:<9} runs={len(figures):<3} overhead per step: "
        f"median {statistics.median(figures):6.1f} ms  mean {statistics.fmean(figures):6.1f} ms  "
        f"p90 {p90:6.1f} ms  min {ordered[0]:6.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    with SimulatorServer(SimulatorConfig(latency_scale=0.0)) as simulator_url:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            report("sqlite", await measure(url, simulator_url, args.runs))
        if args.skip_postgres:
            return
        name = f"rg_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            report("postgres", await measure(url, simulator_url, args.runs))
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
