"""`routegraph bench routing --models`: auto over many models, honestly measured.

For each stream a setting (relative threshold, verify mode, exploration share) is chosen
on the train split - learning from scratch on it, over orderings seeded apart from the
reported ones - as the cheapest whose mean accuracy reaches the target share of GPT-4's.
That setting then learns from scratch on the test split, replayed in >= 10 fresh seeded
orderings; figures are means with their standard deviation. Baselines are computed on
the same test rows: always-GPT-4, a random router (GPT-4 with probability q, else a
uniformly random other model, q the least reaching 95%), the best single model, the best
model per task chosen in hindsight, and the per-row oracle.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.routing.online_config import OnlineConfig
from devtools.bench.checked_cascade import replay_checked
from devtools.bench.many_models import Prepared, Settings, Trace, replay

THRESHOLDS: tuple[float, ...] = (0.85, 0.9, 0.95, 1.0)
EXPLORE_SHARES: tuple[float, ...] = (0.1, 0.2)
COST_WEIGHTS: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.3)
UTILITY_EXPLORE_SHARES: tuple[float, ...] = (0.1, 0.2, 0.4, 1.0)  # 1.0: plain Thompson sampling
# The checked cascade's keep bar (x GPT-4's estimate; 0: the verifier alone) and shares.
CHECKED_THRESHOLDS: tuple[float, ...] = (0.0, 0.6, 0.65, 0.7, 0.75, 0.8)
CHECKED_EXPLORE_SHARES: tuple[float, ...] = (0.05, 0.2)
SELECTION_SEEDS: tuple[int, ...] = (1000, 1001, 1002, 1003, 1004)
FIFTH = 0.2


@dataclass(frozen=True)
class Sweep:
    """What the train split chooses among: the bar rule's grid, the utility rule's cost
    weights x exploration shares, and OnlineConfig knobs every setting shares."""

    weights: tuple[float, ...] = COST_WEIGHTS
    shares: tuple[float, ...] = UTILITY_EXPLORE_SHARES
    config: Mapping[str, Any] = field(default_factory=dict)
    checked: str | None = None  # set: the checked cascade's grid with this verifier instead

    def grid(self) -> list[Settings]:
        """The bar rule's settings, then the utility rule's (or the checked cascade's)."""
        extra = dict(self.config)
        if self.checked is not None:
            return [
                Settings(t, False, OnlineConfig(explore_share=e, **extra), checked=self.checked)
                for t in CHECKED_THRESHOLDS
                for e in (CHECKED_EXPLORE_SHARES if t else CHECKED_EXPLORE_SHARES[:1])
            ]
        bar = [
            Settings(t, v, OnlineConfig(explore_share=e, **extra))
            for t, v, e in itertools.product(THRESHOLDS, (False, True), EXPLORE_SHARES)
        ]
        utility = [
            Settings(0.0, False, OnlineConfig(explore_share=e, **extra), cost_weight=w)
            for w, e in itertools.product(self.weights, self.shares)
        ]
        return bar + utility


# With published priors (catalog `task_priors`): what a published score is worth, whether
# classes pool their events, how fast the published scale is learned and whether agreement
# takes a third vote (no: on train it lost accuracy for no saving) were fixed by train-only
# sweeps (seeds 1000-1009; see the README's "Many models"); the utility rule's weights and
# shares reach lower (a published prior needs less exploring).
PUBLISHED_SWEEP = Sweep(
    weights=(0.05, 0.1, 0.125, 0.15, 0.2, 0.3),
    shares=(0.05, 0.1, 0.2, 1.0),
    config={
        "catalog_prior_strength": 16.0,
        "pool_classes": False,
        "published_scale_strength": 10.0,
        "agreement_votes": 2,
    },
)


@dataclass(frozen=True)
class Figures:
    """Means and standard deviations over orderings of one setting on one stream."""

    relative: float  # accuracy / GPT-4's accuracy on the same requests
    relative_sd: float
    cost: float  # cost / always-GPT-4's cost on the same requests
    cost_sd: float
    strong_share: float  # requests on which GPT-4 was called
    explored: float
    verified: float
    first_fifth: dict[str, float] = field(default_factory=dict)
    last_fifth: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = (
                {k: round(v, 4) for k, v in value.items()}
                if isinstance(value, dict)
                else round(value, 4)
            )
        return out


def _part(p: Prepared, t: Trace, part: slice) -> tuple[float, float]:
    strong = p.stream.strong_index
    rows = t.order[part]
    good = p.stream.correct[rows, strong].sum()
    rel = t.correct[part].sum() / max(good, 1.0)
    return float(rel), float(t.cost[part].sum() / p.stream.cost[rows, strong].sum())


def figures(p: Prepared, traces: Sequence[Trace]) -> Figures:
    whole = [_part(p, t, slice(None)) for t in traces]
    n = len(traces[0].order)
    k = max(int(np.ceil(FIFTH * n)), 1)
    first = np.mean([_part(p, t, slice(0, k)) for t in traces], axis=0)
    last = np.mean([_part(p, t, slice(n - k, n)) for t in traces], axis=0)
    rel, cost = np.array(whole).T
    return Figures(
        float(rel.mean()),
        float(rel.std()),
        float(cost.mean()),
        float(cost.std()),
        float(np.mean([t.strong_called.mean() for t in traces])),
        float(np.mean([t.explored.mean() for t in traces])),
        float(np.mean([t.verified.mean() for t in traces])),
        {"relative": float(first[0]), "cost": float(first[1])},
        {"relative": float(last[0]), "cost": float(last[1])},
    )


def run_setting(
    p: Prepared, settings: Settings, seeds: Sequence[int], length: int | None = None
) -> list[Trace]:
    """One replay per seed: the seed orders the stream (its first `length` requests, all by
    default) and drives the utility rule's draws."""
    run = replay_checked if settings.checked is not None else replay
    return [
        run(p, np.random.default_rng(s).permutation(len(p))[:length], settings, seed=s)
        for s in seeds
    ]


@dataclass
class Selection:
    """The setting chosen on the train split for a quality target, and why."""

    quality: float
    settings: Settings
    train: Figures
    reached: bool
    swept: list[dict[str, Any]]


def select(
    train: Prepared,
    qualities: Sequence[float],
    length: int | None = None,
    sweep: Sweep | None = None,
) -> dict[float, Selection]:
    """Sweep the grid on the train stream, replaying `length` requests (the test stream's,
    so learning costs what it will there); per target, the cheapest setting reaching it."""
    results = [
        (s, figures(train, run_setting(train, s, SELECTION_SEEDS, length)))
        for s in (sweep or Sweep()).grid()
    ]
    swept = [{"setting": s.label(), **f.as_dict()} for s, f in results]
    chosen = {}
    for q in qualities:
        reaching = [(s, f) for s, f in results if f.relative >= q - 1e-9]
        if reaching:
            s, f = min(reaching, key=lambda pair: pair[1].cost)
            chosen[q] = Selection(q, s, f, True, swept)
        else:
            s, f = max(results, key=lambda pair: (pair[1].relative, -pair[1].cost))
            chosen[q] = Selection(q, s, f, False, swept)
    return chosen


def baselines(p: Prepared, quality: float = 0.95) -> dict[str, dict[str, Any]]:
    """Routers computed on the test rows, as shares of GPT-4's accuracy and cost."""
    stream = p.stream
    s = stream.strong_index
    correct, cost = stream.correct, stream.cost
    strong_acc, strong_cost = correct[:, s].mean(), cost[:, s].sum()
    acc = correct.mean(axis=0) / strong_acc
    share = cost.sum(axis=0) / strong_cost
    out: dict[str, dict[str, Any]] = {
        "always-GPT-4": {"relative": 1.0, "cost": 1.0, "strong_share": 1.0}
    }
    others = [j for j in range(len(stream.models)) if j != s]
    other_acc, other_cost = float(acc[others].mean()), float(share[others].mean())
    q = 1.0 if other_acc >= quality else (quality - other_acc) / (1.0 - other_acc)
    q = min(max(q, 0.0), 1.0)
    out["random (GPT-4 w.p. q)"] = {
        "relative": q + (1 - q) * other_acc,
        "cost": q + (1 - q) * other_cost,
        "strong_share": q,
        "note": f"q={q:.2f}",
    }
    cheapest_good = [j for j in np.argsort(share) if acc[j] >= quality - 1e-9]
    best = int(cheapest_good[0]) if cheapest_good else s
    out["best single model"] = {
        "relative": float(acc[best]),
        "cost": float(share[best]),
        "strong_share": float(best == s),
        "note": f"{stream.models[best]} (cheapest reaching {quality:.0%}, hindsight)",
    }
    picks, per_task_cost, per_task_good = [], 0.0, 0.0
    for task in sorted(set(stream.tasks)):
        rows = np.array([t == task for t in stream.tasks])
        task_acc = correct[rows].mean(axis=0) / max(correct[rows, s].mean(), 1e-9)
        order = np.argsort(cost[rows].sum(axis=0))
        j = next((int(m) for m in order if task_acc[m] >= quality - 1e-9), s)
        picks.append(f"{task}: {stream.models[j]}")
        per_task_cost += float(cost[rows, j].sum())
        per_task_good += float(correct[rows, j].sum())
    out["best model per task (hindsight)"] = {
        "relative": per_task_good / correct[:, s].sum(),
        "cost": per_task_cost / strong_cost,
        "strong_share": float("nan"),
        "note": "; ".join(picks),
    }
    masked = np.where(correct > 0, cost, np.inf)
    oracle = np.argmin(masked, axis=1)
    none = ~np.isfinite(masked.min(axis=1))
    oracle[none] = np.argmin(cost[none], axis=1) if none.any() else oracle[none]
    rows = np.arange(len(stream))
    out["per-row oracle"] = {
        "relative": float(correct[rows, oracle].sum() / correct[:, s].sum()),
        "cost": float(cost[rows, oracle].sum() / strong_cost),
        "strong_share": float((oracle == s).mean()),
        "note": "cheapest model right on each row (hindsight)",
    }
    return out
