"""Errors of the OpenAI-compatible endpoints, in OpenAI's body shape and status codes.

Which paths answer in this shape (`is_openai_path`): `/v1/chat/completions`, `/v1/models`
and any other `/v1/...` path that is not one of routegraph's own REST resources (an OpenAI
client calling `/v1/embeddings` gets OpenAI's 404, not problem+json).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

# OpenAI's own wording for a URL it does not serve.
INVALID_URL = "Invalid URL ({method} {path})"


class OpenAIError(Exception):
    """`{"error": {"message", "type", "param", "code"}}` with `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def install_openai_error_handler(app: FastAPI) -> None:
    @app.exception_handler(OpenAIError)
    async def _openai_error(_request: Request, exc: OpenAIError) -> JSONResponse:
        return exc.response()


def rest_resources(routers: Iterable[APIRouter]) -> frozenset[str]:
    """The first segments of routegraph's own `/v1/...` REST paths (`runs`, `graphs`...)."""
    return frozenset(
        path.split("/")[2]
        for router in routers
        for path in (getattr(route, "path", "") for route in router.routes)
        if path.startswith("/v1/")
    )


def is_openai_path(path: str, app: Any) -> bool:
    """Whether an error at `path` is answered in OpenAI's shape (else problem+json).

    `app.state.rest_resources` (set by `create_app`) names routegraph's own resources."""
    if path == "/v1" or not path.startswith("/v1/"):
        return False
    resources: frozenset[str] = getattr(getattr(app, "state", None), "rest_resources", frozenset())
    return path.split("/")[2] not in resources


def http_error(status: int, detail: str, method: str, path: str) -> OpenAIError:
    """A framework-level error (404, 405, 413...) on an OpenAI path, as OpenAI words it."""
    if status == 404:
        return OpenAIError(404, INVALID_URL.format(method=method, path=path))
    if status == 405:
        return OpenAIError(
            405, f"{INVALID_URL.format(method=method, path=path)}: method not allowed"
        )
    if status == 413:
        return OpenAIError(413, detail, code="request_too_large")
    if status >= 500:
        return OpenAIError(status, detail, error_type="server_error")
    return OpenAIError(status, detail)


def openai_error(exc: BaseException) -> OpenAIError:
    """The OpenAI-shaped error for what a chat call raised."""
    from app.gateway.errors import (
        AllModelsFailed,
        BudgetExceeded,
        ProviderRejected,
        RuleViolation,
    )
    from app.services.errors import ServiceError

    no_retry = {"x-should-retry": "false"}
    if isinstance(exc, OpenAIError):
        return exc
    if isinstance(exc, ProviderRejected):
        return OpenAIError(
            exc.status,
            exc.message,
            error_type=exc.error_type,
            code=exc.code,
            param=exc.param,
            headers=no_retry,
        )
    if isinstance(exc, RuleViolation):
        error_type = "permission_error" if exc.status == 403 else "invalid_request_error"
        return OpenAIError(
            exc.status,
            str(exc),
            error_type=error_type,
            code="provider_rule_violation",
            param=exc.rule,
            headers=no_retry,
        )
    if isinstance(exc, BudgetExceeded):
        return OpenAIError(
            429, str(exc), error_type="insufficient_quota", code="budget_exceeded", headers=no_retry
        )
    if isinstance(exc, AllModelsFailed):
        return OpenAIError(
            502, str(exc), error_type="server_error", code="all_models_failed", headers=no_retry
        )
    if isinstance(exc, ServiceError):
        if exc.status == 429:
            retry_after = str(exc.extra.get("retry_after", 1))
            return OpenAIError(
                429,
                exc.detail,
                error_type="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": retry_after, **exc.extra.get("headers", {})},
            )
        code = "model_not_found" if exc.status == 404 else None
        param = "model" if exc.status == 404 else None
        return OpenAIError(exc.status, exc.detail, code=code, param=param)
    return OpenAIError(500, f"internal error: {type(exc).__name__}", error_type="server_error")
