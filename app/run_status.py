"""A run's status: one type every layer uses (storage, services, worker, API schemas).

A new status goes here, into `TERMINAL` if a run ends in it, and into the transition
rules (`app/services/run_state.py`); nothing else names statuses by their strings.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    BUDGET_EXCEEDED = "budget_exceeded"


TERMINAL = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.BUDGET_EXCEEDED}
)


def is_terminal(status: str) -> bool:
    return status in TERMINAL
