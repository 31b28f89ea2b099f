"""The public contract for graphs and their versions (built-in, langgraph.json, specs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.db.models import GraphVersion
from app.schemas.timestamps import UtcDateTime


class GraphVersionOut(BaseModel):
    name: str
    version: int
    source: str = Field(description="builtin | python (langgraph.json) | spec")
    fingerprint: str = Field(description="same fingerprint, same graph")
    created_at: UtcDateTime
    description: str = ""
    document: dict[str, Any] | None = Field(
        None, description="a spec version: the document exactly as it was pushed"
    )

    @classmethod
    def from_row(cls, row: GraphVersion, *, with_document: bool = False) -> GraphVersionOut:
        return cls(
            name=row.name,
            version=row.version,
            source=row.source,
            fingerprint=row.fingerprint,
            created_at=row.created_at,
            description=str(row.spec.get("description", "")),
            document=row.spec.get("document") if with_document else None,
        )


class GraphDetail(BaseModel):
    name: str
    version: int = Field(description="the latest version (the one a run without @version gets)")
    source: str
    description: str
    input_schema: dict[str, Any]
    nodes: dict[str, str]
    versions: list[GraphVersionOut]


class PushedGraph(BaseModel):
    name: str
    version: int
    created: bool = Field(description="false: the same spec was already this version")
    description: str
    input_schema: dict[str, Any]
    nodes: dict[str, str]


class SpecCheck(BaseModel):
    valid: bool
    name: str
    input_schema: dict[str, Any]
    nodes: dict[str, str]
