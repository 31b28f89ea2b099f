"""A run's ledger rows and node events, arranged for its timeline: attempts grouped into
logical calls (with fallbacks, retries and calls made again after a crash spelled out),
and node executions with their start, end and own events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.db.models import ModelCall, RunEvent
from app.gateway.tape_keys import TapePosition, parse_tape_key, tape_key_of
from app.schemas.runs import ModelCallOut
from app.schemas.timeline import LogicalCallOut
from app.services.state_diff import shown

NODE_EVENTS = ("node_started", "node_finished", "node_failed")
NEVER = datetime.max.replace(tzinfo=UTC)  # the end of a node execution that has not ended
CALL_EVENTS = ("model_call",)


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass
class CallGroup:
    """The attempts under one call key."""

    key: str
    position: TapePosition | None
    rows: list[ModelCall]

    @property
    def first_at(self) -> datetime:
        return as_utc(self.rows[0].created_at)

    def out(self) -> LogicalCallOut:
        rows = sorted(self.rows, key=lambda r: r.attempt)
        answer = next((r for r in reversed(rows) if r.status in ("ok", "replayed")), None)
        if answer is not None:
            status = answer.status
        elif any(r.status == "in_flight" for r in rows):
            status = "in_flight"
        elif all(r.status == "lost" for r in rows):
            status = "lost"
        else:
            status = "failed"
        return LogicalCallOut(
            key=self.key,
            index=self.position.index if self.position else None,
            status=status,
            answered_by=answer.model if answer else None,
            tier=answer.tier if answer else None,
            routing_reason=rows[0].routing_reason,
            cost_usd=round(sum(r.cost_usd for r in rows), 10),
            prompt_tokens=sum(r.prompt_tokens for r in rows),
            completion_tokens=sum(r.completion_tokens for r in rows),
            latency_ms=round(sum(r.latency_ms for r in rows), 1),
            notes=_notes(rows),
            attempts=[ModelCallOut.model_validate(r) for r in rows],
        )


def _notes(rows: Sequence[ModelCall]) -> list[str]:
    by_id = {row.id: row for row in rows}
    notes = []
    for row in rows:
        if row.status == "lost":
            notes.append(
                f"attempt {row.attempt} on {row.model} was in flight when its worker stopped "
                f"(epoch {row.epoch}); the provider may have charged for it"
            )
        if row.retry_of:
            lost = by_id.get(row.retry_of)
            was = f"attempt {lost.attempt}" if lost else "a lost attempt"
            notes.append(
                f"attempt {row.attempt} made again by epoch {row.epoch} after {was} was lost"
            )
        if row.fallback_of:
            previous = by_id.get(row.fallback_of)
            if previous is not None and previous.model != row.model:
                notes.append(
                    f"fallback from {previous.model} to {row.model} after {previous.status}: "
                    f"{previous.error or ''}".rstrip(": ")
                )
            elif previous is not None:
                notes.append(f"retry on {row.model} after {previous.status}: {previous.error}")
        if row.status == "replayed":
            notes.append("answered from the source run's recording (no provider call, $0)")
    return notes


def group_calls(run_id: str, rows: Sequence[ModelCall]) -> list[CallGroup]:
    groups: dict[str, CallGroup] = {}
    for row in rows:
        key = tape_key_of(row.call_key, run_id)
        group = groups.get(key)
        if group is None:
            groups[key] = CallGroup(key, parse_tape_key(key), [row])
        else:
            group.rows.append(row)
    return sorted(groups.values(), key=lambda g: g.first_at)


@dataclass
class Execution:
    """A task's node events: when it started (each time) and how it ended."""

    task_id: str
    node: str
    starts: list[datetime] = field(default_factory=list)
    finished_at: datetime | None = None
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def contains(self, at: datetime) -> bool:
        if not self.starts:
            return False
        end = self.finished_at or NEVER
        return self.starts[0] <= at <= end

    @property
    def duration_ms(self) -> float | None:
        if not self.starts or self.finished_at is None:
            return None
        return round((self.finished_at - self.starts[-1]).total_seconds() * 1000, 1)


def executions(events: Sequence[RunEvent], max_chars: int) -> dict[str, Execution]:
    """Node executions by task id; the nodes' own events go to the execution running them."""
    found: dict[str, Execution] = {}
    own: list[RunEvent] = []
    for event in events:
        task_id = (event.payload or {}).get("task_id")
        if event.kind in NODE_EVENTS and task_id:
            execution = found.setdefault(task_id, Execution(task_id, event.node or "?"))
            at = as_utc(event.at)
            if event.kind == "node_started":
                execution.starts.append(at)
                execution.finished_at, execution.error = None, None
            else:
                execution.finished_at = at
                execution.error = (event.payload or {}).get("error")
        elif event.node and event.kind not in CALL_EVENTS and event.kind not in NODE_EVENTS:
            own.append(event)
    for event in own:
        at = as_utc(event.at)
        runs = [e for e in found.values() if e.node == event.node and e.contains(at)]
        if runs:
            runs[-1].events.append(
                {
                    "seq": event.seq,
                    "at": at.isoformat(),
                    "kind": event.kind,
                    "payload": shown(event.payload, max_chars),
                }
            )
    return found
