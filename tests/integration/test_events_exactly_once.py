"""A write whose commit took effect but whose answer was lost (the connection died mid-
commit) is retried without writing its events twice, on every path that retries them."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from app.db.engine import create_engine, create_session_factory
from app.db.events_repo import PendingEvent, events_after
from app.db.journal import journal_for
from app.db.migrate import upgrade_database
from app.db.models import Run
from app.services import run_state
from app.worker.run_scope import RunScope
from tests.support.pg_proxy import CommitDroppingProxy

pytestmark = pytest.mark.postgres

LOST_COMMIT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)
APPEND = b"jsonb_to_recordset"  # in the text of the fenced append (app/db/journal/postgres.py)


async def test_events_of_a_commit_whose_answer_was_lost_are_written_once(
    postgres_url: str,
) -> None:
    await asyncio.to_thread(upgrade_database, postgres_url)
    url = make_url(postgres_url)
    proxy = CommitDroppingProxy(url.port or 5432)
    with proxy as port:
        proxied = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        engine = create_engine(proxied)
        sessions = create_session_factory(engine)
        try:
            journal = journal_for(postgres_url)
            async with sessions.begin() as session:
                run = Run(id="r1", thread_id="t", graph="plan_execute", version=1, input={})
                await journal.enqueue(session, run, {})
            async with sessions.begin() as session:
                (claimed,) = await journal.claim(
                    session,
                    worker_id="w",
                    lease_seconds=30,
                    limit=1,
                    include_expired=False,
                    solo_ok=False,
                    solo_after=2,
                )
            scope = RunScope(claimed, sessions=sessions, journal=journal, flush_delay=60)
            scope.add(PendingEvent("node_started", node="plan", payload={"task_id": "a"}))
            scope.add(PendingEvent("node_finished", node="plan", payload={"task_id": "a"}))

            # A flush is one statement, sent in autocommit: it commits by itself.
            proxy.drop_after_commits(1, marker=APPEND)
            with pytest.raises(LOST_COMMIT):
                await scope.flush()  # committed, but the worker cannot know it
            assert proxy.dropped == 1
            scope.add(PendingEvent("node_started", node="execute", payload={"task_id": "b"}))
            await scope.flush()  # the retry: only what is not written yet goes out

            # The same on the final write: a lost flush, then the run finishes.
            scope.add(PendingEvent("node_finished", node="execute", payload={"task_id": "b"}))
            proxy.drop_after_commits(1, marker=APPEND)
            with pytest.raises(LOST_COMMIT):
                await scope.flush()
            events = scope.take_events()
            async with sessions.begin() as session:
                assert await run_state.finish(
                    journal,
                    session,
                    "r1",
                    "succeeded",
                    epoch=claimed.epoch,
                    output={},
                    error=None,
                    events=events,
                )
            await scope.close()

            async with sessions() as session:
                written = await events_after(session, "r1")
        finally:
            await engine.dispose()
    kinds = Counter((e.kind, e.payload.get("task_id")) for e in written)
    assert kinds == Counter(
        {
            ("queued", None): 1,
            ("started", None): 1,
            ("node_started", "a"): 1,
            ("node_finished", "a"): 1,
            ("node_started", "b"): 1,
            ("node_finished", "b"): 1,
            ("succeeded", None): 1,
        }
    ), kinds
    assert [e.seq for e in written] == sorted(e.seq for e in written)
    assert written[-1].kind == "succeeded"
