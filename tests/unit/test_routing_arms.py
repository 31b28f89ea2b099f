"""Models as arms: the estimator, the bounded exploration, and learning on a replayed stream."""

from __future__ import annotations

import numpy as np
import pytest

from app.routing.arms import ModelOption, beta_estimate, choose_model
from app.routing.catalog import load_catalog
from app.routing.classifier import TaskClassifier
from app.routing.clusters import ClusterMatch, TopicClusters
from app.routing.exploration import ExplorationBudget
from app.routing.observations import ANY, Counts
from app.routing.online import OnlineView
from app.routing.online_config import OnlineConfig
from devtools.bench.many_models import Settings, prepare, replay
from devtools.bench.routerbench_data import Stream

CATALOG = load_catalog()


def estimate(levels: list[Counts], prior: float = 0.8, trusted: bool = True) -> float:
    return beta_estimate(
        levels,
        [c.events for c in levels],
        prior,
        prior_strength=20.0 if trusted else 2.0,
        backoff_strength=10.0,
        interval_z=1.645,
        trusted=trusted,
    ).mean


def test_an_event_counts_once_however_many_levels_hold_it() -> None:
    one_failure = [Counts(1, 0, 0.8)] * 3  # the same event at all, class and cluster
    assert estimate(one_failure) == pytest.approx((20 * 0.8) / 21, abs=1e-9)
    assert estimate([Counts()] * 3) == pytest.approx(0.8)


def test_a_cluster_unlike_its_class_is_learned_and_a_weak_prior_yields_fast() -> None:
    # The class fails everywhere else; this cluster's own 12 answers were all right.
    levels = [Counts(112, 12, 89.6), Counts(112, 12, 89.6), Counts(12, 12, 9.6)]
    assert estimate(levels) > 0.8
    assert estimate([Counts(10, 10, 6)] * 3, prior=0.6, trusted=False) > 0.9


def test_exploration_is_capped_by_share_and_by_money_per_tenant() -> None:
    budget = ExplorationBudget(0.1, money_usd=0.05)
    allowed = [budget.decide(True, "acme", extra_usd=0.01) for _ in range(100)]
    assert sum(allowed) == 5  # the money ran out before the 10% share did
    assert budget.decide(True, "globex", extra_usd=0.01) is False  # 1 decision: 10% < 1
    assert [budget.decide(True, "globex") for _ in range(9)].count(True) == 1
    assert budget.describe("acme") == (
        "5 of 100 decisions explored (5.0%, cap 10%, $0.0500 of $0.05 extra spend)"
    )


def view(config: OnlineConfig, cells: dict | None = None) -> OnlineView:  # type: ignore[type-arg]
    match = ClusterMatch("ood:c01", 0.01, 9.0, False, "topic similarity 0.01 < 0.05")
    return OnlineView(
        "reasoning", match, "ood:c01", ANY, cells or {}, config, ExplorationBudget(0.5), "t"
    )


def options() -> list[ModelOption]:
    return [
        ModelOption(m, CATALOG.unknown_prior[m.tier], False, cost, default=m.name == "frontier-a")
        for m, cost in zip(CATALOG.by_price(), (0.001, 0.001, 0.01, 0.01, 0.05, 0.05), strict=True)
    ]


def test_with_nothing_known_a_verifiable_request_is_verified_else_the_default_answers() -> None:
    config = OnlineConfig(explore_share=0.0)
    verify = choose_model(options(), view(config), threshold=0.9, relative=True, verifiable=True)
    assert verify is not None and verify.verify == (0, 1)  # edge-a and edge-b must agree
    assert options()[verify.index].model.name == "frontier-a"  # or the default answers
    plain = choose_model(options(), view(config), threshold=0.9, relative=True)
    assert plain is not None and plain.verify is None
    assert options()[plain.index].model.name == "frontier-a"


def test_exploration_measures_the_default_first_and_says_what_it_used() -> None:
    config = OnlineConfig(explore_share=0.5)
    v = view(config)
    first = choose_model(options(), v, threshold=0.9, relative=True)
    second = choose_model(options(), v, threshold=0.9, relative=True)
    assert first is not None and second is not None
    assert not first.explored and second.explored  # 1 of 2 decisions: within 50%
    assert "exploring" in second.why and "1 of 2 decisions explored (50.0%, cap 50%)" in second.why


def stream(n: int = 300) -> Stream:
    """Three models: 'cheap' is right on task A only, 'mid' everywhere, 'strong' everywhere."""
    rng = np.random.default_rng(7)
    tasks = ["A" if i % 2 else "B" for i in range(n)]
    correct = np.array(
        [[float(t == "A" and rng.random() < 0.95), float(rng.random() < 0.9), 1.0] for t in tasks]
    )
    cost = np.tile([0.01, 0.1, 1.0], (n, 1))
    prompts = [
        f"Question {i} about {'rivers' if t == 'A' else 'volcanoes'} and their names?"
        for i, t in enumerate(tasks)
    ]
    answers: list[list[str | None]] = [[None, None, None] for _ in tasks]
    return Stream(
        "toy", ("cheap", "mid", "strong"), "strong", prompts, tasks, correct, cost, answers
    )


def test_auto_learns_per_task_which_cheap_model_suffices_from_bandit_feedback() -> None:
    s = stream()
    prices = {"cheap": 0.01, "mid": 0.1, "strong": 1.0}
    p = prepare(
        s, prices, TaskClassifier.load(), TopicClusters.load(), classifier_knows_models=False
    )
    p = p.__class__(**{**p.__dict__, "task_class": list(s.tasks)})  # the tasks are the classes
    order = np.random.default_rng(0).permutation(len(p))
    trace = replay(p, order, Settings(0.85, False, OnlineConfig(explore_share=0.2)))
    late = np.arange(len(order)) >= len(order) // 2
    task_a = np.array([s.tasks[i] == "A" for i in order])
    served = np.array(s.models)[trace.served]
    assert (served[late & task_a] == "cheap").mean() > 0.6  # up to 20% go to exploring
    assert (served[late & ~task_a] == "cheap").mean() < 0.15
    assert trace.explored.mean() <= 0.2 + 1e-9
    assert trace.cost[late].sum() < 0.3 * s.cost[order[late], 2].sum()
