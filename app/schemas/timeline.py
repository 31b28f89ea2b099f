"""`GET /v1/runs/{id}/timeline`: a run step by step, with its state and its model calls."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.schemas.replay import BranchOut
from app.schemas.replay_verdict import DivergenceOut
from app.schemas.runs import ModelCallOut, RunOut
from app.schemas.timestamps import UtcDateTime


class LogicalCallOut(BaseModel):
    """One model call of a node (one call key) with every attempt made for it."""

    key: str = Field(description="tape key: s<step>:<namespace>:<task path>:<node>:<index>")
    index: int | None = Field(description="the node's n-th call in this step (from 0)")
    status: Literal["ok", "replayed", "failed", "lost", "in_flight"]
    answered_by: str | None = Field(description="the model whose answer was used")
    tier: str | None
    routing_reason: str = Field(description="why the first model was chosen")
    cost_usd: float = Field(description="every attempt's cost (failed and lost ones included)")
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    notes: list[str] = Field(description="fallbacks, retries, calls made again after a crash")
    attempts: list[ModelCallOut]


class TaskOut(BaseModel):
    """One node execution (a LangGraph task) in a step."""

    node: str
    task_id: str | None
    path: str | None
    status: Literal["succeeded", "failed", "interrupted", "not_run", "running"]
    error: str | None = None
    started_at: UtcDateTime | None = None
    finished_at: UtcDateTime | None = None
    duration_ms: float | None = None
    executions: int = Field(
        0, description="times it started (more than 1: run again after a crash)"
    )
    wrote: Any = Field(None, description="what the node returned (its writes), capped")
    calls: list[LogicalCallOut] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(
        default_factory=list, description="the node's own events (decisions, ...)"
    )


class StepOut(BaseModel):
    step: int | None = Field(description="LangGraph's step number (the checkpoint's)")
    kind: Literal["input", "node", "branch", "state_patch"] = Field(
        description="input: the run's input applied; node: nodes ran; branch: a replay's or "
        "fork's copy of its source's checkpoint; state_patch: a fork's patch"
    )
    checkpoint_id: str | None = Field(
        description="the checkpoint the step wrote (none: it did not finish)"
    )
    parent_checkpoint_id: str | None
    created_at: UtcDateTime | None = None
    nodes: list[str]
    tasks: list[TaskOut] = Field(default_factory=list)
    read: Any = Field(
        None, description="the state the step read (the previous checkpoint's), capped"
    )
    diff: dict[str, Any] | None = Field(
        None, description="state keys the step changed: {key: {before, after}}, capped"
    )
    duration_ms: float | None = None
    cost_usd: float = 0.0
    divergence: DivergenceOut | None = Field(None, description="a replay's first divergence, here")
    copied_from: dict[str, Any] | None = None


class TimelineTotals(BaseModel):
    cost_usd: float
    calls: int = Field(description="logical calls")
    attempts: int
    failed_attempts: int
    lost_attempts: int
    replayed: int
    prompt_tokens: int
    completion_tokens: int


class TimelineOut(BaseModel):
    run: RunOut
    branched_from: BranchOut | None = None
    steps: list[StepOut]
    unattributed_calls: list[LogicalCallOut] = Field(
        default_factory=list, description="calls no step of the history claims"
    )
    lifecycle: list[dict[str, Any]] = Field(
        description="queued, started, resumed, released, the end, replay divergences"
    )
    totals: TimelineTotals
    state_source: Literal["checkpoints", "events"] = Field(
        description="checkpoints: steps and state from the checkpoint history; events: the "
        "payloads were pruned (or the graph is gone), steps come from node events"
    )
    max_chars: int = Field(description="strings longer than this are cut (and say so)")
