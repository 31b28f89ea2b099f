"""The database drops every connection mid-run, again and again for two seconds (what a
restart looks like to clients): the run still finishes, without a model call paid twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.db.events_repo import events_after
from app.db.models import ModelCall
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.databases import PG_ADMIN_URL

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

QUESTION = "Flights cost 4 * 340 USD and the hotel is 5 * 120 USD. What is the total?"


def drop_all_connections(database: str) -> int:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


async def test_run_survives_the_database_dropping_every_connection(postgres_url: str) -> None:
    database_url = postgres_url
    database = make_url(database_url).database
    assert database is not None
    with SimulatorServer(SimulatorConfig(latency_scale=1.0)) as simulator_url:
        settings = Settings(database_url=database_url, simulator_url=simulator_url, lease_seconds=3)
        async with build_services(settings) as services:
            body = SubmitRun(graph="plan_execute", input={"question": QUESTION})
            run, _ = await run_service.submit_run(services, body)
            stop = asyncio.Event()
            worker = asyncio.create_task(Worker(services).run_forever(stop))
            try:
                for _ in range(600):
                    async with services.sessions() as session:
                        events = await events_after(session, run.id)
                    if any(e.kind == "node_finished" and e.node == "plan" for e in events):
                        break
                    await asyncio.sleep(0.05)
                # A restart is not one instant: keep dropping every new connection for
                # a while, so reads, writes and checkpoints in flight fail too.
                dropped = 0
                for _ in range(40):
                    dropped += await asyncio.to_thread(drop_all_connections, database)
                    await asyncio.sleep(0.05)
                assert dropped > 0
                for _ in range(1200):
                    try:
                        current = await run_service.get_run(services, run.id)
                    except psycopg.OperationalError:
                        continue
                    if current.status not in ("queued", "running"):
                        break
                    await asyncio.sleep(0.05)
            finally:
                stop.set()
                await asyncio.wait_for(worker, 30)
            assert current.status == "succeeded", current.error
            assert current.output is not None
            assert "Final answer: 1960" in current.output["answer"]
            async with services.sessions() as session:
                calls = list(
                    (
                        await session.execute(select(ModelCall).where(ModelCall.run_id == run.id))
                    ).scalars()
                )
                events = await events_after(session, run.id)
    paid = Counter(c.call_key for c in calls if c.status == "ok")
    assert paid and all(n == 1 for n in paid.values()), paid
    assert [(e.kind, e.node) for e in events].count(("node_started", "plan")) == 1
