"""Replays a two-model stream through the checked cascade, learning from bandit feedback.

The policy is the service's `Cascade(tiers=("edge", "frontier"), verifier=...,
min_p_good=threshold, relative=True)`: the cheap model (Mixtral, priced as edge) answers,
the verifier (`app.routing.verifiers`, e.g. `arithmetic`: worked steps and a final number)
reads that answer, and a rejected answer escalates to the strong model (GPT-4). With a
threshold, an accepted answer is kept only where the learned estimate that a *verified*
cheap answer is good here clears `threshold` x the strong model's estimate
(`app.routing.cascade.cascade_step`, the gateway's own keep-or-escalate rule, with its
exploration budget); threshold 0 is the verifier alone.

With `skip`, that keep-or-escalate decision is taken before the cheap call: where even a
verified cheap answer would be escalated, GPT-4 answers directly and the cheap call is not
paid. The decision reads nothing the cheap answer would add (the verdict only matters when
it accepts), so skipping changes cost, not what is served.

Feedback is what the gateway records: the verifier's verdict on the cheap answer
(`cascade_verifier`, free, whenever the cheap call is made) and the served answer's recorded
correctness (`user`; a kept cheap answer's under the condition it was kept under). Nothing
is learned about an answer that was not served.
"""

from __future__ import annotations

import numpy as np

from app.routing.cascade import cascade_step, verified_condition
from app.routing.catalog import TierName
from app.routing.exploration import ExplorationBudget
from app.routing.observations import (
    ANY,
    FeedbackSource,
    InMemoryStatsStore,
    Observation,
    arm_band,
    level_keys,
    tier_arm,
)
from app.routing.online import OnlineView, cell_cluster
from app.routing.policy import Cascade
from app.routing.verifiers import Verdict
from devtools.bench.many_models import TENANT, Prepared, Settings, Trace

CHECKED_NOTE = (
    "Checked cascade (GSM8K checked): the service's Cascade(verifier='arithmetic', "
    "min_p_good=bar, relative=True). Mixtral answers, the arithmetic verifier reads its worked "
    "steps and final number, a rejection escalates to GPT-4 (both calls paid); with a keep bar "
    "a verified answer is kept only where the learned estimate that verified Mixtral answers "
    "are right here clears bar x GPT-4's estimate (cascade_step, with its exploration "
    "budget). The verdict is recorded as cascade_verifier feedback whenever the cheap call is "
    "made, the served answer's correctness as the user's. Grid: the verifier alone, or bar "
    "0.6-0.8 x exploration 5/20%."
)
CHEAP_TIER: TierName = "edge"
STRONG_TIER: TierName = "frontier"


def checked_policy(settings: Settings) -> Cascade:
    """The cascade the setting stands for (threshold 0: the verifier alone decides)."""
    assert settings.checked is not None
    return Cascade(
        tiers=(CHEAP_TIER, STRONG_TIER),
        verifier=settings.checked,
        min_p_good=settings.threshold or None,
        relative=True,
    )


