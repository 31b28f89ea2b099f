"""Replays a many-model stream through `auto` over models, learning from bandit feedback.

Each request is decided by the service's own rule (`app.routing.arms.choose_model` on an
`OnlineView` of the learned cells); the answer served is the recorded answer of the model
reached, and only that answer's recorded correctness arrives, as a user's thumbs up or down
would. When `auto` verifies, two models answer: if their comparable answers agree the
first is served; else, with three votes, a third model answers and the answer it shares
with one of the two is served; else the best known model answers and is served. What the served
answer's rating implies about the other answers paid for (the same option or number: as
right or wrong as it; a different one to a rated-right answer: wrong) is recorded with the
source `agreement`. Nothing else about unserved models is ever learned.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from app.routing.agreement import COMPARABLE_FORMS, canonical_answer, expected_form
from app.routing.arms import ModelOption, choose_model
from app.routing.catalog import ModelSpec, Prices, TaskPrior, TierName
from app.routing.classifier import Classification, TaskClassifier
from app.routing.clusters import ClusterMatch, TopicClusters
from app.routing.exploration import ExplorationBudget
from app.routing.observations import (
    ANY,
    FeedbackSource,
    InMemoryStatsStore,
    Observation,
    level_keys,
)
from app.routing.observations import model_arm as arm_of
from app.routing.online import OnlineView, cell_cluster
from app.routing.online_config import OnlineConfig
from app.routing.utility import choose_by_utility
from app.routing.verifiers import get_verifier
from devtools.bench.routerbench_data import Stream

TENANT = "bench"
UNKNOWN_PRIOR: dict[str, float] = {"edge": 0.6, "mid": 0.7, "frontier": 0.8}  # = catalog.yaml
PUBLISHED_PRIORS = Path(__file__).with_name("routerbench_priors.yaml")


def load_published_priors(path: Path = PUBLISHED_PRIORS) -> dict[str, dict[str, TaskPrior]]:
    """RouterBench models' published scores per task class (catalog `task_priors`)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        model: {task: TaskPrior.model_validate(v) for task, v in classes.items()}
        for model, classes in data["models"].items()
    }


@dataclass(frozen=True)
class Prepared:
    """A stream with everything fixed before any feedback: class, cluster, priors, answers."""

    stream: Stream
    specs: tuple[ModelSpec, ...]  # per model of the stream, in the stream's order
    by_price: tuple[int, ...]  # model indices, cheapest first
    prices: np.ndarray  # expected cost per model (its mean cost on train splits)
    task_class: list[str]
    match: list[ClusterMatch]
    prior: np.ndarray  # rows x models: the model's prior success
    trusted: np.ndarray  # rows: whether the prior is the classifier's (familiar request)
    published: np.ndarray  # rows x models: the prior is the model's published score
    verifiable: np.ndarray  # rows: the answer has a comparable form
    canonical: list[list[str | None]]  # rows x models: comparable answers
    classifications: tuple[Classification, ...] = ()  # per row (the checked cascade's priors)
    verdicts: np.ndarray | None = None  # rows: a verifier accepts the cheapest model's answer

    def __len__(self) -> int:
        return len(self.stream)


def tier_of(price: float, strong_price: float) -> TierName:
    """Tiers from price relative to the reference model (they are defaults, not the arms)."""
    share = price / strong_price
    return "frontier" if share >= 0.3 else "mid" if share >= 0.04 else "edge"


