"""The OpenAI-compatible chat call: policy from the request, cache, shared flights, gateway.

Every model call goes through `Gateway` (a stream through `Gateway.stream`); this module
decides which policy, whether the cache or a call already in flight can answer, and
books the calls that made no provider request.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.gateway.cache import CachedAnswer, CacheStore, cache_key, record_reuse
from app.gateway.flights import Flight, Flights
from app.gateway.gateway import Gateway
from app.gateway.streaming import StreamEnd
from app.gateway.types import CallContext, ModelRequest, ModelResult, Usage
from app.gateway.validation import response_format_check
from app.routing.catalog import TIER_ORDER, TierName
from app.routing.policy import Auto, Cascade, FixedModel, FixedTier, Policy, Route
from app.schemas.openai import ChatCompletionRequest, RoutegraphOptions
from app.services.auth import KeyAccount, Principal
from app.services.errors import ServiceError
from app.services.experiment_assign import ArmAssigner, Assignment
from app.services.rate_limit import RateLimiter


class UnknownModel(ServiceError):
    status = 404
    title = "Unknown model"


class RateLimited(ServiceError):
    status = 429
    title = "Rate limit reached"


@dataclass(frozen=True)
class ChatCall:
    """A call under way: its events end with one `StreamEnd`."""

    events: AsyncIterator[Any]
    policy_name: str
    route: Route | None  # None for cascade (decided stage by stage)
    cache: str  # hit | miss | shared | off
    experiment_arm: str | None = None  # "experiment-id/arm" when an A/B experiment chose


class ChatService:
    def __init__(
        self,
        gateway: Gateway,
        cache: CacheStore | None,
        *,
        ttl_s: float,
        ledger_sessions: Any,
        assigner: ArmAssigner | None = None,
    ) -> None:
        self.gateway = gateway
        # A/B experiments on the tenant's `auto` requests.
        self.assigner = assigner or ArmAssigner(ledger_sessions)
        self._cache = cache
        self._ttl_s = ttl_s
        self._ledger_sessions = ledger_sessions
        self.flights = Flights()
        self.rate_limiter = RateLimiter()

    def model_ids(self) -> list[str]:
        """Every name `model` may take: the policy, the tiers, the catalog's models."""
        catalog = self.gateway.catalog
        tiers = [tier for tier in TIER_ORDER if tier in catalog.tiers]
        return ["auto", *tiers, *catalog.models]

    async def listed_model_ids(self, principal: Principal) -> list[str]:
        """What `GET /v1/models` lists for this caller: without the models its provider
        rules forbid (and tiers left with none)."""
        rules = await self.gateway.rules_of(principal.tenant_id, principal.key_id)
        catalog = self.gateway.catalog
        allowed = {m.name for m in catalog.models.values() if rules.model_breach(m) is None}
        tiers = [
            tier
            for tier in TIER_ORDER
            if tier in catalog.tiers and allowed & set(catalog.tiers[tier].models)
        ]
        return ["auto", *tiers, *(name for name in catalog.models if name in allowed)]

    def check_rate(self, principal: Principal) -> dict[str, str]:
        """Take one request from the key's rate; its `x-ratelimit-*` headers (none for a
        key without a limit). RateLimited (with the same headers) when it has none left."""
        key = principal.key
        if key is None or key.rpm_limit is None:
            return {}
        wait, state = self.rate_limiter.take_with_state(key.id, key.rpm_limit)
        if wait is not None:
            raise RateLimited(
                f"API key {key.id} is limited to {key.rpm_limit} requests per minute",
                retry_after=max(1, round(wait + 0.5)),
                headers=state.headers(),
            )
        return state.headers()

    def policy(self, chat: ChatCompletionRequest, options: RoutegraphOptions) -> tuple[str, Policy]:
        """The routing policy the request names (`model`, or `routegraph.policy`)."""
        name = options.policy or chat.model
        catalog = self.gateway.catalog
        if name == "auto":
            threshold = options.threshold if options.threshold is not None else 0.75
            return name, Auto(threshold=threshold, max_latency_ms=options.max_latency_ms)
        if name == "cascade":
            tiers: tuple[TierName, ...] = tuple(options.cascade_tiers or ("edge", "frontier"))
            verifier = options.verifier or "nonempty"
            return name, Cascade(tiers=tiers, verifier=verifier, min_p_good=options.threshold)
        if name in catalog.tiers:
            return name, FixedTier(name)  # type: ignore[arg-type]
        if name in catalog.models:
            return name, FixedModel(name)
        raise UnknownModel(
            f"The model `{name}` does not exist: use auto, cascade, a tier "
            f"({', '.join(catalog.tiers)}) or a model listed by GET /v1/models."
        )

    async def start(
        self, chat: ChatCompletionRequest, options: RoutegraphOptions, principal: Principal
    ) -> ChatCall:
        """Answer from the cache, join an identical call in flight, or make the call."""
        name, policy = self.policy(chat, options)
        arm = None
        if name == "auto":  # a request naming a tier or model keeps it
            arm = await self.assigner.assign(
                principal.tenant_id,
                "chat",
                thread=options.thread or conversation_unit(chat.messages),
                user=chat.user or (principal.key.id if principal.key is not None else None),
            )
            if arm is not None and arm.policy is not None:
                name, policy = self.policy(chat, options.model_copy(update={"policy": arm.policy}))
        request = ModelRequest(
            messages=chat.messages,
            tools=chat.tools,
            tool_choice=chat.tool_choice,
            response_format=chat.response_format,
            max_tokens=chat.output_limit,
            temperature=chat.temperature,
            stop=chat.stop_list(),
            options=chat.passthrough() or None,
        )
        ctx = CallContext(
            call_key=f"chat/{uuid.uuid4()}",
            tenant_id=principal.tenant_id,
            account=KeyAccount(principal.key) if principal.key is not None else None,
            key_id=principal.key_id,
            as_is=True,
            new_call=True,
            experiment_id=arm.experiment_id if arm is not None else None,
            experiment_arm=arm.arm if arm is not None else None,
        )
        caching = options.cache and self._cache is not None and self._ttl_s > 0
        key = None
        if caching:
            # Answers are shared only under the same provider rules (a hit is then one the
            # rules allowed; a rule change starts afresh).
            rules = await self.gateway.rules_for(ctx)
            normalised = {**_normalised(name, options, request), "rules": rules.fingerprint}
            key = cache_key(principal.tenant_id, normalised)
            hit = await self._cache.get(key, principal.tenant_id)  # type: ignore[union-attr]
            if hit is not None:
                reason = f"cache hit: the same request was answered by {hit.model}"
                row = await record_reuse(
                    self._ledger_sessions,
                    ctx,
                    hit,
                    requested=name,
                    reason=reason,
                    request=request.to_json(),
                )
                self._count_lookup("hit")
                return ChatCall(
                    _one(StreamEnd(_from_cache(hit, row))), name, None, "hit", _arm_name(arm)
                )
        route = None
        if not isinstance(policy, Cascade):
            route = await self.gateway.plan_route(request, policy, ctx)
            if route.verify is not None:  # auto verifies a cheap answer: walked as a cascade
                policy, route = route.verify, None
        # A structured answer is checked whole before any of it is sent: served, then
        # sent as chunks (as a cascade or n > 1 is).
        check = response_format_check(chat.response_format)
        streamed = chat.stream and route is not None and (chat.n or 1) == 1 and check is None
        ttl = options.cache_ttl_s or self._ttl_s

        async def produce(flight: Flight) -> None:
            result: ModelResult | None = None
            if streamed and route is not None:
                async for event in self.gateway.stream(request, route, ctx):
                    flight.push(event)
                    if isinstance(event, StreamEnd):
                        result = event.result
            else:
                if route is not None:
                    result = await self.gateway.serve(request, route, ctx, check)
                else:
                    result = await self.gateway.complete(request, policy, ctx, validate=check)
                flight.push(StreamEnd(result))
            if key is not None and self._cache is not None and result is not None:
                await self._cache.put(key, principal.tenant_id, _to_cache(result), ttl)

        flight, new = self.flights.join(key, produce)
        if new:
            if caching:
                self._count_lookup("miss")
            label = "miss" if caching else "off"
            return ChatCall(_until_end(flight), name, route, label, _arm_name(arm))
        # Joined after the answer was complete (its cache write under way): a cache hit.
        answered = any(isinstance(event, StreamEnd) for event in flight.items)
        label = "hit" if answered else "shared"
        self._count_lookup(label)
        events = self._follow_shared(flight, ctx, name, request, label)
        return ChatCall(events, name, route, label, _arm_name(arm))

    def _count_lookup(self, result: str) -> None:
        if self.gateway.telemetry is not None:
            self.gateway.telemetry.cache_lookup(result)

    async def _follow_shared(
        self, flight: Flight, ctx: CallContext, name: str, request: ModelRequest, label: str
    ) -> AsyncIterator[Any]:
        """A follower's events; its ledger row (cost 0) once the shared call is over."""
        async for event in _until_end(flight):
            if isinstance(event, StreamEnd):
                answer = _to_cache(event.result)
                reason = (
                    f"cache hit: the same request was answered by {answer.model}"
                    if label == "hit"
                    else f"shared the identical call in flight (call {event.result.call_id})"
                )
                row = await record_reuse(
                    self._ledger_sessions,
                    ctx,
                    answer,
                    requested=name,
                    reason=reason,
                    request=request.to_json(),
                )
                event = StreamEnd(_from_cache(answer, row))
            yield event

    async def aclose(self) -> None:
        await self.flights.aclose()
        if self._cache is not None:
            await self._cache.aclose()


