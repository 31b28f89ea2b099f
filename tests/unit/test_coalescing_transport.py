"""A connection's writes in one turn of the event loop leave in one send, before a close."""

from __future__ import annotations

import asyncio
from typing import Any

from app.api.coalescing_transport import CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return f"info:{name}"


async def test_a_responses_pieces_written_in_one_turn_leave_in_one_send() -> None:
    raw = RecordingTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"")
    transport.write(b'{"ok": true}')
    assert raw.sent == []
    await asyncio.sleep(0)
    assert raw.sent == [b'HTTP/1.1 200 OK\r\n\r\n{"ok": true}']
    transport.write(b"data: 1\n\n")  # a later chunk: a send of its own
    await asyncio.sleep(0)
    assert raw.sent[1:] == [b"data: 1\n\n"]
    assert transport.get_extra_info("peername") == "info:peername"


async def test_what_was_written_leaves_before_the_connection_closes() -> None:
    raw = RecordingTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"last words")
    transport.close()
    assert raw.sent == [b"last words"] and raw.closed
    await asyncio.sleep(0)
    assert raw.sent == [b"last words"]
