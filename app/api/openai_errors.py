"""Errors of the OpenAI-compatible endpoints, in OpenAI's body shape and status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


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


def openai_error(exc: BaseException) -> OpenAIError:
    """The OpenAI-shaped error for what a chat call raised."""
    from app.gateway.errors import AllModelsFailed, BudgetExceeded
    from app.services.errors import ServiceError

    no_retry = {"x-should-retry": "false"}
    if isinstance(exc, OpenAIError):
        return exc
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
                headers={"Retry-After": retry_after},
            )
        code = "model_not_found" if exc.status == 404 else None
        param = "model" if exc.status == 404 else None
        return OpenAIError(exc.status, exc.detail, code=code, param=param)
    return OpenAIError(500, f"internal error: {type(exc).__name__}", error_type="server_error")
