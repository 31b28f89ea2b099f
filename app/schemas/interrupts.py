"""The contract for human-in-the-loop over `/v1`: resume a paused run, list what waits."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.storable import StorableJSON, StorableStr


class ResumeRun(BaseModel):
    """`POST /v1/runs/{id}/resume` body: LangGraph's `Command` (all optional)."""

    model_config = ConfigDict(extra="forbid")

    resume: StorableJSON = Field(None, description="the value `interrupt()` returns")
    update: StorableJSON = Field(None, description="a state update applied first")
    goto: StorableJSON = Field(None, description="node(s) to go to instead")
    budget_usd: float | None = Field(None, gt=0, le=10_000, description="hard cap on spend")


class PendingInterrupt(BaseModel):
    """One interrupt a thread waits on."""

    value: Any = Field(description="what the node passed to `interrupt()`")
    id: str


class WaitingTask(BaseModel):
    task_id: str
    node: StorableStr
    interrupts: list[PendingInterrupt]


class ThreadInterrupts(BaseModel):
    """`GET /v1/threads/{id}/interrupts`: the tasks waiting for a resume (empty: none)."""

    thread_id: str
    paused_by_run: str | None = Field(description="the run that reached the interrupt")
    tasks: list[WaitingTask]
