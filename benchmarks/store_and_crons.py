"""Figures for the store and crons on a fresh database (SQLite file or Postgres).

    .venv/bin/python benchmarks/store_and_crons.py [sqlite|postgres] [ITEMS] [CRONS]

Store: put, get and search latencies (p50/p95, ms) of a tenant's view of LangGraph's store,
as graphs and the /store routes use it. Crons: CRONS crons due at once, fired by two
workers (two service containers on the same database) racing each other; prints how many
runs started (must equal CRONS: one per firing) and how long the two took.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import func, select, update

from app.db.cron_table import Cron
from app.db.models import Run
from app.services import crons, store
from app.services.container import build_services
from app.services.cron_firing import fire_due_crons
from app.settings import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


async def _timed(samples: list[float], call: object) -> None:
    start = time.perf_counter()
    await call  # type: ignore[misc]
    samples.append(time.perf_counter() - start)


async def bench(url: str, items: int, cron_count: int) -> None:
    settings = Settings(database_url=url, cron_poll_seconds=60)
    async with build_services(settings) as first, build_services(settings) as second:
        puts: list[float] = []
        gets: list[float] = []
        searches: list[float] = []
        for i in range(items):
            namespace = ["bench", f"user{i % 20}"]
            await _timed(puts, store.put_item(first, "acme", namespace, f"k{i}", {"i": i}))
            await _timed(gets, store.get_item(first, "acme", namespace, f"k{i}"))
            if i % 10 == 0:
                await _timed(searches, store.search_items(first, "acme", ["bench"], limit=10))
        print(f"store put    ({items}): {_ms(puts)}")
        print(f"store get    ({items}): {_ms(gets)}")
        print(f"store search ({len(searches)}, 10 items): {_ms(searches)}")

        body = {"assistant_id": "answer", "schedule": "0 0 1 1 *", "input": {"question": "hi"}}
        for _ in range(cron_count):
            await crons.create_cron(first, "acme", body)
        async with first.sessions.begin() as session:  # all due now
            past = datetime.now(UTC) - timedelta(seconds=1)
            await session.execute(update(Cron).values(next_run_date=past))
        start = time.perf_counter()
        started = await asyncio.gather(
            fire_due_crons(first, limit=cron_count), fire_due_crons(second, limit=cron_count)
        )
        took = time.perf_counter() - start
        async with first.sessions() as session:
            runs = await session.scalar(select(func.count()).select_from(Run))
        print(
            f"crons: {cron_count} due, two workers started {started[0]} + {started[1]} runs "
            f"({runs} in the table) in {took * 1000:.0f} ms"
        )


def main() -> None:
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    items = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    cron_count = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            asyncio.run(bench(url, items, cron_count))
        return
    name = f"rg_bench_{int(time.time())}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        asyncio.run(
            bench(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", items, cron_count)
        )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
