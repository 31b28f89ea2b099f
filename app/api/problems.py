"""RFC 9457 problem+json for every error the API returns, and its OpenAPI description.

A route declares the errors of its own use case with `responses=problem_responses(404, 409)`;
the errors the framework adds (400, 413, 415, 422) are declared by `ProblemRoute`
(`app/api/json_route.py`), and 405 (with `Allow`) applies to every path. Code that must
answer an HTTP-level error raises `HTTPProblem`; use-case errors are `ServiceError`s.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.api.langgraph.errors import detail_response, is_langgraph_path, validation_detail
from app.api.openai_errors import http_error, is_openai_path
from app.services.errors import ServiceError

PROBLEM_JSON = "application/problem+json"
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"
# Order of the `Allow` header; HEAD comes with every GET.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

STATUS_DESCRIPTIONS = {
    400: "Malformed JSON or an unreadable request body",
    401: "No valid API key (`Authorization: Bearer <key>`) while keys exist",
    404: "Not found",
    405: "Method not allowed on this path; `Allow` lists the methods that are",
    408: "The request's headers did not arrive in time",
    409: "Conflicts with the current state of the resource",
    413: "Request body larger than `ROUTEGRAPH_MAX_BODY_BYTES`",
    415: "The request body is not `application/json`",
    422: "A parameter or the body does not match the schema; `errors` names each field",
    429: "Too many concurrent connections from this client",
    503: "The database did not answer",
}


class FieldError(BaseModel):
    """One invalid field: where it is (`loc`), what is wrong (`msg`) and a stable `type`."""

    loc: list[str | int] = Field(examples=[["body", "input", "question"]])
    msg: str
    type: str
    pointer: str | None = Field(
        None, description="graph specs: the JSON pointer of the problem in the document"
    )


class Problem(BaseModel):
    """RFC 9457 problem details; some problems add members (e.g. `available` graphs)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="always `about:blank`: `title` says it all")
    title: str = Field(description="the same for every occurrence of this problem")
    status: int = Field(ge=400, le=599, description="the HTTP status code")
    detail: str = Field(description="this occurrence, in words")
    errors: list[FieldError] | None = Field(None, description="validation problems only")


class HTTPProblem(StarletteHTTPException):
    """An HTTP-level error (413, 415, ...) rendered as problem+json with its own title.

    A subclass of Starlette's HTTPException so that FastAPI re-raises it unchanged when it
    interrupts reading a request body.
    """

    def __init__(
        self, status: int, title: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, detail, headers)
        self.title = title


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries: each status as problem+json with the Problem schema."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        responses[status] = {
            "description": STATUS_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
    return responses


def problem_components() -> dict[str, Any]:
    """The `Problem` and `FieldError` schemas for the OpenAPI document's components."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["Problem"] = schema
    return components


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts at this request's path (for `Allow`)."""
    allowed = []
    for method in HTTP_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    return [
        {
            "loc": list(e.get("loc", ())),
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in errors
    ]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if is_langgraph_path(request.url.path):
            return detail_response(exc.status, exc.detail, headers)
        return problem(exc.status, exc.title, exc.detail, headers=headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _jsonable_errors(exc.errors())
        malformed = any(e["type"] == "json_invalid" for e in errors)
        if is_langgraph_path(request.url.path):
            if malformed:
                return detail_response(400, "the request body is not valid JSON")
            return detail_response(422, validation_detail(errors))
        if malformed:
            return problem(400, "Malformed JSON", "the request body is not valid JSON")
        return problem(
            422, "Invalid request", "the request does not match the schema", errors=errors
        )

    @app.exception_handler(Exception)
    async def _unexpected_error(request: Request, _exc: Exception) -> JSONResponse:
        # Only reached when `ServerErrorGuard` is not installed (it answers first).
        return server_error_response(request.url.path, request.app)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = getattr(exc, "title", None) or HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route on the path; list every method.
            headers["Allow"] = ", ".join(allowed_methods(request))
        path = request.url.path
        if is_langgraph_path(path):
            return detail_response(exc.status_code, str(exc.detail), headers)
        if is_openai_path(path, request.app):
            error = http_error(exc.status_code, str(exc.detail), request.method, path)
            error.headers.update(headers)
            return error.response()
        return problem(exc.status_code, title, str(exc.detail), headers=headers)


def server_error_response(path: str, app: Any) -> JSONResponse:
    """The one 500 a client gets when a handler raised: OpenAI's shape on OpenAI paths."""
    if is_langgraph_path(path):
        return detail_response(500, "Internal Server Error")
    if is_openai_path(path, app):
        return http_error(
            500, "The server had an error while processing your request.", "", path
        ).response()
    return problem(500, "Internal server error", "the server failed to handle the request")
