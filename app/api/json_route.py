"""The route class of every router: JSON bodies only (415), framework errors documented.

`APIRouter(prefix=..., route_class=ProblemRoute)` gives each route, without more code:
- a body route refuses any Content-Type but `application/json` (or `+json`) with 415,
  also when it is missing;
- its OpenAPI entry declares, as problem+json, the errors FastAPI and our middleware
  produce for it: 400 (malformed JSON), 413 (body over the limit), 415 and 422 for a
  body route; 422 for a route with path, query or header parameters; 401 for a route
  that needs the caller's API key.
Errors of the route's own use case (404, 409, ...) it declares itself with
`responses=problem_responses(...)` (`app/api/problems.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute

from app.api.auth import get_principal
from app.api.problems import HTTPProblem, problem_responses

BODY_ERRORS = (400, 413, 415, 422)
PARAMETER_ERRORS = (422,)


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json` or `application/<anything>+json`, with any parameters."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _authenticated(dependant: Dependant) -> bool:
    """Whether the route (through any dependency) asks for the caller's API key."""
    return any(sub.call is get_principal or _authenticated(sub) for sub in dependant.dependencies)


class ProblemRoute(APIRoute):
    """An APIRoute whose framework-level errors are problem+json, declared and enforced."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        implied: tuple[int, ...] = ()
        if self.body_field is not None:
            implied = BODY_ERRORS
        elif get_flat_params(self.dependant):
            implied = PARAMETER_ERRORS
        if _authenticated(self.dependant):
            implied = (401, *implied)
        # A copy: `responses=` may be a dict shared by several routes.
        self.responses = {**problem_responses(*implied), **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def json_only(request: Request) -> Response:
            content_type = request.headers.get("content-type")
            if not is_json_media_type(content_type):
                raise HTTPProblem(
                    415,
                    "Unsupported media type",
                    f"the body must be application/json, not {content_type or 'unlabelled'}",
                )
            return await handler(request)

        return json_only
