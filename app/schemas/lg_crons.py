"""Request bodies of the LangGraph cron routes, as `langgraph_sdk`'s CronClient sends them.

Every field LangGraph's server accepts is declared; one routegraph does not implement is a
422 naming it (`UNSUPPORTED`), never silently dropped; an unknown field is a 422 too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.storable import StorableJSONObject, StorableStr

# Accepted by LangGraph's server, not by this one: a cron's runs call no webhook here
# (`checkpoint_during` is deprecated for `durability`).
UNSUPPORTED = ("webhook", "checkpoint_during")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [name for name in UNSUPPORTED if data.get(name) is not None]
            if given:
                raise ValueError(f"not supported by this server: {', '.join(given)}")
        return data


class CronFields(_Strict):
    """What a cron's runs are made of (kept as the cron's `payload`)."""

    input: StorableJSONObject | None = None
    metadata: StorableJSONObject | None = None
    config: StorableJSONObject | None = None
    context: StorableJSONObject | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] | None = None
    end_time: datetime | None = None
    enabled: bool | None = None
    timezone: StorableStr | None = Field(None, max_length=100)
    on_run_completed: Literal["delete", "keep"] | None = None
    stream_mode: StorableStr | list[StorableStr] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    webhook: StorableStr | None = None
    interrupt_before: StorableStr | list[StorableStr] | None = None
    interrupt_after: StorableStr | list[StorableStr] | None = None
    checkpoint_during: bool | None = None


class CronCreate(CronFields):
    assistant_id: StorableStr = Field(min_length=1, max_length=100)
    schedule: StorableStr = Field(min_length=1, max_length=200)


class CronPatch(CronFields):
    schedule: StorableStr | None = Field(None, min_length=1, max_length=200)


class CronSearch(_Strict):
    assistant_id: StorableStr | None = Field(None, max_length=100)
    thread_id: StorableStr | None = Field(None, max_length=200)
    enabled: bool | None = None
    metadata: StorableJSONObject | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: (
        Literal[
            "cron_id",
            "assistant_id",
            "thread_id",
            "next_run_date",
            "end_time",
            "created_at",
            "updated_at",
        ]
        | None
    ) = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[StorableStr] | None = None


class CronCount(_Strict):
    assistant_id: StorableStr | None = Field(None, max_length=100)
    thread_id: StorableStr | None = Field(None, max_length=200)
    metadata: StorableJSONObject | None = None
