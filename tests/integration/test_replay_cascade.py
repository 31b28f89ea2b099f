"""A replayed cascade walks the live gateway's cascade and follows the source where learned
estimates decided: a source that kept its cheap answer (the online estimates said so) is
reproduced, not reported as diverging because the classifier alone would have escalated;
a verifier that now rejects what the source kept is a divergence. Real database, real
gateway and tape; the source's ledger rows are written as a run would have written them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import ModelCall, utcnow
from app.gateway.gateway import Gateway
from app.gateway.replay_errors import Divergence, ReplayDiverged
from app.gateway.tape import Tape, request_as_recorded
from app.gateway.tape_gateway import TapeGateway
from app.gateway.types import CallContext, ModelRequest
from app.routing.catalog import load_catalog
from app.routing.classifier import TaskClassifier
from app.routing.judge import JUDGE_MAX_TOKENS, judge_messages
from app.routing.policy import Auto, Cascade

QUESTION = "A box holds 17 apples. How many apples are in 3 boxes and 4 more apples?"
KEY = "s1:answer:answer:answer:0"
WORKED = "3 boxes of 17 apples: 17 * 3 = 51. Adding 4 more: 51 + 4 = 55.\n#### 55"


@dataclass
class Rig:
    gateway: Gateway
    sessions: async_sessionmaker[AsyncSession]
    divergences: list[Divergence]

    def tape(
        self,
        answers: dict[str, tuple[str, str]],
        requests: dict[str, ModelRequest] | None = None,
    ) -> TapeGateway:
        """A source run whose cascade stages (suffix -> (model, answer)) answered so; a
        suffix's request is the question unless `requests` says otherwise (a judge's)."""
        question = ModelRequest(messages=[{"role": "user", "content": QUESTION}], max_tokens=400)
        asked = requests or {}
        rows = [
            ModelCall(
                id=f"call-{suffix}",
                tenant_id="default",
                run_id="src",
                call_key=f"src:{KEY}{suffix}",
                attempt=1,
                routing_reason="source",
                requested=self.gateway.catalog.model(model).tier,
                tier=self.gateway.catalog.model(model).tier,
                model=model,
                provider="simulator",
                request=request_as_recorded(
                    asked.get(suffix, question), model, self.gateway.catalog
                ),
                response={"message": {"role": "assistant", "content": content}},
                prompt_tokens=30,
                completion_tokens=20,
                cost_usd=0.001,
                status="ok",
                created_at=utcnow(),
            )
            for suffix, (model, content) in answers.items()
        ]
        tape = Tape.from_rows("src", rows, status="succeeded", error=None, budget_usd=None)
        return TapeGateway(
            live=self.gateway,
            tape=tape,
            sessions=self.sessions,
            on_divergence="stop",
            report=self.divergences.append,
        )


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    gateway = Gateway(
        catalog=load_catalog(),
        session_factory=sessions,
        simulator_url="http://127.0.0.1:9/v1",  # never called: a replay pays nothing
        classifier=TaskClassifier.load(),
    )
    try:
        yield Rig(gateway, sessions, [])
    finally:
        await engine.dispose()


def call() -> tuple[ModelRequest, CallContext]:
    request = ModelRequest(messages=[{"role": "user", "content": QUESTION}], max_tokens=400)
    return request, CallContext(call_key=KEY, node="answer")


async def test_a_cascade_the_source_kept_on_learned_estimates_is_reproduced(rig: Rig) -> None:
    request, ctx = call()
    classified = rig.gateway.classifier
    assert classified is not None
    p_edge = classified.classify(request.messages, node="answer").p_good["edge"]
    # A bar the classifier's prediction cannot clear: decided on the classifier alone, the
    # cascade would escalate. The source kept edge's answer (its learned estimates said so).
    policy = Cascade(min_p_good=min(1.0, p_edge + 0.05))
    tape = rig.tape({"/cascade-0": ("edge-a", WORKED)})

    result = await tape.complete(request, policy, ctx)

    assert (result.model, result.content) == ("edge-a", WORKED)
    assert rig.divergences == [] and tape.replayed == 1


async def test_a_cascade_the_source_escalated_is_followed_up_the_tiers(rig: Rig) -> None:
    request, ctx = call()
    policy = Cascade(min_p_good=0.0)  # on the classifier alone it would keep edge
    answers = {"/cascade-0": ("edge-a", WORKED), "/cascade-1": ("frontier-a", WORKED)}
    tape = rig.tape(answers)

    result = await tape.complete(request, policy, ctx)

    assert result.model == "frontier-a" and tape.replayed == 2 and rig.divergences == []


def judge_request(request: ModelRequest, answer: str) -> ModelRequest:
    """What the gateway's judge check sends (`judge_check`)."""
    return ModelRequest(
        messages=judge_messages(request.messages, answer),
        response_format={"type": "json_object"},
        max_tokens=JUDGE_MAX_TOKENS,
        temperature=0.0,
    )


