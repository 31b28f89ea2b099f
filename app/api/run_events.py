"""Turns a run's events into a Server-Sent Events stream, pushed as they commit.

Events committed in this process reach the stream as they were written (no read-back);
after a signal from another process (LISTEN/NOTIFY), or when pushed events do not follow
on from the last one sent, the stream reads the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from app.run_status import TERMINAL
from app.services.container import Services
from app.services.notifier import RunWatch
from app.services.run_events import all_sent, events_since

HEARTBEAT_SECONDS = 15.0


async def open_run_events(
    services: Services, run_id: str, after_seq: int
) -> AsyncIterator[str] | None:
    """The stream of a run's events after `after_seq`, or None if there is no such run.
    The watch is registered before the first read, so nothing committed in between is
    missed."""
    events = await open_event_feed(services, run_id, after_seq)
    return None if events is None else _as_sse(events)


async def _as_sse(events: AsyncIterator[dict[str, Any] | None]) -> AsyncIterator[str]:
    async for event in events:
        if event is None:
            yield ": keep-alive\n\n"
        else:
            yield f"id: {event['seq']}\nevent: {event['kind']}\ndata: {json.dumps(event)}\n\n"


async def open_event_feed(
    services: Services, run_id: str, after_seq: int
) -> AsyncIterator[dict[str, Any] | None] | None:
    """A run's events after `after_seq` as they commit (None: a heartbeat is due), ending
    with its terminal event; None if there is no such run."""
    watch = services.notifier.open_watch(run_id)
    try:
        first = await events_since(services, run_id, after_seq)
        if not first and await all_sent(services, run_id, after_seq, missing_is_end=False) is None:
            services.notifier.close_watch(run_id, watch)
            return None
    except BaseException:
        services.notifier.close_watch(run_id, watch)
        raise
    return _feed(services, run_id, after_seq, watch, first)


async def _feed(
    services: Services,
    run_id: str,
    after_seq: int,
    watch: RunWatch,
    pending: list[dict[str, Any]],
) -> AsyncIterator[dict[str, Any] | None]:
    last_sent = time.monotonic()
    try:
        while True:
            for event in pending:
                after_seq = event["seq"]
                yield event
                last_sent = time.monotonic()
                if event["kind"] in TERMINAL:
                    return  # the terminal event is always a run's last
            if not pending and await all_sent(services, run_id, after_seq):
                return
            if time.monotonic() - last_sent > HEARTBEAT_SECONDS:
                yield None
                last_sent = time.monotonic()
            watch.changed.clear()
            pushed = watch.take()
            if not pushed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        watch.changed.wait(), services.settings.push_safety_poll_seconds
                    )
                pushed = watch.take()
            follows = _follow_on(pushed, after_seq)
            # Nothing pushed (a signal from another process, or the safety poll), or a gap:
            # read the table.
            pending = follows if follows else await events_since(services, run_id, after_seq)
    finally:
        services.notifier.close_watch(run_id, watch)


def _follow_on(pushed: list[dict[str, Any]], after_seq: int) -> list[dict[str, Any]] | None:
    """The pushed events after `after_seq` if they continue it without a gap ([] when none
    were pushed), else None."""
    fresh = sorted((e for e in pushed if e["seq"] > after_seq), key=lambda e: e["seq"])
    for offset, event in enumerate(fresh):
        if event["seq"] != after_seq + 1 + offset:
            return None
    return fresh
