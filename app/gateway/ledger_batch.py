"""Group commit for the ledger rows of calls made outside a run (the OpenAI endpoint).

Such a call has no lease to fence and no run events to order, so the rows of concurrent
calls can share one transaction: whatever `begin`s and `complete`s are waiting when the
writer is free are written together (the INSERTs and UPDATEs as one executemany each),
then the next batch. One call alone is written at once, as before; 32 concurrent calls
cost a handful of transactions instead of 64. Each `begin` still returns only once its
`in_flight` row is committed, and each key's budget is reserved row by row in the batch,
so a refused call is refused alone. Completions are written behind the answer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import ledger_repo
from app.db.models import utcnow
from app.gateway.call_telemetry import observe_call
from app.gateway.errors import BudgetExceeded
from app.gateway.estimate import Estimate
from app.gateway.ledger import AttemptRecord, Begun, Completion, in_flight_row
from app.gateway.types import CallAccount, CallContext
from app.observability.telemetry import Telemetry

log = logging.getLogger(__name__)


@dataclass
class _Op:
    ctx: CallContext
    future: asyncio.Future[Any]
    row: dict[str, Any] | None = None  # a begin: the in_flight row
    estimate_usd: float = 0.0
    what: str = ""
    done: dict[str, Any] | None = None  # a complete: the row's new values
    settle_usd: float = 0.0


class BatchLedger:
    """`begin`/`complete` of `app.gateway.ledger.Ledger` for calls with no run."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], telemetry: Telemetry | None = None
    ) -> None:
        self._sessions = sessions
        self._telemetry = telemetry
        self._queue: list[_Op] = []
        self._writer: asyncio.Task[None] | None = None

    async def begin(self, ctx: CallContext, attempt: AttemptRecord, estimate: Estimate) -> Begun:
        number = attempt.number or 1
        call_id = str(uuid.uuid4())
        row = {**in_flight_row(ctx, attempt, estimate, call_id, number), "created_at": utcnow()}
        what = f"call on {attempt.model.name}"
        op = _Op(ctx, self._future(), row=row, estimate_usd=estimate.cost_usd, what=what)
        await self._submit(op)
        return Begun(call_id, number)

    async def complete(
        self, ctx: CallContext, begun: Begun, attempt: AttemptRecord, done: Completion
    ) -> None:
        values = {
            "b_id": begun.call_id,
            "status": done.status,
            "error": done.error,
            "response": done.response,
            "prompt_tokens": done.prompt_tokens,
            "completion_tokens": done.completion_tokens,
            "cached_tokens": done.cached_tokens,
            "cache_write_tokens": done.cache_write_tokens,
            "cost_usd": done.cost_usd,
            "latency_ms": done.latency_ms,
            "ttft_ms": done.ttft_ms,
            "finish_reason": done.finish_reason,
            "completed_at": utcnow(),
        }
        op = _Op(ctx, self._future(), done=values, settle_usd=done.cost_usd - done.estimate_usd)
        # Written behind: the answer does not wait for its bookkeeping. The in_flight row
        # and the reserved estimate are already committed, so a crash before this write
        # leaves the call on the books at its estimate (as a call cut by a crash is).
        op.future.add_done_callback(_log_failure)
        self._enqueue(op)
        observe_call(self._telemetry, ctx, begun.call_id, attempt, done)

    async def settled(self) -> None:
        """Wait until every queued row is written (shutdown, tests)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    def _future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    def _enqueue(self, op: _Op) -> None:
        self._queue.append(op)
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())

    async def _submit(self, op: _Op) -> None:
        self._enqueue(op)
        # The write goes on if the caller is cancelled: the row must reach the books.
        await asyncio.shield(op.future)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    await self._write(batch)
                except BaseException as exc:
                    for op in batch:
                        if not op.future.done():
                            op.future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for op in batch:
                        if not op.future.done():
                            op.future.set_result(None)
        finally:
            self._writer = None

    async def _write(self, batch: list[_Op]) -> None:
        # One commit (one WAL flush) for every call in the batch. Not `synchronous_commit
        # off`: a crash of the database server must not lose rows of calls that were paid.
        async with self._sessions.begin() as session:
            begins = [op for op in batch if op.row is not None]
            refused = await _reserve(session, begins)
            rows = [op.row for op in begins if op.row is not None and id(op) not in refused]
            await ledger_repo.add_calls_batch(session, rows)
            completions = [op.done for op in batch if op.done is not None]
            await ledger_repo.complete_calls_batch(session, completions)
            settles: dict[Hashable, tuple[CallAccount, float]] = {}
            for op in batch:
                account = op.ctx.account
                if op.done is not None and account is not None:
                    total = settles.get(account.pool, (account, 0.0))[1] + op.settle_usd
                    settles[account.pool] = (account, total)
            for account, delta in settles.values():
                await account.settle(session, delta)
        for op in batch:
            if id(op) in refused:
                op.future.set_exception(refused[id(op)])


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a ledger completion could not be written: %s", future.exception())


async def _reserve(session: AsyncSession, begins: list[_Op]) -> dict[int, BudgetExceeded]:
    """Reserve each begin's estimate on its account: all of one account's at once when
    they fit together, else one by one (so only the calls that do not fit are refused)."""
    pools: dict[Hashable, list[_Op]] = {}
    for op in begins:
        if op.ctx.account is not None:
            pools.setdefault(op.ctx.account.pool, []).append(op)
    refused: dict[int, BudgetExceeded] = {}
    for ops in pools.values():
        account = ops[0].ctx.account
        assert account is not None
        if len(ops) > 1:
            try:
                await account.reserve(session, sum(op.estimate_usd for op in ops), ops[0].what)
                continue
            except BudgetExceeded:
                pass  # not all of them fit: find which do
        for op in ops:
            try:
                await account.reserve(session, op.estimate_usd, op.what)
            except BudgetExceeded as exc:
                refused[id(op)] = exc
    return refused
