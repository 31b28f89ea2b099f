"""The online estimates' knobs (`OnlineConfig`, read from ROUTEGRAPH_ROUTING_* settings) and
how much each kind of feedback counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_SOURCE_WEIGHTS: Mapping[str, float] = {
    "user": 1.0,
    "judge": 1.0,
    "structured_output": 1.0,
    "cascade_verifier": 0.5,  # a verifier's verdict is a noisy proxy for "the answer was good"
    # Another call gave the same comparable answer (a choice, a number) as a rated one: the
    # rating is as true of it, though only as sure as the comparison.
    "agreement": 1.0,
}


@dataclass(frozen=True)
class OnlineConfig:
    """Knobs of the online estimates (the service reads them from ROUTEGRAPH_* settings)."""

    prior_strength: float = 20.0
    backoff_strength: float = 10.0
    ood_prior_strength: float = 2.0
    # What a model's published score for the request's task class (catalog `task_priors`)
    # is worth, in feedback events, where the classifier does not know the request.
    catalog_prior_strength: float = 16.0
    # Whether a model's events in other task classes inform its estimate in this one (the
    # "all traffic" level). False: each class learns from its own events and its prior alone
    # (a model good at multiple choice says little of its code); a published score for the
    # class is never outweighed by other classes' events either way.
    pool_classes: bool = True
    # Set: published priors are put on this traffic's scale by what the other published
    # models' rated answers show, shrunk by this many expected successes
    # (arms.rescale_published). None: published scores are taken as they are.
    published_scale_strength: float | None = 10.0
    ood_row_trust: float = 0.5  # how much of the classifier's per-request p survives OOD
    min_evidence: float = 10.0  # events an OOD request needs before a non-safe tier
    explore_share: float = 0.05
    explore_until: float = 30.0  # cluster cells with fewer events are worth exploring
    explore_margin: float = 0.02  # in distribution: explore tiers estimated this close to the bar
    explore_budget_usd: float | None = None  # per tenant and process: extra spend on exploring
    # Set: `auto` over models takes the highest expected utility, p - cost_weight x cost /
    # the default's cost, by Thompson sampling (utility.py); None: the cheapest model
    # clearing the bar (arms.choose_model). A policy's own weight overrides it.
    cost_weight: float | None = None
    # Who judges the cheap answer of auto's judge check (a model or a tier); None: the mid
    # tier's first model (routing/judge.py). A policy's own `judge_with` overrides it.
    judge_with: str | None = None
    # 3: where two cheap answers to a comparable question disagree, a third cheap model
    # answers and a majority of the three is accepted before escalating (agreement.py).
    agreement_votes: int = 2
    interval_z: float = 1.645  # 90% interval
    significance_z: float = 1.0  # in distribution, corrections smaller than this many sd are noise
    source_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_SOURCE_WEIGHTS)
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.explore_share <= 1.0:
            raise ValueError("explore_share must be within 0..1")
        if not 0.0 <= self.ood_row_trust <= 1.0:
            raise ValueError("ood_row_trust must be within 0..1")
        if self.agreement_votes not in (2, 3):
            raise ValueError("agreement_votes must be 2 or 3")
        if self.cost_weight is not None and self.cost_weight < 0:
            raise ValueError("cost_weight must not be negative")
        for name in (
            "prior_strength",
            "backoff_strength",
            "ood_prior_strength",
            "catalog_prior_strength",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
