"""A response's pieces leave in one send: uvicorn writes the status line and headers, the
body, and the end of the message as separate `transport.write` calls, and each became a
segment of its own, so a client woke once for the headers and again for the body. Here
the writes a connection makes in one turn of the event loop are joined and sent at the
end of that turn (a stream's chunks still leave as they come: each is written in a turn
of its own).
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport:
    """Wraps a connection's transport; everything but `write`, `close` and `abort` is the
    wrapped transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()  # what was written goes before the connection closes
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
