"""The public contract for runs, their events and their model calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "budget_exceeded"]


class SubmitRun(BaseModel):
    """`POST /v1/runs` body."""

    model_config = ConfigDict(extra="forbid")

    graph: str = Field(
        min_length=1,
        max_length=110,
        examples=["plan_execute"],
        description="a graph name, or name@version to pin a version",
    )
    input: dict[str, Any] = Field(examples=[{"question": "What is 2 * 340 + 5 * 120?"}])
    thread_id: str | None = Field(
        None, min_length=1, max_length=200, description="continue a conversation thread"
    )
    budget_usd: float | None = Field(None, gt=0, le=10_000, description="hard cap on model spend")
    priority: int = Field(0, ge=-100, le=100, description="higher runs first")


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
    attempt: int
    budget_usd: float | None
    cost_usd: float
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


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
    cost_usd: float
    latency_ms: float
    status: str
    error: str | None
    finish_reason: str | None = None
    fallback_of: str | None
    retry_of: str | None = None
    epoch: int | None = None
    created_at: datetime
    completed_at: datetime | None = None


class GraphOut(BaseModel):
    name: str
    version: int
    source: str = Field(description="builtin | python (langgraph.json) | spec")
    description: str
    input_schema: dict[str, Any]
    nodes: dict[str, str]
