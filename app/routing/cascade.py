"""The cascade's keep-or-escalate rule after each stage, with or without online estimates.

The gateway walks a `Cascade` stage by stage; after a stage's answer is verified it asks
`cascade_step` whether to keep that answer. Offline, a verified answer is kept unless the
classifier's p(good) for its tier is below `min_p_good`. With an online view, the estimate
of "an answer this verifier accepted, from this tier, in this cluster, is good" (learned
from feedback on kept answers) is weighed against the next tier's estimate by the same
rule `auto` uses, with the same exploration budget. The step also says what to record.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.routing.catalog import TierName
from app.routing.classifier import Classification
from app.routing.observations import tier_arm
from app.routing.online import OnlineView, Option, choose
from app.routing.policy import Cascade
from app.routing.verifiers import Verdict


@dataclass(frozen=True)
class CascadeStep:
    """Keep this stage's answer or escalate; `condition` goes into the kept call's feedback."""

    keep: bool
    reason: str
    explored: bool = False
    condition: str = ""


def verified_condition(verifier: str) -> str:
    """Cell condition of an answer a cascade kept after `verifier` accepted it."""
    return f"{verifier}:accepted"


def cascade_step(
    policy: Cascade,
    *,
    tier: TierName,
    next_tier: TierName,
    verdict: Verdict,
    model: str,
    classification: Classification | None,
    online: OnlineView | None = None,
) -> CascadeStep:
    """Decide whether the answer `model` (on `tier`) gave is kept or the cascade moves on."""
    if not verdict.accepted:
        return CascadeStep(
            False, f"{policy.verifier} verifier rejected {model}'s answer ({verdict.reason})"
        )
    condition = verified_condition(policy.verifier)
    accepted = f"{policy.verifier} verifier accepted {model}'s answer"
    if policy.min_p_good is None or classification is None:
        return CascadeStep(True, accepted, condition=condition)
    p_here = float(classification.p_good.get(tier, 0.0))
    p_next = float(classification.p_good.get(next_tier, 0.0))
    if online is None:
        bar = policy.min_p_good * p_next if policy.relative else policy.min_p_good
        if p_here >= bar:
            return CascadeStep(
                True, f"{accepted}; router p={p_here:.2f} >= {bar:.2f}", False, condition
            )
        return CascadeStep(False, f"{accepted} but the router predicts p={p_here:.2f} < {bar:.2f}")
    keep_estimate = online.estimate(tier_arm(tier), p_here, condition)
    if not online.in_distribution and keep_estimate.evidence < online.config.min_evidence:
        return CascadeStep(
            True,
            f"{accepted}; {online.describe()}; no feedback yet on verified {tier} answers "
            f"here ({keep_estimate.evidence:g} events), so the verifier alone decides",
            condition=condition,
        )
    choice = choose(
        [
            Option(f"keep {tier}", tier_arm(tier), p_here, condition),
            Option(next_tier, tier_arm(next_tier), p_next, safe=True),
        ],
        online,
        threshold=policy.min_p_good,
        relative=policy.relative,
        floor=0.0,
    )
    assert choice is not None  # both options are always feasible
    keep = choice.index == 0
    evidence = "; ".join(
        f"{name} {est.describe()}"
        for name, est in zip((f"verified {tier}", next_tier), choice.estimates, strict=True)
    )
    verdict_text = "kept" if keep else f"escalated to {next_tier}"
    return CascadeStep(
        keep,
        f"{accepted}; {verdict_text} (online): {choice.why}; {online.describe()}; {evidence}",
        choice.explored,
        condition if keep else "",
    )
