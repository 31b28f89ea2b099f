"""LangGraph API stream chunks to other processes before they are written: Postgres NOTIFY
on `routegraph_live`, from one autocommit connection per process.

A notification carries `{"o": origin, "r": run id, "e": [chunk, ...]}`; the chunks that
queue up while one is sent go together in the next, up to Postgres's payload limit (a
payload must be under 8000 bytes). A chunk that alone would not fit is not sent this way
(`send` says so); the worker writes it at once, and the other processes' streams, seeing a
gap in the ids, read it from the table. Nothing here is needed for correctness: chunks lost
on the way (connection down, a listener reconnecting) are read from the table once written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import psycopg

from app.db.engine import libpq_url

log = logging.getLogger(__name__)

LIVE_CHANNEL = "routegraph_live"
MAX_PAYLOAD_BYTES = 7900  # Postgres refuses 8000 and more; room for the envelope's quoting
ENVELOPE_BYTES = 120  # {"o":...,"r":...,"e":[]} around the chunks
MAX_BACKOFF_S = 5.0


class PgLiveSender:
    """Sends chunks in order, in as few notifications as fit."""

    def __init__(self, url: str, origin: str) -> None:
        self._conninfo = libpq_url(url)
        self._origin = origin
        self._queue: list[tuple[str, str]] = []
        self._wake = asyncio.Event()
        self._connected = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._send_forever(), name="pg-live-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def send(self, run_id: str, item: dict[str, Any]) -> bool:
        """Queue `item`; False when it is too big for a notification."""
        text = json.dumps(item, separators=(",", ":"))
        if len(text.encode()) + len(run_id) + ENVELOPE_BYTES > MAX_PAYLOAD_BYTES:
            return False
        if self._connected:  # else it is read from the table once written
            self._queue.append((run_id, text))
            self._wake.set()
        return True

    async def _send_forever(self) -> None:
        backoff = 0.1
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            except psycopg.OperationalError as exc:
                log.warning("NOTIFY connection failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = 0.1
            self._connected = True
            try:
                while True:
                    await self._wake.wait()
                    self._wake.clear()
                    queued, self._queue = self._queue, []
                    for payload in envelopes(self._origin, queued):
                        await conn.execute("SELECT pg_notify(%s, %s)", (LIVE_CHANNEL, payload))
            except psycopg.OperationalError as exc:
                log.warning("NOTIFY connection lost (%s); reconnecting", exc)
            finally:
                self._connected = False
                self._queue.clear()
                with contextlib.suppress(psycopg.Error):
                    await conn.close()


def envelopes(origin: str, queued: list[tuple[str, str]]) -> list[str]:
    """Consecutive chunks of one run in one payload each, every payload under the limit."""
    payloads: list[str] = []
    run: str | None = None
    texts: list[str] = []
    size = 0

    def close() -> None:
        if run is not None and texts:
            payloads.append(
                f'{{"o":{json.dumps(origin)},"r":{json.dumps(run)},"e":[{",".join(texts)}]}}'
            )

    for run_id, text in queued:
        grown = size + len(text.encode()) + 1
        if run_id != run or grown + len(run_id) + ENVELOPE_BYTES > MAX_PAYLOAD_BYTES:
            close()
            run, texts, size = run_id, [], 0
            grown = len(text.encode()) + 1
        texts.append(text)
        size = grown
    close()
    return payloads


def decode(payload: str, origin: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The run and chunks of a notification from another process (None: from this one,
    or not one of ours)."""
    try:
        note = json.loads(payload)
    except json.JSONDecodeError:
        return None
    if not isinstance(note, dict) or note.get("o") == origin:
        return None
    run_id, items = note.get("r"), note.get("e")
    if not isinstance(run_id, str) or not isinstance(items, list):
        return None
    return run_id, [item for item in items if isinstance(item, dict)]
