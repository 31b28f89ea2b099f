"""Replays a recorded dataset as a request stream through `auto` or the cascade, learning online.

Each request is routed by the same code the gateway runs (`route_request` with an online
view, `cascade_step`); the answer served is the recorded answer of the model reached
(edge: Mixtral, frontier: GPT-4), and its recorded correctness then arrives as the user's
feedback for that one call, as a thumbs up or down would (nothing is learned about the
model that did not answer). The cascade also records its verifier's verdict as implicit
feedback. The prior and clusters are fixed per scenario, so they are computed once per row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from app.routing.cascade import cascade_step
from app.routing.catalog import Catalog, Tier
from app.routing.classifier import Classification, TaskClassifier
from app.routing.clusters import ClusterMatch, TopicClusters
from app.routing.features import estimate_tokens
from app.routing.observations import InMemoryStatsStore, Observation, model_arm, tier_arm
from app.routing.online import OnlineLearner, OnlineView
from app.routing.online_config import OnlineConfig
from app.routing.policy import Auto, Cascade, RouteInputs, route_request
from app.routing.verifiers import Verdict, verify_arithmetic
from devtools.routing.datasets import Row

Mode = Literal["auto", "cascade"]
TENANT = "bench"
CASCADE_VERIFIER = "arithmetic"


@dataclass(frozen=True)
class StreamRow:
    """One request of the stream with everything fixed before any feedback arrives."""

    row: Row
    classification: Classification
    match: ClusterMatch
    prompt_tokens: int
    weak_cost: float
    strong_cost: float
    verified: bool  # the cascade's verifier accepted the recorded weak answer


@dataclass(frozen=True)
class Trace:
    """Per request, in stream order: strong model called, answer right, cost, exploration."""

    order: np.ndarray
    strong: np.ndarray
    correct: np.ndarray
    cost: np.ndarray
    explored: np.ndarray
    decision_us: np.ndarray


def two_tier_catalog(catalog: Catalog) -> Catalog:
    """Edge and frontier only, one model each: the two models the data recorded."""
    tiers = {name: Tier(models=(catalog.tiers[name].models[0],)) for name in ("edge", "frontier")}
    models = {t.models[0]: catalog.models[t.models[0]] for t in tiers.values()}
    return Catalog(tiers=tiers, models=models)  # type: ignore[arg-type]


def prepare(
    rows: Sequence[Row],
    classifier: TaskClassifier,
    clusters: TopicClusters,
    weak_cost: np.ndarray,
    strong_cost: np.ndarray,
) -> list[StreamRow]:
    """Classify, cluster and verify every row once (all of it is fixed per scenario)."""
    prepared = []
    for i, row in enumerate(rows):
        messages = [{"role": "user", "content": row.prompt}]
        verified = row.weak_response is not None and (
            verify_arithmetic(messages, row.weak_response).accepted
        )
        prepared.append(
            StreamRow(
                row=row,
                classification=classifier.classify(messages),
                match=clusters.match(row.prompt),
                prompt_tokens=estimate_tokens(row.prompt),
                weak_cost=float(weak_cost[i]),
                strong_cost=float(strong_cost[i]),
                verified=verified,
            )
        )
    return prepared


@dataclass(frozen=True)
class ReplaySettings:
    """One configuration of the policy under test."""

    mode: Mode
    threshold: float
    learn: bool
    config: OnlineConfig
    floor: float = 0.0


def replay(
    stream: Sequence[StreamRow],
    order: np.ndarray,
    settings: ReplaySettings,
    catalog: Catalog,
    clusters: TopicClusters,
) -> Trace:
    """Route every request in `order`, serving recorded answers and feeding back outcomes."""
    return asyncio.run(_replay(stream, order, settings, catalog, clusters))


async def _replay(
    stream: Sequence[StreamRow],
    order: np.ndarray,
    settings: ReplaySettings,
    catalog: Catalog,
    clusters: TopicClusters,
) -> Trace:
    learner = OnlineLearner(clusters, InMemoryStatsStore(), settings.config)
    n = len(order)
    strong = np.zeros(n, dtype=bool)
    correct = np.zeros(n, dtype=bool)
    cost = np.zeros(n)
    explored = np.zeros(n, dtype=bool)
    decision_us = np.zeros(n)
    edge_model = catalog.chain("edge")[0].name
    front_model = catalog.chain("frontier")[0].name
    accepted = f"{CASCADE_VERIFIER}:accepted"
    auto = Auto(threshold=settings.threshold, relative=True, floor=settings.floor)
    cascade = Cascade(min_p_good=settings.threshold, relative=True, verifier=CASCADE_VERIFIER)
    for step, index in enumerate(order):
        item = stream[int(index)]
        c = item.classification
        started = time.perf_counter()
        view = None
        if settings.learn:
            p_edge, p_front = c.p_good["edge"], c.p_good["frontier"]
            arms = [
                (tier_arm("edge"), "", p_edge),
                (tier_arm("frontier"), "", p_front),
                (model_arm(edge_model), "", p_edge),
                (model_arm(front_model), "", p_front),
                (tier_arm("edge"), accepted, p_edge),
            ]
            view = await learner.view(
                tenant=TENANT, task_class=c.task_class, text="", arms=arms, match=item.match
            )
        observations: list[Observation] = []
        if settings.mode == "auto":
            route = route_request(
                auto,
                catalog,
                inputs=RouteInputs(item.prompt_tokens, c, online=view),
            )
            tier, condition, was_explored = route.tier, "", route.explored
        else:
            decision = cascade_step(
                cascade,
                tier="edge",
                next_tier="frontier",
                verdict=Verdict(item.verified, "recorded answer checked"),
                model=edge_model,
                classification=c,
                online=view,
            )
            tier = "edge" if decision.keep else "frontier"
            condition, was_explored = decision.condition, decision.explored
            if view is not None:
                observations.append(
                    _observation(step, "cascade_verifier", item, view, "edge", edge_model, "")
                )
        decision_us[step] = (time.perf_counter() - started) * 1e6
        is_strong = tier == "frontier"
        good = item.row.strong_good if is_strong else item.row.weak_good
        strong[step], correct[step], explored[step] = is_strong, good, was_explored
        cost[step] = item.strong_cost if is_strong else item.weak_cost
        if settings.mode == "cascade" and is_strong:
            cost[step] += item.weak_cost  # the cheap answer was paid for before escalating
        if view is not None:
            model = front_model if is_strong else edge_model
            observations.append(_observation(step, "user", item, view, tier, model, condition))
            await learner.record(observations)
    return Trace(order, strong, correct, cost, explored, decision_us)


def _observation(
    step: int,
    source: Literal["user", "cascade_verifier"],
    item: StreamRow,
    view: OnlineView,
    tier: str,
    model: str,
    condition: str,
) -> Observation:
    """What the gateway records: the user's score on the served answer, or the verdict."""
    c = item.classification
    if source == "user":
        score = float(item.row.strong_good if tier == "frontier" else item.row.weak_good)
    else:
        score = 1.0 if item.verified else 0.0
    return Observation(
        tenant=TENANT,
        call_id=f"call-{step}",
        source=source,
        task_class=c.task_class,
        cluster=view.cluster,
        tier=tier,
        model=model,
        score=score,
        prior_p=float(c.p_good[tier]),
        condition=condition,
    )
