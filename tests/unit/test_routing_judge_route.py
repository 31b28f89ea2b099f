"""`auto`'s choice for an unfamiliar request whose answer cannot be compared: a cheap answer
with a judge check where that is expected to pay off, the best-rated model where not."""

from __future__ import annotations

from app.routing.catalog import load_catalog
from app.routing.classifier import TaskClassifier
from app.routing.clusters import TopicClusters
from app.routing.observations import InMemoryStatsStore, Observation
from app.routing.online import OnlineLearner, request_arms
from app.routing.online_config import OnlineConfig
from app.routing.policy import Auto, Route, RouteInputs, route_request
from app.routing.provider_rules import EffectiveRules, ProviderRules

CATALOG = load_catalog()
LIMERICK = "Compose a limerick about a cat who learned to play the bassoon."


async def route_of(
    classifier: TaskClassifier,
    clusters: TopicClusters,
    text: str,
    policy: Auto,
    *,
    prompt_tokens: int = 40,
    budget: float | None = None,
) -> Route:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    c = classifier.classify([{"role": "user", "content": text}])
    view = await learner.view(
        tenant="acme", task_class=c.task_class, text=text, arms=request_arms(CATALOG, c.p_good)
    )
    inputs = RouteInputs(prompt_tokens, c, remaining_budget_usd=budget, online=view)
    return route_request(policy, CATALOG, inputs=inputs)


async def test_unfamiliar_prose_is_answered_by_the_cheapest_plausible_model_and_judged(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    route = await route_of(classifier, clusters, LIMERICK, Auto())
    assert route.verify is not None and route.verify.verifier == "judge"
    assert route.verify.models == ("edge-a", "frontier-a")  # answers, else escalates to
    assert route.verify.tiers == ("edge", "frontier")
    assert route.verify.judge_with == "mid-a"  # the mid tier's first model by default
    assert route.candidates[0].name == "frontier-a"  # the route itself: the escalation
    assert route.reason.startswith(
        "auto (online): frontier-a: verify: edge-a answers, mid-a judges, else frontier-a "
        "(bar 0.75; no known model clears it and the answer cannot be compared; expected ~$"
    )
    assert "40% escalations x frontier-a" in route.reason  # edge-a's weak prior: 0.6
    assert route.verify.lead == route.reason.rsplit("; chain ", 1)[0]


async def test_a_named_judge_is_the_one_asked(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    route = await route_of(classifier, clusters, LIMERICK, Auto(judge_with="mid-b"))
    assert route.verify is not None and route.verify.judge_with == "mid-b"
    assert "verify: edge-a answers, mid-b judges, else frontier-a" in route.reason


async def test_a_named_judge_the_provider_rules_took_out_is_not_swapped_for_another(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    c = classifier.classify([{"role": "user", "content": LIMERICK}])
    rules = ProviderRules(allowed_models=tuple(m for m in CATALOG.models if m != "mid-b"))
    allowed, _ = EffectiveRules((("tenant acme", rules),)).restrict(CATALOG, 40, 400)
    assert allowed is not None
    view = await learner.view(
        tenant="acme", task_class=c.task_class, text=LIMERICK, arms=request_arms(allowed, c.p_good)
    )
    inputs = RouteInputs(40, c, online=view)
    route = route_request(Auto(judge_with="mid-b"), allowed, inputs=inputs)
    assert route.verify is None and route.candidates[0].name == "frontier-a"
    assert "no judge check: the judge mid-b is not among the models allowed here" in route.reason


async def test_the_services_judge_setting_is_used_unless_the_policy_names_one(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(
        clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0, judge_with="mid-b")
    )
    c = classifier.classify([{"role": "user", "content": LIMERICK}])
    view = await learner.view(
        tenant="acme", task_class=c.task_class, text=LIMERICK, arms=request_arms(CATALOG, c.p_good)
    )
    inputs = RouteInputs(40, c, online=view)
    route = route_request(Auto(), CATALOG, inputs=inputs)
    assert route.verify is not None and route.verify.judge_with == "mid-b"
    named = route_request(Auto(judge_with="mid"), CATALOG, inputs=inputs)
    assert named.verify is not None and named.verify.judge_with == "mid-a"


async def test_a_judge_dearer_than_the_escalations_it_saves_is_not_asked(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    # A frontier judge reads a long request and the answer at frontier prices: with the
    # cheap answer and 40% escalations it costs more than frontier-a answering alone.
    policy = Auto(judge_with="frontier-b")
    route = await route_of(classifier, clusters, LIMERICK, policy, prompt_tokens=2000)
    assert route.verify is None and route.tier == "frontier"
    assert "no known model clears 0.75; best estimated frontier-a; no judge check: it would " in (
        route.reason
    )
    assert "frontier-b judging" in route.reason and ">= ~$" in route.reason


async def test_no_judge_when_the_budget_could_not_pay_for_an_escalation_after_it(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    route = await route_of(classifier, clusters, LIMERICK, Auto(), budget=0.013)
    assert route.verify is None and route.tier == "frontier"
    assert "no judge check: the run's remaining ~$0.01300 cannot pay" in route.reason


async def test_familiar_prose_a_known_model_clears_is_not_judged(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    haiku = "Write a haiku about the smell of rain on hot asphalt in late August."
    route = await route_of(classifier, clusters, haiku, Auto())
    assert route.verify is None and route.candidates[0].name == "edge-a"
    assert "cheapest known model whose estimate clears" in route.reason


async def test_verify_false_keeps_the_best_rated_model_for_unfamiliar_prose(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    route = await route_of(classifier, clusters, LIMERICK, Auto(verify=False))
    assert route.verify is None and route.candidates[0].name == "frontier-a"
    assert "judge" not in route.reason


async def test_by_expected_utility_auto_does_not_judge(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    """The utility rule prices its options itself; a judge check is not one of them (yet)."""
    route = await route_of(classifier, clusters, LIMERICK, Auto(cost_weight=0.1))
    assert route.verify is None or route.verify.verifier != "judge"


async def test_accepted_verdicts_make_the_cheap_model_known_and_it_is_then_served_alone(
    classifier: TaskClassifier, clusters: TopicClusters
) -> None:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), OnlineConfig(explore_share=0.0))
    c = classifier.classify([{"role": "user", "content": LIMERICK}])

    async def route() -> Route:
        view = await learner.view(
            tenant="acme",
            task_class=c.task_class,
            text=LIMERICK,
            arms=request_arms(CATALOG, c.p_good),
        )
        return route_request(Auto(), CATALOG, inputs=RouteInputs(40, c, online=view))

    first = await route()
    assert first.verify is not None and first.verify.verifier == "judge"
    assert first.learning is not None
    verdicts = [
        Observation("acme", f"judged-{i}", "cascade_verifier", c.task_class,
                    first.learning.cluster, "edge", "edge-a", 1.0, c.p_good["edge"])
        for i in range(10)
    ]  # fmt: skip
    await learner.record(verdicts)  # what the gateway records after each accepted answer
    later = await route()
    assert later.verify is None and later.candidates[0].name == "edge-a", later.reason
    assert "edge-a: cheapest known model whose estimate clears 0.75" in later.reason