def replay_checked(p: Prepared, order: np.ndarray, settings: Settings, seed: int = 0) -> Trace:
    """Route every request of `order` through the checked cascade, learning as feedback
    arrives (`seed` is unused: the cascade's rule draws nothing; kept for `run_setting`)."""
    del seed
    assert p.verdicts is not None and p.classifications, "prepare(..., verifier=...) first"
    policy = checked_policy(settings)
    condition = verified_condition(policy.verifier)
    config = settings.config
    store = InMemoryStatsStore()
    budget = ExplorationBudget(config.explore_share, config.explore_budget_usd)
    cheap, strong = p.by_price[0], p.stream.strong_index
    n = len(order)
    cost, correct = np.zeros(n), np.zeros(n, dtype=bool)
    served = np.zeros(n, dtype=int)
    strong_called = np.zeros(n, dtype=bool)
    explored, checked = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for step, row in enumerate(order):
        row = int(row)
        c = p.classifications[row]
        cluster = cell_cluster(p.match[row])
        arms = (
            (tier_arm(CHEAP_TIER), "", c.p_good[CHEAP_TIER]),
            (tier_arm(STRONG_TIER), "", c.p_good[STRONG_TIER]),
            (tier_arm(CHEAP_TIER), condition, c.p_good[CHEAP_TIER]),
        )
        keys = [
            key
            for arm, cond, prior in arms
            for key in level_keys(
                ANY, c.task_class, cluster, arm, cond, arm_band(arm, prior, cluster)
            )
        ]
        view = OnlineView(
            c.task_class, p.match[row], cluster, ANY, store.load_now(keys), config, budget, TENANT
        )
        accepted = bool(p.verdicts[row])
        if settings.skip_cheap:  # decide as if the verifier accepted; call only if kept
            tried, was_explored = _keep(policy, p, row, view, Verdict(True, "if accepted"))
            keep = tried and accepted
        else:  # the gateway's walk: the cheap call, its verdict, then keep or escalate
            tried = True
            keep, was_explored = _keep(policy, p, row, view, Verdict(accepted, "recorded"))
        answered = [cheap] if tried else []
        if not keep:
            answered.append(strong)
        chosen = cheap if keep else strong
        good = bool(p.stream.correct[row, chosen])
        cost[step] = float(p.stream.cost[row, answered].sum())
        correct[step], served[step], explored[step] = good, chosen, was_explored
        strong_called[step], checked[step] = not keep, tried
        feedback = [_observe(p, row, step, "user", chosen, good, condition if keep else "")]
        if tried:
            feedback.append(_observe(p, row, step, "cascade_verifier", cheap, accepted, ""))
        store.add_now(feedback)
    return Trace(order, cost, correct, served, strong_called, explored, checked)


def _keep(
    policy: Cascade, p: Prepared, row: int, view: OnlineView, verdict: Verdict
) -> tuple[bool, bool]:
    """The gateway's keep-or-escalate step on the cheap answer: (keep, explored)."""
    step = cascade_step(
        policy,
        tier=CHEAP_TIER,
        next_tier=STRONG_TIER,
        verdict=verdict,
        model=p.specs[p.by_price[0]].name,
        classification=p.classifications[row],
        online=view,
    )
    return step.keep, step.explored


def _observe(
    p: Prepared, row: int, step: int, source: FeedbackSource, j: int, score: bool, condition: str
) -> Observation:
    """One feedback event on model `j`'s answer, in the cells of its cascade tier."""
    tier = CHEAP_TIER if j == p.by_price[0] else STRONG_TIER
    return Observation(
        tenant=TENANT,
        call_id=f"{step}:{j}",
        source=source,
        task_class=p.classifications[row].task_class,
        cluster=cell_cluster(p.match[row]),
        tier=tier,
        model=p.specs[j].name,
        score=float(score),
        prior_p=float(p.classifications[row].p_good[tier]),
        condition=condition,
    )


def flag_rates(p: Prepared) -> dict[str, float]:
    """How often the verifier rejects the cheap answer: overall, of wrong and of right ones."""
    assert p.verdicts is not None
    right = p.stream.correct[:, p.by_price[0]] > 0
    flagged = ~p.verdicts
    return {
        "flagged": float(flagged.mean()),
        "of_wrong": float(flagged[~right].mean()) if (~right).any() else 0.0,
        "of_right": float(flagged[right].mean()) if right.any() else 0.0,
    }


def verifier_alone(p: Prepared) -> dict[str, float]:
    """The cascade with no learning on every row (deterministic): accuracy and cost shares."""
    assert p.verdicts is not None
    s, cheap = p.stream.strong_index, p.by_price[0]
    served = np.where(p.verdicts, cheap, s)
    rows = np.arange(len(p))
    cost = p.stream.cost[:, cheap].sum() + p.stream.cost[~p.verdicts, s].sum()
    return {
        "relative": float(p.stream.correct[rows, served].sum() / p.stream.correct[:, s].sum()),
        "cost": float(cost / p.stream.cost[:, s].sum()),
        "strong_share": float((~p.verdicts).mean()),
    }
