"""The ledger side of a model call: every provider request is on the books before it is made.

`begin` writes the attempt as `in_flight` (with its estimated cost reserved on the run)
before the provider is called; `complete` replaces the estimate with what the call
really cost. For a call of a run held by a worker both are fenced by the lease epoch and
flush the events the worker buffered, in one transaction each:

- a worker whose lease moved on cannot start a call (`LeaseLost`, nothing is written);
- an attempt found `in_flight` from an earlier epoch (its worker died or stalled mid-call)
  is marked `lost`, keeps its estimated cost, and the new attempt links to it
  (`retry_of`): the books show a call that may have been paid twice;
- a completion is always recorded (the money was spent), but its event only while the
  lease holds: no event follows a run's terminal event.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import ledger_repo
from app.db.events_repo import PendingEvent
from app.db.journal import RunJournal
from app.db.models import ModelCall
from app.gateway.call_records import call_event, call_row
from app.gateway.call_telemetry import observe_call
from app.gateway.errors import BudgetExceeded, LeaseLost, RunCancelled
from app.gateway.estimate import Estimate
from app.gateway.types import CallContext
from app.observability.telemetry import Telemetry
from app.routing.catalog import ModelSpec


@dataclass(frozen=True)
class AttemptRecord:
    """What the ledger row of one attempt says before the provider answers."""

    model: ModelSpec
    number: int | None  # None: the first attempt of a logical call (numbered from history)
    reason: str
    requested: str
    task_class: str | None
    fallback_of: str | None
    request: dict[str, Any]
    routing: dict[str, Any] | None = None  # `RoutingContext.to_json()`: for feedback later
    policy: str = ""  # auto | cascade | tier | model (metrics and traces)


@dataclass(frozen=True)
class Begun:
    call_id: str
    number: int
    recorded: ModelCall | None = None  # the call was already paid by this run: no new row


@dataclass(frozen=True)
class Completion:
    status: str  # ok | error | invalid_output | rejected
    latency_ms: float
    cost_usd: float
    estimate_usd: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    response: dict[str, Any] | None = None
    error: str | None = None
    finish_reason: str | None = None
    ttft_ms: float | None = None  # a streamed attempt's time to its first token
    stream: bool = False


class Ledger:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        journal: RunJournal,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._sessions = sessions
        self._journal = journal
        self._telemetry = telemetry

    @contextlib.asynccontextmanager
    async def _transaction(self, ctx: CallContext) -> AsyncIterator[AsyncSession]:
        """A transaction under the run's write lock (one writer per run in this worker, so
        its events keep their order)."""
        lock = ctx.run.lock if ctx.run is not None else contextlib.nullcontext()
        async with lock, self._sessions.begin() as session:
            yield session

    async def begin(self, ctx: CallContext, attempt: AttemptRecord, estimate: Estimate) -> Begun:
        """Check limits and write the `in_flight` row, or find the call already paid."""
        fence = ctx.run
        if fence is not None:
            fence.check_usable()
        events = fence.take_events() if fence is not None else []
        try:
            async with self._transaction(ctx) as session:
                begun = await self._begin(session, ctx, attempt, estimate, events)
        except LeaseLost:
            if fence is not None:
                fence.mark_lost()
            raise
        except BaseException:
            if fence is not None:
                fence.put_back(events)
            raise
        return begun

    async def _begin(
        self,
        session: AsyncSession,
        ctx: CallContext,
        attempt: AttemptRecord,
        estimate: Estimate,
        events: list[PendingEvent],
    ) -> Begun:
        grant = None
        if ctx.run is not None:
            grant = await self._journal.append(
                session, ctx.run.run_id, epoch=ctx.run.epoch, events=events
            )
            if grant is None:
                raise LeaseLost(f"run {ctx.run.run_id}: the lease moved on before a model call")
        elif ctx.run_id is not None:
            grant = await self._journal.hold(session, ctx.run_id)
        number, retry_of = attempt.number, None
        if number is None:
            rows = await ledger_repo.attempts_of(session, ctx.call_key)
            paid = next((row for row in reversed(rows) if row.status == "ok"), None)
            if paid is not None:
                return Begun(paid.id, paid.attempt, recorded=paid)
            await ledger_repo.mark_lost(session, [r.id for r in rows if r.status == "in_flight"])
            lost = [row.id for row in rows if row.status in ("in_flight", "lost")]
            retry_of = lost[-1] if lost else None
            number = rows[-1].attempt + 1 if rows else 1
        if grant is not None:
            if grant.cancel_requested:
                raise RunCancelled(f"run {ctx.run_id or ''} was cancelled")
            budget = grant.budget_usd
            if budget is not None and grant.cost_usd + estimate.cost_usd + ctx.reserve_usd > budget:
                raise BudgetExceeded(
                    spent_usd=grant.cost_usd,
                    estimate_usd=estimate.cost_usd,
                    budget_usd=budget,
                    reserve_usd=ctx.reserve_usd,
                    what=f"{ctx.node or 'next'} call on {attempt.model.name}",
                )
        if ctx.account is not None:
            await ctx.account.reserve(session, estimate.cost_usd, f"call on {attempt.model.name}")
        call_id = str(uuid.uuid4())
        ledger_repo.add_call(
            session,
            ModelCall(**in_flight_row(ctx, attempt, estimate, call_id, number, retry_of)),
        )
        if grant is not None and ctx.run_id is not None:
            await self._journal.reserve_cost(session, ctx.run_id, estimate.cost_usd)
        return Begun(call_id, number)

    async def complete(
        self, ctx: CallContext, begun: Begun, attempt: AttemptRecord, done: Completion
    ) -> None:
        """Replace the estimate with the real outcome; the event only while the lease holds."""
        fence = ctx.run
        events = fence.take_events() if fence is not None else []
        async with self._transaction(ctx) as session:
            still_ours = await self._complete(session, ctx, begun, attempt, done, events)
        observe_call(self._telemetry, ctx, begun.call_id, attempt, done)
        if fence is not None and not still_ours:
            fence.mark_lost()

    async def _complete(
        self,
        session: AsyncSession,
        ctx: CallContext,
        begun: Begun,
        attempt: AttemptRecord,
        done: Completion,
        events: list[PendingEvent],
    ) -> bool:
        status = await ledger_repo.complete_call(
            session,
            begun.call_id,
            status=done.status,
            error=done.error,
            response=done.response,
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            cached_tokens=done.cached_tokens,
            cache_write_tokens=done.cache_write_tokens,
            cost_usd=done.cost_usd,
            latency_ms=done.latency_ms,
            ttft_ms=done.ttft_ms,
            finish_reason=done.finish_reason,
        )
        if ctx.account is not None:
            await ctx.account.settle(session, done.cost_usd - done.estimate_usd)
        if ctx.run_id is None:
            return True
        return await self._journal.settle_call(
            session,
            ctx.run_id,
            epoch=ctx.run.epoch if ctx.run is not None else None,
            cost_delta_usd=done.cost_usd - done.estimate_usd,
            events=[*events, _call_event(begun, attempt, done, status, ctx)],
        )

    async def abandon(self, ctx: CallContext, begun: Begun, why: str) -> None:
        """The call was interrupted (cancelled task, shutdown) before the provider answered."""
        async with self._sessions.begin() as session:
            await ledger_repo.abandon_call(
                session, begun.call_id, f"{why}: {ledger_repo.LOST_ERROR}"
            )


def in_flight_row(
    ctx: CallContext,
    attempt: AttemptRecord,
    estimate: Estimate,
    call_id: str,
    number: int,
    retry_of: str | None = None,
) -> dict[str, Any]:
    """The row of an attempt about to be made, its cost the estimate."""
    return call_row(
        ctx,
        call_id=call_id,
        attempt=number,
        model=attempt.model,
        reason=attempt.reason,
        requested=attempt.requested,
        request=attempt.request,
        status="in_flight",
        task_class=attempt.task_class,
        prompt_tokens=estimate.prompt_tokens,
        cost_usd=estimate.cost_usd,
        fallback_of=attempt.fallback_of,
        retry_of=retry_of,
        routing=attempt.routing,
    )


def _call_event(
    begun: Begun, attempt: AttemptRecord, done: Completion, status: str, ctx: CallContext
) -> PendingEvent:
    return call_event(
        ctx,
        call_id=begun.call_id,
        attempt=begun.number,
        model=attempt.model.name,
        tier=attempt.model.tier,
        status=status,
        reason=attempt.reason,
        cost_usd=done.cost_usd,
        latency_ms=done.latency_ms,
        prompt_tokens=done.prompt_tokens,
        completion_tokens=done.completion_tokens,
        finish_reason=done.finish_reason,
        error=done.error,
    )
