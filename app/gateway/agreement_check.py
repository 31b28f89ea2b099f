"""The cascade's `agreement` verifier: a second model answers too, and on a disagreement
over a comparable answer (with `votes: 3`) a third; the answer two of them share is kept.

Each extra answer is its own logical call (`<stage key>/agree`, `<stage key>/tiebreak`), so
it has its ledger rows and a replay reads it back. Who answers second and third is chosen
like a cheap stage: the named model or tier, else the cheapest eligible model the provider
rules allow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.gateway.errors import AllModelsFailed
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.routing.agreement import compare_answers, majority_vote
from app.routing.catalog import TIER_ORDER, Catalog, ModelSpec
from app.routing.policy import Cascade, Route
from app.routing.verifiers import Verdict

if TYPE_CHECKING:
    from app.gateway.cascade_walk import StageServer

SELF_TEMPERATURE = 0.7  # a second sample of the same model must be allowed to differ


@dataclass(frozen=True)
class AgreementOutcome:
    """The answer the check keeps (or the stage's, when it escalates), the verdict, and every
    other answer it asked for with whether it sided with the kept one."""

    served: ModelResult
    verdict: Verdict
    others: tuple[tuple[ModelResult, bool], ...]


def second_opinion(
    catalog: Catalog,
    policy: Cascade,
    answered: ModelSpec,
    allowed: Callable[[ModelSpec], bool] = lambda _: True,
) -> tuple[ModelSpec, bool]:
    """Who gives the second answer for agreement, and whether it is the same model again.
    The default (the tier's next model) is one the provider rules `allowed`, else the same
    model again; a model or tier the policy names is kept (the rules may refuse it)."""
    wanted = policy.agree_with
    if wanted == "self":
        return answered, True
    if wanted is not None:
        model = _named(catalog, wanted)
        return model, model.name == answered.name
    others = [m for m in catalog.chain(answered.tier) if m.name != answered.name and allowed(m)]
    return (others[0], False) if others else (answered, True)


def third_opinion(
    catalog: Catalog,
    policy: Cascade,
    answered: tuple[str, str],
    next_tier: str,
    allowed: Callable[[ModelSpec], bool] = lambda _: True,
) -> ModelSpec | None:
    """Who breaks a tie: the policy's `tiebreak_with`, else the cheapest model the rules
    `allowed` that answered neither and sits below the tier a disagreement escalates to
    (None: there is none, so escalate)."""
    if policy.tiebreak_with is not None:
        return _named(catalog, policy.tiebreak_with)
    below = TIER_ORDER.index(next_tier)  # type: ignore[arg-type]
    return next(
        (
            m
            for m in catalog.by_price()
            if m.name not in answered and TIER_ORDER.index(m.tier) < below and allowed(m)
        ),
        None,
    )


def _named(catalog: Catalog, wanted: str) -> ModelSpec:
    """A model by name, or a tier's first model."""
    return catalog.model(wanted) if wanted in catalog.models else catalog.chain(wanted)[0]  # type: ignore[arg-type]


async def check_agreement(
    gateway: StageServer,
    request: ModelRequest,
    policy: Cascade,
    stage: CallContext,
    first: ModelResult,
    route: Route,
    next_tier: str,
) -> AgreementOutcome:
    """A second answer and whether it agrees with the stage's; with `votes: 3` and two
    comparable answers that differ, a third answer and the majority of the three."""
    rules = await gateway.rules_for(stage)

    def allowed(m: ModelSpec) -> bool:
        return rules.model_breach(m) is None

    model, again = second_opinion(
        gateway.catalog, policy, gateway.catalog.model(first.model), allowed
    )
    why = (
        f"agreement check: {'a second sample of ' if again else ''}{model.name} answers too, "
        f"and {first.model}'s answer is kept only if both agree"
    )
    ask = replace(request, temperature=SELF_TEMPERATURE) if again else request
    try:
        second = await _ask(gateway, ask, route, stage, model, "agree", why)
    except AllModelsFailed as exc:  # no second answer: the first is not verified
        return AgreementOutcome(first, Verdict(False, f"no second answer: {exc}"), ())
    pair = compare_answers(first.content, second.content, request.messages, request.response_format)
    asked = (first.model, second.model)
    third = (
        third_opinion(gateway.catalog, policy, asked, next_tier, allowed)
        if policy.votes >= 3 and pair.comparable and not pair.accepted
        else None
    )
    if third is None:
        verdict = Verdict(pair.accepted, pair.reason)
        return AgreementOutcome(first, verdict, ((second, pair.accepted),))
    why = f"agreement tiebreak: {first.model} and {second.model} disagree, {third.name} votes"
    try:
        tiebreak = await _ask(gateway, request, route, stage, third, "tiebreak", why)
    except AllModelsFailed as exc:  # no third answer: the disagreement stands
        return AgreementOutcome(
            first, Verdict(False, f"{pair.reason}; no third answer: {exc}"), ((second, False),)
        )
    vote = majority_vote(pair, tiebreak.content)
    answers = (first, second, tiebreak)
    served = answers[vote.served] if vote.served is not None else first
    others = tuple(
        (answer, i in vote.agreeing) for i, answer in enumerate(answers) if answer is not served
    )
    return AgreementOutcome(served, Verdict(vote.accepted, vote.reason), others)


async def _ask(
    gateway: StageServer,
    request: ModelRequest,
    route: Route,
    stage: CallContext,
    model: ModelSpec,
    suffix: str,
    why: str,
) -> ModelResult:
    """One more answer to the stage's request from `model`, its own logical call."""
    extra = Route(
        requested=model.tier,
        tier=model.tier,
        candidates=(model,),
        reason=why,
        task_class=route.task_class,
        learning=route.learning,
        policy="cascade",
    )
    return await gateway.serve(
        request, extra, replace(stage, call_key=f"{stage.call_key}/{suffix}")
    )
