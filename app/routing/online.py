"""Online estimates of each tier's success per task class and cluster, learned from feedback.

The offline classifier's p(good) is the prior. Per arm (a tier or a model, optionally
conditioned, e.g. on a verifier's accept) and per level of traffic (all, task class,
cluster) a Beta posterior of the success rate is formed: the widest level's prior mean is
what the classifier predicted for the events seen there (worth `prior_strength` events),
and each narrower level's prior is its parent's posterior (worth `backoff_strength`
events). A request's estimate is its own prior p moved by the narrowest level's learned
correction (posterior mean minus the mean prior of that level's events). For a request
the classifier has not seen the like of (out of distribution), the classifier's p counts
for little and only tiers with feedback evidence, or the safe tier, may be chosen.

`choose` is the decision rule shared by `auto` and the cascade's keep-or-escalate step:
the cheapest option whose estimate clears the caller's bar, with a bounded share of calls
sent to a cheaper, still uncertain option to learn (never below the caller's floor).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from app.routing.catalog import Catalog
from app.routing.clusters import ClusterMatch, TopicClusters
from app.routing.exploration import ExplorationBudget
from app.routing.observations import (
    EMPTY_CELL,
    OOD_PREFIX,
    Cell,
    CellKey,
    Counts,
    Observation,
    StatsStore,
    arm_band,
    level_keys,
    model_arm,
    tier_arm,
)
from app.routing.online_config import OnlineConfig

_EPS = 1e-3
LEVELS = ("all", "class", "cluster")


@dataclass(frozen=True)
class Estimate:
    """An arm's estimated success for one request, and the evidence behind it."""

    arm: str
    prior: float
    mean: float
    low: float
    high: float
    events: tuple[float, float, float]  # feedback events seen at: all, class, cluster
    prior_trusted: bool = True
    strength: float = 0.0  # alpha + beta of the posterior it came from (what a draw needs)

    @property
    def cluster_events(self) -> float:
        return self.events[2]

    @property
    def evidence(self) -> float:
        """Events in this request's cluster or, failing that, its task class."""
        return max(self.events[1], self.events[2])

    def describe(self) -> str:
        a, c, k = (f"{n:g}" for n in self.events)
        trust = "" if self.prior_trusted else " (prior not trusted: out of distribution)"
        return (
            f"prior {self.prior:.2f}{trust} -> est {self.mean:.2f} "
            f"[{self.low:.2f}, {self.high:.2f}] from {k} feedback events in cluster, "
            f"{c} in class, {a} overall"
        )


def _clip(p: float) -> float:
    return min(max(p, _EPS), 1.0 - _EPS)


def estimate(
    levels: Sequence[Counts],
    raw_events: Sequence[float],
    prior_p: float,
    config: OnlineConfig,
    *,
    in_distribution: bool = True,
    arm: str = "",
) -> Estimate:
    """Hierarchical Beta estimate from weighted counts at (all, class, cluster)."""
    kappa = config.prior_strength if in_distribution else config.ood_prior_strength
    trust = 1.0 if in_distribution else config.ood_row_trust
    correction = 0.0
    theta = mean_prior = prior_p
    alpha = beta = 1.0
    for depth, counts in enumerate(levels):
        n = max(counts.events, 0.0)
        good = min(max(counts.good, 0.0), n)
        mean_prior = counts.prior / n if n > 1e-9 else prior_p
        strength = kappa if depth == 0 else config.backoff_strength
        mu = _clip(mean_prior + correction)
        alpha = strength * mu + good
        beta = strength * (1.0 - mu) + (n - good)
        theta = alpha / (alpha + beta)
        correction = theta - mean_prior
    sd = math.sqrt(theta * (1.0 - theta) / (alpha + beta + 1.0))
    if in_distribution:
        # A trusted prior moves only by the part of the correction its noise cannot explain.
        gate = config.significance_z * sd
        shift = math.copysign(max(abs(correction) - gate, 0.0), correction)
        mean = _clip(prior_p + shift)
    else:
        mean = _clip(theta + trust * (prior_p - mean_prior))
    spread = config.interval_z * sd
    return Estimate(
        arm=arm,
        prior=prior_p,
        mean=mean,
        low=max(mean - spread, 0.0),
        high=min(mean + spread, 1.0),
        events=(raw_events[0], raw_events[1], raw_events[2]),
        prior_trusted=in_distribution,
        strength=alpha + beta,
    )


