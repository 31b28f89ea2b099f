"""The one place that calls models: route, check limits, call, validate, fall back, record."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx
import openai
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import ledger_repo, runs_repo
from app.db.events_repo import SEQ_RETRIES, insert_event
from app.db.models import ModelCall
from app.gateway.errors import AllModelsFailed
from app.gateway.feedback import describe_provider_error, short_validation_error, with_feedback
from app.gateway.guard import check_before_call, remaining_budget
from app.gateway.litellm_client import (
    ProviderAnswer,
    ProviderTarget,
    call_provider,
    load_litellm,
)
from app.gateway.tokens import estimate_prompt_tokens
from app.gateway.types import CallContext, ModelRequest, ModelResult, Usage
from app.routing.catalog import Catalog, ModelSpec
from app.routing.policy import (
    Auto,
    Cascade,
    Classifier,
    Policy,
    Route,
    RouteInputs,
    fixed_tier_route,
    route_request,
)
from app.routing.verifiers import get_verifier

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)

MAX_INVALID_OUTPUTS_PER_MODEL = 3


class InvalidOutput(ValueError):
    """The model answered, but not in the shape the node needs."""


@dataclass(frozen=True)
class _Attempt:
    model: ModelSpec
    number: int
    reason: str
    fallback_of: str | None


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
        classifier: Classifier | None = None,
    ) -> None:
        self.catalog = catalog
        self.classifier = classifier
        self._sessions = session_factory
        self._simulator_url = simulator_url
        self._timeout_s = timeout_s
        self._default_max_output_tokens = default_max_output_tokens

    async def complete(
        self,
        request: ModelRequest,
        policy: Policy,
        ctx: CallContext,
        *,
        validate: Callable[[ModelResult], Any] | None = None,
    ) -> ModelResult:
        """Serve one logical call on the route's models in order; every attempt is a ledger row.

        `validate` raises InvalidOutput for an answer the node cannot use: the error is fed
        back to the same model up to 3 times, then the next model gets the original request.
        """
        if isinstance(policy, Cascade):
            return await self._cascade(request, policy, ctx, validate)
        recorded, first_attempt = await self._history(ctx)
        if recorded is not None:
            return recorded
        # Only the data-driven policy pays for classification and a budget read.
        inputs = await self._route_inputs(request, ctx) if isinstance(policy, Auto) else None
        route = route_request(policy, self.catalog, node=ctx.node, inputs=inputs)
        return await self._serve(request, route, ctx, validate, first_attempt)

    async def _route_inputs(self, request: ModelRequest, ctx: CallContext) -> RouteInputs:
        classification = None
        if self.classifier is not None:
            classification = self.classifier.classify(
                request.messages,
                node=ctx.node,
                has_tools=bool(request.tools),
                response_format=request.response_format,
            )
        remaining = None
        if ctx.run_id is not None:
            remaining = await remaining_budget(self._sessions, ctx.run_id)
        return RouteInputs(
            prompt_tokens=estimate_prompt_tokens(request.messages, request.tools),
            classification=classification,
            remaining_budget_usd=remaining,
        )

    async def _cascade(
        self,
        request: ModelRequest,
        policy: Cascade,
        ctx: CallContext,
        validate: Callable[[ModelResult], Any] | None,
    ) -> ModelResult:
        """Cheapest tier first; each stage is its own logical call (own key, own rows)."""
        verifier = get_verifier(policy.verifier)
        why = f"cascade stage 1/{len(policy.tiers)} on {policy.tiers[0]}"
        classification = (
            self.classifier.classify(request.messages, node=ctx.node) if self.classifier else None
        )
        task_class = classification.task_class if classification else None
        result: ModelResult | None = None
        for index, tier in enumerate(policy.tiers):
            stage = replace(ctx, call_key=f"{ctx.call_key}/cascade-{index}")
            recorded, first_attempt = await self._history(stage)
            if recorded is not None:
                result = recorded
            else:
                route = fixed_tier_route(self.catalog, tier, why, task_class=task_class)
                result = await self._serve(request, route, stage, validate, first_attempt)
            if index == len(policy.tiers) - 1:
                break
            verdict = verifier(request.messages, result.content)
            p_good = classification.p_good.get(tier, 0.0) if classification else None
            if verdict.accepted and (
                policy.min_p_good is None or p_good is None or p_good >= policy.min_p_good
            ):
                break
            if verdict.accepted:
                rejection = (
                    f"{policy.verifier} verifier accepted {result.model}'s answer but the "
                    f"router predicts p={p_good:.2f} < {policy.min_p_good:.2f}"
                )
            else:
                rejection = (
                    f"{policy.verifier} verifier rejected {result.model}'s answer "
                    f"({verdict.reason})"
                )
            why = (
                f"cascade stage {index + 2}/{len(policy.tiers)} on {policy.tiers[index + 1]}: "
                f"{rejection}"
            )
        assert result is not None
        return result

    async def _serve(
        self,
        request: ModelRequest,
        route: Route,
        ctx: CallContext,
        validate: Callable[[ModelResult], Any] | None,
        first_attempt: int,
    ) -> ModelResult:
        number = first_attempt
        failures: list[str] = []
        previous_id: str | None = None
        for index, model in enumerate(route.candidates):
            reason = route.reason if index == 0 else f"fallback after {failures[-1]}"
            if ctx.purpose:
                reason = f"{reason} [{ctx.purpose}]"
            conversation = request
            for _ in range(MAX_INVALID_OUTPUTS_PER_MODEL):
                attempt = _Attempt(model, number, reason, previous_id)
                number += 1
                outcome = await self._attempt(conversation, route, attempt, ctx, validate)
                previous_id = outcome.call_id
                if outcome.result is not None:
                    return replace(outcome.result, attempts=len(failures) + 1)
                failures.append(f"{model.name}: {outcome.error}")
                if outcome.invalid_content is None:
                    break  # provider error: next model
                reason = f"retry on {model.name} after invalid output: {outcome.error}"
                conversation = with_feedback(conversation, outcome.invalid_content, outcome.error)
        raise AllModelsFailed(failures)

    async def complete_structured(
        self, request: ModelRequest, schema: type[T], policy: Policy, ctx: CallContext
    ) -> tuple[T, ModelResult]:
        """A call whose answer must be JSON matching `schema` (validated with pydantic)."""

        def parse(result: ModelResult) -> T:
            try:
                return schema.model_validate_json(result.content or "")
            except ValidationError as exc:
                raise InvalidOutput(short_validation_error(exc)) from exc

        result = await self.complete(request, policy, ctx, validate=parse)
        return parse(result), result

    async def _history(self, ctx: CallContext) -> tuple[ModelResult | None, int]:
        """(the answer if this run already paid for the call, e.g. before a worker crash,
        so it is not paid again; the next attempt number)."""
        if ctx.run_id is None:
            return None, 1  # a call outside a run has a fresh key
        async with self._sessions() as session:
            row, next_attempt = await ledger_repo.call_history(session, ctx.call_key)
        if row is None:
            return None, next_attempt
        message = (row.response or {}).get("message", {})
        recorded = ModelResult(
            content=message.get("content"),
            tool_calls=message.get("tool_calls") or [],
            model=row.model,
            tier=row.tier,
            usage=Usage(row.prompt_tokens, row.completion_tokens, row.cached_tokens),
            cost_usd=0.0,
            latency_ms=0.0,
            call_id=row.id,
            from_ledger=True,
        )
        return recorded, next_attempt

    async def _attempt(
        self,
        request: ModelRequest,
        route: Route,
        attempt: _Attempt,
        ctx: CallContext,
        validate: Callable[[ModelResult], Any] | None,
    ) -> _Outcome:
        model = attempt.model
        if ctx.run_id is not None:
            estimate = model.cost_usd(
                estimate_prompt_tokens(request.messages, request.tools),
                request.max_tokens or self._default_max_output_tokens,
            )
            await check_before_call(self._sessions, ctx.run_id, estimate)
        target = (
            ProviderTarget(api_base=self._simulator_url, api_key="simulator")
            if model.provider == "simulator"
            else ProviderTarget()
        )
        load_litellm()  # a no-op after start-up; keeps the import out of the latency
        started = time.perf_counter()
        try:
            answer = await call_provider(model, request, target, self._timeout_s)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            # httpx errors: a connection cut mid-body can surface unwrapped.
            latency = (time.perf_counter() - started) * 1000
            error = describe_provider_error(exc)
            log.warning("model %s failed for %s: %s", model.name, ctx.call_key, error)
            call_id = await self._record(
                request, route, attempt, ctx, None, latency, "error", error
            )
            return _Outcome(call_id=call_id, error=error)
        latency = (time.perf_counter() - started) * 1000
        cost = model.cost_usd(
            answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.cached_tokens
        )
        result = ModelResult(
            content=answer.content,
            tool_calls=answer.tool_calls,
            model=model.name,
            tier=model.tier,
            usage=answer.usage,
            cost_usd=cost,
            latency_ms=latency,
            call_id=str(uuid.uuid4()),
        )
        if validate is not None:
            try:
                validate(result)
            except InvalidOutput as exc:
                error = f"invalid output: {exc}"
                call_id = await self._record(
                    request, route, attempt, ctx, answer, latency, "invalid_output", error, cost
                )
                return _Outcome(call_id=call_id, error=error, invalid_content=answer.content or "")
        await self._record(
            request, route, attempt, ctx, answer, latency, "ok", None, cost, result.call_id
        )
        return _Outcome(call_id=result.call_id, result=result)

    async def _record(
        self,
        request: ModelRequest,
        route: Route,
        attempt: _Attempt,
        ctx: CallContext,
        answer: ProviderAnswer | None,
        latency_ms: float,
        status: str,
        error: str | None,
        cost_usd: float = 0.0,
        call_id: str | None = None,
    ) -> str:
        """Ledger row, the run's cost and its `model_call` event in one transaction."""
        usage = answer.usage if answer else Usage()
        call_id = call_id or str(uuid.uuid4())
        fields = dict(
            id=call_id,
            run_id=ctx.run_id,
            node=ctx.node,
            call_key=ctx.call_key,
            attempt=attempt.number,
            task_class=route.task_class,
            routing_reason=attempt.reason,
            requested=route.requested,
            tier=attempt.model.tier,
            model=attempt.model.name,
            provider=attempt.model.provider,
            request=request.to_json(),
            response=_response_json(answer),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost_usd=cost_usd,
            latency_ms=latency_ms,
            status=status,
            error=error,
            fallback_of=attempt.fallback_of,
        )
        event = {
            "call_id": call_id,
            "model": attempt.model.name,
            "tier": attempt.model.tier,
            "status": status,
            "reason": attempt.reason,
            "cost_usd": cost_usd,
            "latency_ms": round(latency_ms, 1),
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "error": error,
        }
        for _ in range(SEQ_RETRIES):
            try:
                async with self._sessions.begin() as session:
                    session.add(ModelCall(**fields))
                    if ctx.run_id is not None:
                        await runs_repo.add_cost(session, ctx.run_id, cost_usd)
                        await insert_event(
                            session, ctx.run_id, "model_call", node=ctx.node, payload=event
                        )
                return call_id
            except IntegrityError:
                continue  # another writer took the event's sequence number: retry
        raise RuntimeError(f"could not record model call {call_id} of {ctx.call_key}")


@dataclass(frozen=True)
class _Outcome:
    call_id: str
    result: ModelResult | None = None
    error: str = ""
    invalid_content: str | None = None


def _response_json(answer: ProviderAnswer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    return {"message": message, "raw": answer.raw}