async def _one(event: Any) -> AsyncIterator[Any]:
    yield event


async def _until_end(flight: Flight) -> AsyncIterator[Any]:
    """A flight's events up to its StreamEnd (the cache write after it is not waited for)."""
    async for event in flight.follow():
        yield event
        if isinstance(event, StreamEnd):
            return


def _normalised(name: str, options: RoutegraphOptions, request: ModelRequest) -> dict[str, Any]:
    """What makes two requests the same: the route asked for and everything sent."""
    route = options.model_dump(exclude={"cache", "cache_ttl_s"}, exclude_none=True)
    return {"model": name, "route": route, **request.to_json()}


def _to_cache(result: ModelResult) -> CachedAnswer:
    choices = list(result.choices) or [
        {"message": result.assistant_message(), "finish_reason": result.finish_reason}
    ]
    return CachedAnswer(
        model=result.model,
        tier=result.tier,
        choices=choices,
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        cached_tokens=result.usage.cached_tokens,
        cost_usd=result.cost_usd,
        call_id=result.call_id,
        passthrough=dict(result.passthrough) if result.passthrough else None,
    )


def _from_cache(answer: CachedAnswer, call_id: str) -> ModelResult:
    """A cached answer as the result of a call that cost nothing."""
    first = answer.choices[0]
    message = first["message"]
    return ModelResult(
        content=message.get("content"),
        tool_calls=message.get("tool_calls") or [],
        model=answer.model,
        tier=answer.tier,
        usage=Usage(answer.prompt_tokens, answer.completion_tokens, answer.cached_tokens),
        cost_usd=0.0,
        latency_ms=0.0,
        call_id=call_id,
        from_ledger=True,
        finish_reason=first.get("finish_reason"),
        choices=tuple(answer.choices) if len(answer.choices) > 1 else (),
        passthrough=answer.passthrough,
    )


def _arm_name(arm: Assignment | None) -> str | None:
    return f"{arm.experiment_id}/{arm.arm}" if arm is not None else None


def conversation_unit(messages: list[dict[str, Any]]) -> str:
    """A conversation's identity when the client names none: its messages up to and
    including the first user message (the same in every later turn)."""
    opening = []
    for message in messages:
        opening.append(message)
        if message.get("role") == "user":
            break
    digest = hashlib.sha256(json.dumps(opening, sort_keys=True, default=str).encode())
    return f"conversation:{digest.hexdigest()}"
