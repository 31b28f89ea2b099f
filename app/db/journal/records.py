"""What the run journal hands out (a claimed run, a grant of event numbers, a lease's
state) and how it writes events; shared by the contract and both databases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnDefault, Table, Update, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.events_repo import PendingEvent, remember_committed
from app.db.models import Run, RunEvent
from app.db.tenant_scope import checkpoint_thread


@dataclass(frozen=True)
class ClaimedRun:
    """What a worker needs of a run it just claimed; `epoch` fences its writes."""

    id: str
    thread_id: str
    graph: str
    version: int
    input: dict[str, Any]
    epoch: int
    event_seq: int
    budget_usd: float | None
    cancel_requested: bool
    tenant_id: str = "default"
    # Worker deaths blamed on the run; `solo`: this claim runs alone on its worker.
    crashes: int = 0
    solo: bool = False
    # A run started through the LangGraph API: what it asked for beyond its input.
    lg: dict[str, Any] | None = None
    created_at: datetime | None = None  # when it was submitted (queue wait metrics)
    # Read by the claim itself, so executing the run needs no further read of its row:
    # the key whose provider rules it obeys, and the A/B experiment (and arm) it is in.
    api_key_id: str | None = None
    experiment_id: str | None = None
    experiment_arm: str | None = None

    @property
    def checkpoint_thread(self) -> str:
        """The thread id its checkpoints are kept under (its tenant's own)."""
        return checkpoint_thread(self.tenant_id, self.thread_id)


@dataclass(frozen=True)
class SeqGrant:
    """Event sequence numbers handed out by an update of the run row, and what it held."""

    first_seq: int
    cost_usd: float
    budget_usd: float | None
    cancel_requested: bool


@dataclass(frozen=True)
class Guard:
    """What a new run's queueing depends on: an UPDATE ... RETURNING (built once, at
    import) that must find its row, e.g. the run's thread, locked and touched. The run is
    queued only if it does; where the database allows, in the same statement."""

    statement: Update
    params: dict[str, Any]


@dataclass(frozen=True)
class LeaseState:
    run_id: str
    cancel_requested: bool


def finished_steps(events: Sequence[PendingEvent]) -> int:
    """How many graph steps the events say were completed (`runs.steps_done` counts them:
    a claim whose run finished no step before its worker died made no progress)."""
    return sum(1 for event in events if event.kind == "node_finished")


# Core inserts built once: the ORM's unit of work (or bulk insert) of the same rows costs
# more than it sends.
_RUN_EVENTS: Table = RunEvent.__table__  # type: ignore[assignment]
_INSERT_EVENTS = insert(_RUN_EVENTS)
_RUNS: Table = Run.__table__  # type: ignore[assignment]
_INSERT_RUN = insert(_RUNS)
_RUN_COLUMNS = [
    (column.key, column.default if isinstance(column.default, ColumnDefault) else None)
    for column in _RUNS.columns
]


def run_row(run: Run) -> dict[str, Any]:
    """Every column of the run's row. A column left None that has a default gets it, on
    the object too, as the ORM's flush would."""
    row: dict[str, Any] = {}
    for key, default in _RUN_COLUMNS:
        value = getattr(run, key)
        if value is None and default is not None:
            value = default.arg(None) if default.is_callable else default.arg
            setattr(run, key, value)
        row[key] = value
    return row


async def insert_run(session: AsyncSession, run: Run) -> None:
    """The run's row (None columns left out: SQL NULL, never JSON null). `run` itself is
    not added to the session: nothing of it is read back."""
    row = {key: value for key, value in run_row(run).items() if value is not None}
    await session.execute(_INSERT_RUN, row)


async def insert_events(
    session: AsyncSession, run_id: str, first_seq: int, events: Sequence[PendingEvent]
) -> None:
    """Insert events numbered from `first_seq` (reserved by updating the run row in the
    same transaction)."""
    if not events:
        return
    rows = [
        {
            "run_id": run_id,
            "seq": first_seq + index,
            "at": event.at,
            "kind": event.kind,
            "node": event.node,
            "payload": event.payload,
            "uid": event.uid,
        }
        for index, event in enumerate(events)
    ]
    # One row (the usual case) is one plain execute, not an executemany.
    await session.execute(_INSERT_EVENTS, rows[0] if len(rows) == 1 else rows)
    remember_committed(session, run_id, rows)
