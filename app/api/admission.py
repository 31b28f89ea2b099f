"""Admission control: at most N requests are being worked on at once, the rest wait in
arrival order before any of their work starts.

The API and the embedded worker share one event loop. Without a limit, 16 clients
polling `GET /v1/runs/{id}` keep 16 handlers ready to run, and each step of a run waits
behind all of them (the worker gets 1/17 of the loop: under 2 runs/s on SQLite). With a
limit the loop holds at most N handlers, so a run's step waits behind at most N; polls
that would have queued on the loop (or on the database pool) queue here instead, at no
cost. Throughput of the API is unchanged (it was CPU-bound), its latency is fair (FIFO).

A request holds its slot until its response starts: an SSE stream holds none while it
streams. A handler that is about to wait rather than work (`?wait=true`, a model call
of the OpenAI endpoint) hands its slot back with `release_slot(request)`. `/healthz` and
`/metrics` never wait.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXEMPT_PATHS = frozenset({"/healthz", "/metrics"})
_SLOT_KEY = "routegraph.admission_slot"


class _Slot:
    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore = semaphore
        self._held = False

    async def acquire(self) -> None:
        await self._semaphore.acquire()
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._semaphore.release()


class Admission:
    """Pure ASGI middleware; `limit` 0 turns it off."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:  # created on the serving loop
            self._semaphore = asyncio.Semaphore(self.limit)
        slot = _Slot(self._semaphore)
        scope[_SLOT_KEY] = slot
        await slot.acquire()

        async def send_releasing(message: Message) -> None:
            if message["type"] == "http.response.start":
                slot.release()
            await send(message)

        try:
            await self.app(scope, receive, send_releasing)
        finally:
            slot.release()


def release_slot(request: Request | Any) -> None:
    """Give the request's slot back before waiting on something that is not work here."""
    slot = request.scope.get(_SLOT_KEY)
    if slot is not None:
        slot.release()
