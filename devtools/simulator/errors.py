"""OpenAI-shaped errors (the endpoint's own `OpenAIError`), so SDK clients raise the same
exception classes as against OpenAI."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.openai_errors import OpenAIError

UVICORN_ERROR_LOGGER = "uvicorn.error"


class SimulatedDisconnect(Exception):
    """Raised mid-response: the server then drops the connection (the `cut_stream` fault)."""


class HideSimulatedDisconnects(logging.Filter):
    """Keeps uvicorn from logging a traceback for every connection we cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, SimulatedDisconnect)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    return f"{where or 'body'}: {first.get('msg', 'invalid request')}", where or None


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpenAIError)
    return exc.response()


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    message, param = _validation_message(exc)
    return OpenAIError(400, message, code="invalid_request", param=param).response()


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = "not_found" if exc.status_code == 404 else None
    headers = dict(exc.headers or {})
    return OpenAIError(exc.status_code, str(exc.detail), code=code, headers=headers).response()


def install_error_handlers(app: FastAPI) -> None:
    """Every error, including FastAPI's own 404/405/422, comes back in OpenAI's shape."""
    app.add_exception_handler(OpenAIError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
