"""The learned table lives in the database: every process sees it, and it outlives them."""

from __future__ import annotations

import json

import pytest

from app.api.app import create_app
from app.db import ledger_repo
from app.schemas.feedback import FeedbackIn
from app.schemas.runs import SubmitRun
from app.services import feedback as feedback_service
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker
from tests.conftest import SimulatorAdmin
from tests.support.learning import PEACHES
from tests.support.live_server import LiveServer
from tests.support.processes import client_cli


async def test_two_processes_share_feedback_and_routing_stats_shows_it_after_they_stop(
    database_url: str, simulator: SimulatorAdmin
) -> None:
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    question = SubmitRun(graph="answer", input={"question": PEACHES, "policy": "auto"})
    async with build_services(settings) as one, build_services(settings) as two:
        first, _ = await run_service.submit_run(one, question)
        assert await Worker(one).run_once() == "succeeded"
        rated, created = await feedback_service.rate_run(
            one, first.id, "default", FeedbackIn(score=0.0, label="wrong")
        )
        assert created and rated.tier == "edge"

        second, _ = await run_service.submit_run(two, question)
        assert await Worker(two).run_once() == "succeeded"
        async with two.sessions() as session:
            (call,) = await ledger_repo.calls_for_run(session, second.id)
        assert "from 1 events in cluster, 1 in class, 1 overall" in call.routing_reason

    # The CLI asks a service on the same database (GET /v1/routing/stats).
    with LiveServer(create_app(settings)) as url:
        shown = client_cli(url, "routing", "stats", "--json")
        table = client_cli(url, "routing", "stats")

    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert {(r["arm"], r["cluster"]) for r in rows} == {
        (arm, cluster)
        for arm in ("tier:edge", "model:edge-a")
        for cluster in ("*", "c05:hours-day-many")
    }
    assert len(rows) == 6  # tier and model arms, each for all traffic, the class, the cluster
    for row in rows:
        assert row["events_by_source"] == {"user": 1.0} and row["success"] == 0.0
        assert row["task_class"] in ("*", "math")
        assert row["prior"] == pytest.approx(rated.prior_p, abs=1e-4)

    assert table.returncode == 0, table.stderr
    assert "Learned routing table (6 cells with feedback)" in table.stdout
    assert "tier:edge" in table.stdout and "user 1" in table.stdout
    assert "Models per task class (what auto chooses among)" in table.stdout
    assert "edge-a" in table.stdout.split("Learned routing table")[0]
