"""The public contract for runs, their events and their model calls."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.run_status import RunStatus
from app.schemas.json_numbers import JSONInt
from app.schemas.replay_verdict import ReplayVerdict
from app.schemas.storable import StorableJSONObject, StorableStr
from app.schemas.timestamps import UtcDateTime


class SubmitRun(BaseModel):
    """`POST /v1/runs` body."""

    # strict: `"priority": true` or `"budget_usd": "1"` is a 422, not silently coerced.
    model_config = ConfigDict(extra="forbid", strict=True)

    graph: StorableStr = Field(
        min_length=1,
        max_length=110,
        examples=["plan_execute"],
        description="a graph name, or name@version to pin a version",
    )
    input: StorableJSONObject = Field(
        examples=[{"question": "What is 2 * 340 + 5 * 120?"}],
        description="the graph's input; must match its `input_schema` (`GET /v1/graphs`)",
    )
    thread_id: StorableStr | None = Field(
        None, min_length=1, max_length=200, description="continue a conversation thread"
    )
    budget_usd: float | None = Field(None, gt=0, le=10_000, description="hard cap on model spend")
    priority: JSONInt = Field(0, ge=-100, le=100, description="higher runs first")


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    thread_id: str
    graph: str
    version: int
    status: RunStatus
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None
    priority: int
    epoch: int = Field(description="how many times a worker claimed the run (its lease epoch)")
    budget_usd: float | None
    cost_usd: float
    cancel_requested: bool
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    # Lineage (replays and forks) and retention.
    replay_of: str | None = Field(None, description="the run this run replays")
    parent_run_id: str | None = Field(None, description="the run this run was forked from")
    fork_checkpoint_id: str | None = Field(None, description="the parent's checkpoint it forked at")
    replay: ReplayVerdict | None = Field(None, description="a replay's verdict")
    payloads_pruned_at: UtcDateTime | None = Field(
        None, description="when its checkpoints and request/response bodies were pruned"
    )
    experiment_id: str | None = Field(None, description="the A/B experiment it was put in")
    experiment_arm: str | None = Field(None, description="its arm (which chose its version)")


class RunEventOut(BaseModel):
    """The `data` of one Server-Sent Event of `GET /v1/runs/{id}/events`."""

    seq: int = Field(description="per-run sequence; also the event's SSE `id`")
    at: UtcDateTime
    kind: str = Field(description="queued, started, node_started, model_call, succeeded, ...")
    node: str | None
    payload: dict[str, Any]


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page")


class ModelCallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    node: str | None
    call_key: str
    attempt: int
    routing_reason: str
    requested: str
    tier: str
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int = 0
    experiment_id: str | None = None
    experiment_arm: str | None = None
    cost_usd: float
    latency_ms: float
    status: str
    error: str | None
    finish_reason: str | None = None
    fallback_of: str | None
    retry_of: str | None = None
    epoch: int | None = None
    created_at: UtcDateTime
    completed_at: UtcDateTime | None = None


class GraphOut(BaseModel):
    name: str
    version: int
    source: str = Field(description="builtin | python (langgraph.json) | spec")
    description: str
    input_schema: dict[str, Any]
    nodes: dict[str, str]
