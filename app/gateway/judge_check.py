"""The `judge` verifier of a cascade walk: a judge model reads the stage's answer.

The judge call is a routed call like any other: its own call key (`.../judge`), a ledger
row with its cost and a reason saying whose answer it judges, the run's budget, and the
provider rules (a default judge is one the rules allow; a judge the policy names is kept,
and the rules may refuse it). A judge that cannot answer leaves the answer unverified, so
the cascade escalates.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from app.gateway.errors import AllModelsFailed
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.routing.judge import JUDGE_MAX_TOKENS, judge_messages, judge_model, parse_judgement
from app.routing.policy import Cascade, Route
from app.routing.verifiers import Verdict

if TYPE_CHECKING:
    from app.gateway.cascade_walk import StageServer


async def judge_stage_answer(
    gateway: StageServer,
    request: ModelRequest,
    policy: Cascade,
    stage: CallContext,
    answer: ModelResult,
    route: Route,
) -> tuple[ModelResult | None, Verdict]:
    """(the judge's call, its verdict on `answer`); an unreadable verdict rejects."""
    rules = await gateway.rules_for(stage)
    catalog = gateway.catalog
    answered = catalog.model(answer.model)
    judge = judge_model(
        catalog,
        answered,
        policy.judge_with,
        allowed=lambda m: rules.model_breach(m) is None,
    )
    if judge is None:
        return None, Verdict(False, "no model may judge it (provider rules)")
    named = policy.judge_with in catalog.models
    rest = tuple(m for m in catalog.chain(judge.tier) if m.name not in (judge.name, answered.name))
    why = f"judge check: {judge.name} judges {answer.model}'s answer, kept only if it accepts"
    judge_route = Route(
        requested=judge.name if named else judge.tier,
        tier=judge.tier,
        candidates=(judge, *rest),
        reason=f"{why}; chain {' > '.join(m.name for m in (judge, *rest))}",
        task_class=route.task_class,
        policy="cascade",
    )
    ask = ModelRequest(
        messages=judge_messages(request.messages, answer.content),
        response_format={"type": "json_object"},
        max_tokens=JUDGE_MAX_TOKENS,
        temperature=0.0,
    )
    judge_ctx = replace(stage, call_key=f"{stage.call_key}/judge")
    try:
        verdict_call = await gateway.serve(ask, judge_route, judge_ctx)
    except AllModelsFailed as exc:  # no verdict: the answer is not verified
        return None, Verdict(False, f"no verdict from the judge: {exc}")
    verdict = parse_judgement(verdict_call.content)
    return verdict_call, Verdict(
        verdict.accepted, f"{verdict.reason} ({verdict_call.model} judged)"
    )
