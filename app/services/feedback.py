"""Use cases of feedback: a user's score on a call, or on the answer a run ended with.

A user's score is an observation of the call's routing context (`app.gateway.learning`),
stored with its label and comment and added to the learned table in one transaction, so
the next `auto` decision in that task class and cluster reads it. Feedback writes no run
event: a run's terminal event stays its last.

A call of the OpenAI endpoint answers before its ledger row is completed (the row is
group-committed behind the answer, `app.gateway.ledger_batch`), so feedback sent the
moment the answer arrives may find the row still `in_flight`. It waits for this process's
pending ledger writes, then (the answer may have come from another replica) re-reads the
row for up to `PENDING_ANSWER_WAIT_S` before saying the call has no answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from app.db import feedback_repo, ledger_repo, routing_stats_repo
from app.db.models import Feedback, ModelCall
from app.db.routing_stats_repo import FeedbackEntry
from app.gateway.learning import CallFacts
from app.schemas.feedback import FeedbackIn
from app.services import run_state
from app.services.container import Services
from app.services.errors import CallNotFound, NoAnswerToRate
from app.services.runs import get_run

PENDING_ANSWER_WAIT_S = 2.0
PENDING_ANSWER_RECHECK_S = 0.05


async def get_call(services: Services, call_id: str, tenant_id: str) -> ModelCall:
    """The call, or CallNotFound (also for another tenant's call)."""
    async with services.sessions() as session:
        call = await ledger_repo.get_call(session, call_id)
    if call is None or call.tenant_id != tenant_id:
        raise CallNotFound(f"no model call with id {call_id!r}")
    return call


async def rate_call(
    services: Services, call_id: str, tenant_id: str, body: FeedbackIn
) -> tuple[Feedback, bool]:
    """Record the user's score on one call; (feedback, True if new, False if it replaced
    the user's earlier feedback on that call)."""
    call = await get_call(services, call_id, tenant_id)
    if call.status == "in_flight":
        call = await _answered(services, call)
    return await _rate(services, call, body)


async def _answered(services: Services, call: ModelCall) -> ModelCall:
    """The call once its completion is written, or as it is after PENDING_ANSWER_WAIT_S."""
    deadline = time.monotonic() + PENDING_ANSWER_WAIT_S
    with contextlib.suppress(TimeoutError):
        pending = services.gateway.batch_ledger.settled()
        await asyncio.wait_for(asyncio.shield(pending), PENDING_ANSWER_WAIT_S)
    while True:
        async with services.sessions() as session:
            found = await ledger_repo.get_call(session, call.id)
        if found is None or found.status != "in_flight" or time.monotonic() >= deadline:
            return found or call
        await asyncio.sleep(PENDING_ANSWER_RECHECK_S)


async def rate_run(
    services: Services, run_id: str, tenant_id: str, body: FeedbackIn
) -> tuple[Feedback, bool]:
    """Record the user's score on the answer a run ended with: on the run's last call to
    complete with an answer (see `ledger_repo.final_answer_call`)."""
    run = await get_run(services, run_id, tenant_id)
    if not run_state.is_terminal(run.status):
        raise NoAnswerToRate(f"run {run_id} is {run.status}: its answer is not final yet")
    async with services.sessions() as session:
        call = await ledger_repo.final_answer_call(session, run_id)
    if call is None:
        raise NoAnswerToRate(f"run {run_id} ended {run.status} without a model call that answered")
    return await _rate(services, call, body)


async def _rate(services: Services, call: ModelCall, body: FeedbackIn) -> tuple[Feedback, bool]:
    if call.status != "ok":
        raise NoAnswerToRate(f"model call {call.id} has no answer to rate (status {call.status})")
    learning = services.gateway.learning
    if learning is None:
        raise RuntimeError("the gateway was built without online learning")
    observation = learning.observation(CallFacts.of(call), "user", body.score)
    entry = FeedbackEntry(observation, call.run_id, body.label, body.comment)
    store = learning.learner.store
    try:
        async with services.sessions.begin() as session:
            (created,) = await routing_stats_repo.apply_feedback(session, [entry], store.scope_of)
            row = await feedback_repo.get_feedback(session, call.tenant_id, call.id, "user")
    finally:
        store.forget()  # this process's next decision reads the new cells
    assert row is not None  # written in this transaction
    return row, created


async def call_feedback(services: Services, call_id: str, tenant_id: str) -> list[Feedback]:
    """Every source's feedback on one of the tenant's calls."""
    call = await get_call(services, call_id, tenant_id)
    async with services.sessions() as session:
        return await feedback_repo.feedback_for_call(session, tenant_id, call.id)


async def run_feedback(services: Services, run_id: str, tenant_id: str) -> list[Feedback]:
    """Feedback on the calls of one of the tenant's runs."""
    await get_run(services, run_id, tenant_id)
    async with services.sessions() as session:
        return await feedback_repo.feedback_for_run(session, run_id)
