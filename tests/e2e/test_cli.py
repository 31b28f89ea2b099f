"""The `routegraph` command as a client of a running service, run from a directory with no
database: it sees what the service sees (its langgraph.json graphs, its tenants), and a
missing service or a refused request is one line and exit code 1."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.inspect_routing import learned_rows
from app.settings import Settings
from devtools.service_process import free_port
from tests.support.live_server import LiveServer
from tests.support.processes import client_cli, run_cli
from tests.support.user_graphs import write_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


@pytest.fixture
def empty_dir(tmp_path: Path) -> Iterator[Path]:
    """Where the user runs the command: nothing there, and nothing left behind."""
    directory = tmp_path / "shell"
    directory.mkdir()
    yield directory
    assert list(directory.iterdir()) == []


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for needle in needles:
        assert needle in lines[0]


def test_without_a_service_every_client_command_says_so_in_one_line(empty_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for command in (("runs", "list"), ("graphs", "list"), ("keys", "list"), ("routing", "stats")):
        done = client_cli(url, *command, cwd=empty_dir)
        assert_one_line_error(done, f"cannot reach the routegraph service at {url}")
    bad_url = client_cli("ftp://example.org", "runs", "list", cwd=empty_dir)
    assert_one_line_error(bad_url, "is not an http(s) URL")
    # Admin commands on a database that is not there refuse rather than create it.
    missing = f"sqlite+aiosqlite:///{empty_dir / 'routegraph.db'}"
    admin: tuple[tuple[str, ...], ...] = (
        ("prune", "--days", "1"),
        ("keys", "create", "--tenant", "x"),
    )
    for args in admin:
        assert_one_line_error(run_cli(missing, *args, cwd=empty_dir), "no database at")


def test_the_cli_sees_what_the_service_sees(
    sqlite_url: str, simulator_url: str, tmp_path: Path, empty_dir: Path
) -> None:
    upgrade_database(sqlite_url)
    settings = Settings(
        database_url=sqlite_url,
        simulator_url=simulator_url,
        config=write_config(tmp_path),
        key_cache_seconds=0,
    )
    created = run_cli(sqlite_url, "keys", "create", "--tenant", "acme", cwd=empty_dir)
    assert created.returncode == 0, created.stderr
    admin = created.stdout.strip().splitlines()[-1]
    limited = run_cli(
        sqlite_url, "keys", "create", "--tenant", "acme", "--budget-usd", "2", "--period", "day"
    )
    limited_id, limited_key = limited.stdout.split()[1], limited.stdout.strip().splitlines()[-1]

    with LiveServer(create_app(settings, embedded_worker=True)) as url:

        def cli(*args: str, key: str | None = admin) -> subprocess.CompletedProcess[str]:
            return client_cli(url, *args, key=key, cwd=empty_dir)

        assert_one_line_error(cli("runs", "list", key=None), "401", "ROUTEGRAPH_API_KEY")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as api:
            body = {"graph": "plan_execute", "input": {"question": "What is 6 * 7 + 1?"}}
            run = api.post("/v1/runs", params={"wait": "true"}, json=body).json()
            notes = {"graph": "notes", "input": {"note": "The meeting moved to Tuesday."}}
            mine = api.post("/v1/runs", params={"wait": "true"}, json=notes).json()
        assert run["status"] == "succeeded" and mine["status"] == "succeeded"
        # The service's own langgraph.json graph: no ROUTEGRAPH_CONFIG in the CLI's env.
        assert "summarise" in cli("runs", "timeline", mine["id"]).stdout

        listed = cli("runs", "list", "--status", "succeeded")
        assert listed.returncode == 0, listed.stderr
        assert run["id"] in listed.stdout and "plan_execute v1" in listed.stdout
        shown = json.loads(cli("runs", "show", run["id"], "--json").stdout)
        assert shown["run"]["status"] == "succeeded"
        assert {c["tier"] for c in shown["calls"]} == {"frontier", "edge", "mid"}
        table = cli("runs", "show", run["id"]).stdout
        assert "Final answer: 43" in table and "frontier-a" in table
        tree = cli("runs", "timeline", run["id"]).stdout
        assert "step 1 plan" in tree and re.search(r"call 0: ok frontier-a \(frontier\)", tree)
        replayed = cli("runs", "replay", run["id"], "--wait", "60")
        assert replayed.returncode == 0, replayed.stdout
        assert "reproduced the run" in replayed.stdout and "$0.000000" in replayed.stdout
        assert_one_line_error(cli("runs", "show", "no-such-run"), "404 Run not found")

        # Graphs: the service's own (its langgraph.json's `notes`) and the tenant's specs.
        broken = (EXAMPLES / "cascade.yaml").read_text().replace("entry: solve", "entry: nowhere")
        (tmp_path / "broken.yaml").write_text(broken)
        checked = cli("graphs", "validate", str(tmp_path / "broken.yaml"))
        entry_line = broken.splitlines().index("entry: nowhere") + 1
        assert checked.returncode == 1 and f"broken.yaml:{entry_line}: /entry:" in checked.stdout
        pushed = cli("graphs", "push", str(EXAMPLES / "cascade.yaml"))
        assert "stored as version 1" in pushed.stdout, pushed.stderr
        assert "already version 1" in cli("graphs", "push", str(EXAMPLES / "cascade.yaml")).stdout
        stored = json.loads(cli("graphs", "show", "cascade@1", "--json").stdout)
        assert stored["document"]["name"] == "cascade"
        graphs = cli("graphs", "list").stdout
        assert "notes" in graphs and "cascade" in graphs
        clash = (EXAMPLES / "cascade.yaml").read_text().replace("name: cascade", "name: notes")
        (tmp_path / "notes.yaml").write_text(clash)
        assert_one_line_error(cli("graphs", "push", str(tmp_path / "notes.yaml")), "409")

        # Keys: the tenant's own, never a token; only an unlimited key revokes.
        keys = cli("keys", "list").stdout
        assert limited_id in keys and "$2/day" in keys and admin not in keys
        denied = cli("keys", "revoke", limited_id, key=limited_key)
        assert_one_line_error(denied, "403")
        assert "is revoked" in cli("keys", "revoke", limited_id).stdout
        assert_one_line_error(cli("runs", "list", key=limited_key), "401")

        # The structured-output checks of the run were implicit feedback: the learned table.
        stats = cli("routing", "stats", "--json")
        assert stats.returncode == 0, stats.stderr
        rows = json.loads(stats.stdout)
        assert rows and rows == asyncio.run(learned_rows(settings))

    dry = run_cli(sqlite_url, "prune", "--days", "1", "--dry-run", cwd=empty_dir)
    assert dry.returncode == 0 and dry.stdout.startswith("0 runs finished before")
    assert "keep forever" in run_cli(sqlite_url, "prune", cwd=empty_dir).stdout


def test_a_development_tool_asked_of_the_service_command_runs_from_a_checkout(
    empty_dir: Path,
) -> None:
    done = run_cli("sqlite+aiosqlite://", "bench", "routing", "--help", cwd=empty_dir)
    assert done.returncode == 0, done.stderr
    assert "--models" in done.stdout and "Usage: routegraph bench routing" in done.stdout
