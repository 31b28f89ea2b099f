"""Feedback reaching `auto` and the cascade through the store, with the shipped artifacts."""

from __future__ import annotations

import pytest

from app.routing.cascade import cascade_step, verified_condition
from app.routing.catalog import load_catalog
from app.routing.classifier import Classification, TaskClassifier
from app.routing.clusters import TopicClusters
from app.routing.observations import (
    ANY,
    InMemoryStatsStore,
    Observation,
    observation_keys,
)
from app.routing.online import OnlineLearner, OnlineView, request_arms
from app.routing.online_config import OnlineConfig
from app.routing.policy import Auto, Cascade, RouteInputs, route_request
from app.routing.verifiers import Verdict

CATALOG = load_catalog()
MATH = (
    "Tom buys 3 boxes of apples with 12 apples each. He gives away 7 apples and sells the "
    "rest for $2 each. How much money does he make?"
)


def arms(c: Classification, condition: str = "") -> list[tuple[str, str, float]]:
    return request_arms(CATALOG, c.p_good, [("edge", condition)] if condition else [])


async def decide(
    learner: OnlineLearner, c: Classification, text: str, tenant: str = "acme"
) -> tuple[str, str, OnlineView]:
    """The model `auto` picks first for `text`, the reason, and the view it decided on."""
    view = await learner.view(tenant=tenant, task_class=c.task_class, text=text, arms=arms(c))
    policy = Auto(threshold=c.p_good["edge"] - 0.05)  # the prior alone picks edge
    route = route_request(policy, CATALOG, inputs=RouteInputs(200, c, online=view))
    return route.candidates[0].name, route.reason, view


def thumbs(
    c: Classification, view: OnlineView, model: str, score: float, n: int, tenant: str = "acme"
) -> list[Observation]:
    tier = CATALOG.model(model).tier
    return [
        Observation(tenant, f"{tenant}-{model}-{i}", "user", c.task_class, view.cluster, tier,
                    model, score, c.p_good[tier])
        for i in range(n)
    ]  # fmt: skip


