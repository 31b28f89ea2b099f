"""API keys over REST: what a tenant sees of its keys (never a token, except once)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.json_numbers import IntegralFloat
from app.schemas.storable import StorableStr
from app.schemas.timestamps import UtcDateTime


class KeyIn(BaseModel):
    # strict: `"budget_usd": false` or `"rpm_limit": "5"` is a 422, not silently coerced.
    model_config = ConfigDict(extra="forbid", strict=True)

    name: StorableStr | None = Field(None, max_length=200, description="a label for listings")
    budget_usd: float | None = Field(
        None, ge=0, le=1e9, description="spend allowed per period (none: no budget)"
    )
    period: Literal["day", "month"] = "month"
    # The bounds before the float-to-int step, so the JSON Schema carries them.
    rpm_limit: Annotated[int, Field(ge=1, le=1_000_000), IntegralFloat] | None = Field(
        None, description="requests per minute"
    )


class KeyOut(BaseModel):
    id: str
    tenant_id: str
    prefix: str = Field(description="the first characters of the token, to recognise it")
    name: str | None
    budget_usd: float | None
    budget_period: str | None
    rpm_limit: int | None
    spent_usd: float = Field(description="spent in the current budget period")
    created_at: UtcDateTime
    revoked_at: UtcDateTime | None


class KeyCreated(KeyOut):
    token: str = Field(description="the key itself: shown only in this answer")
