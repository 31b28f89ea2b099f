"""The public contract for feedback on model calls and runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.storable import StorableStr
from app.schemas.timestamps import UtcDateTime


class FeedbackIn(BaseModel):
    """`POST /v1/calls/{id}/feedback` and `POST /v1/runs/{id}/feedback` body."""

    # strict: `"score": "1"` or `true` is a 422, not silently coerced.
    model_config = ConfigDict(extra="forbid", strict=True)

    score: float = Field(
        ge=0,
        le=1,
        allow_inf_nan=False,
        examples=[1.0],
        description="how good the answer was: 0 (useless) to 1 (right)",
    )
    label: StorableStr | None = Field(
        None, min_length=1, max_length=100, examples=["wrong total"], description="a short tag"
    )
    comment: StorableStr | None = Field(
        None, max_length=4000, description="free text for whoever reads the feedback"
    )


class FeedbackOut(BaseModel):
    """One feedback event on one call: a user's score, or a verdict recorded on the way."""

    model_config = ConfigDict(from_attributes=True)

    call_id: str
    run_id: str | None
    source: str = Field(description="user, cascade_verifier, structured_output or judge")
    score: float
    label: str | None
    comment: str | None
    tier: str
    model: str
    task_class: str
    cluster: str = Field(description="the topic cluster it was learned in (`ood:` if unfamiliar)")
    condition: str = Field(description='e.g. "arithmetic:accepted" for a kept cascade answer')
    created_at: UtcDateTime
    updated_at: UtcDateTime
