"""Provider rules: which models a tenant's (or one key's) calls may use, and what prompts
may hold.

A tenant has one rules document and each of its keys may have another; a call obeys both
(a key's rules can only narrow its tenant's). Model rules (providers, models, regions, a
price cap per call) cut the catalog down before routing, so `auto` chooses inside the
allowed set and no fallback, cascade stage or second opinion leaves it; a request that
names something outside it, or that nothing inside it can serve, is refused naming the
rule. Content rules (blocked terms, prompt size) refuse the request itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.routing.catalog import Catalog, ModelSpec, Tier

# The status a breach of each rule answers with: the caller may not use that (403), or the
# request itself is not acceptable (422).
RULE_STATUS = {
    "allowed_providers": 403,
    "allowed_models": 403,
    "allowed_regions": 403,
    "max_usd_per_call": 403,
    "blocked_terms": 422,
    "max_prompt_tokens": 422,
}
# Catalog names; a blocked term is 1-200 characters, not only spaces (in the schema too).
CatalogName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")]
Term = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]


class ProviderRules(BaseModel):
    """One rules document (a tenant's or a key's); unset fields do not restrict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_providers: tuple[CatalogName, ...] | None = Field(
        None, max_length=100, description="catalog providers calls may go to"
    )
    allowed_models: tuple[CatalogName, ...] | None = Field(
        None, max_length=500, description="catalog models calls may go to"
    )
    allowed_regions: tuple[CatalogName, ...] | None = Field(
        None, max_length=100, description="catalog regions; a model without a region is refused"
    )
    max_usd_per_call: float | None = Field(
        None,
        gt=0,
        description="most one model attempt may cost: prompt at the input price plus "
        "max_tokens (or the default output limit) at the output price",
    )
    blocked_terms: tuple[Term, ...] = Field(
        (), max_length=1000, description="terms no prompt may contain (whole words, any case)"
    )
    max_prompt_tokens: int | None = Field(None, ge=1, description="largest prompt (estimated)")

    def catalog_problems(self, catalog: Catalog) -> list[tuple[tuple[str | int, ...], str]]:
        """Names this catalog does not know (a typo would silently allow nothing)."""
        known = {
            "allowed_providers": {m.provider for m in catalog.models.values()},
            "allowed_models": set(catalog.models),
            "allowed_regions": {m.region for m in catalog.models.values() if m.region},
        }
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for rule, names in known.items():
            for index, name in enumerate(getattr(self, rule) or ()):
                if name not in names:
                    shown = ", ".join(sorted(names)) or "none"
                    problems.append(((rule, index), f"{name!r} is not in the catalog ({shown})"))
        return problems


@dataclass(frozen=True)
class RuleBreach:
    """Which rule (of whose document) refuses a model or a request, and why."""

    rule: str
    scope: str  # "tenant acme" or "key <id>"
    detail: str

    @property
    def status(self) -> int:
        return RULE_STATUS[self.rule]

    def text(self) -> str:
        return f"rule {self.rule} of {self.scope}: {self.detail}"


@dataclass(frozen=True)
class EffectiveRules:
    """The rules documents a call obeys, tenant's first; empty when none is set."""

    layers: tuple[tuple[str, ProviderRules], ...] = ()
    _patterns: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not self.layers

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever the rules do (part of the answer cache's key)."""
        docs = [[scope, rules.model_dump(mode="json")] for scope, rules in self.layers]
        return hashlib.sha256(json.dumps(docs, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def caps_price(self) -> bool:
        return any(rules.max_usd_per_call is not None for _, rules in self.layers)

    def model_breach(self, model: ModelSpec) -> RuleBreach | None:
        """The provider, model or region rule that forbids `model`, if any."""
        for scope, rules in self.layers:
            if (
                rules.allowed_providers is not None
                and model.provider not in rules.allowed_providers
            ):
                allowed = ", ".join(rules.allowed_providers) or "none"
                why = f"{model.name} is served by provider {model.provider} (allowed: {allowed})"
                return RuleBreach("allowed_providers", scope, why)
            if rules.allowed_models is not None and model.name not in rules.allowed_models:
                allowed = ", ".join(rules.allowed_models) or "none"
                return RuleBreach(
                    "allowed_models", scope, f"{model.name} is not allowed ({allowed})"
                )
            if rules.allowed_regions is not None and model.region not in rules.allowed_regions:
                allowed = ", ".join(rules.allowed_regions) or "none"
                where = f"region {model.region}" if model.region else "no region"
                why = f"{model.name} runs in {where} (allowed: {allowed})"
                return RuleBreach("allowed_regions", scope, why)
        return None

    def price_breach(
        self, model: ModelSpec, prompt_tokens: int, max_output_tokens: int
    ) -> RuleBreach | None:
        """The price cap `model` would break with this prompt and output limit, if any."""
        worst = model.cost_usd(prompt_tokens, max_output_tokens)
        for scope, rules in self.layers:
            cap = rules.max_usd_per_call
            if cap is not None and worst > cap:
                why = (
                    f"a call on {model.name} may cost up to ${worst:.6f} ({prompt_tokens} prompt "
                    f"+ {max_output_tokens} output tokens) > ${cap:.6f}"
                )
                return RuleBreach("max_usd_per_call", scope, why)
        return None

    def breach(
        self, model: ModelSpec, prompt_tokens: int, max_output_tokens: int
    ) -> RuleBreach | None:
        """Why `model` may not serve this call, or None."""
        return self.model_breach(model) or self.price_breach(
            model, prompt_tokens, max_output_tokens
        )

    def content_breach(self, texts: Sequence[str], prompt_tokens: int) -> RuleBreach | None:
        """The content rule the prompt (its texts, its estimated size) breaks, if any."""
        for scope, rules in self.layers:
            if rules.max_prompt_tokens is not None and prompt_tokens > rules.max_prompt_tokens:
                why = f"the prompt has ~{prompt_tokens} tokens > {rules.max_prompt_tokens}"
                return RuleBreach("max_prompt_tokens", scope, why)
            for term in rules.blocked_terms:
                pattern = self._pattern(term)
                if any(pattern.search(text) for text in texts):
                    return RuleBreach("blocked_terms", scope, f"the prompt contains {term!r}")
        return None

    def _pattern(self, term: str) -> re.Pattern[str]:
        pattern = self._patterns.get(term)
        if pattern is None:
            words = r"\s+".join(re.escape(word) for word in term.split())
            pattern = re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)
            self._patterns[term] = pattern
        return pattern

    def restrict(
        self, catalog: Catalog, prompt_tokens: int, max_output_tokens: int
    ) -> tuple[Catalog | None, dict[str, RuleBreach]]:
        """The catalog cut down to the models this call may use (None when no model is
        left), and the breach that excluded each other model."""
        excluded: dict[str, RuleBreach] = {}
        for model in catalog.models.values():
            breach = self.breach(model, prompt_tokens, max_output_tokens)
            if breach is not None:
                excluded[model.name] = breach
        if not excluded:
            return catalog, excluded
        tiers = {
            name: Tier(
                description=tier.description,
                models=tuple(m for m in tier.models if m not in excluded),
            )
            for name, tier in catalog.tiers.items()
            if any(m not in excluded for m in tier.models)
        }
        if not tiers:
            return None, excluded
        models = {name: spec for name, spec in catalog.models.items() if name not in excluded}
        return catalog.model_copy(update={"tiers": tiers, "models": models}), excluded


NO_RULES = EffectiveRules()
