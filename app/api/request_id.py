"""`x-request-id` on every response, as OpenAI sends it: the client's own when it sent a
usable one (echoed), else a new `req_...` id."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
# What is echoed: a visible-ASCII token of reasonable length; anything else is replaced.
_USABLE = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")
SCOPE_KEY = "routegraph.request_id"


def _client_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == HEADER.encode() and _USABLE.fullmatch(value):
            return str(value.decode("ascii"))
    return None


class RequestId:
    """Pure ASGI middleware; outermost, so errors answered by inner layers carry it too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_id(scope) or f"req_{uuid.uuid4().hex}"
        scope[SCOPE_KEY] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