async def test_feedback_moves_auto_from_one_model_to_another_and_the_reason_says_why(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    c = classifier.classify([{"role": "user", "content": MATH}])
    model, reason, view = await decide(learner, c, MATH)
    assert model == "edge-a"
    p_edge = f"{c.p_good['edge']:.2f}"
    assert f"edge-a(prior {p_edge} -> est {p_edge}" in reason and "0 events in cluster" in reason
    await learner.record(thumbs(c, view, "edge-a", 0.0, 30))  # edge-a's answers were wrong
    model, reason, _ = await decide(learner, c, MATH)
    assert model == "edge-b"  # the same tier, another model: arms are models
    assert f"class={c.task_class}" in reason and "(online)" in reason
    edge_a = reason.split(f"edge-a(prior {p_edge} -> est ", 1)[1]
    assert float(edge_a[:4]) < 0.4  # the estimate fell
    assert "from 30 events in cluster, 30 in class, 30 overall" in reason
    await learner.record(thumbs(c, view, "edge-b", 0.0, 30))
    assert (await decide(learner, c, MATH))[0] == "mid-a"


async def test_feedback_stays_with_its_tenant_when_tables_are_per_tenant(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(
        clusters, InMemoryStatsStore(per_tenant=True), OnlineConfig(explore_share=0.0)
    )
    c = classifier.classify([{"role": "user", "content": MATH}])
    _, _, view = await decide(learner, c, MATH, tenant="acme")
    await learner.record(thumbs(c, view, "edge-a", 0.0, 30, tenant="acme"))
    assert (await decide(learner, c, MATH, tenant="acme"))[0] == "edge-b"
    assert (await decide(learner, c, MATH, tenant="globex"))[0] == "edge-a"


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


async def test_the_best_estimated_model_leads_when_none_clears_the_bar(
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
    assert "best estimated frontier-b" in route.reason


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


async def test_failures_elsewhere_in_the_class_do_not_shut_the_cascade_out_of_a_cluster(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    # Verified cheap answers failed three times in another cluster of the task class: the
    # pooled estimate here falls below the keep bar, although this cluster was never tried.
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.25))
    c = classifier.classify([{"role": "user", "content": MATH}])
    policy = Cascade(min_p_good=0.8, relative=True)  # the prior alone keeps edge's answer
    condition = verified_condition(policy.verifier)
    p_edge = c.p_good["edge"]

    def verified(cluster: str, score: float, n: int, tag: str) -> list[Observation]:
        return [
            Observation("acme", f"{tag}{i}", "user", c.task_class, cluster, "edge", "edge-a",
                        score, p_edge, condition)
            for i in range(n)
        ]  # fmt: skip

    async def steps(n: int) -> list[tuple[bool, bool, str]]:
        out = []
        for _ in range(n):
            view = await learner.view(
                tenant="acme", task_class=c.task_class, text=MATH, arms=arms(c, condition)
            )
            step = cascade_step(policy, tier="edge", next_tier="frontier",
                                verdict=Verdict(True, "ok"), model="edge-a",
                                classification=c, online=view)  # fmt: skip
            out.append((step.keep, step.explored, step.reason))
        return out

    view = await learner.view(tenant="acme", task_class=c.task_class, text=MATH, arms=arms(c))
    assert view.in_distribution and view.cluster != "c99:elsewhere"
    await learner.record(verified("c99:elsewhere", 0.0, 3, "x"))
    decisions = await steps(40)
    kept = [d for d in decisions if d[0]]
    # Every keep is an exploration, within the tenant's share, and says so with the budget.
    assert 0 < len(kept) <= 0.25 * len(decisions)
    assert all(explored for _, explored, _ in kept)
    assert "exploring keep edge instead of frontier" in kept[0][2]
    assert "decisions explored" in kept[0][2]
    # Bounded: once this cluster's own kept answers fail too, it stops trying them.
    await learner.record(verified(view.cluster, 0.0, 10, "y"))
    assert not any(keep for keep, _, _ in await steps(40))


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


async def unfamiliar_code_request(
    classifier: TaskClassifier, clusters: TopicClusters, explore_share: float = 0.0
) -> tuple[Classification, OnlineView]:
    """A code request the classifier never saw, and a fresh learner's view of it."""
    config = OnlineConfig(explore_share=explore_share)
    learner = OnlineLearner(clusters, InMemoryStatsStore(), config)
    text = "Write a Python function that merges two sorted lists and returns the result."
    c = classifier.classify([{"role": "user", "content": text}])
    view = await learner.view(tenant="acme", task_class=c.task_class, text=text, arms=arms(c))
    return c, view


async def test_an_unfamiliar_request_that_cannot_be_compared_is_answered_cheap_and_judged(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    c, view = await unfamiliar_code_request(classifier, clusters)
    assert not view.in_distribution
    route = route_request(Auto(threshold=0.0), CATALOG, inputs=RouteInputs(200, c, online=view))
    # code: agreement cannot check it, a judge can; a rejection escalates to the best model
    assert route.tier == "frontier" and route.verify is not None
    assert route.verify.verifier == "judge" and route.verify.judge_with == "mid-a"
    assert route.verify.models == ("edge-a", "frontier-a")
    assert "verify: edge-a answers, mid-a judges, else frontier-a" in route.reason
    assert "OUT OF DISTRIBUTION" in route.reason and "weak prior" in route.reason
    assert "unproven" in route.reason


async def test_exploring_never_serves_an_unfamiliar_request_a_cheap_answer_unchecked(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    # Every decision may explore: the judge check still comes first (its verdicts measure
    # the cheap model anyway), so the cheap answer is judged and escalates on a rejection.
    c, view = await unfamiliar_code_request(classifier, clusters, explore_share=1.0)
    for _ in range(5):
        route = route_request(Auto(threshold=0.0), CATALOG, inputs=RouteInputs(200, c, online=view))
        assert route.verify is not None and route.verify.verifier == "judge", route.reason
        assert route.verify.models == ("edge-a", "frontier-a") and not route.explored


async def test_an_unfamiliar_request_that_cannot_be_verified_starts_high_without_verify(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    c, view = await unfamiliar_code_request(classifier, clusters)
    best_rated = Auto(threshold=0.0, verify=False)  # frontier-only stays an explicit choice
    route = route_request(best_rated, CATALOG, inputs=RouteInputs(200, c, online=view))
    assert route.tier == "frontier" and route.verify is None
    assert "no known model clears" in route.reason and "judges" not in route.reason


async def test_an_unfamiliar_request_with_a_comparable_answer_is_verified_not_sent_high(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    text = (
        "Which gas do plants take in for photosynthesis?\nA) oxygen\nB) carbon dioxide\n"
        "C) nitrogen\nD) helium\nAnswer with one letter."
    )
    c = classifier.classify([{"role": "user", "content": text}])
    view = await learner.view(tenant="acme", task_class=c.task_class, text=text, arms=arms(c))
    assert not view.in_distribution
    inputs = RouteInputs(200, c, online=view, verifiable=True)
    route = route_request(Auto(threshold=0.75), CATALOG, inputs=inputs)
    assert route.verify is not None
    assert route.verify.verifier == "agreement"
    assert route.verify.models == ("edge-a", "frontier-a")  # the cheapest, else the best
    assert route.verify.agree_with == "edge-b"
    assert "verify: edge-a and edge-b answer and must agree" in route.reason
    frontier_only = Auto(threshold=0.75, verify=False)  # an explicit choice
    assert route_request(frontier_only, CATALOG, inputs=inputs).verify is None


async def test_everyday_chat_is_a_known_class_routed_to_the_edge_tier(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    for text in ("What is the capital of France?", "Name three colours please."):
        c = classifier.classify([{"role": "user", "content": text}])
        assert c.task_class == "chat"
        view = await learner.view(tenant="acme", task_class="chat", text=text, arms=arms(c))
        route = route_request(Auto(), CATALOG, inputs=RouteInputs(20, c, online=view))
        assert route.tier == "edge" and route.candidates[0].name == "edge-a", route.reason
        assert "a known task class" in route.reason
