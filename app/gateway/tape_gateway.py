"""The gateway of a replay run: every call is answered from the source run's tape.

It has the interface nodes use (`complete`, `complete_structured`, `expected_cost_usd`,
`catalog`, `classifier`, `estimator`) and never calls a provider itself. Per logical call
it routes the request as the live gateway would, finds the recording under the same tape
key, and checks, in this order: the request (exactly as stored for the first attempt),
the route (the model whose answer was used must be one the route may try), and the node's
validation of the recorded answer. A match is answered at no cost and written to the
ledger as a `replayed` row; the first mismatch is a divergence: the replay stops there,
or (`on_divergence: live`) this call and every later one go to the live gateway.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import ledger_repo
from app.db.events_repo import PendingEvent
from app.db.models import ModelCall
from app.gateway.call_records import call_event, call_row
from app.gateway.cascade_walk import walk_cascade
from app.gateway.errors import AllModelsFailed, LeaseLost, RunCancelled
from app.gateway.estimate import CostEstimator
from app.gateway.gateway import Gateway
from app.gateway.learning import CallFeedback, RoutingLearning
from app.gateway.replay_errors import Divergence, DivergenceKind, ReplayDiverged, SourceEnded
from app.gateway.route_planner import classify_request
from app.gateway.tape import Recording, Tape, canonical, request_as_recorded, request_change
from app.gateway.tape_keys import parse_tape_key, tape_key_of
from app.gateway.tape_verify import recorded_verify
from app.gateway.tokens import estimate_prompt_tokens
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.gateway.validation import InvalidOutput, check_answer
from app.observability.telemetry import Telemetry
from app.routing.catalog import Catalog
from app.routing.policy import (
    Auto,
    Cascade,
    Classifier,
    Policy,
    Route,
    RouteInputs,
    route_request,
)
from app.routing.provider_rules import EffectiveRules
from app.run_status import RunStatus

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


class _Mismatch(Exception):
    def __init__(self, divergence: Divergence) -> None:
        self.divergence = divergence


@dataclass(frozen=True)
class _Answer:
    ctx: CallContext
    request: dict[str, Any]
    recording: Recording
    result: ModelResult


class TapeGateway:
    """Built by the worker for one replay run."""

    def __init__(
        self,
        *,
        live: Gateway,
        tape: Tape,
        sessions: async_sessionmaker[AsyncSession],
        on_divergence: str,
        report: Callable[[Divergence], None],
        replayed_keys: set[str] | None = None,
        live_mode: bool = False,
    ) -> None:
        self.live = live
        self.tape = tape
        self._sessions = sessions
        self._stop = on_divergence == "stop"
        self._report = report
        # Call keys this replay already answered in an earlier attempt (a resumed replay).
        self._replayed = replayed_keys or set()
        self.live_mode = live_mode
        self.replayed = 0  # logical calls (cascade stages count one each) answered from the tape
        self.live_calls = 0  # logical calls handed to the live gateway after a divergence

    @property
    def catalog(self) -> Catalog:
        return self.live.catalog

    async def rules_for(self, ctx: CallContext) -> EffectiveRules:
        """The live gateway's provider rules (a replay calls no provider; a live
        continuation obeys them)."""
        return await self.live.rules_for(ctx)

    @property
    def classifier(self) -> Classifier | None:
        return self.live.classifier

    @property
    def estimator(self) -> CostEstimator:
        return self.live.estimator

    @property
    def telemetry(self) -> Telemetry | None:
        """None: a replay's decisions come from its tape, not from traffic."""
        return None

    async def expected_cost_usd(
        self, tier: str, request: ModelRequest, *, graph: str | None, node: str | None
    ) -> float:
        return await self.live.expected_cost_usd(tier, request, graph=graph, node=node)

    async def record_feedback(self, feedback: Sequence[CallFeedback]) -> None:
        """A replay re-enacts decisions already recorded: it adds no implicit feedback."""

    async def complete_structured(
        self, request: ModelRequest, schema: type[T], policy: Policy, ctx: CallContext
    ) -> tuple[T, ModelResult]:
        # The live gateway's parsing and validation, over this gateway's `complete`.
        return await Gateway.complete_structured(cast(Gateway, self), request, schema, policy, ctx)

    # Nothing is learned from a replay, and no learned estimate decides in it.
    learning: RoutingLearning | None = None

    async def complete(
        self,
        request: ModelRequest,
        policy: Policy,
        ctx: CallContext,
        *,
        validate: Callable[[ModelResult], Any] | None = None,
    ) -> ModelResult:
        """The recorded answer, or the divergence (stop) or a live call (live)."""
        if not self.live_mode:
            try:
                if isinstance(policy, Cascade):
                    # The live gateway's walk, on recorded answers (each stage its own key).
                    return await walk_cascade(
                        self, request, policy, ctx, validate, recorded=self._escalated
                    )
                verified = (
                    recorded_verify(self.tape, self._key(ctx), self.catalog)
                    if isinstance(policy, Auto)
                    else None
                )
                if verified is not None:  # the source's auto verified a cheap answer
                    return await walk_cascade(
                        self, request, verified, ctx, validate, recorded=self._escalated
                    )
                recording = self._recording(ctx)
                inputs = (
                    self._route_inputs(request, ctx, recording)
                    if isinstance(policy, Auto)
                    else None
                )
                route = route_request(policy, self.catalog, node=ctx.node, inputs=inputs)
                return await self._serve_recording(request, route, ctx, recording, validate)
            except _Mismatch as mismatch:
                self._report(mismatch.divergence)
                if self._stop:
                    raise ReplayDiverged(mismatch.divergence) from None
                self.live_mode = True
        self.live_calls += 1
        return await self.live.complete(request, policy, ctx, validate=validate)

    async def serve(
        self,
        request: ModelRequest,
        route: Route,
        ctx: CallContext,
        validate: Callable[[ModelResult], Any] | None = None,
    ) -> ModelResult:
        """One logical call of a cascade walk, answered from the tape."""
        return await self._serve_recording(request, route, ctx, self._recording(ctx), validate)

    async def _serve_recording(
        self,
        request: ModelRequest,
        route: Route,
        ctx: CallContext,
        recording: Recording,
        validate: Callable[[ModelResult], Any] | None,
    ) -> ModelResult:
        answer = self._match(request, route, ctx, recording, validate)
        await self._record(answer)
        return answer.result

    def _escalated(self, ctx: CallContext, index: int) -> bool:
        """Whether the source went on past stage `index` of the cascade under `ctx`."""
        return self.tape.has(f"{self._key(ctx)}/cascade-{index + 1}")

    # Matching ------------------------------------------------------------------------------
    def _recording(self, ctx: CallContext) -> Recording:
        key = self._key(ctx)
        recording = self.tape.take(key)
        if recording is not None and (recording.answer or recording.failures):
            return recording
        if self.tape.exhausted() and self.tape.source_status != RunStatus.SUCCEEDED:
            raise SourceEnded(self.tape.source_status, self.tape.source_error)
        raise self._mismatch("no_recording", ctx, "the source run made no call under this key")

    def _match(
        self,
        request: ModelRequest,
        route: Route,
        ctx: CallContext,
        recording: Recording,
        validate: Callable[[ModelResult], Any] | None,
    ) -> _Answer:
        first = recording.first
        now = request_as_recorded(request, first.model, self.catalog)
        stored = canonical(first.request)
        if now != stored:
            summary, diff = request_change(now, stored)
            raise self._mismatch("prompt_changed", ctx, summary, diff)
        answer = recording.answer
        if answer is None:  # every model failed in the source too: fail the same way
            raise AllModelsFailed([f"{row.model}: {row.error}" for row in recording.failures])
        allowed = [model.name for model in route.candidates]
        if answer.model not in allowed:
            raise self._mismatch(
                "route_changed",
                ctx,
                f"the source's answer came from {answer.model} ({answer.tier}); the route "
                f"now is {route.requested}: {', '.join(allowed)}",
                {"recorded_model": answer.model, "route": allowed},
            )
        result = recording.result(str(uuid.uuid4()))
        try:
            check_answer(request, result)
            if validate is not None:
                validate(result)
        except InvalidOutput as exc:
            raise self._mismatch(
                "answer_rejected", ctx, f"the node's validation refuses the recorded answer: {exc}"
            ) from None
        return _Answer(ctx, now, recording, result)

    def _route_inputs(
        self, request: ModelRequest, ctx: CallContext, recording: Recording
    ) -> RouteInputs:
        """Auto's inputs as the source saw them: its remaining budget when the call began."""
        classification = classify_request(self.classifier, request, ctx.node)
        remaining = None
        if self.tape.budget_usd is not None:
            left = self.tape.budget_usd - recording.spent_before_usd - ctx.reserve_usd
            remaining = max(0.0, left)
        return RouteInputs(
            prompt_tokens=estimate_prompt_tokens(request.messages, request.tools),
            classification=classification,
            remaining_budget_usd=remaining,
        )

    def _key(self, ctx: CallContext) -> str:
        return tape_key_of(ctx.call_key, ctx.run_id)

    def _mismatch(
        self,
        kind: DivergenceKind,
        ctx: CallContext,
        detail: str,
        diff: dict[str, Any] | None = None,
    ) -> _Mismatch:
        key = self._key(ctx)
        position = parse_tape_key(key)
        return _Mismatch(
            Divergence(
                kind=kind,
                step=position.step if position else None,
                node=ctx.node,
                detail=detail,
                call_index=position.index if position else None,
                call_key=key,
                diff=diff,
            )
        )

    # Ledger --------------------------------------------------------------------------------
    async def _record(self, answer: _Answer) -> None:
        """A `replayed` ledger row (no cost) and its `model_call` event, fenced like the
        live gateway's rows."""
        ctx = answer.ctx
        self.replayed += 1
        if ctx.call_key in self._replayed:
            return  # written by an earlier attempt of this replay
        source = answer.recording.answer
        assert source is not None
        reason = f"replayed from call {source.id}: {source.routing_reason}"
        row = ModelCall(
            **call_row(
                ctx,
                call_id=answer.result.call_id,
                attempt=1,
                model=None,
                reason=reason,
                requested=source.requested,
                request=answer.request,
                status="replayed",
                task_class=source.task_class,
            ),
            tier=source.tier,
            model=source.model,
            provider=source.provider,
            response=source.response,
            prompt_tokens=source.prompt_tokens,
            completion_tokens=source.completion_tokens,
            cached_tokens=source.cached_tokens,
            cost_usd=0.0,
            latency_ms=0.0,
            finish_reason=source.finish_reason,
        )
        event = call_event(
            ctx,
            call_id=row.id,
            attempt=1,
            model=source.model,
            tier=source.tier,
            status="replayed",
            reason=reason,
            cost_usd=0.0,
            latency_ms=0.0,
            prompt_tokens=source.prompt_tokens,
            completion_tokens=source.completion_tokens,
            finish_reason=source.finish_reason,
            error=None,
            replayed_from=source.id,
        )
        await self._write(ctx, row, event)
        self._replayed.add(ctx.call_key)

    async def _write(self, ctx: CallContext, row: ModelCall, event: PendingEvent) -> None:
        fence = ctx.run
        if fence is None:
            async with self._sessions.begin() as session:
                ledger_repo.add_call(session, row)
            return
        fence.check_usable()
        events = [*fence.take_events(), event]
        try:
            async with fence.lock, self._sessions.begin() as session:
                grant = await self.live.journal.append(
                    session, fence.run_id, epoch=fence.epoch, events=events
                )
                if grant is None:
                    raise LeaseLost(
                        f"run {fence.run_id}: the lease moved on before a replayed call"
                    )
                if grant.cancel_requested:
                    raise RunCancelled(f"run {fence.run_id} was cancelled")
                ledger_repo.add_call(session, row)
        except LeaseLost:
            fence.mark_lost()
            raise
        except BaseException:
            fence.put_back(events[:-1])
            raise
