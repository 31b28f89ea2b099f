"""Models as arms: each catalog model's success per task class and topic, and the choice.

Every model keeps its own Beta posterior of success at three levels (all traffic, task
class, cluster), each level's prior being its parent's posterior, the widest one's the
request's prior: the classifier's p for the model's tier when the request is familiar, a
known class's defaults (everyday chat) or the catalog's weak `unknown_prior` when it is
not. Feedback only ever arrives for the model that answered (bandit feedback), so
`choose_model` takes the cheapest model whose estimate clears the bar and, within a share
of calls and a money cap per tenant, explores a model whose interval still reaches the bar
and which has little evidence - cheaper ones to find savings, dearer ones so that models
it stopped choosing keep being measured. A model counts as known once the prior is
trusted or it has `min_evidence` events; when no known model clears the bar, an
unfamiliar request is verified (a cheap answer checked by agreement) instead of paying for
the frontier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.routing.catalog import TIER_ORDER, ModelSpec
from app.routing.observations import EMPTY_CELL, Counts, model_arm
from app.routing.online import Estimate, OnlineView, own_upper
from app.routing.online_config import OnlineConfig

_EPS = 1e-3
_CONFLICT_Z = 2.5
_CONFLICT_STRENGTH = 2.0


@dataclass(frozen=True)
class ModelOption:
    """One model `auto` weighs for a request: its prior, expected cost and feasibility."""

    model: ModelSpec
    prior: float
    prior_trusted: bool
    cost: float  # expected USD of this call on it
    latency: float = 0.0  # expected ms
    blocked: str = ""  # "over budget", "over latency SLO", "lacks tools"...
    default: bool = False  # the safe choice among equals (the strongest tier's first model)
    # The prior is the model's published score for the task class (catalog `task_priors`):
    # one figure for the whole class, as sure as `catalog_prior_strength` events.
    catalog_prior: bool = False

    @property
    def feasible(self) -> bool:
        return not self.blocked

    def prior_strength(self, config: OnlineConfig) -> float:
        """What the prior is worth in feedback events."""
        if self.prior_trusted:
            return config.prior_strength
        return config.catalog_prior_strength if self.catalog_prior else config.ood_prior_strength

    def widest_level(self, config: OnlineConfig) -> int:
        """The widest level whose events the estimate learns from: a published score is
        the class's own prior, so other classes' events (level 0) must not outweigh it."""
        return 1 if self.catalog_prior or not config.pool_classes else 0

    def known(self, estimate: Estimate, config: OnlineConfig) -> bool:
        """Whether the model may be chosen without exploring: its prior is the classifier's
        or a published score, or it has `min_evidence` events here."""
        return self.prior_trusted or self.catalog_prior or estimate.evidence >= config.min_evidence


@dataclass(frozen=True)
class ModelChoice:
    """The model picked (or a pair to verify), why, and the evidence behind it."""

    index: int
    why: str
    explored: bool
    estimates: tuple[Estimate, ...]
    bar: float
    reference: float
    verify: tuple[int, int] | None = None  # two cheap models whose agreement is checked
    known: tuple[bool, ...] = ()
    tiebreak: int | None = None  # a third cheap model that answers when the two disagree


def _clip(p: float) -> float:
    return min(max(p, _EPS), 1.0 - _EPS)


def _own(levels: Sequence[Counts]) -> list[Counts]:
    """Each level's events not already in the narrower one (a class's minus its cluster's)."""
    own = []
    for wide, narrow in zip(levels, [*levels[1:], Counts()], strict=True):
        events = max(wide.events - narrow.events, 0.0)
        good = min(max(wide.good - narrow.good, 0.0), events)
        prior = max(wide.prior - narrow.prior, 0.0) if events > 1e-9 else 0.0
        own.append(Counts(events, good, prior))
    return own


