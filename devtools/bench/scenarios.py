"""One benchmark scenario: score test rows with a trained router, compare with baselines.

Each scenario owns its test rows and a router that never trained on them; this module only
evaluates (training happens in `devtools.bench.routing`), so every figure is out-of-sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from app.routing.answer_check import check_answer
from app.routing.classifier import TaskClassifier
from devtools.bench.costs import TierPricing, row_costs
from devtools.bench.curves import (
    Curve,
    Outcomes,
    Point,
    VersusRandom,
    apgr,
    bootstrap_interval,
    first_reaching,
    oracle_score,
    random_reaching,
    sweep,
    versus_random,
)
from devtools.routing.datasets import Row, is_contaminated

# RouteLLM's best published routers at 95% of GPT-4 quality (data README): cost cut vs
# GPT-4-only. Their routers were trained on Chatbot Arena data, i.e. out of domain.
ROUTELLM_COST_CUT: dict[str, float] = {"gsm8k": 0.35, "mmlu": 0.45}


@dataclass(frozen=True)
class Target:
    """A goal from the brief and whether this run met it."""

    label: str
    met: bool
    detail: str


@dataclass
class ScenarioResult:
    """Everything the report needs about one scenario."""

    key: str
    title: str
    trained_on: str
    outcomes: Outcomes
    contaminated_in_test: int
    curves: dict[str, Curve] = field(default_factory=dict)
    points: dict[str, Point | None] = field(default_factory=dict)
    apgr: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    vs_random: VersusRandom | None = None
    routellm_cost_cut: float | None = None
    targets: list[Target] = field(default_factory=list)


def escalation_score(p_edge: np.ndarray, p_frontier: np.ndarray) -> np.ndarray:
    """P(strong good and weak not), treating the heads as independent: the expected gain."""
    return p_frontier * (1.0 - p_edge)


def router_scores(classifier: TaskClassifier, rows: Sequence[Row]) -> np.ndarray:
    """Escalation score of every row, through the same code path as live routing."""
    probs = np.array([classifier.score_text(r.prompt) for r in rows]).reshape(len(rows), 2)
    return escalation_score(probs[:, 0], probs[:, 1])


def evaluate(
    *,
    key: str,
    title: str,
    trained_on: str,
    classifier: TaskClassifier,
    rows: Sequence[Row],
    pricing: TierPricing,
    contaminated: set[str],
    dataset: str,
    with_cascade: bool,
) -> ScenarioResult:
    """Curves, 95%-quality operating points and baselines for one test set."""
    outcomes = Outcomes.of(rows, *row_costs(rows, pricing))
    score = router_scores(classifier, rows)
    result = ScenarioResult(
        key=key,
        title=title,
        trained_on=trained_on,
        outcomes=outcomes,
        contaminated_in_test=sum(is_contaminated(r, contaminated) for r in rows),
        routellm_cost_cut=ROUTELLM_COST_CUT.get(dataset),
    )
    target = outcomes.target
    result.curves["router"] = sweep(outcomes, score)
    result.curves["oracle"] = sweep(outcomes, oracle_score(outcomes))
    result.points = {
        "always-weak": Point(0.0, outcomes.weak_acc, outcomes.weak_cost_ratio),
        "always-strong": Point(1.0, outcomes.strong_acc, 1.0),
        "random": random_reaching(outcomes, target),
        "oracle": first_reaching(result.curves["oracle"], target),
        "router": first_reaching(result.curves["router"], target),
    }
    result.intervals["router"] = bootstrap_interval(outcomes, score)
    if with_cascade:
        failed = np.array([not check_answer(r.weak_response or "", r.prompt).passed for r in rows])
        accepted = ~failed
        rules = Point(
            share=float(failed.mean()),
            accuracy=float(np.where(accepted, outcomes.weak_good, outcomes.strong_good).mean()),
            cost=float(
                (outcomes.weak_cost.sum() + outcomes.strong_cost[failed].sum())
                / outcomes.strong_cost.sum()
            ),
        )
        # Failed checks escalate first; the router's score orders the rest (and breaks
        # ties among the failed), so one threshold sweeps the whole cascade curve.
        cascade_score = failed * 2.0 + score
        cascade = sweep(outcomes, cascade_score, pay_weak_always=True)
        result.intervals["cascade+router"] = bootstrap_interval(
            outcomes, cascade_score, pay_weak_always=True
        )
        result.curves["cascade+router"] = cascade
        result.points["cascade (rules)"] = rules
        result.points["cascade+router"] = first_reaching(cascade, target)
    result.apgr = {name: apgr(outcomes, curve) for name, curve in result.curves.items()}
    result.vs_random = versus_random(outcomes, result.curves["router"])
    return result


def describe_point(point: Point | None) -> str:
    if point is None:
        return "never reaches 95%"
    return (
        f"{point.share:.1%} strong calls, accuracy {point.accuracy:.3f}, "
        f"{point.cost:.1%} of always-strong cost"
    )


def _reaches(result: ScenarioResult, point: Point | None) -> bool:
    return point is not None and point.accuracy >= result.outcomes.target - 1e-12


def cost_target(result: ScenarioResult, method: str, max_cost: float) -> Target:
    """95% quality at <= max_cost of always-strong."""
    point = result.points.get(method)
    met = _reaches(result, point) and point is not None and point.cost <= max_cost
    return Target(f"{method}: 95% quality at <= {max_cost:.0%} cost", met, describe_point(point))


def share_target(result: ScenarioResult, method: str, max_share: float) -> Target:
    """95% quality with <= max_share strong calls."""
    point = result.points.get(method)
    met = _reaches(result, point) and point is not None and point.share <= max_share
    return Target(
        f"{method}: 95% quality with <= {max_share:.0%} strong calls", met, describe_point(point)
    )


def random_target(result: ScenarioResult) -> Target:
    """Router curve above the random router at every interior threshold."""
    vs = result.vs_random
    if vs is None:
        return Target("router beats random at every point", False, "not computed")
    return Target(
        "router beats random at every point of the curve",
        vs.beats_everywhere,
        f"{vs.points} thresholds: {vs.below_by_share} below random by strong share "
        f"(worst {vs.worst_margin_share:+.2%}), {vs.below_by_cost} below by cost "
        f"(worst {vs.worst_margin_cost:+.2%})",
    )
