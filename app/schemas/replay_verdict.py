"""A replay's verdict as runs carry it (`RunOut.replay`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

DivergenceKindOut = Literal[
    "prompt_changed",
    "route_changed",
    "no_recording",
    "answer_rejected",
    "output_changed",
    "path_changed",
]


class DivergenceOut(BaseModel):
    kind: DivergenceKindOut
    step: int | None = Field(description="the step (checkpoint step number) it happened in")
    node: str | None
    detail: str
    call_index: int | None = Field(None, description="the node's n-th model call (from 0)")
    call_key: str | None = Field(None, description="the call's tape key")
    diff: dict[str, Any] | None = None


class ReplayVerdict(BaseModel):
    """A replay run's `replay`: did it reproduce its source run, and if not, where not."""

    source_run_id: str
    on_divergence: Literal["stop", "live"]
    reproduced: bool | None = Field(description="null while the replay runs")
    divergence: DivergenceOut | None = None
    calls_replayed: int = 0
    calls_live: int = 0
    source_status: str | None = None
    source_version: int | None = None
    output_matches: bool | None = None
