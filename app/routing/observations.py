"""Feedback on model calls as observations, the learned table's cells, and where they are stored.

An `Observation` is one feedback event on one call (a user's score, or a verifier's or
judge's verdict recorded automatically). It updates six cells: the call's tier and model,
each at three levels (its task class and cluster; its task class; everything), so the
estimator can back off from a sparse cluster to its class and to the global rate. A cell
keeps weighted sums per feedback source, so source weights can change without a rebuild.
`StatsStore` is what the service persists them in; `InMemoryStatsStore` serves the
benchmark and tests and defines the semantics a database store must match.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, get_args

FeedbackSource = Literal["user", "cascade_verifier", "structured_output", "judge", "agreement"]
FEEDBACK_SOURCES: tuple[FeedbackSource, ...] = get_args(FeedbackSource)
ANY = "*"  # a level's wildcard (task class or cluster), and the shared scope


@dataclass(frozen=True)
class Observation:
    """One feedback event on one model call, with the routing context it was made in.

    `prior_p` is the offline classifier's p(good) for the call's tier when it was routed
    (the estimator learns how far off the prior is per cell). `condition` names what the
    answer was conditioned on, e.g. "arithmetic:accepted" for a cheap answer a cascade
    kept after its verifier accepted it; "" for a plain call.
    """

    tenant: str
    call_id: str
    source: FeedbackSource
    task_class: str
    cluster: str
    tier: str
    model: str
    score: float
    prior_p: float
    condition: str = ""

    def __post_init__(self) -> None:
        if self.source not in FEEDBACK_SOURCES:
            raise ValueError(f"unknown feedback source {self.source!r}; known: {FEEDBACK_SOURCES}")
        for name in ("score", "prior_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value!r}")
        for name in ("tenant", "call_id", "task_class", "cluster", "tier", "model"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")

    @property
    def identity(self) -> tuple[str, str, str]:
        """Feedback is idempotent per (tenant, call, source): a repeat replaces the earlier one."""
        return (self.tenant, self.call_id, self.source)


@dataclass(frozen=True)
class RoutingContext:
    """What the ledger keeps per call so that feedback on it can become an `Observation`.

    `cluster` is the cell label (OOD requests carry the `ood:` prefix), `prior_p` the
    classifier's p for the call's tier, `condition` what a cascade kept the answer under;
    `explored` and `ood` say how the decision was made.
    """

    cluster: str
    prior_p: float
    condition: str = ""
    explored: bool = False
    ood: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoutingContext:
        return cls(
            cluster=str(data["cluster"]),
            prior_p=float(data["prior_p"]),
            condition=str(data.get("condition") or ""),
            explored=bool(data.get("explored", False)),
            ood=bool(data.get("ood", False)),
        )


class CellKey(NamedTuple):
    """One cell of the learned table: an arm (tier or model) in a slice of the traffic.

    A NamedTuple: thousands are hashed per second on the routing path.
    """

    scope: str  # tenant id, or ANY when every tenant's feedback feeds one shared table
    task_class: str  # or ANY
    cluster: str  # or ANY
    arm: str  # "tier:edge" or "model:edge-a"
    condition: str = ""
    band: str = ANY  # the request's prior-p band, or "ood"


@dataclass(frozen=True)
class Counts:
    """Weighted sums over a cell's events: how many, how many good, what the prior predicted."""

    events: float = 0.0
    good: float = 0.0
    prior: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.events + other.events, self.good + other.good, self.prior + other.prior)

    def scaled(self, weight: float) -> Counts:
        return Counts(self.events * weight, self.good * weight, self.prior * weight)


@dataclass(frozen=True)
class Cell:
    """A cell's counts per feedback source."""

    by_source: Mapping[str, Counts] = field(default_factory=dict)

    def weighted(self, weights: Mapping[str, float]) -> Counts:
        """Counts with each source scaled by its weight (unknown sources weigh 1)."""
        total = Counts()
        for source, counts in self.by_source.items():
            total = total + counts.scaled(weights.get(source, 1.0))
        return total

    @property
    def events(self) -> float:
        return sum(c.events for c in self.by_source.values())


EMPTY_CELL = Cell()


def tier_arm(tier: str) -> str:
    return f"tier:{tier}"


def model_arm(model: str) -> str:
    return f"model:{model}"


OOD_PREFIX = "ood:"  # cluster labels of out-of-distribution requests start with it
PRIOR_BANDS: tuple[float, ...] = (0.5, 0.65, 0.8, 0.9)


def prior_band(prior_p: float, cluster: str) -> str:
    """Which band of the classifier's p a request falls in ("ood" when p is not trusted).

    Corrections are learned per band because feedback only arrives for the tier that was
    chosen, i.e. from requests the prior rated a certain way: a correction learned where
    the prior said 0.9 must not be applied where it said 0.5.
    """
    if cluster.startswith(OOD_PREFIX):
        return "ood"
    low = 0.0
    for edge in PRIOR_BANDS:
        if prior_p < edge:
            return f"{low:.2f}-{edge:.2f}"
        low = edge
    return f"{low:.2f}-1.00"