def beta_estimate(
    levels: Sequence[Counts],
    raw_events: Sequence[float],
    prior_p: float,
    *,
    prior_strength: float,
    backoff_strength: float,
    interval_z: float,
    trusted: bool,
    arm: str = "",
) -> Estimate:
    """Hierarchical Beta estimate of one model from weighted counts at (all, class, cluster).

    Each event counts once: a level learns from its own events (the class's outside the
    request's cluster, everything outside the class), and its posterior is the next level's
    prior, worth the prior's strength while the level has no events of its own and tending
    to `backoff_strength` as it has more (between-cluster differences are real). A trusted
    prior's per-request lead survives: the levels learn a correction to what the
    prior predicted for the events they saw.
    """
    strength = prior_strength
    correction = 0.0
    theta = prior_p
    alpha, beta = prior_strength * prior_p, prior_strength * (1.0 - prior_p)
    for counts in _own(levels):
        n, good = counts.events, counts.good
        # An untrusted prior is one flat guess for every request: no per-request lead to keep.
        mean_prior = counts.prior / n if n > 1e-9 and trusted else prior_p
        mu = _clip(mean_prior + correction)
        if n > 1e-9 and abs(good / n - mu) > _CONFLICT_Z * math.sqrt(mu * (1.0 - mu) / n):
            # This level's own events contradict what its parent says: the parent speaks for
            # other clusters or classes, not for this one, so its prior counts for little.
            strength = min(strength, _CONFLICT_STRENGTH)
        alpha = strength * mu + good
        beta = strength * (1.0 - mu) + (n - good)
        theta = alpha / (alpha + beta)
        correction = theta - mean_prior
        # The next level's prior is worth this level's strength while it saw nothing of its
        # own, tending to `backoff_strength` as its own events outweigh its prior.
        strength = backoff_strength + (strength - backoff_strength) * strength / (strength + n)
    mean = _clip(prior_p + correction)
    spread = interval_z * math.sqrt(theta * (1.0 - theta) / (alpha + beta + 1.0))
    return Estimate(
        arm=arm,
        prior=prior_p,
        mean=mean,
        low=max(mean - spread, 0.0),
        high=min(mean + spread, 1.0),
        events=(raw_events[0], raw_events[1], raw_events[2]),
        prior_trusted=trusted,
        strength=alpha + beta,
    )


# Published scores on this traffic's scale. A published score (catalog `task_priors`) is
# measured on a vendor's or a leaderboard's benchmark, graded its own way: the models keep
# their standing there, but the whole class can be harder or easier here. So each model's
# prior is its published score times the ratio of good answers to what the published scores
# predicted over the *other* published models' events in the class (its own events move its
# estimate as usual, so none counts twice), shrunk to 1 by `published_scale_strength`
# expected successes.


def rescale_published(options: Sequence[ModelOption], view: OnlineView) -> list[ModelOption]:
    """`options` with each published prior put on this traffic's scale (see above);
    unchanged when `published_scale_strength` is unset or no option has a published prior."""
    strength = view.config.published_scale_strength
    if strength is None:
        return list(options)
    counts: dict[int, Counts] = {}
    for i, option in enumerate(options):
        if option.catalog_prior:
            key = view.cells_of(model_arm(option.model.name), option.prior)[1]
            counts[i] = view.cells.get(key, EMPTY_CELL).weighted(view.config.source_weights)
    good = sum(c.good for c in counts.values())
    expected = sum(c.prior for c in counts.values())
    out = []
    for i, option in enumerate(options):
        own = counts.get(i)
        if own is None:
            out.append(option)
            continue
        scale = (good - own.good + strength) / (expected - own.prior + strength)
        out.append(replace(option, prior=min(max(option.prior * scale, _EPS), 1.0 - _EPS)))
    return out


def model_estimate(view: OnlineView, option: ModelOption) -> Estimate:
    """One model's estimate for the request `view` was loaded for."""
    config = view.config
    arm = model_arm(option.model.name)
    keys = view.cells_of(arm, option.prior)
    cells = [view.cells.get(k, EMPTY_CELL) for k in keys]
    return beta_estimate(
        [c.weighted(config.source_weights) for c in cells[option.widest_level(config) :]],
        [c.events for c in cells],
        option.prior,
        prior_strength=option.prior_strength(config),
        backoff_strength=config.backoff_strength,
        interval_z=config.interval_z,
        trusted=option.prior_trusted,
        arm=arm,
    )


