"""The public contract of replays, forks, a run's checkpoints and a thread's runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.json_numbers import JSONInt
from app.schemas.runs import RunOut
from app.schemas.storable import StorableJSONObject, StorableStr
from app.schemas.timestamps import UtcDateTime

MAX_VERSION = 2**31 - 1
# The bounds go on the int itself (on JSONInt inside an Optional, pydantic would write them
# to the document as `ge`/`le`, which JSON Schema does not know).
GraphVersion = Annotated[int, Field(ge=1, le=MAX_VERSION), *JSONInt.__metadata__]
StepNumber = Annotated[int, Field(ge=-1, le=1_000_000), *JSONInt.__metadata__]


class ReplayRequest(BaseModel):
    """`POST /v1/runs/{id}/replay` body (`{}` for the defaults)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    on_divergence: Literal["stop", "live"] = Field(
        "stop",
        description="at the first divergence: `stop` the replay there, or go on with live "
        "model calls (which cost money)",
    )
    graph_version: GraphVersion | None = Field(
        None,
        description="replay with another stored version of the graph (default: the run's "
        "pinned version) to see where it departs from the recording",
    )


class TierOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    tier: Literal["edge", "mid", "frontier"]


class ModelOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    model: StorableStr = Field(min_length=1, max_length=100, description="a catalog model")


class ForkRequest(BaseModel):
    """`POST /v1/runs/{id}/fork` body: where to start (`checkpoint_id` or `step`) and what to
    change."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["checkpoint_id"],
                    "properties": {"checkpoint_id": {"type": "string"}},
                },
                {"required": ["step"], "properties": {"step": {"type": "integer"}}},
            ]
        },
    )

    checkpoint_id: StorableStr | None = Field(
        None, min_length=1, max_length=64, description="from GET /v1/runs/{id}/checkpoints"
    )
    step: StepNumber | None = Field(None, description="the checkpoint of the run at this step")
    state_patch: StorableJSONObject | None = Field(
        None,
        description="state keys to change, applied as the node that wrote the checkpoint "
        "(through the state's reducers, as that node's return would be)",
    )
    model_overrides: dict[StorableStr, TierOverride | ModelOverride] = Field(
        default_factory=dict,
        max_length=100,
        description='per node: `{"tier": "mid"}` or `{"model": "mid-a"}`',
        examples=[{"plan": {"tier": "mid"}}],
        # Keys must be storable: without this a key outside the pattern would take anything.
        json_schema_extra={"additionalProperties": False},
    )
    graph_version: GraphVersion | None = Field(
        None,
        description="run another stored version of the graph from the checkpoint (its "
        "state keys and triggered nodes must exist in that version)",
    )
    budget_usd: float | None = Field(
        None, gt=0, le=10_000, description="default: the source run's budget"
    )

    @model_validator(mode="after")
    def _one_start(self) -> ForkRequest:
        if (self.checkpoint_id is None) == (self.step is None):
            raise ValueError("give exactly one of checkpoint_id and step")
        return self


class BranchOut(BaseModel):
    """Where a fork (or replay) started from."""

    kind: Literal["replay", "fork"]
    source_run_id: str
    source_checkpoint_id: str | None = None
    source_step: int | None = None
    state_patch: dict[str, Any] | None = None
    as_node: str | None = None
    model_overrides: dict[str, dict[str, str]] = Field(default_factory=dict)


class CheckpointOut(BaseModel):
    checkpoint_id: str
    parent_checkpoint_id: str | None
    step: int | None
    source: str | None = Field(description="input | loop | update (a fork's state patch) | fork")
    written_by: list[str] = Field(description="the nodes whose writes made this checkpoint")
    next: list[str] = Field(description="the nodes a fork from here runs first")
    created_at: UtcDateTime | None
    copied_from: dict[str, Any] | None = Field(
        None, description="a replay's or fork's copy of a checkpoint of its source run"
    )


class ThreadRunOut(RunOut):
    models: list[str] = Field(description="the models whose answers the run used, in order")


class ThreadRunPage(BaseModel):
    thread_id: str
    items: list[ThreadRunOut]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page")
