"""Request bodies of the LangGraph store routes, as `langgraph_sdk`'s StoreClient sends them.

An unknown field is a 422 naming it (`extra="forbid"`), as on the other LangGraph routes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.storable import StorableJSONObject, StorableStr

Label = StorableStr
Namespace = list[Label]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorePut(_Strict):
    namespace: Namespace = Field(max_length=20)
    key: StorableStr = Field(min_length=1, max_length=1000)
    value: StorableJSONObject
    index: Literal[False] | list[StorableStr] | None = None
    ttl: float | None = Field(None, gt=0)


class StoreDelete(_Strict):
    namespace: Namespace = Field(max_length=20)
    key: StorableStr = Field(min_length=1, max_length=1000)


class StoreSearch(_Strict):
    namespace_prefix: Namespace = Field(default_factory=list, max_length=20)
    filter: StorableJSONObject | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    query: StorableStr | None = None
    refresh_ttl: bool | None = None


class StoreListNamespaces(_Strict):
    prefix: Namespace | None = Field(None, max_length=20)
    suffix: Namespace | None = Field(None, max_length=20)
    max_depth: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)
