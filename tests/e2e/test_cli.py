"""The `routegraph` command as a user runs it: migrate, then inspect a finished run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker
from tests.conftest import SimulatorAdmin
from tests.support.processes import run_cli as routegraph

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The command line, not storage, is the subject: the embedded SQLite."""
    return sqlite_url


async def test_migrate_then_runs_list_and_show(
    database_url: str, simulator: SimulatorAdmin
) -> None:
    migrated = routegraph(database_url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "database is up to date" in migrated.stdout

    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    async with build_services(settings) as services:
        body = SubmitRun(graph="plan_execute", input={"question": "What is 6 * 7 + 1?"})
        run, _ = await run_service.submit_run(services, body)
        assert await Worker(services).run_once() == "succeeded"

    listed = routegraph(database_url, "runs", "list", "--status", "succeeded")
    assert listed.returncode == 0, listed.stderr
    assert run.id in listed.stdout and "plan_execute v1" in listed.stdout

    shown = routegraph(database_url, "runs", "show", run.id, "--json")
    assert shown.returncode == 0, shown.stderr
    payload = json.loads(shown.stdout)
    assert payload["run"]["status"] == "succeeded"
    assert {c["tier"] for c in payload["calls"]} == {"frontier", "edge", "mid"}

    table = routegraph(database_url, "runs", "show", run.id)
    assert "Final answer: 43" in table.stdout and "frontier-a" in table.stdout

    missing = routegraph(database_url, "runs", "show", "no-such-run")
    assert missing.returncode == 1 and "no run with id no-such-run" in missing.stdout


def test_graphs_validate_prints_every_error_against_the_file_lines(
    database_url: str, tmp_path: Path
) -> None:
    spec = (EXAMPLES / "cascade.yaml").read_text()
    broken = spec.replace("entry: solve", "entry: nowhere").replace(
        "kind: cascade", "kind: cascadex"
    )
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    checked = routegraph(database_url, "graphs", "validate", str(path))
    assert checked.returncode == 1
    lines = broken.splitlines()
    kind_line = next(i for i, line in enumerate(lines, 1) if "cascadex" in line)
    entry_line = next(i for i, line in enumerate(lines, 1) if "entry: nowhere" in line)
    assert f"broken.yaml:{kind_line}: /nodes/solve/kind: unknown node kind" in checked.stdout
    assert f"broken.yaml:{entry_line}: /entry:" in checked.stdout
    assert "cascadex" in checked.stdout  # the offending source line is shown

    good = routegraph(database_url, "graphs", "validate", str(EXAMPLES / "cascade.yaml"))
    assert good.returncode == 0 and "valid" in good.stdout
    pushed = routegraph(database_url, "graphs", "push", str(EXAMPLES / "cascade.yaml"))
    assert pushed.returncode == 0 and "stored as version 1" in pushed.stdout
    again = routegraph(database_url, "graphs", "push", str(EXAMPLES / "cascade.yaml"))
    assert "already version 1" in again.stdout
    shown = routegraph(database_url, "graphs", "show", "cascade@1", "--json")
    assert json.loads(shown.stdout)["document"]["name"] == "cascade"
    listed = routegraph(database_url, "graphs", "list")
    assert "cascade" in listed.stdout and "spec" in listed.stdout
