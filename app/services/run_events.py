"""Reading a run's timeline of events for its Server-Sent Events stream."""

from __future__ import annotations

from typing import Any

from app.db.events_repo import event_json, events_after
from app.db.runs_repo import get_run
from app.run_status import TERMINAL
from app.services.container import Services


async def events_since(services: Services, run_id: str, after_seq: int) -> list[dict[str, Any]]:
    """The run's events after `after_seq`, as the stream sends them."""
    async with services.sessions() as session:
        rows = await events_after(session, run_id, after_seq)
    return [
        event_json({"seq": r.seq, "at": r.at, "kind": r.kind, "node": r.node, "payload": r.payload})
        for r in rows
    ]


async def all_sent(
    services: Services, run_id: str, after_seq: int, *, missing_is_end: bool = True
) -> bool | None:
    """The run ended and every one of its events was sent (a missing run: `missing_is_end`,
    or None when it is False)."""
    async with services.sessions() as session:
        run = await get_run(session, run_id)
    if run is None:
        return True if missing_is_end else None
    return run.status in TERMINAL and after_seq >= run.event_seq