def arm_band(arm: str, prior_p: float, cluster: str) -> str:
    """The band an arm's cells are kept in: tiers per prior band, models in one band.

    A model arm's estimate is its own success rate per task class and cluster, whatever the
    classifier predicted for its tier, so its cells are not split by the prior.
    """
    return ANY if arm.startswith("model:") else prior_band(prior_p, cluster)


def level_keys(
    scope: str, task_class: str, cluster: str, arm: str, condition: str, band: str
) -> tuple[CellKey, CellKey, CellKey]:
    """The arm's cells from the widest level to the narrowest: all traffic, class, cluster."""
    return (
        CellKey(scope, ANY, ANY, arm, condition, band),
        CellKey(scope, task_class, ANY, arm, condition, band),
        CellKey(scope, task_class, cluster, arm, condition, band),
    )


def observation_keys(observation: Observation, scope: str) -> list[CellKey]:
    """The six cells one observation updates (tier and model arms, three levels each)."""
    o = observation
    return [
        key
        for arm in (tier_arm(o.tier), model_arm(o.model))
        for key in level_keys(
            scope, o.task_class, o.cluster, arm, o.condition, arm_band(arm, o.prior_p, o.cluster)
        )
    ]


class StatsStore(Protocol):
    """Where the learned table lives (the service: its database, shared by every worker).

    `add` is idempotent per observation identity (tenant, call id, source): an observation
    whose identity was seen before replaces the earlier one's contribution. `scope_of`
    maps a tenant to the scope its cells are keyed by.
    """

    def scope_of(self, tenant: str) -> str: ...

    async def load(self, keys: Collection[CellKey]) -> dict[CellKey, Cell]: ...

    async def add(self, observations: Sequence[Observation]) -> None: ...

    def forget(self) -> None:
        """Drop cells kept from earlier reads (feedback was written around the store)."""


class InMemoryStatsStore:
    """A process-local StatsStore (benchmark, tests, single-process demos)."""

    def __init__(self, *, per_tenant: bool = False) -> None:
        self.per_tenant = per_tenant
        self._cells: dict[CellKey, dict[str, Counts]] = {}
        self._seen: dict[tuple[str, str, str], Observation] = {}

    def scope_of(self, tenant: str) -> str:
        return tenant if self.per_tenant else ANY

    async def load(self, keys: Collection[CellKey]) -> dict[CellKey, Cell]:
        return self.load_now(keys)

    def load_now(self, keys: Iterable[CellKey]) -> dict[CellKey, Cell]:
        """Synchronous `load` (the benchmark's replay loop calls it directly)."""
        found: dict[CellKey, Cell] = {}
        for key in keys:
            counts = self._cells.get(key)
            if counts:
                found[key] = Cell(dict(counts))
        return found

    async def add(self, observations: Sequence[Observation]) -> None:
        self.add_now(observations)

    def add_now(self, observations: Iterable[Observation]) -> None:
        """Synchronous `add`."""
        for observation in observations:
            previous = self._seen.get(observation.identity)
            if previous == observation:
                continue
            if previous is not None:
                self._apply(previous, -1.0)
            self._seen[observation.identity] = observation
            self._apply(observation, 1.0)

    def _apply(self, o: Observation, sign: float) -> None:
        delta = Counts(sign, sign * o.score, sign * o.prior_p)
        for key in observation_keys(o, self.scope_of(o.tenant)):
            per_source = self._cells.setdefault(key, {})
            per_source[o.source] = per_source.get(o.source, Counts()) + delta

    def table(self) -> dict[CellKey, Cell]:
        """Every non-empty cell (what `routegraph routing stats` shows)."""
        kept = {
            key: Cell({s: counts for s, counts in c.items() if abs(counts.events) > 1e-9})
            for key, c in self._cells.items()
        }
        return {key: cell for key, cell in kept.items() if cell.by_source}

    def __len__(self) -> int:
        return len(self._seen)

    def forget(self) -> None:
        """Nothing is kept apart from the table itself."""


def stats_rows(
    cells: Mapping[CellKey, Cell], weights: Mapping[str, float]
) -> list[dict[str, object]]:
    """The learned table as plain rows (for `routegraph routing stats`), most evidence first.

    `success` and `prior` are the weighted mean score and the classifier's mean p over the
    cell's events; `events_by_source` counts them unweighted.
    """
    rows: list[dict[str, object]] = []
    for key, cell in cells.items():
        weighted = cell.weighted(weights)
        if weighted.events <= 1e-9:
            continue
        rows.append(
            {
                **key._asdict(),
                "events": round(cell.events, 3),
                "events_by_source": {s: round(c.events, 3) for s, c in cell.by_source.items()},
                "success": round(weighted.good / weighted.events, 4),
                "prior": round(weighted.prior / weighted.events, 4),
            }
        )
    rows.sort(key=lambda r: (-float(r["events"]), str(r["arm"]), str(r["cluster"])))  # type: ignore[arg-type]
    return rows
