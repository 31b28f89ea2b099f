"""The SQLite run journal (the embedded default: one file, one writer at a time).

Leases are measured by this host's clock (one file, one host). Appends, finishes and
releases are the portable ones of `RunJournal`. The claim is one hand-off to the
connection's thread: through SQLAlchemy and aiosqlite, selecting candidates, updating
each run and inserting its `started` event costs a dozen or more thread hand-offs and as
much ORM work, all while the process-wide write lock is held. Here the statements run as
one function on the connection's thread, inside the transaction the session began
(BEGIN IMMEDIATE), with the same rules as the Postgres claim.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, DateTime, literal
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.events_repo import remember_committed
from app.db.journal.contract import RunJournal
from app.db.journal.records import ClaimedRun
from app.db.models import utcnow
from app.db.timestamps import parse_sqlite_time, sqlite_time

# A run whose lease expired while a worker still held it: that worker vanished.
_RECOVERED = "(status = 'running' AND lease_owner IS NOT NULL)"
_EXPIRED = (
    "SELECT id FROM runs WHERE status = 'running' AND lease_expires_at < ? "
    f"AND recoveries + {_RECOVERED} < ? ORDER BY lease_expires_at LIMIT ?"
)
# A run that lost workers often enough runs alone (solo): then a death is its own doing.
_SUSPECT = (
    "SELECT id FROM runs WHERE status = 'running' AND lease_expires_at < ? "
    f"AND recoveries + {_RECOVERED} >= ? ORDER BY lease_expires_at LIMIT 1"
)
_QUEUED = (
    "SELECT r.id, r.tenant_id, r.thread_id FROM runs r WHERE r.status = 'queued' "
    "AND r.recoveries < ? AND (r.not_before IS NULL OR r.not_before <= ?) AND NOT EXISTS "
    "(SELECT 1 FROM runs o WHERE o.thread_id = r.thread_id AND o.tenant_id = r.tenant_id "
    "AND o.status = 'running') "
    "ORDER BY r.priority DESC, r.created_at LIMIT ?"
)
_TAKE = (
    "UPDATE runs SET status = 'running', lease_owner = ?, lease_expires_at = ?, "
    "epoch = epoch + 1, event_seq = event_seq + 1, started_at = coalesce(started_at, ?), "
    f"recoveries = recoveries + {_RECOVERED}, crashes = CASE "
    f"WHEN {_RECOVERED} AND solo AND steps_done = steps_at_claim THEN crashes + 1 "
    "WHEN steps_done > steps_at_claim THEN 0 ELSE crashes END, steps_at_claim = steps_done, "
    "solo = ? WHERE id = ? RETURNING id, thread_id, graph, version, input, epoch, event_seq, "
    "budget_usd, cancel_requested, tenant_id, crashes, solo, lg, created_at, api_key_id, "
    "experiment_id, experiment_arm"
)
_EVENT = (
    "INSERT INTO run_events (run_id, seq, at, kind, node, payload) VALUES (?, ?, ?, ?, NULL, ?)"
)


# The lease fence as SQL text (as `RunJournal.fence`), for the checkpointer's writes.
FENCE_SQL = (
    "SELECT 1 FROM runs WHERE id = ? AND epoch = ? AND status = 'running' AND lease_expires_at > ?"
)


class SqliteJournal(RunJournal):
    """The run journal on SQLite."""

    def now(self, plus_seconds: float = 0.0) -> ColumnElement[datetime]:
        return literal(utcnow() + timedelta(seconds=plus_seconds), DateTime(timezone=True))

    async def claim(
        self,
        session: AsyncSession,
        *,
        worker_id: str,
        lease_seconds: float,
        limit: int,
        include_expired: bool,
        solo_ok: bool,
        solo_after: int,
    ) -> list[ClaimedRun]:
        return await _claim_runs(
            session,
            worker_id=worker_id,
            lease_seconds=lease_seconds,
            limit=limit,
            include_expired=include_expired,
            solo_ok=solo_ok,
            solo_after=solo_after,
        )


async def _claim_runs(
    session: AsyncSession,
    *,
    worker_id: str,
    lease_seconds: float,
    limit: int,
    include_expired: bool,
    solo_ok: bool,
    solo_after: int,
) -> list[ClaimedRun]:
    """Take up to `limit` runs (expired leases first when asked, then queued runs by
    priority and age, one per thread, none of a thread with a running run), each with its
    `started`/`resumed` event, in the session's transaction. With `solo_ok` (the worker
    runs nothing), a run that lost `solo_after` workers is taken first, alone."""
    connection = await session.connection()  # the write transaction begins here
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    now = utcnow()
    times = (sqlite_time(now), sqlite_time(now + timedelta(seconds=lease_seconds)))
    rows: list[tuple[Any, ...]] = await driver._execute(  # aiosqlite's thread (pinned)
        _claim,
        driver._conn,
        worker_id,
        times,
        limit,
        include_expired,
        solo_ok,
        solo_after,
    )
    claimed = []
    for row in rows:
        run = ClaimedRun(
            id=row[0],
            thread_id=row[1],
            graph=row[2],
            version=row[3],
            input=json.loads(row[4]) if row[4] is not None else {},
            epoch=row[5],
            event_seq=row[6],
            budget_usd=row[7],
            cancel_requested=bool(row[8]),
            tenant_id=row[9],
            crashes=row[10],
            solo=bool(row[11]),
            lg=json.loads(row[12]) if row[12] is not None else None,
            created_at=parse_sqlite_time(row[13]),
            api_key_id=row[14],
            experiment_id=row[15],
            experiment_arm=row[16],
        )
        claimed.append(run)
        event = {
            "run_id": run.id,
            "seq": run.event_seq,
            "at": now,
            "kind": _kind(run.epoch),
            "node": None,
            "payload": _payload(run.epoch, worker_id, run.solo),
        }
        remember_committed(session, run.id, [event])
    return claimed


def _kind(epoch: int) -> str:
    return "started" if epoch == 1 else "resumed"


def _payload(epoch: int, worker_id: str, solo: bool) -> dict[str, Any]:
    return {"epoch": epoch, "worker": worker_id, "solo": solo}


def _claim(
    conn: sqlite3.Connection,
    worker_id: str,
    times: tuple[str, str],
    limit: int,
    include_expired: bool,
    solo_ok: bool,
    solo_after: int,
) -> list[tuple[Any, ...]]:
    """On the connection's thread, inside the open transaction."""
    now, expires = times
    ids: list[str] = []
    solo = False
    if include_expired and solo_ok:
        suspect = conn.execute(_SUSPECT, (now, solo_after)).fetchone()
        if suspect is not None:
            ids, solo = [suspect[0]], True
    if include_expired and not solo:
        ids.extend(row[0] for row in conn.execute(_EXPIRED, (now, solo_after, limit)))
    if len(ids) < limit and not solo:
        threads: set[tuple[str, str]] = set()
        for run_id, tenant_id, thread_id in conn.execute(
            _QUEUED, (solo_after, now, limit - len(ids))
        ):
            if (tenant_id, thread_id) not in threads:  # one run per thread at a time
                threads.add((tenant_id, thread_id))
                ids.append(run_id)
    rows = []
    for run_id in ids:
        row = conn.execute(_TAKE, (worker_id, expires, now, solo, run_id)).fetchone()
        payload = json.dumps(_payload(row[5], worker_id, solo))
        conn.execute(_EVENT, (run_id, row[6], now, _kind(row[5]), payload))
        rows.append(tuple(row))
    return rows
