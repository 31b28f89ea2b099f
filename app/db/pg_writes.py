"""Postgres: the hot run writes as one statement each (data-modifying CTEs).

A claim, a fenced event append and a finish each update the run row and insert its events
in a single round trip, instead of a SELECT, an UPDATE and an INSERT. The statements are
built once; SQLite (one writer at a time, no round trips) uses the plain multi-statement
versions in `runs_repo` / `events_repo`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.events_repo import PendingEvent, remember_committed
from app.db.runs_repo import ClaimedRun, SeqGrant

# A run whose lease expired while a worker still held it: that worker vanished.
_RECOVERED = "(CASE WHEN {r}.status = 'running' AND {r}.lease_owner IS NOT NULL THEN 1 ELSE 0 END)"

_CANDIDATES_QUEUED = """
    SELECT r.id, r.tenant_id, r.thread_id, r.priority, r.created_at FROM runs r
    WHERE r.status = 'queued' AND r.recoveries < :solo_after
      AND NOT EXISTS (
        SELECT 1 FROM runs o WHERE o.thread_id = r.thread_id AND o.tenant_id = r.tenant_id
            AND o.status = 'running')
    ORDER BY r.priority DESC, r.created_at
    LIMIT :limit
    FOR UPDATE OF r SKIP LOCKED"""

_CANDIDATES_EXPIRED = f"""
    SELECT r.id, r.tenant_id, r.thread_id, r.priority, r.created_at FROM runs r
    WHERE r.status = 'running' AND r.lease_expires_at < statement_timestamp()
      AND r.recoveries + {_RECOVERED.format(r="r")} < :solo_after
    ORDER BY r.lease_expires_at
    LIMIT :limit
    FOR UPDATE OF r SKIP LOCKED"""

# A run that lost workers often enough runs alone (solo): then a death is its own doing.
_CANDIDATES_SUSPECT = f"""
    SELECT r.id, r.tenant_id, r.thread_id, r.priority, r.created_at FROM runs r
    WHERE r.status = 'running' AND r.lease_expires_at < statement_timestamp()
      AND r.recoveries + {_RECOVERED.format(r="r")} >= :solo_after
    ORDER BY r.lease_expires_at
    LIMIT 1
    FOR UPDATE OF r SKIP LOCKED"""

_CLAIM = """
WITH candidates AS ({candidates}),
picked AS (
    SELECT DISTINCT ON (tenant_id, thread_id) id FROM candidates
    ORDER BY tenant_id, thread_id, priority DESC, created_at
),
claimed AS (
    UPDATE runs SET status = 'running', lease_owner = :worker,
        lease_expires_at = statement_timestamp() + make_interval(secs => :lease),
        attempt = runs.attempt + 1, event_seq = runs.event_seq + 1,
        started_at = coalesce(runs.started_at, statement_timestamp()),
        recoveries = runs.recoveries + {recovered},
        crashes = runs.crashes + CASE WHEN runs.solo THEN {recovered} ELSE 0 END,
        solo = :solo
    FROM picked WHERE runs.id = picked.id
    RETURNING runs.id, runs.thread_id, runs.graph, runs.version, runs.input, runs.attempt,
        runs.event_seq, runs.budget_usd, runs.cancel_requested, runs.tenant_id, runs.crashes,
        runs.solo
),
events AS (
    INSERT INTO run_events (run_id, seq, at, kind, node, payload)
    SELECT id, event_seq, clock_timestamp(),
        CASE WHEN attempt = 1 THEN 'started' ELSE 'resumed' END, NULL,
        jsonb_build_object('attempt', attempt, 'worker', CAST(:worker AS text), 'solo', solo)
    FROM claimed
    RETURNING run_id, seq, at, kind, payload
)
SELECT c.id, c.thread_id, c.graph, c.version, c.input, c.attempt, c.event_seq, c.budget_usd,
    c.cancel_requested, c.tenant_id, c.crashes, c.solo, e.at, e.kind, e.payload