def own_upper(counts: Counts, prior_p: float, strength: float, z: float) -> float:
    """Upper bound from the cluster's own events and the request's prior alone: whether this
    cluster could be unlike the rest of its class (what exploring it would find out)."""
    n = max(counts.events, 0.0)
    good = min(max(counts.good, 0.0), n)
    alpha = strength * prior_p + good
    beta = strength * (1.0 - prior_p) + n - good
    theta = alpha / (alpha + beta)
    return min(theta + z * math.sqrt(theta * (1.0 - theta) / (alpha + beta + 1.0)), 1.0)


@dataclass(frozen=True)
class OnlineView:
    """What a routing decision needs from the learned table for one request."""

    task_class: str
    match: ClusterMatch
    cluster: str  # the cell's cluster label (marked when out of distribution)
    scope: str
    cells: Mapping[CellKey, Cell]
    config: OnlineConfig
    budget: ExplorationBudget | None = None
    tenant: str = ""
    rng: random.Random | None = None  # the utility rule's posterior draws (None: unseeded)

    @property
    def in_distribution(self) -> bool:
        return self.match.in_distribution

    def cells_of(
        self, arm: str, prior_p: float, condition: str = ""
    ) -> tuple[CellKey, CellKey, CellKey]:
        """The arm's cell keys for this request, widest level first."""
        band = arm_band(arm, prior_p, self.cluster)
        return level_keys(self.scope, self.task_class, self.cluster, arm, condition, band)

    def estimate(self, arm: str, prior_p: float, condition: str = "") -> Estimate:
        keys = self.cells_of(arm, prior_p, condition)
        cells = [self.cells.get(k, EMPTY_CELL) for k in keys]
        return estimate(
            [c.weighted(self.config.source_weights) for c in cells],
            [c.events for c in cells],
            prior_p,
            self.config,
            in_distribution=self.in_distribution,
            arm=arm,
        )

    def describe(self) -> str:
        m = self.match
        if m.in_distribution:
            return f"cluster {self.cluster} (similarity {m.similarity:.2f}, in distribution)"
        return (
            f"OUT OF DISTRIBUTION (nearest cluster {m.cluster}: {m.why}), so the classifier's "
            f"p counts for little and a tier needs >= {self.config.min_evidence:g} feedback "
            f"events here unless it is the safe one"
        )


@dataclass(frozen=True)
class Option:
    """One choice the router weighs: a tier (auto), or keeping a verified answer (cascade)."""

    name: str
    arm: str
    prior: float
    condition: str = ""
    feasible: bool = True
    safe: bool = False  # what to fall back on when nothing is known


@dataclass(frozen=True)
class Choice:
    """The option picked, why, and whether it was an exploration."""

    index: int
    why: str
    explored: bool
    estimates: tuple[Estimate, ...]
    bar: float


