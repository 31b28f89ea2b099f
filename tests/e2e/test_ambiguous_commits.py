"""Connections that die mid-commit (the commit took effect, its answer was lost) never
duplicate a run's events: exactly one node_started and one node_finished per task and
attempt, and the runs still finish."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.engine import make_url

from app.db.events_repo import events_after
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker
from devtools.bench.kill_soak import duplicated_node_events
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.pg_proxy import COMMIT, CommitDroppingProxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
APPEND = b"jsonb_to_recordset"  # in the text of the fenced append (app/db/journal/postgres.py)

QUESTIONS = [
    "Flights cost 4 * 340 USD and the hotel is 5 * 120 USD. What is the total?",
    "What is 12 * 7 + 3 * 9?",
    "A ticket is 45 USD; 6 tickets and a 20 USD fee cost how much?",
]


async def test_commits_lost_in_flight_never_duplicate_events(postgres_url: str) -> None:
    url = make_url(postgres_url)
    proxy = CommitDroppingProxy(url.port or 5432)
    with (
        proxy as port,
        SimulatorServer(SimulatorConfig(latency_scale=1.0)) as simulator_url,
    ):
        proxied = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        settings = Settings(
            database_url=proxied,
            simulator_url=simulator_url,
            lease_seconds=2,
            poll_seconds=0.2,
            event_flush_seconds=0.02,
        )
        async with build_services(settings) as services:
            runs = []
            for question in QUESTIONS:
                body = SubmitRun(graph="plan_execute", input={"question": question})
                runs.append((await run_service.submit_run(services, body))[0])
            stop = asyncio.Event()
            worker = asyncio.create_task(Worker(services).run_forever(stop))
            try:
                # Cut a commit's connection every 50 ms while the runs make progress: a
                # COMMIT's, or a fenced append's (sent in autocommit, it commits itself).
                for turn in range(60):
                    proxy.drop_after_commits(1, COMMIT if turn % 2 else APPEND)
                    await asyncio.sleep(0.05)
                proxy.drop_after_commits(0)
                ended = []
                for run in runs:
                    for _ in range(1200):
                        current = await run_service.get_run(services, run.id)
                        if current.status not in ("queued", "running"):
                            break
                        await asyncio.sleep(0.05)
                    ended.append(current)
            finally:
                stop.set()
                await asyncio.wait_for(worker, 30)
            assert proxy.dropped >= 3
            assert [r.status for r in ended] == ["succeeded"] * len(runs), [r.error for r in ended]
            async with services.sessions() as session:
                for run in runs:
                    events = await events_after(session, run.id, limit=10_000)
                    assert duplicated_node_events(events) == [], run.id