def choose_model(
    options: Sequence[ModelOption],
    view: OnlineView,
    *,
    threshold: float,
    relative: bool,
    floor: float = 0.0,
    verifiable: bool = False,
    always_verify: bool = False,
) -> ModelChoice | None:
    """Cheapest known model clearing the bar, an exploration, or a pair to verify.

    `options` must be cheapest first. The bar is `threshold`, or `threshold` x the best
    known estimate when `relative`. `verifiable`: the request's answer can be compared
    (options, a number, JSON), so where no known model clears the bar (or always, with
    `always_verify`) the two cheapest models whose interval reaches it answer and agreement
    decides. None when no option is feasible.
    """
    options = rescale_published(options, view)
    config = view.config
    estimates = tuple(model_estimate(view, o) for o in options)
    # Whether a model could do better here than its pooled estimate says: its own events in
    # this cluster (trusted prior: clusters differ) or class (weak prior: a model good at one
    # kind of task may be poor at another, so one class's failures must not rule it out in
    # the next), with the request's prior worth a couple of events. Exploring settles it.
    own_high = tuple(
        own_upper(
            view.cells.get(
                view.cells_of(model_arm(o.model.name), o.prior)[2 if o.prior_trusted else 1],
                EMPTY_CELL,
            ).weighted(config.source_weights),
            o.prior,
            config.ood_prior_strength,
            config.interval_z,
        )
        for o in options
    )
    feasible = [i for i, o in enumerate(options) if o.feasible]
    if not feasible:
        return None
    known = tuple(o.known(e, config) for o, e in zip(options, estimates, strict=True))
    # The bar is set by what is known to work, and by the safe default whatever its evidence.
    pool = [i for i in feasible if known[i] or options[i].default] or feasible
    reference = max(estimates[i].mean for i in pool)
    bar = threshold * reference if relative else threshold
    bar_text = (
        f"{threshold:.2f} x best estimate {reference:.2f} = {bar:.2f}" if relative else f"{bar:.2f}"
    )
    clearing = [i for i in feasible if known[i] and estimates[i].mean >= max(bar, floor)]
    best = max(pool, key=lambda i: (estimates[i].mean, options[i].default, -i))
    plausible = [i for i in feasible if estimates[i].high >= bar and estimates[i].mean >= floor]
    if verifiable and len(plausible) >= 2 and (always_verify or not clearing):
        pair = (plausible[0], plausible[1])
        ranked = sorted(pool, key=lambda i: (-estimates[i].mean, not options[i].default, i))
        escalate = next((i for i in ranked if i not in pair), None)
        if escalate is not None:
            names = " and ".join(options[i].model.name for i in pair)
            # With 3 votes, the next plausible model of a tier below the escalation's breaks a
            # tie (as in a cascade: a third cheap answer, not a second expensive one).
            rank = TIER_ORDER.index(options[escalate].model.tier)
            third = next(
                (
                    i
                    for i in plausible[2:]
                    if i != escalate and TIER_ORDER.index(options[i].model.tier) < rank
                ),
                None,
            )
            tiebreak = third if config.agreement_votes >= 3 else None
            vote = f", a tie {options[tiebreak].model.name}" if tiebreak is not None else ""
            why = (
                f"verify: {names} answer and must agree (bar {bar_text}; "
                f"{'always verified' if always_verify else 'no known model clears it'}){vote}, "
                f"else {options[escalate].model.name}"
            )
            return ModelChoice(
                escalate, why, False, estimates, bar, reference, pair, known, tiebreak
            )
    if clearing:
        chosen = clearing[0]
        why = f"cheapest known model whose estimate clears {bar_text}"
    else:
        chosen = best
        why = f"no known model clears {bar_text}; best estimated {options[chosen].model.name}"
    explored = False
    budget = view.budget
    if budget is not None:
        base = options[chosen].cost
        candidates = [
            i
            for i in feasible
            if i != chosen
            and max(estimates[i].high, own_high[i]) >= bar
            and estimates[i].mean >= floor
            and _exploration_evidence(estimates[i], options[i]) < config.explore_until
            and budget.affordable(options[i].cost - base, view.tenant)
        ]
        # The safe default is measured first (it sets the bar), then the cheapest candidates:
        # a cheap model that falls short is ruled out in a few calls.
        unmeasured = [
            i
            for i in candidates
            if options[i].default and estimates[i].events[1] < config.min_evidence
        ]
        ranked = sorted(candidates, key=lambda i: (-max(estimates[i].high, own_high[i]), i))
        pick = (unmeasured or ranked)[0] if candidates else None
        extra = options[pick].cost - base if pick is not None else 0.0
        if budget.decide(pick is not None, view.tenant, extra) and pick is not None:
            why = (
                f"exploring {options[pick].model.name} instead of "
                f"{options[chosen].model.name} ({estimates[pick].cluster_events:g} events in "
                f"cluster, it may reach {max(estimates[pick].high, own_high[pick]):.2f} >= bar "
                f"{bar:.2f}; "
                f"{budget.describe(view.tenant)})"
            )
            chosen, explored = pick, True
    return ModelChoice(chosen, why, explored, estimates, bar, reference, None, known)


def _exploration_evidence(estimate: Estimate, option: ModelOption) -> float:
    """Events that make exploring a model here pointless: the cluster's where the prior is
    trusted (clusters differ), the class's where it is not (unfamiliar requests scatter
    over many clusters the topic model never learned; the class is the sturdier unit)."""
    return estimate.cluster_events if option.prior_trusted else estimate.events[1]


def describe_estimate(option: ModelOption, estimate: Estimate, known: bool) -> str:
    """One model's line in a routing reason: estimate, interval and evidence."""
    a, c, k = (f"{n:g}" for n in estimate.events)
    prior = (
        "prior"
        if option.prior_trusted
        else "published prior"
        if option.catalog_prior
        else "weak prior"
    )
    status = "" if known else ", unproven"
    return (
        f"{option.model.name}({prior} {estimate.prior:.2f} -> est {estimate.mean:.2f} "
        f"[{estimate.low:.2f}, {estimate.high:.2f}] from {k} events in cluster, {c} in class, "
        f"{a} overall{status}, ~${option.cost:.5f}"
        + (f", {option.blocked}" if option.blocked else "")
        + ")"
    )