def choose(
    options: Sequence[Option],
    view: OnlineView,
    *,
    threshold: float,
    relative: bool,
    floor: float,
) -> Choice | None:
    """Cheapest feasible option clearing the bar (None when no option is feasible).

    The bar is `threshold`, or `threshold` x the best feasible estimate when `relative`.
    Out of distribution, an option needs evidence (or to be the safe one) to be eligible.
    Then, within the exploration budget, a cheaper feasible option whose estimate is at
    least `floor` and whose interval still reaches the bar, in a cluster with little
    evidence, may be taken instead, so the table learns where the cheap tier suffices.
    """
    estimates = tuple(view.estimate(o.arm, o.prior, o.condition) for o in options)
    feasible = [i for i, o in enumerate(options) if o.feasible]
    if not feasible:
        return None
    best = max(estimates[i].mean for i in feasible)
    bar = threshold * best if relative else threshold
    bar_text = (
        f"{threshold:.2f} x best estimate {best:.2f} = {bar:.2f}" if relative else f"{bar:.2f}"
    )

    def eligible(i: int) -> bool:
        if estimates[i].mean < floor:
            return False
        return (
            view.in_distribution
            or options[i].safe
            or (estimates[i].evidence >= view.config.min_evidence)
        )

    clearing = [i for i in feasible if eligible(i) and estimates[i].mean >= bar]
    if clearing:
        chosen = clearing[0]
        why = f"cheapest option whose estimate clears {bar_text}"
    else:
        pool = [i for i in feasible if eligible(i)] or [i for i in feasible if options[i].safe]
        chosen = max(pool or feasible, key=lambda i: estimates[i].mean)
        why = f"no eligible option clears {bar_text}; best estimated {options[chosen].name}"

    def own_high(i: int) -> float:
        cell = view.cells.get(
            view.cells_of(options[i].arm, options[i].prior, options[i].condition)[2]
        )
        counts = (cell or EMPTY_CELL).weighted(view.config.source_weights)
        return own_upper(
            counts, options[i].prior, view.config.ood_prior_strength, view.config.interval_z
        )

    def worth_exploring(i: int) -> bool:
        est = estimates[i]
        if est.mean < floor or est.cluster_events >= view.config.explore_until:
            return False
        if view.in_distribution:
            # A trusted prior: where the cheaper option nearly clears, or where the cluster's
            # own record could still clear the bar - failures pooled from the rest of its
            # class must not shut out a cluster that was never (or barely) tried.
            return est.mean >= bar - view.config.explore_margin or own_high(i) >= bar
        return est.high >= bar  # an untrusted prior: wherever it plausibly clears

    candidates = [i for i in feasible if i < chosen and worth_exploring(i)]
    explored = False
    if view.budget is not None and view.budget.decide(bool(candidates), view.tenant):
        pick = max(candidates, key=lambda i: (estimates[i].high, -i))
        why = (
            f"exploring {options[pick].name} instead of {options[chosen].name} "
            f"(it may clear {bar:.2f}: {estimates[pick].cluster_events:g} events in cluster, "
            f"estimate {estimates[pick].mean:.2f} >= floor {floor:.2f}; "
            f"{view.budget.describe(view.tenant)})"
        )
        chosen, explored = pick, True
    return Choice(chosen, why, explored, estimates, bar)


class OnlineLearner:
    """Start-up object: cluster model, stats store, config and this process's budget."""

    def __init__(
        self,
        clusters: TopicClusters,
        store: StatsStore,
        config: OnlineConfig | None = None,
    ) -> None:
        self.clusters = clusters
        self.store = store
        self.config = config or OnlineConfig()
        self.budget = ExplorationBudget(self.config.explore_share, self.config.explore_budget_usd)
        self.rng = random.Random()

    async def view(
        self,
        *,
        tenant: str,
        task_class: str,
        text: str,
        arms: Iterable[tuple[str, str, float]],
        match: ClusterMatch | None = None,
        dense: Sequence[float] = (),
    ) -> OnlineView:
        """Load the cells of `arms` ((arm, condition, classifier p) triples) for one request.

        `text` is the request's user text (what the classifier scored); pass `dense` from
        `Classification.dense` to skip a second feature extraction, or a precomputed `match`.
        """
        if match is None:
            match = self.clusters.match(text, dense)
        cluster = cell_cluster(match)
        scope = self.store.scope_of(tenant)
        keys = [
            key
            for arm, cond, prior_p in arms
            for key in level_keys(
                scope, task_class, cluster, arm, cond, arm_band(arm, prior_p, cluster)
            )
        ]
        cells = await self.store.load(keys)
        return OnlineView(
            task_class,
            match,
            cluster,
            scope,
            cells,
            self.config,
            self.budget,
            tenant,
            self.rng,
        )

    async def record(self, observations: Sequence[Observation]) -> None:
        await self.store.add(observations)


def request_arms(
    catalog: Catalog,
    p_good: Mapping[str, float],
    conditioned: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str, float]]:
    """The (arm, condition, prior p) triples a view needs: every tier and model of the catalog,
    plus conditioned tier arms, e.g. ("edge", "arithmetic:accepted") for a cascade."""
    arms = [(tier_arm(t), "", float(p_good.get(t, 0.0))) for t in catalog.tiers]
    arms += [
        (model_arm(m.name), "", float(p_good.get(m.tier, 0.0))) for m in catalog.models.values()
    ]
    arms += [(tier_arm(t), cond, float(p_good.get(t, 0.0))) for t, cond in conditioned]
    return arms


def cell_cluster(match: ClusterMatch) -> str:
    """Cell label of a prompt's cluster: out-of-distribution prompts learn in cells of their own."""
    return match.cluster if match.in_distribution else f"{OOD_PREFIX}{match.cluster}"
