"""The gateway's side of provider rules: read them per call, cut routes down to them.

Rules are read once per tenant and key and trusted for `ttl_s` (a change made through this
process's API applies at once; other processes see it within that time). Every route the
gateway serves passes `allowed_route` first, whatever built it (auto, a fixed tier or
model, a cascade stage, a second opinion, a stream): a model the rules forbid is never
called. What the caller named explicitly is never swapped for something else: a named
model or tier the rules forbid is a RuleViolation naming the rule.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import rules_repo
from app.gateway.errors import RuleViolation
from app.gateway.tokens import estimate_prompt_tokens
from app.gateway.types import ModelRequest
from app.routing.catalog import Catalog
from app.routing.policy import Route
from app.routing.provider_rules import NO_RULES, EffectiveRules, ProviderRules, RuleBreach

MAX_CACHED = 10_000


class RulesSource:
    """Each (tenant, key)'s effective rules, from the database, briefly cached."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_s: float = 2.0) -> None:
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._cache: dict[tuple[str, str | None], tuple[float, EffectiveRules]] = {}

    async def effective(self, tenant_id: str, key_id: str | None) -> EffectiveRules:
        now = time.monotonic()
        cached = self._cache.get((tenant_id, key_id))
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        async with self._sessions() as session:
            docs = await rules_repo.rules_of(session, tenant_id, key_id)
        layers: list[tuple[str, ProviderRules]] = []
        for scope, doc in sorted(docs.items(), key=lambda item: item[0] != rules_repo.TENANT_SCOPE):
            try:
                rules = ProviderRules.model_validate(doc)
            except ValidationError:  # written by a newer version: refuse rather than ignore
                rules = ProviderRules(allowed_models=())
            label = f"tenant {tenant_id}" if scope == rules_repo.TENANT_SCOPE else f"key {scope}"
            layers.append((label, rules))
        effective = EffectiveRules(tuple(layers)) if layers else NO_RULES
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[(tenant_id, key_id)] = (now, effective)
        return effective

    def forget(self, tenant_id: str) -> None:
        """Drop what is cached for a tenant (its rules or a key's just changed)."""
        for cached in [k for k in self._cache if k[0] == tenant_id]:
            self._cache.pop(cached, None)


def prompt_texts(request: ModelRequest) -> Iterator[str]:
    """Every piece of text the request sends (message contents, tool definitions)."""
    for message in request.messages:
        yield from _strings(message.get("content"))
        for call in message.get("tool_calls") or ():
            yield from _strings(call)
    for tool in request.tools or ():
        yield from _strings(tool)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def check_content(rules: EffectiveRules, request: ModelRequest) -> None:
    """RuleViolation when the prompt holds a blocked term or is larger than allowed."""
    if rules.empty:
        return
    tokens = estimate_prompt_tokens(request.messages, request.tools)
    breach = rules.content_breach(list(prompt_texts(request)), tokens)
    if breach is not None:
        raise RuleViolation(breach)


def output_limit(request: ModelRequest, default_max_output_tokens: int) -> int:
    """The output tokens a price cap is checked against."""
    return request.max_tokens or default_max_output_tokens


def allowed_catalog(
    rules: EffectiveRules, catalog: Catalog, request: ModelRequest, default_max_output: int
) -> tuple[Catalog, dict[str, RuleBreach]]:
    """The catalog routing may choose from for this call; RuleViolation when it is empty."""
    if rules.empty:
        return catalog, {}
    tokens = estimate_prompt_tokens(request.messages, request.tools)
    allowed, excluded = rules.restrict(catalog, tokens, output_limit(request, default_max_output))
    if allowed is None:
        raise RuleViolation(_no_model_left(excluded, "any model"))
    return allowed, excluded


def allowed_route(
    rules: EffectiveRules, route: Route, request: ModelRequest, default_max_output: int
) -> Route:
    """`route` with only the models the rules allow, in its order. A forbidden model the
    caller named, or a route with nothing left, is a RuleViolation naming the rule."""
    if rules.empty:
        return route
    tokens = estimate_prompt_tokens(request.messages, request.tools)
    limit = output_limit(request, default_max_output)
    excluded = {
        m.name: b for m in route.candidates if (b := rules.breach(m, tokens, limit)) is not None
    }
    if not excluded:
        return route
    first = route.candidates[0]
    if route.requested == first.name and first.name in excluded:
        raise RuleViolation(excluded[first.name])
    kept = tuple(m for m in route.candidates if m.name not in excluded)
    if not kept:
        raise RuleViolation(_no_model_left(excluded, route.requested))
    return replace(route, candidates=kept, reason=f"{route.reason}; {excluded_text(excluded)}")


def excluded_text(excluded: dict[str, RuleBreach]) -> str:
    """What the ledger's reason says of models the rules took out."""
    parts = [f"{name} ({breach.rule} of {breach.scope})" for name, breach in excluded.items()]
    return f"provider rules exclude {', '.join(parts)}"


def _no_model_left(excluded: dict[str, RuleBreach], what: str) -> RuleBreach:
    """One breach standing for all: the rule that excluded most (a key's on a tie), and
    every model with the rule that excluded it."""
    counts: dict[tuple[str, str], int] = {}
    for breach in excluded.values():
        counts[(breach.rule, breach.scope)] = counts.get((breach.rule, breach.scope), 0) + 1
    rule, scope = max(counts, key=lambda k: (counts[k], k[1].startswith("key ")))
    details = "; ".join(
        b.detail if (b.rule, b.scope) == (rule, scope) else b.text() for b in excluded.values()
    )
    return RuleBreach(rule, scope, f"no model allowed for {what}: {details}")
