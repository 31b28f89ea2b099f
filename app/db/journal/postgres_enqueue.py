"""Queueing a run on Postgres: its row and its `queued` event in one statement, with what
the queueing depends on (a `Guard`) as that statement's first CTE.

The statement is built from the model's columns (no hand-kept column list), once, at
import; a guard's, the first time that guard is used.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Insert,
    Table,
    Update,
    bindparam,
    cast,
    exists,
    insert,
    literal,
    null,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.events_repo import PendingEvent, remember_committed
from app.db.journal.records import Guard, run_row
from app.db.models import Run, RunEvent
from app.run_status import RunStatus


def _enqueue_statement(guard: Update | None = None) -> Insert:
    """A new run's row and its `queued` event (sequence 1) in one statement, returning the
    event's run id. Every column of the row is a parameter (`new_<column>`) typed as the
    column is (JSON ones: None is SQL NULL). With a `guard` (an UPDATE ... RETURNING), it
    runs first, as a CTE, and the run is inserted only if the guard found its row: nothing
    returned means nothing queued. No parameter may be named as a column of a table the
    statement updates: SQLAlchemy would add it to the UPDATE's SET clause."""
    runs: Table = Run.__table__  # type: ignore[assignment]
    run_events: Table = RunEvent.__table__  # type: ignore[assignment]
    # Cast, each of them: a parameter in a SELECT list has no column to take a type from.
    row = select(
        *(
            cast(bindparam(f"new_{c.name}", type_=_bind_type(c)), c.type).label(c.name)
            for c in runs.columns
        )
    )
    if guard is not None:
        guarded: Table = guard.table  # type: ignore[assignment]
        binds = guard.compile(dialect=postgresql.dialect()).binds.values()
        clash = {bind.key for bind in binds} & {*guarded.columns.keys(), *_PARAMS}
        if clash:
            raise ValueError(f"a guard's parameters clash with columns or ours: {sorted(clash)}")
        row = row.where(exists(guard.cte("guard").select()))
    queued = insert(runs).from_select(list(runs.columns.keys()), row).returning(runs.c.id)
    queued_cte = queued.cte("queued")
    event = select(
        queued_cte.c.id,
        literal(1),
        bindparam("event_at", type_=run_events.c.at.type),
        literal("queued"),
        null(),
        bindparam("event_payload", type_=JSONB),
        bindparam("event_uid", type_=run_events.c.uid.type),
    )
    columns = ["run_id", "seq", "at", "kind", "node", "payload", "uid"]
    return insert(run_events).from_select(columns, event).returning(run_events.c.run_id)


_PARAMS = {
    *(f"new_{column.name}" for column in Run.__table__.columns),
    "event_at",
    "event_payload",
    "event_uid",
}


def _bind_type(column: Column[Any]) -> Any:
    return JSONB(none_as_null=True) if isinstance(column.type, JSON) else column.type


ENQUEUE = _enqueue_statement()
# Per guard statement (each built once, at import): its enqueue, built at first use.
_GUARDED: dict[Update, Insert] = {}


def guarded_enqueue(guard: Update) -> Insert:
    """The guard's enqueue, built the first time it is asked for."""
    statement = _GUARDED.get(guard)
    if statement is None:
        _GUARDED[guard] = statement = _enqueue_statement(guard)
    return statement


async def enqueue_run(
    session: AsyncSession, run: Run, payload: dict[str, Any], guard: Guard | None
) -> bool:
    """`RunJournal.enqueue` on Postgres: one statement, guard included."""
    run.status = RunStatus.QUEUED
    run.event_seq = 1
    event = PendingEvent("queued", payload=payload)
    params = {
        **{f"new_{key}": value for key, value in run_row(run).items()},
        "event_at": event.at,
        "event_payload": payload,
        "event_uid": event.uid,
    }
    statement = ENQUEUE if guard is None else guarded_enqueue(guard.statement)
    if guard is not None:
        params.update(guard.params)
    if (await session.execute(statement, params)).first() is None:
        return False  # the guard found no row
    row = {"seq": 1, "at": event.at, "kind": event.kind, "node": None, "payload": payload}
    remember_committed(session, run.id, [row])
    return True
