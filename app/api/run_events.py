"""Turns the run_events table into a Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.events_repo import events_after
from app.db.runs_repo import TERMINAL_STATUSES, get_run
from app.schemas.timestamps import as_utc

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15.0
# A terminal run whose final event has not appeared after this long is closed anyway.
TERMINAL_GRACE_SECONDS = 5.0


async def stream_run_events(
    sessions: async_sessionmaker[AsyncSession], run_id: str, after_seq: int
) -> AsyncIterator[str]:
    last_sent = time.monotonic()
    terminal_since: float | None = None
    while True:
        async with sessions() as session:
            run = await get_run(session, run_id)
            events = await events_after(session, run_id, after_seq)
        for event in events:
            after_seq = event.seq
            data = {
                "seq": event.seq,
                "at": as_utc(event.at).isoformat(),
                "kind": event.kind,
                "node": event.node,
                "payload": event.payload,
            }
            yield f"id: {event.seq}\nevent: {event.kind}\ndata: {json.dumps(data)}\n\n"
            last_sent = time.monotonic()
            if event.kind in TERMINAL_STATUSES:
                return
        if run is None:
            return
        if run.status in TERMINAL_STATUSES and not events:
            terminal_since = terminal_since or time.monotonic()
            if time.monotonic() - terminal_since > TERMINAL_GRACE_SECONDS:
                return
        if time.monotonic() - last_sent > HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)
