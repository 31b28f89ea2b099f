"""`auto` over models by expected utility: Thompson sampling, bounded exploration, verification."""

from __future__ import annotations

import random

import numpy as np
import pytest

from app.routing.arms import ModelOption
from app.routing.catalog import ModelSpec, Prices, load_catalog
from app.routing.classifier import TaskClassifier
from app.routing.clusters import ClusterMatch, TopicClusters
from app.routing.exploration import ExplorationBudget
from app.routing.observations import (
    ANY,
    Cell,
    CellKey,
    Counts,
    InMemoryStatsStore,
    Observation,
    level_keys,
    model_arm,
)
from app.routing.online import OnlineLearner, OnlineView, request_arms
from app.routing.online_config import OnlineConfig
from app.routing.policy import Auto, RouteInputs, route_request
from app.routing.utility import choose_by_utility, verified_success

CATALOG = load_catalog()
MATCH = ClusterMatch("ood:c01", 0.01, 9.0, False, "topic similarity 0.01 < 0.05")
MATH = (
    "Tom buys 3 boxes of apples with 12 apples each. He gives away 7 apples and sells the "
    "rest for $2 each. How much money does he make?"
)


def spec(name: str, tier: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        tier=tier,  # type: ignore[arg-type]
        provider="recorded",
        litellm_model=name,
        price_per_mtok=Prices(input=1.0, output=1.0, cached_input=0.0),
        context_window=8_000,
    )


# name, tier, cost (share of the default's), true success rate
MODELS = [
    ("poor", "edge", 0.01, 0.30),
    ("adequate", "edge", 0.05, 0.88),
    ("good", "mid", 0.30, 0.90),
    ("frontier", "frontier", 1.00, 0.97),
]
PRIOR = {"edge": 0.6, "mid": 0.7, "frontier": 0.8}  # the catalog's weak unknown_prior


def options() -> list[ModelOption]:
    return [
        ModelOption(spec(n, t), PRIOR[t], False, cost, default=n == "frontier")
        for n, t, cost, _ in MODELS
    ]


def view(
    store: InMemoryStatsStore, budget: ExplorationBudget | None, config: OnlineConfig
) -> OnlineView:
    keys = [k for n, *_ in MODELS for k in level_keys(ANY, "qa", "ood:c01", model_arm(n), "", ANY)]
    return OnlineView("qa", MATCH, "ood:c01", ANY, store.load_now(keys), config, budget, "t")


def feedback(step: int, name: str, good: bool) -> Observation:
    tier = next(t for n, t, *_ in MODELS if n == name)
    return Observation(
        "t", str(step), "user", "qa", "ood:c01", tier, name, float(good), PRIOR[tier]
    )


def run(
    steps: int, weight: float, budget: ExplorationBudget | None, seed: int = 3
) -> tuple[list[str], list[bool], list[str]]:
    """Serve `steps` requests, rating each served answer by the model's true rate."""
    store, config = InMemoryStatsStore(), OnlineConfig(explore_share=1.0)
    rng, truth = random.Random(seed), np.random.default_rng(seed)
    served, explored, reasons = [], [], []
    for step in range(steps):
        choice = choose_by_utility(
            options(), view(store, budget, config), cost_weight=weight, rng=rng
        )
        assert choice is not None and choice.verify is None  # not verifiable: no pair
        name, _, _, rate = MODELS[choice.index]
        served.append(name)
        explored.append(choice.explored)
        reasons.append(choice.why)
        store.add_now([feedback(step, name, bool(truth.random() < rate))])
    return served, explored, reasons


def test_thompson_sampling_drops_a_poor_model_and_serves_the_cheap_adequate_one() -> None:
    served, _, reasons = run(400, weight=0.3, budget=None)
    late = served[200:]
    assert late.count("adequate") / len(late) > 0.8
    assert served.count("poor") < 25  # ruled out after a handful of wrong answers
    assert served.count("frontier") < 40  # a dearer model, barely better: rarely paid for
    assert any(r.startswith("highest expected utility") for r in reasons[200:])


