"""Which models a call tries, in order: the policy's route, inside the caller's provider
rules, with a model holding the conversation's warm prefix first where that is cheaper."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import runs_repo
from app.gateway.capabilities import capable_route
from app.gateway.learning import RoutingLearning
from app.gateway.rules_guard import (
    RulesSource,
    allowed_catalog,
    allowed_route,
    check_content,
    excluded_text,
)
from app.gateway.tokens import estimate_prompt_tokens
from app.gateway.types import CallContext, ModelRequest
from app.gateway.warmth import PrefixWarmth
from app.routing.agreement import COMPARABLE_FORMS, expected_form
from app.routing.catalog import Catalog
from app.routing.classifier import Classification
from app.routing.policy import (
    Auto,
    Classifier,
    Policy,
    Route,
    RouteInputs,
    policy_name,
    route_request,
)
from app.routing.provider_rules import NO_RULES, EffectiveRules
from app.routing.warm_route import prefer_warm


def classify_request(
    classifier: Classifier | None, request: ModelRequest, node: str | None
) -> Classification | None:
    """What `auto` routes a request by: its task class and each tier's predicted success."""
    if classifier is None:
        return None
    return classifier.classify(
        request.messages,
        node=node,
        has_tools=bool(request.tools),
        response_format=request.response_format,
    )


@dataclass
class RoutePlanner:
    catalog: Catalog
    sessions: async_sessionmaker[AsyncSession]
    warmth: PrefixWarmth
    default_max_output_tokens: int
    prior_output_tokens: int
    classifier: Classifier | None = None
    learning: RoutingLearning | None = None
    rules: RulesSource | None = None  # none: every model is allowed
    cache_aware: bool = True

    async def rules_of(self, tenant_id: str, key_id: str | None) -> EffectiveRules:
        """The provider rules of a tenant and one of its keys."""
        if self.rules is None:
            return NO_RULES
        return await self.rules.effective(tenant_id, key_id)

    async def plan(self, request: ModelRequest, policy: Policy, ctx: CallContext) -> Route:
        """The models a call under `policy` tries, in order (a Cascade is walked by the
        gateway), chosen among those the provider rules allow, a warm prefix first where
        cheaper."""
        route = await self._allowed_route(request, policy, ctx)
        if self.cache_aware:
            route = await self._prefer_warm(route, request, ctx)
        return replace(route, policy=policy_name(policy))

    async def within_rules(
        self, request: ModelRequest, route: Route, ctx: CallContext
    ) -> tuple[EffectiveRules, Route]:
        """The call's provider rules, and `route` cut to the models they allow
        (RuleViolation for a prompt they refuse or a route they leave nothing of)."""
        rules = await self.rules_of(ctx.tenant_id, ctx.key_id)
        check_content(rules, request)
        return rules, allowed_route(rules, route, request, self.default_max_output_tokens)

    async def _allowed_route(
        self, request: ModelRequest, policy: Policy, ctx: CallContext
    ) -> Route:
        if not isinstance(policy, Auto):  # what the caller named: within the rules or refused
            fixed = route_request(policy, self.catalog, node=ctx.node)
            return capable_route((await self.within_rules(request, fixed, ctx))[1], request)
        rules = await self.rules_of(ctx.tenant_id, ctx.key_id)
        check_content(rules, request)
        limit = self.default_max_output_tokens
        catalog, excluded = allowed_catalog(rules, self.catalog, request, limit)
        # Only the data-driven policy pays for classification and a budget read.
        inputs = await self._route_inputs(request, ctx)
        route = route_request(policy, catalog, node=ctx.node, inputs=inputs)
        if excluded:
            route = replace(route, reason=f"{route.reason}; {excluded_text(excluded)}")
        return capable_route(route, request)

    async def _prefer_warm(self, route: Route, request: ModelRequest, ctx: CallContext) -> Route:
        """Within a tier, a model holding this conversation's prefix first when cheaper (a
        model asked for by name stays first); it only reorders what the rules allowed."""
        if route.requested == route.candidates[0].name:
            return route
        prompt_tokens = estimate_prompt_tokens(request.messages, request.tools)
        cacheable = self.warmth.cacheable(route.candidates, prompt_tokens)
        if not cacheable:
            return route
        warm = await self.warmth.lookup(request, ctx.tenant_id, cacheable)
        return prefer_warm(route, warm, prompt_tokens, self.prior_output_tokens)

    async def _route_inputs(self, request: ModelRequest, ctx: CallContext) -> RouteInputs:
        classification = classify_request(self.classifier, request, ctx.node)
        online = None
        if classification is not None and self.learning is not None:
            online = await self.learning.view(request, classification, ctx.tenant_id)
        remaining = None
        if ctx.run_id is not None:
            async with self.sessions() as session:
                remaining = await runs_repo.remaining_budget(session, ctx.run_id)
            if remaining is not None:
                remaining = max(0.0, remaining - ctx.reserve_usd)
        return RouteInputs(
            prompt_tokens=estimate_prompt_tokens(request.messages, request.tools),
            classification=classification,
            remaining_budget_usd=remaining,
            online=online,
            verifiable=expected_form(request.messages, request.response_format) in COMPARABLE_FORMS,
        )
