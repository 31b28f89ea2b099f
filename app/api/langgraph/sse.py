"""A run's stream as LangGraph's server sends it: `metadata` first, then one event per
chunk of each stream mode asked for (`mode` or `mode|namespace`), `error` when the run
failed; event ids are the run's event numbers, so a client that reconnects with
`Last-Event-ID` resumes where it was."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from app.api.run_events import open_event_feed
from app.run_status import RunStatus
from app.services.container import Services
from app.services.errors import RunNotFound
from app.services.runs import get_run

FAILED = (RunStatus.FAILED, RunStatus.BUDGET_EXCEEDED)


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _wanted(event: str, modes: set[str] | None) -> bool:
    if modes is None:
        return True
    mode = event.split("|", 1)[0]
    return mode in modes or (mode == "messages" and "messages-tuple" in modes)


async def open_lg_stream(
    services: Services,
    run_id: str,
    *,
    after_seq: int = 0,
    modes: set[str] | None = None,
    on_disconnect: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> AsyncIterator[str]:
    """The run's LangGraph stream after event `after_seq` (RunNotFound if no such run)."""
    feed = await open_event_feed(services, run_id, after_seq)
    if feed is None:
        raise RunNotFound(f"Run {run_id} not found")
    return _stream(services, run_id, feed, after_seq, modes, on_disconnect)


async def _stream(
    services: Services,
    run_id: str,
    feed: AsyncIterator[dict[str, Any] | None],
    after_seq: int,
    modes: set[str] | None,
    on_disconnect: Callable[[], Coroutine[Any, Any, None]] | None,
) -> AsyncIterator[str]:
    ended = False
    try:
        if after_seq == 0:
            yield sse("metadata", {"run_id": run_id, "attempt": 1})
        async for event in feed:
            if event is None:
                yield ": heartbeat\n\n"
                continue
            kind = event["kind"]
            if kind == "stream":
                payload = event["payload"]
                if _wanted(payload["event"], modes):
                    yield sse(payload["event"], payload["data"], event["seq"])
            elif kind in FAILED:
                run = await get_run(services, run_id)
                error = "BudgetExceeded" if kind == RunStatus.BUDGET_EXCEEDED else "RunError"
                yield sse("error", {"error": error, "message": run.error or ""}, event["seq"])
        ended = True
    finally:
        if not ended and on_disconnect is not None:
            # The client went away mid-run and asked for the run to stop with it.
            task = asyncio.get_running_loop().create_task(on_disconnect())
            _background.add(task)
            task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()
