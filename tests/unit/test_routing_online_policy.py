"""Feedback reaching `auto` and the cascade through the store, with the shipped artifacts."""

from __future__ import annotations

import pytest

from app.routing.cascade import cascade_step, verified_condition
from app.routing.catalog import load_catalog
from app.routing.classifier import Classification, TaskClassifier
from app.routing.clusters import TopicClusters
from app.routing.feedback import (
    ANY,
    InMemoryStatsStore,
    Observation,
    observation_keys,
)
from app.routing.online import OnlineConfig, OnlineLearner, OnlineView, request_arms
from app.routing.policy import Auto, Cascade, RouteInputs, route_request
from app.routing.verifiers import Verdict

CATALOG = load_catalog()
MATH = (
    "Tom buys 3 boxes of apples with 12 apples each. He gives away 7 apples and sells the "
    "rest for $2 each. How much money does he make?"
)


@pytest.fixture(scope="module")
def classifier() -> TaskClassifier:
    return TaskClassifier.load()


@pytest.fixture(scope="module")
def clusters() -> TopicClusters:
    return TopicClusters.load()


def arms(c: Classification, condition: str = "") -> list[tuple[str, str, float]]:
    return request_arms(CATALOG, c.p_good, [("edge", condition)] if condition else [])


async def decide(
    learner: OnlineLearner, c: Classification, text: str, tenant: str = "acme"
) -> tuple[str, str, OnlineView]:
    view = await learner.view(tenant=tenant, task_class=c.task_class, text=text, arms=arms(c))
    policy = Auto(threshold=c.p_good["edge"] - 0.05)  # the prior alone picks edge
    route = route_request(policy, CATALOG, inputs=RouteInputs(200, c, online=view))
    return route.tier, route.reason, view


def thumbs(
    c: Classification, view: OnlineView, tier: str, score: float, n: int, tenant: str = "acme"
) -> list[Observation]:
    return [
        Observation(tenant, f"{tenant}-{tier}-{i}", "user", c.task_class, view.cluster, tier,
                    f"{tier}-a", score, c.p_good[tier])
        for i in range(n)
    ]  # fmt: skip


async def test_feedback_changes_the_next_auto_decision_and_the_reason_says_why(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    c = classifier.classify([{"role": "user", "content": MATH}])
    tier, reason, view = await decide(learner, c, MATH)
    assert tier == "edge"
    assert "0 feedback events in cluster" in reason
    await learner.record(thumbs(c, view, "edge", 0.0, 30))  # edge's answers were wrong
    tier, reason, _ = await decide(learner, c, MATH)
    assert tier != "edge"
    assert f"class={c.task_class}" in reason and "(online)" in reason
    assert "30 feedback events in cluster, 30 in class" in reason
    assert f"prior {c.p_good['edge']:.2f} -> est 0.0" in reason  # the estimate collapsed


async def test_feedback_stays_with_its_tenant_when_tables_are_per_tenant(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(
        clusters, InMemoryStatsStore(per_tenant=True), OnlineConfig(explore_share=0.0)
    )
    c = classifier.classify([{"role": "user", "content": MATH}])
    _, _, view = await decide(learner, c, MATH, tenant="acme")
    await learner.record(thumbs(c, view, "edge", 0.0, 30, tenant="acme"))
    assert (await decide(learner, c, MATH, tenant="acme"))[0] != "edge"
    assert (await decide(learner, c, MATH, tenant="globex"))[0] == "edge"


def test_feedback_is_idempotent_per_call_and_source() -> None:
    store = InMemoryStatsStore()
    first = Observation("acme", "call-1", "user", "math", "c1", "edge", "edge-a", 0.0, 0.8)
    store.add_now([first, first])
    key = observation_keys(first, ANY)[2]
    assert store.load_now([key])[key].by_source["user"].events == 1
    store.add_now([Observation("acme", "call-1", "user", "math", "c1", "edge", "edge-a", 1.0, 0.8)])
    counts = store.load_now([key])[key].by_source["user"]
    assert (counts.events, counts.good) == (1, 1)  # the new score replaced the old one
    store.add_now(
        [
            Observation(
                "acme", "call-1", "cascade_verifier", "math", "c1", "edge", "edge-a", 0.0, 0.8
            )
        ]
    )
    assert store.load_now([key])[key].events == 2  # another source on the same call counts
    assert len(store) == 2 and len(observation_keys(first, ANY)) == 6


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("score", 1.5, "score must be within 0..1"),
        ("prior_p", -0.1, "prior_p must be within 0..1"),
        ("source", "thumbs", "unknown feedback source"),
        ("call_id", "", "call_id must not be empty"),
    ],
)
def test_bad_observations_are_refused(field: str, value: object, message: str) -> None:
    fields: dict[str, object] = {
        "tenant": "acme", "call_id": "c", "source": "user", "task_class": "math",
        "cluster": "c1", "tier": "edge", "model": "edge-a", "score": 1.0, "prior_p": 0.5,
    }  # fmt: skip
    fields[field] = value
    with pytest.raises(ValueError, match=message):
        Observation(**fields)  # type: ignore[arg-type]


