"""What one `threads.create` + `runs.wait` of a 3-node graph costs the database, counted on
the wire (every statement any connection of the service sends, BEGIN and COMMIT
included): a change that adds statements to this path fails here, not only in a benchmark.
Counts are exact, so this is not a timed test."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client
from sqlalchemy.engine import make_url

from app.api.app import create_app
from app.services import auth
from app.settings import Settings
from tests.support.databases import fresh_pg_database
from tests.support.live_server import LiveServer
from tests.support.pg_statement_log import PgStatementLog
from tests.support.simulator_admin import SimulatorAdmin

pytestmark = pytest.mark.postgres

# The thread's insert; the run queued and claimed by the worker of the process (BEGIN, one
# statement locking and tagging the thread and inserting the run and its event, claim,
# COMMIT); the thread's checkpoint read; five checkpoints (one with a blob) and four tasks'
# writes (two rows each); its finish.
MAX_STATEMENTS = 20
CLAIMS_PER_RUN = 1
# Each checkpoint write checks the lease once, or once for all of a run's writes that are
# pending together. A run's writes go behind it (`durability` `async`), so here they are
# usually two (the input checkpoint, then the rest); more when the machine is slow.
LEASE_CHECK = "routegraph_assert_lease"
MAX_LEASE_CHECKS = 9

# The benchmark's own 3-node graph (benchmarks/langgraph_api.py runs the same one).
NOOP_GRAPH = Path(__file__).resolve().parents[2] / "benchmarks" / "lg_graphs" / "noop.py"


async def _settled(log: PgStatementLog) -> None:
    """Until nothing more is sent for a while: anything the run set off belongs to its cost
    (the worker must not claim again after its run: nothing was queued meanwhile)."""
    sent = -1
    while sent != len(log.statements):
        sent = len(log.statements)
        await asyncio.sleep(0.3)


@pytest.fixture
def logged_postgres() -> Iterator[tuple[str, PgStatementLog]]:
    """A fresh database reached through a proxy that logs every statement."""
    with fresh_pg_database() as url:
        parsed = make_url(url)
        log = PgStatementLog(parsed.port or 5432, parsed.host or "127.0.0.1")
        with log as port:
            yield parsed.set(port=port).render_as_string(hide_password=False), log


async def test_a_thread_and_a_waited_run_cost_no_more_statements_than_counted(
    logged_postgres: tuple[str, PgStatementLog],
    simulator: SimulatorAdmin,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, log = logged_postgres
    # With auth off, whether a key was created meanwhile is asked every few seconds: not
    # a cost of the runs counted here.
    monkeypatch.setattr(auth, "RECHECK_WHILE_OFF_S", 600.0)
    shutil.copy(NOOP_GRAPH, tmp_path / "noop.py")
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"dependencies": ["."], "graphs": {"noop": "./noop.py:graph"}}))
    settings = Settings(
        database_url=url,
        simulator_url=simulator.base_url,
        config=str(config),
        # Nothing periodic may fall inside the count: no sweeps, cron polls, heartbeats or
        # event flushes of their own (a run's events go with its finish).
        poll_seconds=600,
        cron_poll_seconds=60,
        push_safety_poll_seconds=600,
        lease_seconds=600,
        event_flush_seconds=60,
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
        client = get_client(url=base_url)

        async def one_run() -> dict[str, object]:
            thread = await client.threads.create()
            result = await client.runs.wait(thread["thread_id"], "noop", input={"question": "q"})
            assert isinstance(result, dict)
            return result

        counted = []
        for attempt in range(7):  # five to open connections, prepare statements, fill caches
            before = len(log.statements)
            result = await one_run()
            await _settled(log)
            if attempt >= 5:
                counted.append(log.statements[before:])
    assert result["answer"] == "answer from executed plan for q"
    for statements in counted:
        listing = "\n".join(" ".join(s.split())[:120] for s in statements)
        checks = [s for s in statements if LEASE_CHECK in s]
        assert len(statements) - len(checks) <= MAX_STATEMENTS, listing
        assert len(checks) <= MAX_LEASE_CHECKS, listing
        assert len([s for s in statements if "WITH candidates AS" in s]) == CLAIMS_PER_RUN, listing
