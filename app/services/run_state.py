"""The one place that decides a run's state transitions."""

from __future__ import annotations

from typing import Any

from app.db.models import Run, utcnow
from app.db.runs_repo import TERMINAL_STATUSES

ALLOWED: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "cancelled"}),
    "running": frozenset({"running", "succeeded", "failed", "cancelled", "budget_exceeded"}),
}


class IllegalTransition(RuntimeError):
    pass


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def transition(
    run: Run,
    to: str,
    *,
    output: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Move `run` to `to` or raise; terminal states also clear the lease and stamp the end."""
    if to not in ALLOWED.get(run.status, frozenset()):
        raise IllegalTransition(f"run {run.id}: {run.status} -> {to} is not allowed")
    run.status = to
    if output is not None:
        run.output = output
    if error is not None:
        run.error = error
    if is_terminal(to):
        run.finished_at = utcnow()
        run.lease_owner = None
        run.lease_expires_at = None
