"""What a replay or fork run carries from its source (stored in `runs.branch`).

Replays and forks run on a thread of their own, named `replay-<run id>` / `fork-<run id>`,
whose first checkpoint is a copy of the one they start from. The worker reads a run's
plan only when its thread has one of these names, so ordinary runs cost no extra query.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from app.routing.policy import FixedModel, FixedTier, Policy

BranchKind = Literal["replay", "fork"]
OnDivergence = Literal["stop", "live"]
BRANCH_THREAD_PREFIXES = ("replay-", "fork-")


def branch_thread_id(kind: BranchKind, run_id: str) -> str:
    return f"{kind}-{run_id}"


def is_branch_thread(thread_id: str) -> bool:
    return thread_id.startswith(BRANCH_THREAD_PREFIXES)


@dataclass(frozen=True)
class BranchPlan:
    """A branched run's source and starting point.

    - `from_input`: the run starts from its input (a replay of an ordinary run); else it
      resumes from `base_checkpoint_id` (its thread's copy of the source checkpoint) with
      `state_patch` applied as `as_node` (the patched checkpoint: `start_checkpoint_id`).
    - `source_checkpoint_id` / `source_step`: where in the source's thread it branched.
    """

    kind: BranchKind
    source_run_id: str
    source_thread_id: str
    from_input: bool
    source_checkpoint_id: str | None = None
    source_step: int | None = None
    base_checkpoint_id: str | None = None
    start_checkpoint_id: str | None = None
    state_patch: dict[str, Any] | None = None
    as_node: str | None = None
    on_divergence: OnDivergence = "stop"
    model_overrides: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> BranchPlan:
        known = {name: stored[name] for name in cls.__dataclass_fields__ if name in stored}
        return cls(**known)

    def policies(self) -> dict[str, Policy]:
        """`model_overrides` as the run context's per-node policies."""
        policies: dict[str, Policy] = {}
        for node, override in self.model_overrides.items():
            if "model" in override:
                policies[node] = FixedModel(override["model"])
            else:
                policies[node] = FixedTier(override["tier"])  # type: ignore[arg-type]
        return policies
