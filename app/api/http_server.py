"""uvicorn for `serve`: a header-read timeout, a per-client connection cap, problem+json 400s.

uvicorn has no timeout for reading a request's headers: a client that sends them a byte at
a time (slowloris) holds its connection for as long as it likes. `GuardedH11Protocol`
starts a timer when a connection opens (and again when it is ready for its next request)
and drops the connection if the headers are not complete when it fires (408 if part of a
request had arrived). It also counts each client address's open connections and answers
one over `max_connections_per_client` with 429 and closes it before reading anything.
Malformed HTTP (which never reaches the app) gets a problem+json 400 instead of text.
Its transport sends a response's headers and body together.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from http import HTTPStatus
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.api.coalescing_transport import CoalescingTransport
from app.api.problems import PROBLEM_JSON
from app.settings import Settings

# A refused connection is closed once the client's request arrives (closing with unread
# data would reset the connection and lose the 429), or after this long.
REFUSED_LINGER_SECONDS = 1.0


def problem_body(status: int, title: str, detail: str) -> bytes:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return json.dumps(body).encode()


def raw_problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> bytes:
    """A complete HTTP/1.1 problem+json response that closes the connection.

    Written straight to the transport: h11 will not send a response before a request.
    """
    body = problem_body(status, title, detail)
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"content-type: {PROBLEM_JSON}",
        f"content-length: {len(body)}",
        "connection: close",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ClientConnections:
    """Open connections per client address, shared by every connection of one server."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # 0: no limit
        self._open: Counter[str] = Counter()

    def acquire(self, address: str) -> bool:
        if self.limit and self._open[address] >= self.limit:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def open_count(self, address: str) -> int:
        return self._open[address]


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header-read timeout and a per-client connection cap."""

    header_timeout: ClassVar[float] = 10.0
    clients: ClassVar[ClientConnections] = ClientConnections(0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._counted_address: str | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # A response's headers and body leave in one send (`app.api.coalescing_transport`).
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        address = self.client[0] if self.client else None
        if address is not None:
            if not self.clients.acquire(address):
                self._refuse(transport)
                return
            self._counted_address = address
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self._counted_address is not None:
            self.clients.release(self._counted_address)
            self._counted_address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self.transport.close()  # the request has been read: closing now loses nothing
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # a request's headers are complete
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Ready for the next request on this connection: its headers get the same deadline.
        idle = self.conn.our_state is h11.IDLE and self.conn.their_state is h11.IDLE
        if idle and not self.transport.is_closing():
            self._arm_header_timer()

    def send_400_response(self, msg: str) -> None:
        body = problem_body(400, "Malformed HTTP request", msg)
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()

    def _refuse(self, transport: asyncio.Transport) -> None:
        self._refused = True
        limit = self.clients.limit
        transport.write(
            raw_problem_response(
                429,
                "Too many connections",
                f"this client already has {limit} open connections",
                headers={"retry-after": "1"},
            )
        )
        self._header_timer = self.loop.call_later(REFUSED_LINGER_SECONDS, transport.close)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial_request, _ = self.conn.trailing_data
        if partial_request:
            detail = f"the request headers did not arrive within {self.header_timeout:g} s"
            self.transport.write(raw_problem_response(408, "Request timeout", detail))
        self.transport.close()


def guarded_protocol(header_timeout: float, max_connections_per_client: int) -> type[H11Protocol]:
    """A protocol class for one server: its own timeout and its own connection counts."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout": header_timeout,
            "clients": ClientConnections(max_connections_per_client),
        },
    )


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration `routegraph serve` runs with (tests start the same one)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        # No WebSocket routes; an upgraded connection would also leave the per-client count.
        "ws": "none",
        # uvloop where it is installed (the lock has it for CPython off Windows): the event
        # loop's own work is a good part of every request and run; asyncio's loop otherwise.
        "loop": "auto",
        "http": guarded_protocol(
            settings.header_timeout_seconds, settings.max_connections_per_client
        ),
        **overrides,
    }
    return uvicorn.Config(app, **options)
