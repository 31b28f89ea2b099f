"""Event ids of a LangGraph API run stream, given by the worker, not by the database.

A run's stream chunks reach clients before they are written (`app/worker/live_stream.py`),
so their id cannot be a `run_events.seq`. The worker that holds the run's lease numbers
them `<epoch>-<n>`: `epoch` is the lease epoch (every claim increments it) and `n` counts
the chunks of that attempt from 1. The number goes with the chunk into `run_events`
(`payload.id`), so a chunk has the same id live and when read back.

Ids are ordered as (epoch, n): an attempt's chunks are written in that order and a later
attempt's writes are fenced until the earlier one's lease is gone, so the database holds
them in id order too. A client that resumes after an id gets every chunk with a larger id,
whether written or not yet, and none it already has.
"""

from __future__ import annotations

from typing import Any

StreamId = tuple[int, int]

START: StreamId = (0, 0)  # before any chunk of any attempt


def format_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


def parse_id(text: str) -> StreamId | None:
    """`<epoch>-<n>` (or a bare number: an older stream's event sequence, before every
    chunk with a worker's id); None when it is neither."""
    epoch, dash, n = text.partition("-")
    if not dash:
        epoch, n = "0", text
    if not (epoch.isascii() and epoch.isdigit() and n.isascii() and n.isdigit()):
        return None
    if len(epoch) > 9 or len(n) > 12:
        return None
    return int(epoch), int(n)


def id_of(payload: dict[str, Any], seq: int) -> StreamId:
    """The id of a written `stream` event (rows written before ids existed: their seq)."""
    found = payload.get("id")
    parsed = parse_id(found) if isinstance(found, str) else None
    return parsed if parsed is not None else (0, seq)


def follows(last: StreamId, stream_id: StreamId) -> bool:
    """`stream_id` is the chunk right after `last` (the first attempt's first chunk follows
    the start: no attempt came before it)."""
    epoch, n = stream_id
    return (epoch == last[0] and n == last[1] + 1) or (last == START and stream_id == (1, 1))
