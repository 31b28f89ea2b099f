"""Errors on the LangGraph Server API's paths: `{"detail": ...}`, as LangGraph's server sends.

`langgraph_sdk` raises on the status and shows `detail`; the statuses are the ones
LangGraph's own server uses (404 unknown resource, 409 busy thread, 422 invalid body).
routegraph's `/v1` routes keep problem+json; `app/api/problems.py` asks
`is_langgraph_path` which shape a path gets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi.responses import JSONResponse

from app.services.errors import ServiceError

# The first path segments of the LangGraph Server API (store and crons included).
LANGGRAPH_ROOTS = frozenset({"assistants", "threads", "runs", "store", "crons"})


def is_langgraph_path(path: str) -> bool:
    """Whether an error at `path` is answered as `{"detail": ...}`."""
    return path.split("/", 2)[1] in LANGGRAPH_ROOTS if path.startswith("/") else False


def detail_response(
    status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=dict(headers or {}))


def validation_detail(errors: Iterable[Mapping[str, Any]]) -> str:
    """Pydantic's errors in one sentence naming each field (`body.stream_mode: ...`)."""
    parts = []
    for error in errors:
        loc = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{loc}: {error.get('msg', 'invalid')}" if loc else str(error.get("msg")))
    return "; ".join(parts) or "invalid request"


class LangGraphAPIError(ServiceError):
    """An error only the LangGraph API has (its own status), e.g. a 409 busy thread."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = "LangGraph API error"
