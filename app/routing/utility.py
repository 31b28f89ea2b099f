"""`auto` over models by expected utility: success minus priced cost, by Thompson sampling.

A model's utility for a request is `p(success) - cost_weight * cost / reference cost`
(the reference is the safe default's cost, so the weight reads as "how much success one
frontier-priced call is worth"). A relative target ("95% of the frontier's success") is
then met by a model slightly worse but far cheaper, which a bar relative to the best
estimate cannot tell apart from noise within a few hundred requests. Each model's success
is a Beta posterior (the hierarchical one of `arms.beta_estimate`: the request's prior,
the model's pooled rate across classes, its own rate in the class and, where the prior is
trusted, in the cluster). Thompson sampling draws one success per model from its posterior
and takes the best sampled utility: bad models are dropped after a few answers, a cheap
adequate one is served early, and models it stopped choosing keep a chance in proportion to
their doubt. The greedy choice is the proven model (trusted prior, or `min_evidence`
answers here; the safe default always counts) of best posterior-mean utility; a draw that
picks another model is an exploration and takes its turn from the tenant's bounded budget
(a share of calls and a money cap), else the greedy choice is served. So serving a model
nothing is known of always counts against the budget, and with a budget of 100% of calls
the rule is plain Thompson sampling.

Where the answer can be compared, a pair of cheap models checked by agreement (escalating
to the best known model on disagreement) competes as one more option, its success and cost
derived from the same draws; it wins only where paying for the second answer and the
occasional escalation buys more success than it costs at this weight.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from app.routing.arms import ModelChoice, ModelOption, beta_estimate, rescale_published
from app.routing.catalog import TIER_ORDER
from app.routing.observations import EMPTY_CELL, model_arm
from app.routing.online import Estimate, OnlineView

# Cheap models err on the same questions: the chance both are right is the independent one
# moved this share of the way to the weaker model's rate (so both wrong is as much more
# likely), and two wrong answers to a comparable question name the same option this often -
# what agreement cannot catch. Both measured on ARC-Challenge's train split for the pairs of
# its four best cheap models (0.55-0.65 and 0.69-0.76); a prior guess for other tasks.
ERRORS_SHARED = 0.6
WRONG_ALIKE = 0.7


@dataclass(frozen=True)
class Utility:
    """One option's success, cost share and utility at a cost weight."""

    success: float
    cost_share: float
    weight: float

    @property
    def value(self) -> float:
        return self.success - self.weight * self.cost_share


def utility_estimate(view: OnlineView, option: ModelOption) -> Estimate:
    """A model's success posterior for this request: cluster-level where the prior is
    trusted (clusters differ), class-level where it is not (unfamiliar requests scatter
    over clusters the topic model never learned, each with too few answers to sample)."""
    config = view.config
    keys = view.cells_of(model_arm(option.model.name), option.prior)
    depth = 3 if option.prior_trusted else 2
    cells = [view.cells.get(k, EMPTY_CELL) for k in keys]
    result = beta_estimate(
        [c.weighted(config.source_weights) for c in cells[option.widest_level(config) : depth]],
        [c.events for c in cells],
        option.prior,
        prior_strength=option.prior_strength(config),
        backoff_strength=config.backoff_strength,
        interval_z=config.interval_z,
        trusted=option.prior_trusted,
        arm=model_arm(option.model.name),
    )
    return result


def _draw(estimate: Estimate, rng: random.Random) -> float:
    """One success rate drawn from the estimate's Beta posterior."""
    n = max(estimate.strength, 1e-6)
    mean = min(max(estimate.mean, 1e-4), 1.0 - 1e-4)
    return rng.betavariate(mean * n, (1.0 - mean) * n)