@pytest.mark.parametrize(("verdict", "served"), [("accept", "edge-a"), ("reject", "frontier-a")])
async def test_a_judged_cascade_replays_the_judge_call_and_follows_its_verdict(
    rig: Rig, verdict: str, served: str
) -> None:
    request, ctx = call()
    judged = {"/cascade-0/judge": judge_request(request, WORKED)}
    answers = {
        "/cascade-0": ("edge-a", WORKED),
        "/cascade-0/judge": ("mid-a", f'{{"verdict": "{verdict}", "reason": "checked"}}'),
    }
    if verdict == "reject":  # the source went on to the next stage
        answers["/cascade-1"] = ("frontier-a", WORKED)
    tape = rig.tape(answers, judged)

    result = await tape.complete(request, Cascade(verifier="judge"), ctx)

    assert result.model == served and rig.divergences == []
    assert tape.replayed == (2 if verdict == "accept" else 3)  # the judge's call included


@pytest.mark.parametrize(("verdict", "served"), [("accept", "edge-a"), ("reject", "frontier-a")])
async def test_an_auto_call_the_source_judged_replays_as_the_cascade_it_walked(
    rig: Rig, verdict: str, served: str
) -> None:
    """auto chose the judge check on learned estimates: the replay reads it from the keys."""
    request, ctx = call()
    answers = {
        "/cascade-0": ("edge-b", WORKED),
        "/cascade-0/judge": ("mid-b", f'{{"verdict": "{verdict}", "reason": "checked"}}'),
    }
    if verdict == "reject":
        answers["/cascade-1"] = ("frontier-b", WORKED)
    tape = rig.tape(answers, {"/cascade-0/judge": judge_request(request, WORKED)})

    result = await tape.complete(request, Auto(), ctx)

    assert result.model == served.replace("-a", "-b") and rig.divergences == []
    assert tape.replayed == len(answers) and tape.live_calls == 0


async def test_an_auto_call_the_source_checked_by_agreement_replays_too(rig: Rig) -> None:
    request, ctx = call()
    tape = rig.tape({"/cascade-0": ("edge-a", WORKED), "/cascade-0/agree": ("edge-b", WORKED)})

    result = await tape.complete(request, Auto(), ctx)

    assert result.model == "edge-a" and rig.divergences == [] and tape.replayed == 2


async def test_an_auto_call_the_source_settled_by_a_third_vote_replays_the_vote(rig: Rig) -> None:
    """The source's pair disagreed and mid-a's vote sided with edge-b: the replay asks the
    same third model (read from `/cascade-0/tiebreak`) and serves edge-b's answer."""
    request, ctx = call()
    wrong = "17 * 3 = 51, so 51 apples.\n#### 51"
    tape = rig.tape(
        {
            "/cascade-0": ("edge-a", wrong),
            "/cascade-0/agree": ("edge-b", WORKED),
            "/cascade-0/tiebreak": ("mid-a", WORKED),
        }
    )

    result = await tape.complete(request, Auto(), ctx)

    assert (result.model, result.content) == ("edge-b", WORKED)
    assert rig.divergences == [] and tape.replayed == 3 and tape.live_calls == 0


async def test_a_verifier_that_now_rejects_what_the_source_kept_is_a_divergence(
    rig: Rig,
) -> None:
    request, ctx = call()
    tape = rig.tape({"/cascade-0": ("edge-a", "It is probably about fifty.")})

    with pytest.raises(ReplayDiverged):
        await tape.complete(request, Cascade(min_p_good=0.0), ctx)

    assert [d.kind for d in rig.divergences] == ["no_recording"]
    assert rig.divergences[0].call_key == f"{KEY}/cascade-1"
