"""`auto` on learned estimates: the catalog's models are the arms, tiers their defaults.

Each model's prior comes from what is known of the request: the classifier's p for the
model's tier when the request is familiar; else the model's published score for the
request's task class where the catalog gives one (`task_priors`: prior knowledge, worth
`catalog_prior_strength` events), the class defaults of a known class (everyday chat ->
edge), or the catalog's weak `unknown_prior`. `arms.choose_model`
picks (the cheapest model clearing the bar) or, with a cost weight (the policy's or the
learner's), `utility.choose_by_utility` (highest sampled utility); the reason names the
model, its estimate and evidence, the bar or the utility, whether it explored
and what exploration has used so far. An unfamiliar request gets a `verify` cascade: where
its answer can be compared, a cheap answer is kept only if a second cheap model agrees;
where it cannot, only if a judge accepts it (`judge_route`), when that is expected to cost
less than the best-rated model alone.
"""

from __future__ import annotations

import random
from dataclasses import replace

from app.routing.arms import ModelChoice, ModelOption, choose_model, describe_estimate
from app.routing.catalog import Catalog, ModelSpec
from app.routing.judge import JUDGE
from app.routing.judge_route import JudgePlan, plan_judge_check
from app.routing.observations import RoutingContext
from app.routing.online import OnlineView
from app.routing.policy import TIER_ORDER, Auto, Cascade, Route, RouteInputs
from app.routing.utility import choose_by_utility


def model_options(
    policy: Auto, catalog: Catalog, inputs: RouteInputs, view: OnlineView
) -> list[ModelOption]:
    """Every catalog model, cheapest first, with its prior, expected cost and feasibility."""
    c = inputs.classification
    assert c is not None
    known_class = catalog.task_classes.get(c.task_class)
    strongest = next(t for t in reversed(TIER_ORDER) if t in catalog.tiers)
    default = catalog.chain(strongest)[0].name
    options = []
    for model in catalog.by_price():
        cost = model.cost_usd(inputs.prompt_tokens, policy.expected_output_tokens)
        latency = model.latency_ms.first_token + (
            model.latency_ms.per_output_token * policy.expected_output_tokens
        )
        blocked = ""
        if inputs.remaining_budget_usd is not None and cost > inputs.remaining_budget_usd:
            blocked = "over budget"
        elif policy.max_latency_ms is not None and latency > policy.max_latency_ms:
            blocked = "over latency SLO"
        published = model.task_priors.get(c.task_class)
        if view.in_distribution:
            prior, trusted = float(c.p_good.get(model.tier, 0.0)), True
        elif published is not None:
            prior, trusted = published.success, False
        elif known_class is not None:
            prior, trusted = float(known_class.prior.get(model.tier, 0.0)), True
        else:
            prior, trusted = float(catalog.unknown_prior.get(model.tier, 0.5)), False
        options.append(
            ModelOption(
                model,
                prior,
                trusted,
                cost,
                latency,
                blocked,
                model.name == default,
                catalog_prior=published is not None and not view.in_distribution,
            )
        )
    return options


def _judge_first(
    policy: Auto,
    catalog: Catalog,
    inputs: RouteInputs,
    view: OnlineView,
    options: list[ModelOption],
    weight: float | None,
) -> tuple[JudgePlan | None, str, ModelChoice | None]:
    """For an unfamiliar request a judge can check (the bar rule), the judge check before
    any exploration: its verdicts measure the cheap model anyway, and exploring must never
    serve such a request a cheap answer unchecked. (plan, why there is none, its choice)."""
    if weight is not None or not policy.verify or inputs.verifiable or view.in_distribution:
        return None, "", None
    plain = choose_model(
        options,
        replace(view, budget=None),
        threshold=policy.threshold,
        relative=policy.relative,
        floor=policy.floor,
    )
    if plain is None:
        return None, "", None
    plan = plan_judge_check(
        options,
        plain,
        catalog,
        floor=policy.floor,
        prompt_tokens=inputs.prompt_tokens,
        answer_tokens=policy.expected_output_tokens,
        judge_with=policy.judge_with or view.config.judge_with,
        remaining_budget_usd=inputs.remaining_budget_usd,
    )
    if not isinstance(plan, JudgePlan):
        return None, plan or "", None
    if view.budget is not None:
        view.budget.decide(False, view.tenant)  # a decision that did not explore
    return plan, "", plain