def test_a_small_cost_weight_buys_the_better_model() -> None:
    served, _, _ = run(400, weight=0.0, budget=None)
    assert served[200:].count("frontier") / 200 > 0.5  # cost ignored: the best rate wins


def test_exploration_by_sampling_stays_within_the_share_and_says_so() -> None:
    budget = ExplorationBudget(0.1)
    _, explored, reasons = run(200, weight=0.3, budget=budget)
    assert 0 < sum(explored) <= 0.1 * 200 + 1e-9
    said = [r for r, e in zip(reasons, explored, strict=True) if e]
    assert all(r.startswith("exploring ") and "decisions explored" in r for r in said)


def known_cells(rates: dict[str, float], events: float = 200.0) -> dict[CellKey, Cell]:
    cells = {}
    for name, tier, _, _ in MODELS:
        rate = rates.get(name)
        if rate is None:
            continue
        counts = Counts(events, events * rate, events * PRIOR[tier])
        for key in level_keys(ANY, "qa", "ood:c01", model_arm(name), "", ANY):
            cells[key] = Cell({"user": counts})
    return cells


@pytest.mark.parametrize(("weight", "verified"), [(0.05, True), (1.0, False)])
def test_a_checked_pair_competes_and_wins_only_where_the_check_pays(
    weight: float, verified: bool
) -> None:
    cells = known_cells({"poor": 0.3, "adequate": 0.85, "good": 0.85, "frontier": 0.95})
    v = OnlineView("qa", MATCH, "ood:c01", ANY, cells, OnlineConfig(), ExplorationBudget(0.0), "t")
    choice = choose_by_utility(
        options(), v, cost_weight=weight, rng=random.Random(0), verifiable=True
    )
    assert choice is not None
    if verified:
        # 'adequate' answers, a second model must agree, else the default answers.
        assert choice.verify is not None and choice.verify[0] == 1
        assert MODELS[choice.index][0] == "frontier"
        assert choice.why.startswith("verify: adequate and ")
    else:
        assert choice.verify is None and MODELS[choice.index][0] == "adequate"


def test_the_checked_success_counts_errors_that_cheap_models_share() -> None:
    assert verified_success(1.0, 1.0, 0.5) == pytest.approx((1.0, 0.0))
    success, escalate = verified_success(0.85, 0.85, 0.95)
    assert 0.85 < success < 0.95 and 0.0 < escalate < 0.3
    # Models that err together disagree less, so they escalate less and catch less.
    alone, never = verified_success(0.85, 0.85, 0.0)
    assert alone < 0.85 and never == pytest.approx(escalate)


async def test_in_the_service_feedback_moves_auto_by_utility_and_the_reason_says_so() -> None:
    classifier, clusters = TaskClassifier.load(), TopicClusters.load()
    config = OnlineConfig(explore_share=0.0, cost_weight=1.0)
    learner = OnlineLearner(clusters, InMemoryStatsStore(), config)
    c = classifier.classify([{"role": "user", "content": MATH}])

    async def decide() -> tuple[str, str, OnlineView]:
        arms = request_arms(CATALOG, c.p_good)
        v = await learner.view(tenant="acme", task_class=c.task_class, text=MATH, arms=arms)
        route = route_request(Auto(), CATALOG, inputs=RouteInputs(200, c, online=v))
        return route.candidates[0].name, route.reason, v

    model, reason, v = await decide()
    assert model == "edge-a" and "edge-a: highest expected utility" in reason
    tier = CATALOG.model("edge-a").tier
    p = c.p_good[tier]
    wrong = [
        Observation("acme", f"a{i}", "user", c.task_class, v.cluster, tier, "edge-a", 0.0, p)
        for i in range(30)
    ]
    await learner.record(wrong)
    model, reason, _ = await decide()
    assert model == "edge-b" and "edge-b: highest expected utility" in reason
    assert "edge-a(prior" in reason and "from 30 events in cluster" in reason
