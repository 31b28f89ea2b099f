"""A run's checkpoint writes that are in flight at the same time go out in one pipeline.

With `durability="async"` LangGraph does not wait for a step's checkpoint and its tasks'
writes before the next step: several writes of one run are pending at once. Each used to
be a pool checkout, a pipeline with its own lease check, a sync and a return to the pool.
Here the writes of one lease queue behind the one in flight and then go together: one
checkout, one lease check and one sync for all of them, in the order they were made.

All of a batch belongs to one run under one lease, so it stands or falls together, as one
write did: when the lease moved on none of it is stored and each writer gets `LeaseLost`;
a database error reaches each writer of the batch.

LangGraph itself puts a run's checkpoints one after another (each `aput` only once the one
before it returned), so batching alone still cost one round trip and one commit per
checkpoint, paid in a row at the end of a run whose steps are quick. `write_behind` lets a
writer go on as soon as its statements are queued; `flush` then waits for all of them (a
run flushes before it ends) and raises the first failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.db.fencing import LeaseToken

# One statement of a write: its SQL, its parameters, and whether they are many rows.
Statement = tuple[str, Any, bool]
Send = Callable[[LeaseToken, list[Statement]], Awaitable[None]]


class RecordingCursor:
    """Stands in for the savers' cursor in a write (their writes only execute, never
    fetch): keeps the statements to send with the run's next batch."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    async def execute(self, query: str, params: Any = None) -> None:
        self.statements.append((query, params, False))

    async def executemany(self, query: str, params_seq: Sequence[Any]) -> None:
        self.statements.append((query, list(params_seq), True))


@dataclass(eq=False)
class _Batch:
    statements: list[Statement]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, error: BaseException | None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        elif isinstance(error, asyncio.CancelledError):
            self.done.cancel()
        else:
            self.done.set_exception(error)
            self.done.exception()  # the writers that joined it raise it; none may have


class LeaseBatches:
    """Per lease, at most one batch in flight and one filling up behind it."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._in_flight: dict[LeaseToken, _Batch] = {}
        self._filling: dict[LeaseToken, _Batch] = {}
        # Writes sent behind their writers, per lease: the tasks that send them, and the
        # first failure among them (kept until `flush` raises it).
        self._behind: dict[LeaseToken, set[asyncio.Task[None]]] = {}
        self._failed: dict[LeaseToken, BaseException] = {}

    async def write(self, lease: LeaseToken, statements: list[Statement]) -> None:
        """Send `statements` with whatever else of `lease` is waiting; returns once they
        are stored (raises what their batch raised)."""
        filling = self._filling.get(lease)
        if filling is not None:  # a batch waits for its turn: go with it
            filling.statements.extend(statements)
            await asyncio.shield(filling.done)
            return
        batch = _Batch(list(statements))
        previous = self._in_flight.get(lease)
        if previous is not None:
            self._filling[lease] = batch
            try:
                await asyncio.wait([previous.done])
            except BaseException as exc:
                batch.settle(exc)
                raise
            finally:
                if self._filling.get(lease) is batch:
                    del self._filling[lease]
        self._in_flight[lease] = batch
        try:
            await self._send(lease, batch.statements)
        except BaseException as exc:
            batch.settle(exc)
            raise
        else:
            batch.settle(None)
        finally:
            if self._in_flight.get(lease) is batch:
                del self._in_flight[lease]

    def write_behind(self, lease: LeaseToken, statements: list[Statement]) -> None:
        """Queue `statements` as `write` would send them, without waiting for them to be
        stored; raises a failure of an earlier write of `lease` instead of queueing."""
        failed = self._failed.get(lease)
        if failed is not None:
            raise failed
        filling = self._filling.get(lease)
        if filling is not None:  # goes with the batch that waits for its turn
            filling.statements.extend(statements)
            return
        task = asyncio.ensure_future(self.write(lease, statements))
        self._behind.setdefault(lease, set()).add(task)
        task.add_done_callback(lambda done: self._sent_behind(lease, done))

    def _sent_behind(self, lease: LeaseToken, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        pending = self._behind.get(lease)
        if pending is None:  # flushed and forgotten: nobody is left to tell
            return
        pending.discard(task)
        if error is not None:
            self._failed.setdefault(lease, error)

    async def settle(self, lease: LeaseToken) -> None:
        """Wait until every write of `lease` sent behind is stored or has failed."""
        while pending := self._behind.get(lease):
            await asyncio.wait(list(pending))

    def forget(self, lease: LeaseToken) -> None:
        """Stop tracking `lease`'s writes (its run was cancelled): those still in flight end
        on their own, fenced by the lease, and their failures are dropped."""
        self._behind.pop(lease, None)
        self._failed.pop(lease, None)

    async def flush(self, lease: LeaseToken) -> None:
        """`settle`, then forget `lease` and raise the first of its writes that failed."""
        try:
            await self.settle(lease)
        finally:
            self._behind.pop(lease, None)
            failed = self._failed.pop(lease, None)
        if failed is not None:
            raise failed
