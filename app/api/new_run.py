"""What a route that starts a run answers with, in OpenAPI: links from the new run's `id`
to what a client can do with it next, its `Location` header, 202 queued / 200 done."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query

from app.schemas.runs import RunOut

Timeout = Annotated[float, Query(alias="timeout", gt=0, le=600, description="with wait: seconds")]


def run_links(operations: Sequence[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """OpenAPI links (name, operationId) that take the new run's `id` as `run_id`."""
    return {
        name: {"operationId": operation, "parameters": {"run_id": "$response.body#/id"}}
        for name, operation in operations
    }


def new_run_responses(
    *, queued: str, done: str, location: str, links: dict[str, dict[str, Any]]
) -> dict[int | str, dict[str, Any]]:
    """202 (`queued`) and 200 with the run (`done`), both with `Location` and `links`."""
    header = {"Location": {"description": location, "required": True, "schema": {"type": "string"}}}
    return {
        202: {"description": queued, "headers": header, "links": links},
        200: {"model": RunOut, "description": done, "headers": header, "links": links},
    }
