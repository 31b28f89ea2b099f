"""`routegraph runs timeline|replay` and `routegraph prune` as a user runs them."""

from __future__ import annotations

import json
import re

import pytest

from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker
from tests.e2e.test_cli import routegraph
from tests.support.simulator_admin import SimulatorAdmin


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The command line, not storage, is the subject: the embedded SQLite."""
    return sqlite_url


async def test_timeline_replay_and_prune_from_the_shell(
    database_url: str, simulator: SimulatorAdmin
) -> None:
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    async with build_services(settings) as services:
        body = SubmitRun(graph="plan_execute", input={"question": "What is 6 * 7 + 1?"})
        run, _ = await run_service.submit_run(services, body)
        assert await Worker(services).run_once() == "succeeded"

        tree = routegraph(database_url, "runs", "timeline", run.id)
        assert tree.returncode == 0, tree.stderr
        assert "succeeded" in tree.stdout and "step 1 plan" in tree.stdout
        assert re.search(r"call 0: ok frontier-a \(frontier\)", tree.stdout)
        as_json = json.loads(routegraph(database_url, "runs", "timeline", run.id, "--json").stdout)
        assert [s["nodes"] for s in as_json["steps"]][2] == ["plan"]

        queued = routegraph(database_url, "runs", "replay", run.id, "--wait", "0")
        assert queued.returncode == 0, queued.stderr
        replay_id = re.search(r"queued replay (\S+) of", queued.stdout).group(1)  # type: ignore[union-attr]
        assert await Worker(services).run_once() == "succeeded"

    replayed = routegraph(database_url, "runs", "timeline", replay_id)
    assert "reproduced its source run" in replayed.stdout and "replayed" in replayed.stdout
    missing = routegraph(database_url, "runs", "timeline", "no-such-run")
    assert missing.returncode == 1 and "no run with id 'no-such-run'" in missing.stdout
    dry = routegraph(database_url, "prune", "--days", "1", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("0 runs finished before")
    keep = routegraph(database_url, "prune")
    assert "keep forever" in keep.stdout
