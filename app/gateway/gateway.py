"""The one place that calls models: route, check limits, call, validate, fall back, record."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.journal import RunJournal, journal_for
from app.gateway.cascade_walk import FinalStage, walk_cascade
from app.gateway.chain import FallbackChain
from app.gateway.estimate import CostEstimator
from app.gateway.learning import CallFeedback, RoutingLearning
from app.gateway.ledger import AttemptRecord, Completion, Ledger
from app.gateway.ledger_batch import BatchLedger
from app.gateway.ledger_rows import completion_of, recorded_result
from app.gateway.provider_faults import request_fault
from app.gateway.providers import Providers, provider_errors
from app.gateway.retry_prompts import (
    answer_as_text,
    describe_provider_error,
    short_validation_error,
    with_feedback,
)
from app.gateway.route_planner import RoutePlanner
from app.gateway.rules_guard import (
    RulesSource,
)
from app.gateway.tokens import estimate_prompt_tokens
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.gateway.validation import STRUCTURED_INSTRUCTION, InvalidOutput, check_answer
from app.gateway.warmth import PrefixWarmth
from app.observability.telemetry import Telemetry
from app.routing.catalog import Catalog, ModelSpec
from app.routing.online import OnlineLearner
from app.routing.policy import (
    Cascade,
    Classifier,
    Policy,
    Route,
)
from app.routing.provider_rules import EffectiveRules

__all__ = ["Gateway", "InvalidOutput"]

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)

MAX_INVALID_OUTPUTS_PER_MODEL = 3


class Gateway:
    """Built at start-up with its dependencies; nodes reach it through the run context."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        session_factory: async_sessionmaker[AsyncSession],
        simulator_url: str,
        timeout_s: float = 60.0,
        default_max_output_tokens: int = 1024,
        prior_output_tokens: int = 256,
        classifier: Classifier | None = None,
        learner: OnlineLearner | None = None,
        direct_client: bool = True,
        journal: RunJournal | None = None,
        cache_aware: bool = True,
        cache_hints: bool = True,
        clock: Callable[[], float] = time.time,
        rules: RulesSource | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.catalog = catalog
        self.telemetry = telemetry
        self.classifier = classifier
        # With a learner, auto and the cascade decide on estimates learned from feedback.
        self.learning = (
            RoutingLearning(learner, classifier, catalog, session_factory)
            if learner is not None and classifier is not None
            else None
        )
        self._sessions = session_factory
        self._simulator_url = simulator_url
        self._timeout_s = timeout_s
        self._default_max_output_tokens = default_max_output_tokens
        # The service passes its database's journal; tools and tests may let it be chosen
        # here, once, from the database the sessions are bound to.
        self.journal = journal or journal_for(str(session_factory.kw["bind"].url))
        self.ledger = Ledger(session_factory, self.journal, telemetry)
        self.batch_ledger = BatchLedger(session_factory, telemetry)
        self.estimator = CostEstimator(session_factory, prior_output_tokens)
        self.providers = Providers(
            simulator_url, direct_client=direct_client, cache_hints=cache_hints
        )
        # Where conversations' prefixes are warm: recorded always, routed by when cache_aware.
        self.warmth = PrefixWarmth(session_factory, clock)
        self.planner = RoutePlanner(
            catalog,
            session_factory,
            self.warmth,
            default_max_output_tokens,
            prior_output_tokens,
            classifier,
            self.learning,
            rules,
            cache_aware,
        )

    async def rules_for(self, ctx: CallContext) -> EffectiveRules:
        """The provider rules a call obeys: its tenant's, and its API key's."""
        return await self.planner.rules_of(ctx.tenant_id, ctx.key_id)

    async def rules_of(self, tenant_id: str, key_id: str | None) -> EffectiveRules:
        """The provider rules of a tenant and one of its keys."""
        return await self.planner.rules_of(tenant_id, key_id)

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def ledger_for(self, ctx: CallContext) -> Ledger | BatchLedger:
        """Calls outside a run with a fresh key are group-committed; run calls are fenced."""
        if ctx.new_call and ctx.run is None and ctx.run_id is None:
            return self.batch_ledger
        return self.ledger

    async def aclose(self) -> None:
        """Write the ledger rows still queued, close the provider connections (shutdown)."""
        await self.batch_ledger.settled()
        await self.warmth.settled()
        await self.providers.aclose()

    async def complete(
        self,
        request: ModelRequest,
        policy: Policy,
        ctx: CallContext,
        *,
        validate: Callable[[ModelResult], Any] | None = None,
    ) -> ModelResult:
        """Serve one logical call on the route's models in order; every attempt is a ledger row.

        An answer cut at the token limit is retried with a larger limit; an answer
        `validate` (or the tool-call check) rejects is fed back with the error, up to 3
        times per model; then the next model gets the original conversation.
        """
        if isinstance(policy, Cascade):
            return await self._cascade(request, policy, ctx, validate)
        route = await self.plan_route(request, policy, ctx)
        if route.verify is not None:  # auto chose to verify a cheap answer (agreement, judge)
            return await self._cascade(request, route.verify, ctx, validate)
        return await self.serve(request, route, ctx, validate)

    async def plan_route(self, request: ModelRequest, policy: Policy, ctx: CallContext) -> Route:
        """The models a call under `policy` tries, in order (Cascade is walked by complete):
        `RoutePlanner.plan`."""
        return await self.planner.plan(request, policy, ctx)

    async def within_rules(
        self, request: ModelRequest, route: Route, ctx: CallContext
    ) -> tuple[EffectiveRules, Route]:
        """The call's provider rules, and `route` cut to the models they allow."""
        return await self.planner.within_rules(request, route, ctx)

    def stream(self, request: ModelRequest, route: Route, ctx: CallContext) -> AsyncIterator[Any]:
        """Serve a call as a stream of `app.gateway.streaming` events down the route; a
        stream cut mid-answer continues on the next model from what was already sent."""
        from app.gateway.streaming import serve_stream

        return serve_stream(self, request, route, ctx)

    async def expected_cost_usd(
        self, tier: str, request: ModelRequest, *, graph: str | None, node: str | None
    ) -> float:
        """What a call on `tier`'s first model is expected to cost (for budget reserves)."""
        model = self.catalog.chain(tier)[0]  # type: ignore[arg-type]
        return (await self.estimator.estimate(model, request, graph=graph, node=node)).cost_usd

    async def record_feedback(self, feedback: Sequence[CallFeedback]) -> None:
        """Implicit feedback on ledger calls (a judge's pick): nodes never touch the database."""
        if self.learning is not None:
            await self.learning.record_on_calls(feedback)

    async def complete_cascade(
        self,
        request: ModelRequest,
        policy: Cascade,
        ctx: CallContext,
        *,
        final_stage: FinalStage,
    ) -> ModelResult:
        """A cascade whose last stage `final_stage` serves (streams): the earlier stages'
        answers are verified whole before anything of them is used."""
        return await walk_cascade(self, request, policy, ctx, None, final_stage=final_stage)

    async def _cascade(
        self,
        request: ModelRequest,
        policy: Cascade,
        ctx: CallContext,
        validate: Callable[[ModelResult], Any] | None,
    ) -> ModelResult:
        """Cheapest stage first, a verifier between stages (`cascade_walk`)."""
        return await walk_cascade(self, request, policy, ctx, validate)

    async def serve(
        self,
        request: ModelRequest,
        route: Route,
        ctx: CallContext,
        validate: Callable[[ModelResult], Any] | None = None,
    ) -> ModelResult:
        """Serve a call on `route`'s models in order (what `complete` does once routed),
        the provider rules' forbidden models taken out."""
        rules, route = await self.within_rules(request, route, ctx)
        chain = FallbackChain.start(route, ctx)
        max_tokens = request.max_tokens
        for index, model in enumerate(route.candidates):
            reason = chain.reason(index)
            conversation = replace(request, max_tokens=_cap(max_tokens, model))
            for _ in range(MAX_INVALID_OUTPUTS_PER_MODEL):
                record = chain.record(model, conversation, reason)
                outcome = await self._attempt(conversation, record, ctx, validate)
                chain.booked(outcome.call_id, outcome.number)
                if outcome.result is not None:
                    return replace(outcome.result, attempts=chain.attempts_failed + 1)
                chain.failed(model, outcome.error)
                if outcome.invalid is None:
                    break  # provider error: next model
                if outcome.invalid.truncated:
                    # Cut at the token limit: the same call again would be cut again.
                    grown = _grow(conversation.max_tokens, self._default_max_output_tokens)
                    if grown is None or grown > model.max_output_tokens:
                        break
                    if rules.caps_price and rules.price_breach(
                        model, estimate_prompt_tokens(request.messages, request.tools), grown
                    ):
                        break  # a larger answer would break the price cap
                    max_tokens = grown
                    reason = (
                        f"retry on {model.name} with max_tokens={grown}: the answer was cut "
                        f"at max_tokens={conversation.max_tokens}"
                    )
                    conversation = replace(conversation, max_tokens=grown)
                    continue
                reason = f"retry on {model.name} after invalid output: {outcome.error}"
                conversation = with_feedback(
                    conversation,
                    outcome.invalid_content or "",
                    outcome.error,
                    outcome.invalid.instruction,
                )
        raise chain.exhausted()

    async def complete_structured(
        self, request: ModelRequest, schema: type[T], policy: Policy, ctx: CallContext
    ) -> tuple[T, ModelResult]:
        """A call whose answer must be JSON matching `schema` (validated with pydantic)."""

        def parse(result: ModelResult) -> T:
            try:
                return schema.model_validate_json(result.content or "")
            except ValidationError as exc:
                if any(error["type"] == "json_invalid" for error in exc.errors()):
                    raise InvalidOutput(
                        f"answer is malformed JSON: {short_validation_error(exc)}",
                        instruction=STRUCTURED_INSTRUCTION,
                    ) from exc
                raise InvalidOutput(short_validation_error(exc)) from exc

        result = await self.complete(request, policy, ctx, validate=parse)
        return parse(result), result

    async def _attempt(
        self,
        request: ModelRequest,
        record: AttemptRecord,
        ctx: CallContext,
        validate: Callable[[ModelResult], Any] | None,
    ) -> _Outcome:
        model = record.model
        estimate = await self.estimator.estimate(model, request, graph=ctx.graph, node=ctx.node)
        # At start-up LiteLLM loads in the background: wait for it (when this model needs
        # it) before the attempt is on the books, so an in-flight row means the request is
        # on its way.
        await self.providers.ready(model)
        ledger = self.ledger_for(ctx)
        begun = await ledger.begin(ctx, record, estimate)
        if begun.recorded is not None:
            return _Outcome(begun.call_id, begun.number, result=recorded_result(begun.recorded))
        started = time.perf_counter()
        try:
            answer = await self.providers.complete(model, request, self._timeout_s)
        except provider_errors() as exc:
            latency = (time.perf_counter() - started) * 1000
            error = describe_provider_error(exc, self._timeout_s)
            rejected = request_fault(exc, model.name)
            if rejected is not None:  # the request's own fault: no other model would help
                done = Completion("rejected", latency, 0.0, estimate.cost_usd, error=str(rejected))
                await ledger.complete(ctx, begun, record, done)
                raise rejected from exc
            log.warning("model %s failed for %s: %s", model.name, ctx.call_key, error)
            done = Completion("error", latency, 0.0, estimate.cost_usd, error=error)
            await ledger.complete(ctx, begun, record, done)
            return _Outcome(begun.call_id, begun.number, error=error)
        except BaseException:
            # Cancelled (shutdown, run cancelled) while the provider was answering.
            await asyncio.shield(self.ledger.abandon(ctx, begun, "interrupted"))
            raise
        latency = (time.perf_counter() - started) * 1000
        usage = answer.usage
        cost = model.cost_usd(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens,
            usage.cache_write_tokens,
        )
        result = ModelResult(
            content=answer.content,
            tool_calls=answer.tool_calls,
            model=model.name,
            tier=model.tier,
            usage=usage,
            cost_usd=cost,
            latency_ms=latency,
            call_id=begun.call_id,
            finish_reason=answer.finish_reason,
            choices=answer.choices,
            passthrough=answer.passthrough,
        )
        verdict: float | None = None  # the node's `validate` on this answer: implicit feedback
        try:
            if not ctx.as_is:
                check_answer(request, result)
            if validate is not None:
                verdict = 0.0
                validate(result)
                verdict = 1.0
        except InvalidOutput as exc:
            error = f"invalid output: {exc}"
            done = completion_of("invalid_output", answer, latency, cost, estimate.cost_usd, error)
            await ledger.complete(ctx, begun, record, done)
            if verdict is not None and self.learning is not None:
                await self.learning.output_verdict(ctx, record, begun.call_id, verdict)
            content = answer_as_text(answer.content, answer.tool_calls)
            return _Outcome(
                begun.call_id, begun.number, error=error, invalid=exc, invalid_content=content
            )
        done = completion_of("ok", answer, latency, cost, estimate.cost_usd, None)
        await ledger.complete(ctx, begun, record, done)
        self.warmth.record_behind(request, ctx.tenant_id, model, usage)
        if verdict is not None and self.learning is not None:
            await self.learning.output_verdict(ctx, record, begun.call_id, verdict)
        return _Outcome(begun.call_id, begun.number, result=result)


@dataclass(frozen=True)
class _Outcome:
    call_id: str
    number: int
    result: ModelResult | None = None
    error: str = ""
    invalid: InvalidOutput | None = None
    invalid_content: str | None = None


def _cap(max_tokens: int | None, model: ModelSpec) -> int | None:
    return None if max_tokens is None else min(max_tokens, model.max_output_tokens)


def _grow(max_tokens: int | None, default: int) -> int | None:
    return None if max_tokens is None else max(max_tokens * 2, default)