FROM claimed c JOIN events e ON e.run_id = c.id
"""

# Hand out sequence numbers by updating the run row (fenced when :epoch is given), then
# insert the events numbered from them, in one statement.
_APPEND = """
WITH granted AS (
    UPDATE runs SET event_seq = event_seq + :n {extra_set}
    WHERE id = :run_id AND status = ANY(:statuses) {fence}
    RETURNING event_seq, cost_usd, budget_usd, cancel_requested
),
inserted AS (
    INSERT INTO run_events (run_id, seq, at, kind, node, payload, uid)
    SELECT :run_id, g.event_seq - :n + e.ord + 1, e.at, e.kind, e.node,
        CASE WHEN e.ord = :n - 1 AND :cost_in_last
            THEN e.payload || jsonb_build_object('cost_usd', round(g.cost_usd::numeric, 8))
            ELSE e.payload END,
        e.uid
    FROM granted g, jsonb_to_recordset(:events) AS e(
        ord int, at timestamptz, kind text, node text, payload jsonb, uid text)
    RETURNING seq, at, kind, node, payload
)
SELECT g.event_seq, g.cost_usd, g.budget_usd, g.cancel_requested,
    (SELECT jsonb_agg(jsonb_build_object('seq', seq, 'at', at, 'kind', kind, 'node', node,
        'payload', payload) ORDER BY seq) FROM inserted) AS events
FROM granted g
"""

_FENCE = "AND attempt = :epoch AND lease_expires_at > statement_timestamp()"
_FINISH_SET = (
    ", status = :to, output = :output, error = :error, finished_at = statement_timestamp(), "
    "lease_owner = NULL, lease_expires_at = NULL"
)
_RELEASE_SET = ", lease_owner = NULL, lease_expires_at = statement_timestamp()"


def _statement(sql: str, **json_params: bool) -> TextClause:
    statement = text(sql)
    for name in json_params:
        statement = statement.bindparams(bindparam(name, type_=JSONB))
    return statement


_RECOVERED_RUN = _RECOVERED.format(r="runs")
CLAIM_QUEUED = _statement(_CLAIM.format(candidates=_CANDIDATES_QUEUED, recovered=_RECOVERED_RUN))
CLAIM_EXPIRED = _statement(_CLAIM.format(candidates=_CANDIDATES_EXPIRED, recovered=_RECOVERED_RUN))
CLAIM_SUSPECT = _statement(_CLAIM.format(candidates=_CANDIDATES_SUSPECT, recovered=_RECOVERED_RUN))
APPEND_FENCED = _statement(_APPEND.format(extra_set="", fence=_FENCE), events=True)
FINISH_FENCED = _statement(
    _APPEND.format(extra_set=_FINISH_SET, fence=_FENCE), events=True, output=True
)
RELEASE_FENCED = _statement(_APPEND.format(extra_set=_RELEASE_SET, fence=_FENCE), events=True)


async def claim(
    session: AsyncSession,
    statement: TextClause,
    *,
    worker_id: str,
    lease_seconds: float,
    limit: int,
    solo_after: int,
) -> list[ClaimedRun]:
    """Run one of the claim statements (CLAIM_QUEUED, CLAIM_EXPIRED, CLAIM_SUSPECT)."""
    params = {
        "limit": limit,
        "worker": worker_id,
        "lease": lease_seconds,
        "solo_after": solo_after,
        "solo": statement is CLAIM_SUSPECT,
    }
    result = await session.execute(statement, params)
    claimed = []
    for row in result.all():
        run = ClaimedRun(*row[:12])
        claimed.append(run)
        event = {"seq": run.event_seq, "at": row[12], "kind": row[13], "node": None}
        remember_committed(session, run.id, [{**event, "payload": row[14]}])
    return claimed


async def append(
    session: AsyncSession,
    statement: TextClause,
    run_id: str,
    events: Sequence[PendingEvent],
    *,
    epoch: int,
    statuses: Sequence[str] = ("running",),
    cost_in_last: bool = False,
    **values: Any,
) -> SeqGrant | None:
    """Run one of the append statements; None when the run (or its lease) refused it."""
    rows = [
        {
            "ord": i,
            "at": e.at.isoformat(),
            "kind": e.kind,
            "node": e.node,
            "payload": e.payload,
            "uid": e.uid,
        }
        for i, e in enumerate(events)
    ]
    params: dict[str, Any] = {
        "run_id": run_id,
        "epoch": epoch,
        "n": len(rows),
        "statuses": list(statuses),
        "events": rows,
        "cost_in_last": cost_in_last,
        **values,
    }
    row = (await session.execute(statement, params)).first()
    if row is None:
        return None
    last, cost, budget, cancel, written = row
    if written:
        remember_committed(session, run_id, _parse_events(written))
    return SeqGrant(int(last) - len(rows) + 1, float(cost), budget, bool(cancel))


def _parse_events(written: Any) -> list[dict[str, Any]]:
    from datetime import datetime

    events = written if isinstance(written, list) else json.loads(written)
    for event in events:
        event["at"] = datetime.fromisoformat(event["at"])
    return list(events)
