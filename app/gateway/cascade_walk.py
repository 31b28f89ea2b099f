"""The gateway's walk of a `Cascade`: each stage a logical call, a verifier between stages.

A rule verifier (arithmetic, json, nonempty) judges the stage's answer alone. The
`agreement` verifier asks a second model (or the same one again) for a second answer, its
own logical call, and keeps the stage's answer only if the two agree in a comparable form
(`app.routing.agreement`); with `votes: 3` a third model settles a disagreement and the
majority's answer is kept (`agreement_check`). The `judge` verifier asks a judge model
whether the answer is correct and complete (`judge_check`). Each verdict is recorded as
implicit feedback on the answers it judged (a judge's own call answered nothing, so it gets
none; an answer a vote outvoted counts as wrong).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from app.gateway.agreement_check import check_agreement
from app.gateway.capabilities import capable_route
from app.gateway.judge_check import judge_stage_answer
from app.gateway.learning import stage_context
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.observability.telemetry import Telemetry
from app.routing.cascade import CascadeStep, cascade_step, verified_condition
from app.routing.catalog import Catalog
from app.routing.judge import JUDGE
from app.routing.policy import Cascade, Route, fixed_tier_route
from app.routing.provider_rules import EffectiveRules
from app.routing.verifiers import Verdict, get_verifier

if TYPE_CHECKING:
    from app.gateway.learning import RoutingLearning
    from app.routing.policy import Classifier


class StageServer(Protocol):
    """What a cascade walk needs of a gateway: the live one, or a replay's tape one."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def classifier(self) -> Classifier | None: ...

    @property
    def learning(self) -> RoutingLearning | None: ...

    @property
    def telemetry(self) -> Telemetry | None: ...

    async def serve(
        self,
        request: ModelRequest,
        route: Route,
        ctx: CallContext,
        validate: Callable[[ModelResult], Any] | None = None,
    ) -> ModelResult: ...

    async def rules_for(self, ctx: CallContext) -> EffectiveRules: ...


AGREEMENT = "agreement"


def stage_route(
    catalog: Catalog, policy: Cascade, index: int, why: str, task_class: str | None
) -> Route:
    """Stage `index`'s route: its model first (when the policy names one), then its tier."""
    tier = policy.tiers[index]
    if index >= len(policy.models):
        return fixed_tier_route(catalog, tier, why, task_class=task_class)
    first = catalog.model(policy.models[index])
    chain = (first, *(m for m in catalog.chain(first.tier) if m.name != first.name))
    return Route(
        requested=first.tier,
        tier=first.tier,
        candidates=chain,
        reason=f"{why}; chain {' > '.join(m.name for m in chain)}",
        task_class=task_class,
    )


# Serves the last stage instead of `StageServer.serve` (a streamed call: its answer needs no
# verifying, so its tokens may go to the client as they come).
FinalStage = Callable[[ModelRequest, Route, CallContext], Awaitable[ModelResult]]

# What the call being replayed did after stage `index`: True escalated, False kept, None
# not a replay. A replay follows the source where learned estimates decided (they change
# with every feedback and are not replayed); a rule verifier's verdict is code and must
# agree with the recording, else the replay diverges.
RecordedDecision = Callable[[CallContext, int], bool | None]


async def walk_cascade(
    gateway: StageServer,
    request: ModelRequest,
    policy: Cascade,
    ctx: CallContext,
    validate: Callable[[ModelResult], Any] | None,
    *,
    recorded: RecordedDecision | None = None,
    final_stage: FinalStage | None = None,
) -> ModelResult:
    """Cheapest stage first; each stage is its own logical call (own key, own rows). With
    `final_stage`, the last stage (the one no verifier judges) is served by it."""
    agreement = policy.verifier == AGREEMENT
    judged = policy.verifier == JUDGE
    verifier = None if agreement or judged else get_verifier(policy.verifier)
    lead = f"{policy.lead}; " if policy.lead else ""
    why = f"{lead}cascade stage 1/{len(policy.tiers)} on {policy.tiers[0]}"
    classification = (
        gateway.classifier.classify(request.messages, node=ctx.node) if gateway.classifier else None
    )
    task_class = classification.task_class if classification else None
    learning = gateway.learning
    view = None
    if classification is not None and learning is not None:
        kept = [(tier, verified_condition(policy.verifier)) for tier in policy.tiers[:-1]]
        view = await learning.view(request, classification, ctx.tenant_id, kept)
    result: ModelResult | None = None
    for index in range(len(policy.tiers)):
        stage = replace(ctx, call_key=f"{ctx.call_key}/cascade-{index}")
        staged = stage_route(gateway.catalog, policy, index, why, task_class)
        route = replace(capable_route(staged, request), policy="cascade")
        if view is not None and classification is not None:
            route = replace(route, learning=stage_context(view, classification, route.tier))
        if index == len(policy.tiers) - 1:
            if final_stage is not None:
                result = await final_stage(request, route, stage)
            else:
                result = await gateway.serve(request, route, stage, validate)
            break
        result = await gateway.serve(request, route, stage, validate)
        next_tier = policy.tiers[index + 1]
        others: tuple[tuple[ModelResult, bool], ...] = ()
        if agreement:
            checked = await check_agreement(
                gateway, request, policy, stage, result, route, next_tier
            )
            result, verdict, others = checked.served, checked.verdict, checked.others
        elif judged:
            _, verdict = await judge_stage_answer(gateway, request, policy, stage, result, route)
        else:
            assert verifier is not None
            verdict = verifier(request.messages, result.content)
        step = cascade_step(
            policy,
            tier=route.tier,
            next_tier=next_tier,
            verdict=verdict,
            model=result.model,
            classification=classification,
            online=view,
        )
        escalated = recorded(ctx, index) if recorded is not None else None
        if verdict.accepted and escalated is not None and escalated == step.keep:
            keep = not escalated
            step = CascadeStep(
                keep,
                f"{step.reason}; the source {'kept' if keep else 'escalated'} here "
                "(learned estimates are followed, not replayed)",
                step.explored,
                step.condition,
            )
        if learning is not None and route.learning is not None:
            await learning.cascade_verdict(stage, result, task_class, route.learning, verdict, step)
            for other, sided in others:  # an answer that sided with the kept one counts as right
                await learning.cascade_verdict(
                    stage,
                    other,
                    task_class,
                    route.learning,
                    Verdict(sided, verdict.reason),
                    replace(step, keep=False),
                )
        if step.keep:
            break
        if gateway.telemetry is not None:
            gateway.telemetry.cascade_escalated(route.tier, next_tier, task_class)
        why = f"cascade stage {index + 2}/{len(policy.tiers)} on {next_tier}: {step.reason}"
    assert result is not None
    return result
