"""Quality-vs-cost curves of two-model routers on recorded outcomes (pure numpy).

A router is a score per row (higher = send to the strong model); sweeping the threshold
over every distinct score value gives the curve. A cascade is the same sweep, except the
weak call is always paid for. Baselines (random, oracle) use the same accounting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from devtools.routing.datasets import Row

QUALITY_TARGET = 0.95  # fraction of the strong model's accuracy to keep


@dataclass(frozen=True)
class Outcomes:
    """Per-row correctness of both models and the cost of each answering."""

    weak_good: np.ndarray
    strong_good: np.ndarray
    weak_cost: np.ndarray
    strong_cost: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[Row], weak_cost: np.ndarray, strong_cost: np.ndarray) -> Outcomes:
        return cls(
            weak_good=np.array([r.weak_good for r in rows], dtype=float),
            strong_good=np.array([r.strong_good for r in rows], dtype=float),
            weak_cost=np.asarray(weak_cost, dtype=float),
            strong_cost=np.asarray(strong_cost, dtype=float),
        )

    @property
    def n(self) -> int:
        return len(self.weak_good)

    @property
    def weak_acc(self) -> float:
        return float(self.weak_good.mean())

    @property
    def strong_acc(self) -> float:
        return float(self.strong_good.mean())

    @property
    def target(self) -> float:
        return QUALITY_TARGET * self.strong_acc

    @property
    def weak_cost_ratio(self) -> float:
        """Always-weak cost relative to always-strong."""
        return float(self.weak_cost.sum() / self.strong_cost.sum())


@dataclass(frozen=True)
class Curve:
    """One point per threshold: share of rows sent strong, accuracy, cost vs always-strong."""

    share: np.ndarray
    accuracy: np.ndarray
    cost: np.ndarray


@dataclass(frozen=True)
class Point:
    """An operating point of a router or baseline."""

    share: float
    accuracy: float
    cost: float

    def as_dict(self) -> dict[str, float]:
        return {
            "strong_share": round(self.share, 4),
            "accuracy": round(self.accuracy, 4),
            "cost_vs_strong": round(self.cost, 4),
        }


def sweep(outcomes: Outcomes, score: np.ndarray, *, pay_weak_always: bool = False) -> Curve:
    """Escalate rows with score >= t for every t; ties move together (a threshold can't split)."""
    score = np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    n = outcomes.n
    gain = (outcomes.strong_good - outcomes.weak_good)[order]
    accuracy = (outcomes.weak_good.sum() + np.concatenate([[0.0], np.cumsum(gain)])) / n
    extra = outcomes.strong_cost if pay_weak_always else outcomes.strong_cost - outcomes.weak_cost
    spent = outcomes.weak_cost.sum() + np.concatenate([[0.0], np.cumsum(extra[order])])
    cost = spent / outcomes.strong_cost.sum()
    cuts = np.concatenate([[0], np.nonzero(ranked[:-1] > ranked[1:])[0] + 1, [n]])
    return Curve(share=cuts / n, accuracy=accuracy[cuts], cost=cost[cuts])


def first_reaching(curve: Curve, target: float) -> Point | None:
    """Cheapest curve point at or above `target` accuracy (None if never reached)."""
    hit = np.nonzero(curve.accuracy >= target - 1e-12)[0]
    if len(hit) == 0:
        return None
    i = int(hit[0])
    return Point(float(curve.share[i]), float(curve.accuracy[i]), float(curve.cost[i]))


def random_point(outcomes: Outcomes, share: float) -> Point:
    """Expected value of routing a random `share` of rows to the strong model."""
    w, s, r = outcomes.weak_acc, outcomes.strong_acc, outcomes.weak_cost_ratio
    return Point(share, w + share * (s - w), share + (1 - share) * r)


def random_reaching(outcomes: Outcomes, target: float) -> Point:
    """Analytic share a random router needs for `target` accuracy."""
    w, s = outcomes.weak_acc, outcomes.strong_acc
    share = 1.0 if s <= w else float(np.clip((target - w) / (s - w), 0.0, 1.0))
    return random_point(outcomes, share)


def oracle_score(outcomes: Outcomes) -> np.ndarray:
    """Escalate exactly the rows where only the strong model is right, cheapest first."""
    helps = (outcomes.strong_good > outcomes.weak_good).astype(float)
    extra = outcomes.strong_cost - outcomes.weak_cost
    return helps * 2.0 - extra / (extra.max() + 1e-12)


def apgr(outcomes: Outcomes, curve: Curve) -> float:
    """Average performance gap recovered over the strong-share axis (random = 0.5)."""
    gap = outcomes.strong_acc - outcomes.weak_acc
    if gap <= 0:
        return float("nan")
    recovered = (curve.accuracy - outcomes.weak_acc) / gap
    return float(np.sum(np.diff(curve.share) * (recovered[1:] + recovered[:-1]) / 2))


@dataclass(frozen=True)
class VersusRandom:
    """How a curve compares with the random router at the same strong share and cost."""

    points: int
    below_by_share: int
    below_by_cost: int
    worst_margin_share: float
    worst_margin_cost: float

    @property
    def beats_everywhere(self) -> bool:
        return self.points > 0 and self.below_by_share == 0 and self.below_by_cost == 0

    def as_dict(self) -> dict[str, float | int | bool]:
        return {
            "interior_points": self.points,
            "below_random_by_share": self.below_by_share,
            "below_random_by_cost": self.below_by_cost,
            "worst_margin_by_share": round(self.worst_margin_share, 4),
            "worst_margin_by_cost": round(self.worst_margin_cost, 4),
            "beats_random_everywhere": self.beats_everywhere,
        }


def versus_random(outcomes: Outcomes, curve: Curve) -> VersusRandom:
    """Margins over random at every interior threshold (by strong share and by cost)."""
    inner = (curve.share > 0) & (curve.share < 1)
    w, s, r = outcomes.weak_acc, outcomes.strong_acc, outcomes.weak_cost_ratio
    by_share = curve.accuracy[inner] - (w + curve.share[inner] * (s - w))
    random_share_at_cost = np.clip((curve.cost[inner] - r) / (1 - r), 0.0, 1.0)
    by_cost = curve.accuracy[inner] - (w + random_share_at_cost * (s - w))
    tol = 1e-12
    return VersusRandom(
        points=int(inner.sum()),
        below_by_share=int((by_share < -tol).sum()),
        below_by_cost=int((by_cost < -tol).sum()),
        worst_margin_share=float(by_share.min()) if inner.any() else 0.0,
        worst_margin_cost=float(by_cost.min()) if inner.any() else 0.0,
    )


def downsample(curve: Curve, max_points: int = 101) -> dict[str, list[float]]:
    """A JSON-sized copy of the curve (evenly spaced points, ends kept)."""
    idx = np.unique(np.linspace(0, len(curve.share) - 1, max_points).round().astype(int))
    return {
        "strong_share": [round(float(x), 4) for x in curve.share[idx]],
        "accuracy": [round(float(x), 4) for x in curve.accuracy[idx]],
        "cost_vs_strong": [round(float(x), 4) for x in curve.cost[idx]],
    }


def bootstrap_interval(
    outcomes: Outcomes,
    score: np.ndarray,
    *,
    pay_weak_always: bool = False,
    resamples: int = 200,
    seed: int = 0,
) -> dict[str, list[float]]:
    """5th-95th percentile of the 95%-quality point's strong share and cost over row resamples.

    Shows how much of a small test set's figure is sampling noise.
    """
    rng = np.random.default_rng(seed)
    shares, costs = [], []
    for _ in range(resamples):
        idx = rng.integers(0, outcomes.n, outcomes.n)
        sample = Outcomes(
            outcomes.weak_good[idx],
            outcomes.strong_good[idx],
            outcomes.weak_cost[idx],
            outcomes.strong_cost[idx],
        )
        point = first_reaching(
            sweep(sample, np.asarray(score)[idx], pay_weak_always=pay_weak_always), sample.target
        )
        if point is not None:
            shares.append(point.share)
            costs.append(point.cost)
    if not shares:
        return {}
    return {
        "strong_share": [round(float(np.percentile(shares, q)), 4) for q in (5, 95)],
        "cost_vs_strong": [round(float(np.percentile(costs, q)), 4) for q in (5, 95)],
    }