def prepare(
    stream: Stream,
    prices: dict[str, float],
    classifier: TaskClassifier,
    clusters: TopicClusters,
    *,
    classifier_knows_models: bool,
    published: Mapping[str, Mapping[str, TaskPrior]] | None = None,
    verifier: str | None = None,
) -> Prepared:
    """Classify, cluster and canonicalise every row once.

    `classifier_knows_models`: the classifier's p per tier was fitted on these models'
    outcomes (RouteLLM's Mixtral and GPT-4), so on familiar requests it is a trusted prior;
    otherwise every model starts from its published score for the request's class where
    `published` gives one (as the catalog's `task_priors` would), else from the catalog's
    weak prior for its tier. `verifier`: also check the cheapest model's recorded answer
    on every row with that verifier (the checked cascade, `checked_cascade.py`).
    """
    price = np.array([prices[m] for m in stream.models])
    strong = price[stream.strong_index]
    specs = tuple(
        ModelSpec(
            name=m,
            tier=tier_of(p, strong),
            provider="recorded",
            litellm_model=m,
            price_per_mtok=Prices(input=p * 1e6, output=p * 1e6, cached_input=0.0),
            context_window=32_000,
            task_priors=dict((published or {}).get(m, {})),
        )
        for m, p in zip(stream.models, price, strict=True)
    )
    n, k = len(stream), len(stream.models)
    task_class, matches = [], []
    prior = np.zeros((n, k))
    trusted = np.zeros(n, dtype=bool)
    from_catalog = np.zeros((n, k), dtype=bool)
    verifiable = np.zeros(n, dtype=bool)
    canonical: list[list[str | None]] = []
    classifications: list[Classification] = []
    for i, prompt in enumerate(stream.prompts):
        messages = [{"role": "user", "content": prompt}]
        c = classifier.classify(messages)
        classifications.append(c)
        match = clusters.match(prompt, c.dense)
        task_class.append(c.task_class)
        matches.append(match)
        trusted[i] = classifier_knows_models and match.in_distribution
        for j, spec in enumerate(specs):
            score = spec.task_priors.get(c.task_class)
            if trusted[i]:
                prior[i, j] = c.p_good[spec.tier]
            elif score is not None:
                prior[i, j], from_catalog[i, j] = score.success, True
            else:
                prior[i, j] = UNKNOWN_PRIOR[spec.tier]
        form = expected_form(messages)
        verifiable[i] = form in COMPARABLE_FORMS
        canonical.append([canonical_answer(a, form) if form else None for a in stream.answers[i]])
    order = tuple(sorted(range(k), key=lambda j: (price[j], j)))
    verdicts = None
    if verifier is not None:
        check = get_verifier(verifier)
        verdicts = np.array(
            [
                check([{"role": "user", "content": q}], answers[order[0]]).accepted
                for q, answers in zip(stream.prompts, stream.answers, strict=True)
            ],
            dtype=bool,
        )
    return Prepared(
        stream,
        specs,
        order,
        price,
        task_class,
        matches,
        prior,
        trusted,
        from_catalog,
        verifiable,
        canonical,
        tuple(classifications),
        verdicts,
    )


@dataclass(frozen=True)
class Settings:
    """One configuration of `auto` under test."""

    threshold: float
    always_verify: bool
    config: OnlineConfig
    cost_weight: float | None = None  # set: expected utility by Thompson sampling (utility.py)
    # Set (a verifier's name): the checked cascade of checked_cascade.py instead of auto over
    # models; `threshold` is its keep bar (x GPT-4's estimate; 0: the verifier alone).
    checked: str | None = None
    # checked: no cheap call where even a verified answer would escalate (not in the gateway's
    # cascade walk, which always makes the cheap call: a what-if, off in the sweeps)
    skip_cheap: bool = False

    def label(self) -> str:
        explore = f"explore {self.config.explore_share:.0%}"
        if self.checked is not None:
            skip = ", cheap call skipped where it would escalate" if self.skip_cheap else ""
            if not self.threshold:
                return f"checked cascade ({self.checked}), verifier alone{skip}"
            return (
                f"checked cascade ({self.checked}), keep bar {self.threshold:.2f} x GPT-4's "
                f"estimate, {explore}{skip}"
            )
        if self.cost_weight is not None:
            return f"utility, cost weight {self.cost_weight:g}, {explore}"
        mode = "verify always" if self.always_verify else "verify when unknown"
        return f"threshold {self.threshold:.2f}, {mode}, {explore}"


@dataclass(frozen=True)
class Trace:
    """Per request in stream order: cost paid, served answer right, how it was decided."""

    order: np.ndarray
    cost: np.ndarray
    correct: np.ndarray
    served: np.ndarray  # model index
    strong_called: np.ndarray
    explored: np.ndarray
    verified: np.ndarray


