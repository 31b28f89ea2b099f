"""A run's stream as LangGraph's server sends it: `metadata` first, then one event per
chunk of each stream mode asked for (`mode` or `mode|namespace`; plain `messages` as
`messages/metadata`, `messages/partial`, `messages/complete`), `error` when the run failed.

Chunks come from the worker as it produces them, before they are written
(`app.services.lg_stream_feed`). Event ids are the worker's `<epoch>-<n>`
(`app.services.stream_ids`), the same live and read back, so a client that reconnects with
`Last-Event-ID` resumes after the last chunk it had, written yet or not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from app.run_status import RunStatus
from app.services.container import Services
from app.services.errors import RunNotFound
from app.services.lg_messages import MessageAssembler
from app.services.lg_stream_feed import Chunk, RunEnded, open_stream_feed
from app.services.runs import get_run
from app.services.stream_ids import START, StreamId, format_id

FAILED = (RunStatus.FAILED, RunStatus.BUDGET_EXCEEDED)


def sse(event: str, data: Any, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class ModeFilter:
    """Which chunks a stream sends, and whether `messages` is put together per message
    (the run asked for `messages`, not `messages-tuple`)."""

    def __init__(self, run_modes: list[str], asked: set[str] | None) -> None:
        self.assemble = "messages" in run_modes and "messages-tuple" not in run_modes
        self.asked = asked

    def wanted(self, event: str) -> bool:
        if self.asked is None:
            return True
        mode = event.split("|", 1)[0].split("/", 1)[0]
        if mode == "messages":
            return bool({"messages", "messages-tuple"} & self.asked)
        return mode in self.asked


async def open_lg_stream(
    services: Services,
    run_id: str,
    *,
    after: StreamId = START,
    run_modes: list[str],
    modes: set[str] | None = None,
    on_disconnect: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> AsyncIterator[str]:
    """The run's LangGraph stream after chunk `after` (RunNotFound if no such run)."""
    feed = await open_stream_feed(services, run_id, after)
    if feed is None:
        raise RunNotFound(f"Run {run_id} not found")
    chosen = ModeFilter(run_modes, modes)
    return _stream(services, run_id, feed, after == START, chosen, on_disconnect)


async def _stream(
    services: Services,
    run_id: str,
    feed: AsyncIterator[Chunk | RunEnded | None],
    fresh: bool,
    chosen: ModeFilter,
    on_disconnect: Callable[[], Coroutine[Any, Any, None]] | None,
) -> AsyncIterator[str]:
    ended = False
    assembler = MessageAssembler() if chosen.assemble else None
    try:
        if fresh:
            yield sse("metadata", {"run_id": run_id, "attempt": 1})
        async for item in feed:
            if item is None:
                yield ": heartbeat\n\n"
            elif isinstance(item, RunEnded):
                if item.status in FAILED:
                    run = await get_run(services, run_id)
                    error = (
                        "BudgetExceeded" if item.status == RunStatus.BUDGET_EXCEEDED else "RunError"
                    )
                    yield sse("error", {"error": error, "message": run.error or ""})
            else:
                for text in _chunk_events(item, chosen, assembler):
                    yield text
        ended = True
    finally:
        if not ended and on_disconnect is not None:
            # The client went away mid-run and asked for the run to stop with it.
            task = asyncio.get_running_loop().create_task(on_disconnect())
            _background.add(task)
            task.add_done_callback(_background.discard)


def _chunk_events(
    chunk: Chunk, chosen: ModeFilter, assembler: MessageAssembler | None
) -> list[str]:
    if assembler is not None and chunk.event.split("|", 1)[0] == "messages":
        events = assembler.add(chunk.data)  # even a seen chunk: its message goes on
        if chunk.seen or not chosen.wanted("messages"):
            return []
        # `messages/metadata` carries no id: it and the chunk's own event go together.
        return [
            sse(event, data, format_id(chunk.id) if event != "messages/metadata" else None)
            for event, data in events
        ]
    if chunk.seen or not chosen.wanted(chunk.event):
        return []
    return [sse(chunk.event, chunk.data, format_id(chunk.id))]


_background: set[asyncio.Task[None]] = set()