def verified_success(first: float, second: float, fallback: float) -> tuple[float, float]:
    """(success, chance of escalating) of serving `first` when `second` agrees, else the
    fallback model: both right agree; both wrong name the same answer WRONG_ALIKE of the
    time and slip through; any other pair disagrees and escalates."""
    both_right = first * second + ERRORS_SHARED * (min(first, second) - first * second)
    both_wrong = 1.0 - first - second + both_right
    escalate = 1.0 - both_right - both_wrong * WRONG_ALIKE
    return both_right + escalate * fallback, escalate


def voted_success(
    first: float, second: float, third: float, fallback: float
) -> tuple[float, float, float]:
    """(success, chance the third answers, chance of escalating) when a disagreement is put
    to a third model and a majority of the three is served: where exactly one of the pair is
    right, a right third sides with it, a wrong one names the wrong answer WRONG_ALIKE of the
    time and outvotes it, else all three differ and the fallback answers; where both are
    wrong and differ, a wrong third joins one of them WRONG_ALIKE of the time."""
    both_right = first * second + ERRORS_SHARED * (min(first, second) - first * second)
    both_wrong = 1.0 - first - second + both_right
    one_right = max(first + second - 2.0 * both_right, 0.0)
    wrong_apart = both_wrong * (1.0 - WRONG_ALIKE)
    escalate = one_right * (1.0 - third) * (1.0 - WRONG_ALIKE) + wrong_apart * (
        third + (1.0 - third) * (1.0 - WRONG_ALIKE)
    )
    success = both_right + one_right * third + escalate * fallback
    return success, one_right + wrong_apart, escalate


def choose_by_utility(
    options: Sequence[ModelOption],
    view: OnlineView,
    *,
    cost_weight: float,
    rng: random.Random,
    floor: float = 0.0,
    verifiable: bool = False,
) -> ModelChoice | None:
    """The model (or verified pair) of highest sampled utility; see the module doc.

    `options` must be cheapest first. No model whose posterior mean is below `floor` is
    chosen. None when no option is feasible.
    """
    options = rescale_published(options, view)
    config = view.config
    estimates = tuple(utility_estimate(view, o) for o in options)
    feasible = [i for i, o in enumerate(options) if o.feasible]
    if not feasible:
        return None
    eligible = [i for i in feasible if estimates[i].mean >= floor] or feasible
    known = tuple(o.known(e, config) for o, e in zip(options, estimates, strict=True))
    default = next((i for i in feasible if options[i].default), max(feasible))
    reference = max(options[default].cost, 1e-12)
    share = [o.cost / reference for o in options]

    def utilities(success: Sequence[float]) -> dict[int, Utility]:
        return {i: Utility(success[i], share[i], cost_weight) for i in eligible}

    means = [e.mean for e in estimates]
    drawn = [_draw(e, rng) if i in eligible else 0.0 for i, e in enumerate(estimates)]
    greedy_u, sampled_u = utilities(means), utilities(drawn)
    proven = [i for i in eligible if known[i] or i == default] or eligible
    greedy = max(proven, key=lambda i: (greedy_u[i].value, -i))
    sampled = max(eligible, key=lambda i: (sampled_u[i].value, -i))

    chosen, explored = greedy, False
    why = (
        f"highest expected utility {greedy_u[greedy].value:.3f} = est {means[greedy]:.2f} - "
        f"{cost_weight:g} x cost {share[greedy]:.3f} of the default's"
    )
    budget = view.budget
    if sampled != greedy:
        extra = options[sampled].cost - options[greedy].cost
        if budget is None or budget.decide(True, view.tenant, extra):
            chosen, explored = sampled, True
            used = f"; {budget.describe(view.tenant)}" if budget is not None else ""
            why = (
                f"exploring {options[sampled].model.name}: its posterior draw "
                f"{drawn[sampled]:.2f} gives utility {sampled_u[sampled].value:.3f} > "
                f"{options[greedy].model.name}'s {sampled_u[greedy].value:.3f} (greedy: "
                f"{options[greedy].model.name} at {greedy_u[greedy].value:.3f}){used}"
            )
    elif budget is not None:
        budget.decide(False, view.tenant)

    # The check is weighed on the values the choice was made on: the draws when exploring,
    # else the posterior means (so a decision the budget refuses to explore is all greedy).
    values = drawn if explored else means
    pair = (
        _verify_pair(eligible, chosen, default, values, share, cost_weight) if verifiable else None
    )
    if pair is not None:
        first, second, fallback = pair
        success, escalate = verified_success(values[first], values[second], values[fallback])
        cost = share[first] + share[second] + escalate * share[fallback]
        third = None
        if config.agreement_votes >= 3:
            rank = TIER_ORDER.index(options[fallback].model.tier)
            below = [i for i in eligible if TIER_ORDER.index(options[i].model.tier) < rank]
            third, success, cost = _tiebreak(
                pair, below, values, share, cost_weight, (success, cost)
            )
        alone = Utility(values[chosen], share[chosen], cost_weight)
        checked = Utility(success, cost, cost_weight)
        if checked.value > alone.value:
            names = f"{options[first].model.name} and {options[second].model.name}"
            vote = f", a tie {options[third].model.name}" if third is not None else ""
            why = (
                f"verify: {names} answer and must agree{vote}, else "
                f"{options[fallback].model.name} (success {success:.2f} at cost "
                f"{cost:.3f}: utility {checked.value:.3f} > {alone.value:.3f} for "
                f"{options[chosen].model.name} alone); {why}"
            )
            return ModelChoice(
                fallback,
                why,
                explored,
                estimates,
                0.0,
                means[fallback],
                (first, second),
                known,
                third,
            )
    return ModelChoice(chosen, why, explored, estimates, 0.0, means[greedy], None, known)