def replay(p: Prepared, order: np.ndarray, settings: Settings, seed: int = 0) -> Trace:
    """Route every request of `order`, serving recorded answers, learning as feedback arrives
    (`seed`: the utility rule's posterior draws)."""
    config = settings.config
    rng = random.Random(seed)
    store = InMemoryStatsStore()
    budget = ExplorationBudget(config.explore_share, config.explore_budget_usd)
    n = len(order)
    cost, correct = np.zeros(n), np.zeros(n, dtype=bool)
    served = np.zeros(n, dtype=int)
    strong_called = np.zeros(n, dtype=bool)
    explored, verified = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    strong = p.stream.strong_index
    for step, row in enumerate(order):
        row = int(row)
        cluster = cell_cluster(p.match[row])
        task_class = p.task_class[row]
        keys = {
            j: level_keys(ANY, task_class, cluster, arm_of(p.specs[j].name), "", ANY)
            for j in p.by_price
        }
        cells = store.load_now([key for triple in keys.values() for key in triple])
        view = OnlineView(task_class, p.match[row], cluster, ANY, cells, config, budget, TENANT)
        options = [
            ModelOption(
                p.specs[j],
                float(p.prior[row, j]),
                bool(p.trusted[row]),
                p.prices[j],
                default=j == strong,
                catalog_prior=bool(p.published[row, j]),
            )
            for j in p.by_price
        ]
        if settings.cost_weight is not None:
            choice = choose_by_utility(
                options,
                view,
                cost_weight=settings.cost_weight,
                rng=rng,
                verifiable=bool(p.verifiable[row]),
            )
        else:
            choice = choose_model(
                options,
                view,
                threshold=settings.threshold,
                relative=True,
                verifiable=bool(p.verifiable[row]),
                always_verify=settings.always_verify,
            )
        assert choice is not None
        chosen = p.by_price[choice.index]
        answered = [chosen]
        if choice.verify is not None:
            first, second = (p.by_price[i] for i in choice.verify)
            answered = [first, second]
            a, b = p.canonical[row][first], p.canonical[row][second]
            if a is not None and a == b:
                chosen = first
            else:
                majority = _vote(p, row, choice.tiebreak, first, second, answered)
                if majority is None:
                    answered.append(chosen)
                else:
                    chosen = majority
            verified[step] = True
        cost[step] = float(p.stream.cost[row, answered].sum())
        good = bool(p.stream.correct[row, chosen])
        correct[step], served[step], explored[step] = good, chosen, choice.explored
        strong_called[step] = strong in answered
        store.add_now(_feedback(p, row, step, task_class, cluster, chosen, answered, good))
    return Trace(order, cost, correct, served, strong_called, explored, verified)


def _vote(
    p: Prepared, row: int, tiebreak: int | None, first: int, second: int, answered: list[int]
) -> int | None:
    """The model whose answer a third vote makes the majority (the third joins `answered`),
    or None: no tiebreak, an answer not comparable, or all three differ."""
    a, b = p.canonical[row][first], p.canonical[row][second]
    if tiebreak is None or a is None or b is None:
        return None
    third = p.by_price[tiebreak]
    answered.append(third)
    c = p.canonical[row][third]
    return first if c == a else second if c == b else None


def _feedback(
    p: Prepared,
    row: int,
    step: int,
    task_class: str,
    cluster: str,
    served: int,
    answered: Sequence[int],
    good: bool,
) -> list[Observation]:
    """The user's rating of the served answer, and what it implies for the others paid for."""

    def observe(j: int, source: FeedbackSource, score: float) -> Observation:
        spec = p.specs[j]
        return Observation(
            TENANT, f"{step}:{j}", source, task_class, cluster, spec.tier, spec.name,
            score, float(p.prior[row, j]),
        )  # fmt: skip

    out = [observe(served, "user", float(good))]
    mine = p.canonical[row][served]
    for j in answered:
        if j == served or mine is None:
            continue
        theirs = p.canonical[row][j]
        if theirs == mine:
            out.append(observe(j, "agreement", float(good)))
        elif good and theirs is not None:
            out.append(observe(j, "agreement", 0.0))
    return out
