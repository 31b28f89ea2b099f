"""Refuse oversized request bodies (declared or chunked) with 413 before they are read."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.langgraph.errors import detail_response, is_langgraph_path
from app.api.openai_errors import http_error, is_openai_path
from app.api.problems import HTTPProblem, problem


class BodySizeLimit:
    """Pure ASGI: checks Content-Length up front and counts streamed chunks too."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if (
            declared is not None
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > self.max_bytes
        ):
            await self._too_large(scope)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI re-raises it from its body parsing (instead of
                    # a 400) and the problem handler answers 413.
                    raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            # Only reached when the body was read outside a FastAPI route.
            await self._too_large(scope)(scope, receive, send)

    def _too_large(self, scope: Scope) -> ASGIApp:
        error = _TooLarge(self.max_bytes)
        if is_openai_path(scope["path"], scope.get("app")):
            return http_error(413, error.detail, scope["method"], scope["path"]).response()
        if is_langgraph_path(scope["path"]):
            return detail_response(413, error.detail)
        return problem(error.status_code, error.title, error.detail)


class _TooLarge(HTTPProblem):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413, "Request body too large", f"the body is larger than {max_bytes} bytes"
        )