def _verify_pair(
    eligible: Sequence[int],
    chosen: int,
    default: int,
    success: Sequence[float],
    share: Sequence[float],
    cost_weight: float,
) -> tuple[int, int, int] | None:
    """(first, second, fallback) for a checked answer. The first to answer is the chosen
    model, or the cheaper model of best utility (always, when the chosen is the default; a
    dear model chosen over the default may be worth less than two cheap answers checked, and
    serving it alone would never show that); a disagreement escalates to the safe default (a
    cheaper model that looks better has been measured mostly where it was chosen; the
    default is what "as good as the frontier" means); the second is the model that makes the
    check worth most at this cost weight, and of the candidate pairs the worthier is taken."""
    fallback = default
    if fallback not in eligible:
        return None
    cheaper = [i for i in eligible if share[i] < share[fallback]]
    below = [i for i in cheaper if share[i] < share[chosen]]
    firsts = [chosen] if chosen != fallback else []
    if below:
        firsts.append(max(below, key=lambda i: success[i] - cost_weight * share[i]))
    best: tuple[float, int, int] | None = None
    for first in firsts:
        for second in (i for i in cheaper if i != first):
            checked, escalate = verified_success(success[first], success[second], success[fallback])
            cost = share[first] + share[second] + escalate * share[fallback]
            worth = checked - cost_weight * cost
            if best is None or worth > best[0]:
                best = (worth, first, second)
    return None if best is None else (best[1], best[2], fallback)


def _tiebreak(
    pair: tuple[int, int, int],
    eligible: Sequence[int],
    success: Sequence[float],
    share: Sequence[float],
    cost_weight: float,
    two_votes: tuple[float, float],
) -> tuple[int | None, float, float]:
    """(third, success, cost) of the check: the model of a tier below the fallback's (not of
    the pair) whose vote on a disagreement makes it worth most, where that beats escalating
    straight away."""
    first, second, fallback = pair
    best: tuple[int | None, float, float] = (None, *two_votes)
    for i in eligible:
        if i in pair or share[i] >= share[fallback]:
            continue
        p, asked, escalate = voted_success(
            success[first], success[second], success[i], success[fallback]
        )
        cost = share[first] + share[second] + asked * share[i] + escalate * share[fallback]
        if p - cost_weight * cost > best[1] - cost_weight * best[2]:
            best = (i, p, cost)
    return best
