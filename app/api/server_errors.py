"""One well-formed 500 for a handler that raised, on a connection that stays usable.

Starlette's `ServerErrorMiddleware` sends its 500 and then re-raises the exception (for
the log); uvicorn, seeing an exception after the response, closes the connection, so the
client's next request on that keep-alive connection is reset. `ServerErrorGuard` sits
inside it: it logs the exception and answers the 500 itself (OpenAI's error shape on
OpenAI paths, problem+json elsewhere), or, when the response was already complete, only
logs it. A response that broke off mid-body cannot be mended: that exception goes on and
the connection is closed.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import server_error_response

log = logging.getLogger(__name__)


class ServerErrorGuard:
    """Pure ASGI middleware; install it outermost of the app's own middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = completed = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, completed
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                completed = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("%s %s raised", scope.get("method"), scope.get("path"))
            if started and not completed:
                raise  # half a response was sent: only closing the connection ends it
            if completed:
                return
            response = server_error_response(scope["path"], scope.get("app"))
            await response(scope, receive, send)
