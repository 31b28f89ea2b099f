"""Lease fencing: a worker's writes for a run carry its lease epoch and are refused once the
lease has moved on (another worker claimed the run, or it expired while the worker stalled).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


class LeaseLost(Exception):
    """Another worker holds the run now (or the lease expired): stop, writing nothing."""


@dataclass(frozen=True)
class LeaseToken:
    run_id: str
    epoch: int


# Set by the worker in the task that executes a run; LangGraph copies the context into the
# tasks that write checkpoints, so the checkpointer knows whose lease to check.
current_lease: ContextVar[LeaseToken | None] = ContextVar("routegraph_lease", default=None)

SQLSTATE_LEASE_LOST = "RG001"  # raised by routegraph_assert_lease() (migration 0003)