async def test_models_are_reordered_once_feedback_shows_one_is_better(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    c = classifier.classify([{"role": "user", "content": MATH}])
    view = await learner.view(tenant="acme", task_class=c.task_class, text=MATH, arms=arms(c))
    ratings = (("frontier-a", 0.0), ("frontier-b", 1.0), ("mid-a", 0.0), ("edge-a", 0.0))
    for model, score in ratings:
        tier = CATALOG.model(model).tier
        await learner.record(
            [
                Observation("acme", f"{model}-{i}", "user", c.task_class, view.cluster,
                            tier, model, score, c.p_good[tier])
                for i in range(15)
            ]
        )  # fmt: skip
    view = await learner.view(tenant="acme", task_class=c.task_class, text=MATH, arms=arms(c))
    route = route_request(Auto(threshold=0.99), CATALOG, inputs=RouteInputs(200, c, online=view))
    assert route.tier == "frontier"
    assert [m.name for m in route.candidates] == ["frontier-b", "frontier-a"]
    assert "models reordered by estimated success" in route.reason


async def test_the_cascade_learns_whether_verified_cheap_answers_are_good(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    c = classifier.classify([{"role": "user", "content": MATH}])
    policy = Cascade(min_p_good=0.9, relative=True)
    accepted = Verdict(True, "3 worked steps check out")
    condition = verified_condition(policy.verifier)

    async def step() -> tuple[bool, str]:
        view = await learner.view(
            tenant="acme", task_class=c.task_class, text=MATH, arms=arms(c, condition)
        )
        decision = cascade_step(policy, tier="edge", next_tier="frontier", verdict=accepted,
                                model="edge-a", classification=c, online=view)  # fmt: skip
        return decision.keep, decision.reason

    view = await learner.view(tenant="acme", task_class=c.task_class, text=MATH, arms=arms(c))
    p_edge = c.p_good["edge"]
    await learner.record(
        [
            Observation("acme", f"k{i}", "user", c.task_class, view.cluster, "edge", "edge-a",
                        1.0, p_edge, condition)
            for i in range(30)
        ]
    )  # fmt: skip
    keep, reason = await step()
    assert keep and "kept (online)" in reason
    await learner.record(
        [
            Observation(
                "acme",
                f"k{i}",
                "user",
                c.task_class,
                view.cluster,
                "edge",
                "edge-a",
                0.0,
                p_edge,
                condition,
            )
            for i in range(30)
        ]
    )  # fmt: skip
    keep, reason = await step()
    assert not keep and "escalated to frontier (online)" in reason
    assert "verified edge prior" in reason and "30 feedback events in cluster" in reason


def test_the_cascade_always_escalates_a_rejected_answer_and_keeps_offline_behaviour() -> None:
    c = Classification("math", 0.4, {"edge": 0.6, "mid": 0.7, "frontier": 0.8})
    rejected = cascade_step(Cascade(), tier="edge", next_tier="frontier",
                            verdict=Verdict(False, "no final number"), model="edge-a",
                            classification=c)  # fmt: skip
    assert not rejected.keep and "rejected edge-a's answer (no final number)" in rejected.reason
    low = cascade_step(Cascade(min_p_good=0.7), tier="edge", next_tier="frontier",
                       verdict=Verdict(True, "ok"), model="edge-a", classification=c)  # fmt: skip
    assert not low.keep and "router predicts p=0.60 < 0.70" in low.reason
    kept = cascade_step(Cascade(), tier="edge", next_tier="frontier", verdict=Verdict(True, "ok"),
                        model="edge-a", classification=c)  # fmt: skip
    assert kept.keep and kept.condition == "arithmetic:accepted"


async def test_out_of_distribution_requests_say_so_and_go_to_the_safe_tier(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    text = "Write a Python function that merges two sorted lists and returns the result."
    c = classifier.classify([{"role": "user", "content": text}])
    view = await learner.view(tenant="acme", task_class=c.task_class, text=text, arms=arms(c))
    assert not view.in_distribution
    route = route_request(Auto(threshold=0.0), CATALOG, inputs=RouteInputs(200, c, online=view))
    assert route.tier == "frontier"  # even a zero bar: no evidence, so only the safe tier
    assert "OUT OF DISTRIBUTION" in route.reason and "prior not trusted" in route.reason
