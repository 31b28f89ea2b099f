"""Turns the run_events table into a Server-Sent Events stream, pushed as events commit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from app.db.events_repo import events_after
from app.db.runs_repo import TERMINAL_STATUSES, get_run
from app.services.container import Services

# Events are pushed (in-process signal, or LISTEN/NOTIFY from a worker in another process);
# this re-read interval is only the safety net for a lost notification.
SAFETY_POLL_SECONDS = 2.0
HEARTBEAT_SECONDS = 15.0


async def stream_run_events(services: Services, run_id: str, after_seq: int) -> AsyncIterator[str]:
    last_sent = time.monotonic()
    with services.notifier.watch(run_id) as changed:
        while True:
            changed.clear()
            async with services.sessions() as session:
                events = await events_after(session, run_id, after_seq)
                run = None if events else await get_run(session, run_id)
            for event in events:
                after_seq = event.seq
                data = {
                    "seq": event.seq,
                    "at": event.at.isoformat(),
                    "kind": event.kind,
                    "node": event.node,
                    "payload": event.payload,
                }
                yield f"id: {event.seq}\nevent: {event.kind}\ndata: {json.dumps(data)}\n\n"
                last_sent = time.monotonic()
                if event.kind in TERMINAL_STATUSES:
                    return  # the terminal event is always a run's last
            if events:
                continue  # there may be more than one page
            if run is None or (run.status in TERMINAL_STATUSES and after_seq >= run.event_seq):
                return
            if time.monotonic() - last_sent > HEARTBEAT_SECONDS:
                yield ": keep-alive\n\n"
                last_sent = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), SAFETY_POLL_SECONDS)