def _chain(catalog: Catalog, first: ModelSpec) -> tuple[ModelSpec, ...]:
    """The chosen model, then the rest of its tier (a fallback never drops a tier)."""
    return (first, *(m for m in catalog.chain(first.tier) if m.name != first.name))


def _knowledge(view: OnlineView, known_class: bool) -> str:
    if view.in_distribution:
        return view.describe()
    if known_class:
        return (
            f"a known task class out of the classifier's distribution (cluster {view.cluster}): "
            "the class defaults are the prior"
        )
    return (
        f"OUT OF DISTRIBUTION (nearest cluster {view.match.cluster}: {view.match.why}): "
        "a weak prior, so a model needs feedback before it is trusted"
    )


def online_model_route(policy: Auto, catalog: Catalog, inputs: RouteInputs, where: str) -> Route:
    """Auto over models on the online estimates (see the module doc)."""
    c, view = inputs.classification, inputs.online
    assert c is not None and view is not None
    options = model_options(policy, catalog, inputs, view)
    weight = policy.cost_weight if policy.cost_weight is not None else view.config.cost_weight
    judged, note, choice = _judge_first(policy, catalog, inputs, view, options, weight)
    if judged is None and weight is not None:
        choice = choose_by_utility(
            options,
            view,
            cost_weight=weight,
            rng=view.rng or random.Random(),
            floor=policy.floor,
            verifiable=policy.verify and inputs.verifiable,
        )
    elif judged is None:
        choice = choose_model(
            options,
            view,
            threshold=policy.threshold,
            relative=policy.relative,
            floor=policy.floor,
            verifiable=policy.verify and inputs.verifiable,
            always_verify=policy.always_verify,
        )
    known_class = c.task_class in catalog.task_classes
    if choice is None:
        cheapest = next(m for tier in TIER_ORDER for m in catalog.chain(tier))
        why = "no model fits budget/SLO; cheapest (the budget check decides)"
        return _route(catalog, cheapest, policy, c.task_class, why, None, view, options, where)
    chosen = options[choice.index]
    why = judged.why if judged is not None else choice.why
    if note and not choice.explored:
        why = f"{why}; {note}"
    considered = "; ".join(
        describe_estimate(o, e, k)
        for o, e, k in zip(options, choice.estimates, choice.known, strict=True)
    )
    reason = (
        f"auto{where} (online): {chosen.model.name}: {why}; class={c.task_class} "
        f"complexity={c.complexity:.2f}; {_knowledge(view, known_class)}; considered {considered}"
    )
    if not choice.explored and view.budget is not None:
        # Every decision says what the tenant's exploration has used (an exploring one's
        # reason already does), so the share and the money spent on it are on the ledger.
        reason += f"; not exploring ({view.budget.describe(view.tenant)})"
    route = _route(catalog, chosen.model, policy, c.task_class, reason, choice, view, options, "")
    if judged is None:
        return route
    verify = Cascade(
        tiers=(judged.answers.tier, chosen.model.tier),
        verifier=JUDGE,
        models=(judged.answers.name, chosen.model.name),
        judge_with=judged.judge.name,
        lead=reason,
    )
    return replace(route, verify=verify)


def _route(
    catalog: Catalog,
    model: ModelSpec,
    policy: Auto,
    task_class: str,
    reason: str,
    choice: ModelChoice | None,
    view: OnlineView,
    options: list[ModelOption],
    where: str,
) -> Route:
    prior = next((o.prior for o in options if o.model.name == model.name), 0.0)
    explored = choice is not None and choice.explored
    verify = None
    if choice is not None and choice.verify is not None:
        first, second = (options[i].model for i in choice.verify)
        third = options[choice.tiebreak].model if choice.tiebreak is not None else None
        verify = Cascade(
            tiers=(first.tier, model.tier),
            verifier="agreement",
            models=(first.name, model.name),
            agree_with=second.name,
            votes=3 if third is not None else 2,
            tiebreak_with=third.name if third is not None else None,
            lead=reason,
        )
    chain = _chain(catalog, model)
    if not reason.startswith("auto"):
        reason = f"auto{where} (online): {reason}"
    return Route(
        requested=model.tier,
        tier=model.tier,
        candidates=chain,
        reason=f"{reason}; chain {' > '.join(m.name for m in chain)}",
        task_class=task_class,
        explored=explored,
        learning=RoutingContext(
            view.cluster, prior, explored=explored, ood=not view.in_distribution
        ),
        verify=verify,
    )
