"""A LangGraph API run's stream chunks in id order, from the table and live from the worker.

Chunks reach a stream two ways: live, as the worker publishes them (this process's
`Notifier`, or Postgres NOTIFY from another), and written, read from `run_events` (or
pushed by a commit in this process). Either may be first, so the feed keeps a cursor, the
id of the last chunk it handed on, and hands on a live chunk only when it comes right after
the cursor (`stream_ids.follows`); after a gap (the stream opened late in another process, a
notification was lost, a new attempt began) it waits for the table, which has every chunk
in id order. The table also tells where an attempt ended: once the run's epoch is E, no
chunk of an earlier attempt will be written any more, so the cursor moves to (E, 0).

The feed starts at the first chunk and marks those up to `after` (the client's
`Last-Event-ID`) as seen, so a resumed stream gets each later chunk once, and `messages`
mode can still put together the messages it had begun.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.db.events_repo import event_json, events_after
from app.db.models import Run
from app.run_status import TERMINAL
from app.services.container import Services
from app.services.notifier import RunWatch
from app.services.stream_ids import START, StreamId, follows, id_of, parse_id

HEARTBEAT_SECONDS = 15.0
READ_LIMIT = 500
GAP_RECHECK_SECONDS = 0.1


@dataclass(frozen=True)
class Chunk:
    """One stream-mode chunk; `seen`: the client had it before it resumed."""

    id: StreamId
    event: str
    data: Any
    seen: bool


@dataclass(frozen=True)
class RunEnded:
    """The run's terminal event (always after its last chunk)."""

    status: str


FeedItem = Chunk | RunEnded | None  # None: a heartbeat is due


async def open_stream_feed(
    services: Services, run_id: str, after: StreamId = START
) -> AsyncIterator[FeedItem] | None:
    """The run's chunks and its end, or None if there is no such run. The watch is
    registered before the first read, so nothing published or written meanwhile is lost."""
    watch = services.notifier.open_watch(run_id, live=True)
    try:
        epoch, rows = await _read(services, run_id, 0)
    except BaseException:
        services.notifier.close_watch(run_id, watch)
        raise
    if epoch is None:
        services.notifier.close_watch(run_id, watch)
        return None
    return _Feed(services, run_id, watch, after).run(epoch, rows)


async def _read(
    services: Services, run_id: str, after_seq: int
) -> tuple[int | None, list[dict[str, Any]]]:
    """The run's epoch (None: no such run), then its events after `after_seq`: read in
    that order, so every event of an attempt before that epoch is among them."""
    rows: list[dict[str, Any]] = []
    async with services.sessions() as session:
        epoch = await session.scalar(select(Run.epoch).where(Run.id == run_id))
        if epoch is None:
            return None, []
        while True:
            batch = await events_after(session, run_id, after_seq, READ_LIMIT)
            rows.extend(
                event_json(
                    {"seq": r.seq, "at": r.at, "kind": r.kind, "node": r.node, "payload": r.payload}
                )
                for r in batch
            )
            if len(batch) < READ_LIMIT:
                return epoch, rows
            after_seq = batch[-1].seq


class _Feed:
    def __init__(self, services: Services, run_id: str, watch: RunWatch, after: StreamId) -> None:
        self.services = services
        self.run_id = run_id
        self.watch = watch
        self.after = after
        self.cursor: StreamId = START
        self.seq = 0  # the last table row taken
        self.held: dict[StreamId, dict[str, Any]] = {}  # live chunks after a gap

    async def run(self, epoch: int, rows: list[dict[str, Any]]) -> AsyncIterator[FeedItem]:
        last_sent = time.monotonic()
        try:
            while True:
                for row in rows:
                    self.seq = row["seq"]
                    if row["kind"] == "stream":
                        chunk = self._take(id_of(row["payload"], row["seq"]), row["payload"])
                        if chunk is not None:
                            yield chunk
                            last_sent = time.monotonic()
                    elif row["kind"] in TERMINAL:
                        yield RunEnded(row["kind"])
                        return
                self.cursor = max(self.cursor, (epoch, 0))
                for chunk in self._live():
                    yield chunk
                    last_sent = time.monotonic()
                if time.monotonic() - last_sent > HEARTBEAT_SECONDS:
                    yield None
                    last_sent = time.monotonic()
                epoch, rows = await self._next_rows(epoch)
        finally:
            self.services.notifier.close_watch(self.run_id, self.watch)

    def _take(self, stream_id: StreamId, payload: dict[str, Any]) -> Chunk | None:
        if stream_id <= self.cursor:
            return None  # had it live already
        self.cursor = stream_id
        return Chunk(stream_id, payload["event"], payload["data"], stream_id <= self.after)

    def _live(self) -> list[Chunk]:
        """The live chunks that follow on from the cursor (the rest wait for the table)."""
        self._hold(self.watch.take_live())
        ready: list[Chunk] = []
        for stream_id in sorted(self.held):
            if stream_id <= self.cursor:
                del self.held[stream_id]
            elif follows(self.cursor, stream_id):
                chunk = self._take(stream_id, self.held.pop(stream_id))
                if chunk is not None:
                    ready.append(chunk)
            else:
                break
        return ready

    def _hold(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            stream_id = parse_id(str(item.get("id")))
            if stream_id is not None and stream_id > self.cursor:
                self.held[stream_id] = item

    def _gap(self, rows: Sequence[dict[str, Any]] = ()) -> bool:
        """Live chunks are held that do not follow on, even after `rows` are taken."""
        cursor = max(
            [self.cursor, *(id_of(r["payload"], r["seq"]) for r in rows if r["kind"] == "stream")]
        )
        waiting = [stream_id for stream_id in self.held if stream_id > cursor]
        return bool(waiting) and not follows(cursor, min(waiting))

    async def _next_rows(self, epoch: int) -> tuple[int, list[dict[str, Any]]]:
        """Wait for something new: rows pushed by a commit here when they follow on, else
        a read of the table when it may hold what the feed lacks."""
        watch = self.watch
        watch.changed.clear()
        if not watch.pushed and not watch.live:
            # Held chunks after a gap: look at the table again soon, even if nothing comes.
            timeout = (
                GAP_RECHECK_SECONDS
                if self._gap()
                else self.services.settings.push_safety_poll_seconds
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.changed.wait(), timeout)
        pushed = watch.take()
        self._hold(watch.take_live())
        follow_on = _follow_on(pushed, self.seq)
        if follow_on is not None and (follow_on or self.held) and not self._gap(follow_on):
            return epoch, follow_on
        # A signal from another process, the safety poll, a gap in what was pushed, or live
        # chunks that do not follow on: the table has the answer.
        read_epoch, rows = await _read(self.services, self.run_id, self.seq)
        return (read_epoch if read_epoch is not None else epoch), rows


def _follow_on(pushed: Sequence[dict[str, Any]], after_seq: int) -> list[dict[str, Any]] | None:
    """The pushed rows after `after_seq` if they continue it without a gap, else None."""
    fresh = sorted((e for e in pushed if e["seq"] > after_seq), key=lambda e: e["seq"])
    for offset, event in enumerate(fresh):
        if event["seq"] != after_seq + 1 + offset:
            return None
    return fresh
