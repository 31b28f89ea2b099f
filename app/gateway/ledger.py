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

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import runs_repo
from app.db.events_repo import PendingEvent, append_fenced, insert_events, unwritten
from app.db.models import ModelCall, Run, utcnow
from app.gateway.errors import BudgetExceeded, LeaseLost, RunCancelled
from app.gateway.estimate import Estimate
from app.gateway.types import CallContext
from app.routing.catalog import ModelSpec

LOST_ERROR = (
    "in flight when the worker holding the run stopped (crash, stall or shutdown): the "
    "provider may have charged for it; cost estimated"
)


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
    response: dict[str, Any] | None = None
    error: str | None = None
    finish_reason: str | None = None


class Ledger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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
            grant = await append_fenced(session, ctx.run.run_id, epoch=ctx.run.epoch, events=events)
            if grant is None:
                raise LeaseLost(f"run {ctx.run.run_id}: the lease moved on before a model call")
        elif ctx.run_id is not None:
            grant = await runs_repo.reserve_event_seqs(session, ctx.run_id, 0)
        number, retry_of = attempt.number, None
        if number is None:
            rows = list(
                (
                    await session.execute(
                        select(ModelCall)
                        .where(ModelCall.call_key == ctx.call_key)
                        .order_by(ModelCall.attempt)
                    )
                ).scalars()
            )
            paid = next((row for row in reversed(rows) if row.status == "ok"), None)
            if paid is not None:
                return Begun(paid.id, paid.attempt, recorded=paid)
            retry_of = await _mark_lost(session, rows)
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
        session.add(
            ModelCall(
                id=call_id,
                tenant_id=ctx.tenant_id,
                api_key_id=ctx.account.key_id if ctx.account is not None else None,
                run_id=ctx.run_id,
                graph=ctx.graph,
                node=ctx.node,
                call_key=ctx.call_key,
                attempt=number,
                epoch=ctx.run.epoch if ctx.run is not None else None,
                task_class=attempt.task_class,
                routing_reason=attempt.reason,
                requested=attempt.requested,
                tier=attempt.model.tier,
                model=attempt.model.name,
                provider=attempt.model.provider,
                request=attempt.request,
                prompt_tokens=estimate.prompt_tokens,
                cost_usd=estimate.cost_usd,
                status="in_flight",
                fallback_of=attempt.fallback_of,
                retry_of=retry_of,
                routing=attempt.routing,
            )
        )
        if grant is not None and ctx.run_id is not None:
            await runs_repo.add_cost(session, ctx.run_id, estimate.cost_usd)
        return Begun(call_id, number)

    async def complete(
        self, ctx: CallContext, begun: Begun, attempt: AttemptRecord, done: Completion
    ) -> None:
        """Replace the estimate with the real outcome; the event only while the lease holds."""
        fence = ctx.run
        events = fence.take_events() if fence is not None else []
        async with self._transaction(ctx) as session:
            still_ours = await self._complete(session, ctx, begun, attempt, done, events)
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
        # A row marked lost meanwhile (its worker was thought dead) stays lost: its answer is
        # not used, but its real cost replaces the estimate.
        result = await session.execute(
            update(ModelCall)
            .where(ModelCall.id == begun.call_id)
            .values(
                status=case((ModelCall.status == "lost", "lost"), else_=done.status),
                error=case((ModelCall.status == "lost", ModelCall.error), else_=done.error),
                response=done.response,
                prompt_tokens=done.prompt_tokens,
                completion_tokens=done.completion_tokens,
                cached_tokens=done.cached_tokens,
                cost_usd=done.cost_usd,
                latency_ms=done.latency_ms,
                finish_reason=done.finish_reason,
                completed_at=utcnow(),
            )
            .returning(ModelCall.status)
            .execution_options(synchronize_session=False)
        )
        status = result.scalar_one()
        if ctx.account is not None:
            await ctx.account.settle(session, done.cost_usd - done.estimate_usd)
        if ctx.run_id is None:
            return True
        if ctx.run is not None:
            owner = runs_repo.fenced(session, ctx.run_id, ctx.run.epoch)
        else:
            owner = Run.status == "running"
        events = [*await unwritten(session, ctx.run_id, events)]
        events.append(_call_event(begun, attempt, done, status, ctx))
        result = await session.execute(
            update(Run)
            .where(Run.id == ctx.run_id)
            .values(
                cost_usd=Run.cost_usd + (done.cost_usd - done.estimate_usd),
                event_seq=Run.event_seq + case((owner, len(events)), else_=0),
            )
            .returning(Run.event_seq, case((owner, True), else_=False))
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        if row is None:
            return False
        last_seq, still_ours = row[0], row[-1]  # (event_seq, lease still ours)
        if not still_ours:
            return False
        await insert_events(session, ctx.run_id, int(last_seq) - len(events) + 1, events)
        return True

    async def abandon(self, ctx: CallContext, begun: Begun, why: str) -> None:
        """The call was interrupted (cancelled task, shutdown) before the provider answered."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(ModelCall)
                .where(ModelCall.id == begun.call_id, ModelCall.status == "in_flight")
                .values(status="lost", error=f"{why}: {LOST_ERROR}", completed_at=utcnow())
                .execution_options(synchronize_session=False)
            )


async def _mark_lost(session: AsyncSession, rows: list[ModelCall]) -> str | None:
    """Attempts left in flight by an earlier worker: mark them lost; the last one's id."""
    lost = [row.id for row in rows if row.status in ("in_flight", "lost")]
    in_flight = [row.id for row in rows if row.status == "in_flight"]
    if in_flight:
        await session.execute(
            update(ModelCall)
            .where(ModelCall.id.in_(in_flight), ModelCall.status == "in_flight")
            .values(status="lost", error=LOST_ERROR)
            .execution_options(synchronize_session=False)
        )
    return lost[-1] if lost else None


def _call_event(
    begun: Begun, attempt: AttemptRecord, done: Completion, status: str, ctx: CallContext
) -> PendingEvent:
    return PendingEvent(
        "model_call",
        node=ctx.node,
        payload={
            "call_id": begun.call_id,
            "attempt": begun.number,
            "model": attempt.model.name,
            "tier": attempt.model.tier,
            "status": status,
            "reason": attempt.reason,
            "cost_usd": done.cost_usd,
            "latency_ms": round(done.latency_ms, 1),
            "prompt_tokens": done.prompt_tokens,
            "completion_tokens": done.completion_tokens,
            "finish_reason": done.finish_reason,
            "error": done.error,
        },
    )
