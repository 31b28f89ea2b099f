"""`auto`'s judge check: an unfamiliar request whose answer cannot be compared goes to a
cheap model whose answer a judge reads, instead of straight to the best-rated model.

Where no known model clears the bar, the request is out of distribution and its answer
has no comparable form (free prose, explanations, code), agreement cannot help; a judge
can. The cheapest model whose estimate interval still reaches the bar answers (as the
agreement path picks its first model), the judge (`judge_with`, default the mid tier's
first model, `routing/judge.py`) reads it, and a rejection escalates to the model `auto`
would have served alone. That is worth it only when it is expected to cost less than the
best model alone: the cheap answer and the judge are always paid, the best model too
whenever the judge rejects (taken as the cheap model's estimated failure rate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.routing.arms import ModelChoice, ModelOption
from app.routing.catalog import Catalog, ModelSpec
from app.routing.judge import judge_cost, judge_model, valid_judge


@dataclass(frozen=True)
class JudgePlan:
    """The cheap model that answers, the judge, and why (the routing reason's lead)."""

    answers: ModelSpec
    judge: ModelSpec
    why: str


def plan_judge_check(
    options: Sequence[ModelOption],
    choice: ModelChoice,
    catalog: Catalog,
    *,
    floor: float,
    prompt_tokens: int,
    answer_tokens: int,
    judge_with: str | None = None,
    remaining_budget_usd: float | None = None,
) -> JudgePlan | str | None:
    """A judge check instead of `choice` (a JudgePlan), why not (a note for the reason), or
    None when the question does not arise (a known model clears the bar, or auto explores).

    `options` are cheapest first, as `choice` was made on them (`arms.choose_model`); the
    caller has decided the request is unfamiliar and its answer cannot be compared."""
    if choice.verify is not None or choice.explored:
        return None
    estimates, known = choice.estimates, choice.known
    bar = max(choice.bar, floor)
    if any(o.feasible and known[i] and estimates[i].mean >= bar for i, o in enumerate(options)):
        return None
    best = options[choice.index]
    cheap = next(
        (
            i
            for i, o in enumerate(options)
            if o.feasible
            and i != choice.index
            and o.cost < best.cost
            and estimates[i].high >= choice.bar
            and estimates[i].mean >= floor
        ),
        None,
    )
    if cheap is None:
        return "no judge check: no cheaper model may reach the bar"
    answers = options[cheap]
    if judge_with is not None and not valid_judge(catalog, judge_with):
        return f"no judge check: the judge {judge_with} is not among the models allowed here"
    judge = judge_model(catalog, answers.model, judge_with)
    if judge is None:
        return "no judge check: no model to judge"
    judging = judge_cost(judge, prompt_tokens, answer_tokens)
    escalate = 1.0 - estimates[cheap].mean
    expected = answers.cost + judging + escalate * best.cost
    sums = (
        f"~${expected:.5f} = {answers.model.name} ~${answers.cost:.5f} + {judge.name} judging "
        f"~${judging:.5f} + {escalate:.0%} escalations x {best.model.name} ~${best.cost:.5f}"
    )
    if expected >= best.cost:
        return f"no judge check: it would cost {sums} >= ~${best.cost:.5f} for {best.model.name}"
    worst = answers.cost + judging + best.cost
    if remaining_budget_usd is not None and worst > remaining_budget_usd:
        return (
            f"no judge check: the run's remaining ~${remaining_budget_usd:.5f} cannot pay for "
            f"an escalation after it (~${worst:.5f})"
        )
    why = (
        f"verify: {answers.model.name} answers, {judge.name} judges, else {best.model.name} "
        f"(bar {choice.bar:.2f}; no known model clears it and the answer cannot be compared; "
        f"expected {sums} < ~${best.cost:.5f} alone)"
    )
    return JudgePlan(answers.model, judge, why)
