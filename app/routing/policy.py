"""Routing policies: turn a request into an ordered list of candidate models, with a reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.routing.catalog import TIER_ORDER, Catalog, ModelSpec, TierName
from app.routing.classifier import Classification
from app.routing.observations import RoutingContext
from app.routing.online import OnlineView


@dataclass(frozen=True)
class Route:
    """Candidates in the order they are tried; the reason is written to the ledger."""

    requested: str
    tier: TierName
    candidates: tuple[ModelSpec, ...]
    reason: str
    task_class: str | None = None
    explored: bool = False  # auto sent it to another model to learn (online exploration)
    learning: RoutingContext | None = None  # with online estimates: what feedback will need
    verify: Cascade | None = None  # auto chose to verify a cheap answer: walk this cascade
    policy: str = ""  # the policy that chose it (auto, cascade, tier, model): metrics label


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
    """The cheapest tier whose predicted quality clears `threshold`, within budget and SLO.

    With `relative`, the bar is `threshold` x the best feasible tier's prediction ("keep
    95% of the best tier's quality"). No tier predicted below `floor` is chosen, and
    online exploration never goes below it either.
    """

    threshold: float = 0.75
    max_latency_ms: float | None = None
    expected_output_tokens: int = 400
    relative: bool = False
    floor: float = 0.0
    # Out of distribution, verify a cheap answer: by agreement where it can be compared, else
    # by a judge (`judge_with`, default the mid tier's first model) where that is cheaper.
    verify: bool = True
    always_verify: bool = False  # verify comparable answers even where a model is known
    # Online: choose by expected utility, p - cost_weight x cost / the default's cost
    # (Thompson sampling, routing/utility.py) instead of the bar; None: the learner's default.
    cost_weight: float | None = None
    judge_with: str | None = None


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
    relative: bool = False  # min_p_good is a share of the next tier's p
    # Stage i starts on models[i] (then the rest of its tier) instead of the tier's first.
    models: tuple[str, ...] = ()
    # verifier "agreement": who gives the second answer - a model, a tier (its first model),
    # "self" (the stage's model sampled again); default the stage tier's next model.
    agree_with: str | None = None
    # verifier "agreement", 3: where the two comparable answers disagree, a third model
    # (`tiebreak_with`, default the cheapest other model below the next stage's tier) answers
    # and the answer two of three share is kept; 2: a disagreement escalates.
    votes: int = 2
    tiebreak_with: str | None = None
    # verifier "judge": who judges the stage's answer - a model or a tier (its first model
    # other than the one that answered); default the mid tier's first (`routing/judge.py`).
    judge_with: str | None = None
    lead: str = ""  # why the cascade was chosen (auto's verify decision), for the first reason


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
    online: OnlineView | None = None  # learned estimates; auto uses them when present
    verifiable: bool = False  # the answer can be compared (options, a number, JSON fields)


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


@dataclass(frozen=True)
class TierOption:
    """One tier auto weighs: its classifier p, estimated cost and latency, and feasibility."""

    tier: TierName
    p_good: float
    cost: float
    latency: float
    blocked: str = ""  # "over budget" / "over latency SLO"

    def text(self, detail: str, chosen: bool) -> str:
        notes = [detail, f"~${self.cost:.5f}", f"~{self.latency:.0f}ms"]
        notes += [n for n in (self.blocked, "chosen" if chosen else "") if n]
        return f"{self.tier}({', '.join(notes)})"


def tier_options(policy: Auto, catalog: Catalog, inputs: RouteInputs) -> list[TierOption]:
    """The catalog's tiers cheapest first, each checked against the budget and latency SLO."""
    classification = inputs.classification
    assert classification is not None
    options = []
    for tier in TIER_ORDER:
        if tier not in catalog.tiers:
            continue
        model = catalog.chain(tier)[0]
        cost = model.cost_usd(inputs.prompt_tokens, policy.expected_output_tokens)
        latency = model.latency_ms.first_token + (
            model.latency_ms.per_output_token * policy.expected_output_tokens
        )
        blocked = ""
        if inputs.remaining_budget_usd is not None and cost > inputs.remaining_budget_usd:
            blocked = "over budget"
        elif policy.max_latency_ms is not None and latency > policy.max_latency_ms:
            blocked = "over latency SLO"
        p_good = float(classification.p_good.get(tier, 0.0))
        options.append(TierOption(tier, p_good, cost, latency, blocked))
    return options


def auto_route(policy: Auto, catalog: Catalog, inputs: RouteInputs, where: str) -> Route:
    """Pareto choice: walk tiers cheapest first, keep those within budget and SLO, take the
    first whose predicted quality clears the threshold (else the best-predicted feasible).

    With an online view, models are the arms and their learned estimates decide
    (`model_route.online_model_route`)."""
    classification = inputs.classification
    assert classification is not None
    if inputs.online is not None:
        from app.routing.model_route import online_model_route  # it builds on this module

        return online_model_route(policy, catalog, inputs, where)
    options = tier_options(policy, catalog, inputs)
    feasible = [o for o in options if not o.blocked]
    bar = policy.threshold
    bar_text = f"threshold {bar:.2f}"
    if policy.relative and feasible:
        best = max(o.p_good for o in feasible)
        bar = policy.threshold * best
        bar_text = f"threshold {policy.threshold:.2f} x best p {best:.2f} = {bar:.2f}"
    eligible = [o for o in feasible if o.p_good >= policy.floor]
    clearing = [o for o in eligible if o.p_good >= bar]
    chosen: TierName
    if clearing:
        chosen = clearing[0].tier
        why = f"auto{where}: cheapest tier clearing {bar_text}"
    elif feasible:
        chosen = max(eligible or feasible, key=lambda o: o.p_good).tier
        bar_only = bar_text.removeprefix("threshold ")
        why = f"auto{where}: no tier clears {bar_only}; best predicted {chosen}"
    else:
        chosen = TIER_ORDER[0]
        why = f"auto{where}: no tier fits budget/SLO; cheapest {chosen} (the budget check decides)"
    considered = [o.text(f"p={o.p_good:.2f}", o.tier == chosen and not o.blocked) for o in options]
    summary = (
        f"{why}; class={classification.task_class} "
        f"complexity={classification.complexity:.2f}; considered {'; '.join(considered)}"
    )
    return fixed_tier_route(catalog, chosen, summary, task_class=classification.task_class)


def policy_name(policy: Policy) -> str:
    """The short name metrics and traces label a call's policy with."""
    if isinstance(policy, FixedTier):
        return "tier"
    if isinstance(policy, FixedModel):
        return "model"
    return "auto" if isinstance(policy, Auto) else "cascade"
