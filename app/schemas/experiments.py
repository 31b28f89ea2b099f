"""The public contract of A/B experiments between routing policies or spec versions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.json_numbers import JSONInt
from app.schemas.storable import StorableStr
from app.schemas.timestamps import UtcDateTime

# Bounds on the int itself, so the OpenAPI document states them as JSON Schema keywords.
SpecVersion = Annotated[int, Field(ge=1, le=1_000_000), *JSONInt.__metadata__]
ARM_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class ArmIn(BaseModel):
    """One arm: a routing policy, or (target a graph) a spec version."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(pattern=ARM_NAME, examples=["control"])
    weight: float = Field(
        gt=0, le=1000, allow_inf_nan=False, description="share of traffic, relative to the others"
    )
    policy: StorableStr | None = Field(
        None,
        min_length=1,
        max_length=100,
        examples=["auto"],
        description="auto, cascade, a tier or a catalog model (for a graph: every model call "
        "of its runs uses it, the latest version runs)",
    )
    version: SpecVersion | None = Field(
        None, description="target a graph: the spec version runs get"
    )

    @model_validator(mode="after")
    def _one_choice(self) -> ArmIn:
        if (self.policy is None) == (self.version is None):
            raise ValueError("an arm names exactly one of policy or version")
        return self


class ExperimentIn(BaseModel):
    """`POST /v1/experiments` body."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: StorableStr = Field(min_length=1, max_length=200, examples=["auto vs mid"])
    target: StorableStr = Field(
        "chat",
        min_length=1,
        max_length=100,
        description='"chat": /v1/chat/completions requests for model "auto" (arms are '
        "policies); a graph name: its runs submitted without @version (arms are spec "
        "versions or policies)",
    )
    split: Literal["request", "thread", "user"] = Field(
        "request",
        description="request: each one drawn anew; thread / user: sticky per conversation "
        "thread (a run's thread_id, a chat's `routegraph.thread` or its opening messages) "
        "or per user (a chat's `user`, else the API key)",
    )
    arms: list[ArmIn] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _distinct_arms(self) -> ExperimentIn:
        names = [arm.name for arm in self.arms]
        if len(set(names)) != len(names):
            raise ValueError("arm names must be distinct")
        return self


class StopIn(BaseModel):
    """`POST /v1/experiments/{id}/stop` body: every later request goes to this arm."""

    model_config = ConfigDict(extra="forbid", strict=True)

    arm: str = Field(pattern=ARM_NAME, description="the arm that gets all traffic from now on")


class Interval(BaseModel):
    """An estimate with its 95% confidence interval (None where there is no data)."""

    mean: float | None
    low: float | None
    high: float | None
    n: int


class ArmStats(BaseModel):
    name: str
    weight: float
    policy: str | None
    version: int | None
    requests: int = Field(description="calls (chat) or ended runs (graph) served by the arm")
    cost_usd: Interval = Field(description="cost per request")
    latency_ms: Interval
    error_rate: Interval = Field(description="share of requests that failed (Wilson interval)")
    feedback: Interval = Field(description="mean feedback score of the arm's calls")


class Difference(BaseModel):
    """An arm against the first arm (control) on one metric."""

    arm: str
    metric: Literal["cost_usd", "latency_ms", "error_rate", "feedback"]
    difference: float | None = Field(description="arm minus control")
    low: float | None
    high: float | None
    p_value: float | None
    significant: bool = Field(description="p < 0.05 (two-sided)")


class ExperimentHeader(BaseModel):
    """What every view of an experiment starts with."""

    id: str
    name: str
    target: str
    split: str
    status: Literal["running", "stopped"]
    winner: str | None
    created_at: UtcDateTime
    stopped_at: UtcDateTime | None


class ExperimentOut(ExperimentHeader):
    arms: list[ArmStats]
    comparisons: list[Difference] = Field(description="each arm against the first one")
    summary: list[str] = Field(description="the differences that are significant, in words")


class ExperimentBrief(ExperimentHeader):
    arms: list[ArmIn]
