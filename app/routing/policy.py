"""Routing policies: turn a request into an ordered list of candidate models, with a reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.routing.catalog import TIER_ORDER, Catalog, ModelSpec, TierName
from app.routing.classifier import Classification


@dataclass(frozen=True)
class Route:
    """Candidates in the order they are tried; the reason is written to the ledger."""

    requested: str
    tier: TierName
    candidates: tuple[ModelSpec, ...]
    reason: str
    task_class: str | None = None


@dataclass(frozen=True)
class FixedTier:
    """Always this tier; its models are the fallback chain (no silent drop to a cheaper tier)."""

    tier: TierName


@dataclass(frozen=True)
class FixedModel:
    """One named model first, then the rest of its tier's chain."""

    model: str


@dataclass(frozen=True)
class Auto:
    """The cheapest tier whose predicted quality clears `threshold`, within budget and SLO."""

    threshold: float = 0.75
    max_latency_ms: float | None = None
    expected_output_tokens: int = 400


@dataclass(frozen=True)
class Cascade:
    """Cheapest tier first; a verifier decides whether to escalate to the next tier.

    With `min_p_good`, an answer the verifier accepts is still escalated when the
    classifier predicts that tier is good enough with probability below it (the verifier
    catches visible mistakes, the router score the plausible-looking ones).
    """

    tiers: tuple[TierName, ...] = ("edge", "frontier")
    verifier: str = "arithmetic"
    min_p_good: float | None = None


Policy = FixedTier | FixedModel | Auto | Cascade


class Classifier(Protocol):
    def classify(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        node: str | None = None,
        has_tools: bool = False,
        response_format: Mapping[str, Any] | None = None,
    ) -> Classification: ...


@dataclass(frozen=True)
class RouteInputs:
    """What a data-driven policy looks at besides the catalog."""

    prompt_tokens: int
    classification: Classification | None = None
    remaining_budget_usd: float | None = None


def route_request(
    policy: Policy,
    catalog: Catalog,
    *,
    node: str | None = None,
    inputs: RouteInputs | None = None,
) -> Route:
    """The route for one logical call under `policy` (Cascade is walked by the gateway)."""
    where = f" for node {node!r}" if node else ""
    if isinstance(policy, FixedTier):
        return fixed_tier_route(catalog, policy.tier, f"fixed tier {policy.tier}{where}")
    if isinstance(policy, FixedModel):
        first = catalog.model(policy.model)
        rest = tuple(m for m in catalog.chain(first.tier) if m.name != first.name)
        return Route(
            requested=first.name,
            tier=first.tier,
            candidates=(first, *rest),
            reason=f"model {first.name} requested{where}; fallback within tier {first.tier}",
        )
    if isinstance(policy, Auto):
        if inputs is None or inputs.classification is None:
            raise ValueError("the auto policy needs a classification of the request")
        return auto_route(policy, catalog, inputs, where)
    raise TypeError(f"{type(policy).__name__} is walked by the gateway, not routed once")


def fixed_tier_route(
    catalog: Catalog, tier: TierName, why: str, task_class: str | None = None
) -> Route:
    chain = tuple(catalog.chain(tier))
    return Route(
        requested=tier,
        tier=tier,
        candidates=chain,
        reason=f"{why}; chain {' > '.join(m.name for m in chain)}",
        task_class=task_class,
    )


def auto_route(policy: Auto, catalog: Catalog, inputs: RouteInputs, where: str) -> Route:
    """Pareto choice: walk tiers cheapest first, keep those within budget and SLO, take the
    first whose predicted quality clears the threshold (else the best-predicted feasible)."""
    classification = inputs.classification
    assert classification is not None
    considered: list[str] = []
    feasible: list[tuple[TierName, float]] = []
    chosen: TierName | None = None
    for tier in TIER_ORDER:
        if tier not in catalog.tiers:
            continue
        model = catalog.chain(tier)[0]
        p_good = float(classification.p_good.get(tier, 0.0))
        cost = model.cost_usd(inputs.prompt_tokens, policy.expected_output_tokens)
        latency = model.latency_ms.first_token + (
            model.latency_ms.per_output_token * policy.expected_output_tokens
        )
        verdict = f"{tier}(p={p_good:.2f}, ~${cost:.5f}, ~{latency:.0f}ms"
        if inputs.remaining_budget_usd is not None and cost > inputs.remaining_budget_usd:
            considered.append(verdict + ", over budget)")
            continue
        if policy.max_latency_ms is not None and latency > policy.max_latency_ms:
            considered.append(verdict + ", over latency SLO)")
            continue
        feasible.append((tier, p_good))
        if p_good >= policy.threshold and chosen is None:
            chosen = tier
            considered.append(verdict + ", chosen)")
        else:
            considered.append(verdict + ")")
    if chosen is not None:
        why = f"auto{where}: cheapest tier clearing threshold {policy.threshold:.2f}"
    elif feasible:
        chosen = max(feasible, key=lambda item: item[1])[0]
        why = f"auto{where}: no tier clears {policy.threshold:.2f}; best predicted {chosen}"
    else:
        chosen = TIER_ORDER[0]
        why = f"auto{where}: no tier fits budget/SLO; cheapest {chosen} (the budget check decides)"
    summary = (
        f"{why}; class={classification.task_class} "
        f"complexity={classification.complexity:.2f}; considered {'; '.join(considered)}"
    )
    return fixed_tier_route(catalog, chosen, summary, task_class=classification.task_class)
