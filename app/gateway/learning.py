"""Routing that learns, as the gateway runs it: a request's view of the learned table, and
feedback on a call (a user's score, or a verdict recorded on the way) as an observation.

Feedback is about a call in the ledger. The observation it becomes needs the call's routing
context: what the ledger recorded with the call (`model_calls.routing`, written for calls
routed on online estimates), or, for a call made on a fixed tier, the same context computed
again from the recorded request (the classifier and the topic clusters are deterministic).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import ledger_repo
from app.db.models import ModelCall
from app.gateway.ledger import AttemptRecord
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.routing.cascade import CascadeStep
from app.routing.catalog import Catalog
from app.routing.classifier import Classification
from app.routing.features import messages_text
from app.routing.observations import FeedbackSource, Observation, RoutingContext
from app.routing.online import OnlineLearner, OnlineView, cell_cluster, request_arms
from app.routing.policy import Classifier
from app.routing.verifiers import Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallFeedback:
    """Feedback on one model call as a node gives it; the gateway adds the routing context."""

    call_id: str
    source: FeedbackSource
    score: float


@dataclass(frozen=True)
class CallFacts:
    """What the ledger knows of a call that an observation is made of."""

    call_id: str
    tenant: str
    node: str | None
    tier: str
    model: str
    task_class: str | None
    request: Mapping[str, Any]
    routing: Mapping[str, Any] | None

    @classmethod
    def of(cls, row: ModelCall) -> CallFacts:
        return cls(
            row.id,
            row.tenant_id,
            row.node,
            row.tier,
            row.model,
            row.task_class,
            row.request or {},
            row.routing,
        )


class RoutingLearning:
    """The gateway's side of the online estimates (built with the learner at start-up)."""

    def __init__(
        self,
        learner: OnlineLearner,
        classifier: Classifier,
        catalog: Catalog,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.learner = learner
        self.classifier = classifier
        self.catalog = catalog
        self._sessions = sessions

    async def view(
        self,
        request: ModelRequest,
        classification: Classification,
        tenant: str,
        conditioned: Iterable[tuple[str, str]] = (),
    ) -> OnlineView:
        """The learned cells one request's routing decision reads (one query)."""
        user, system = messages_text(request.messages)
        return await self.learner.view(
            tenant=tenant,
            task_class=classification.task_class,
            text=user or system,  # the text the classifier scored
            arms=request_arms(self.catalog, classification.p_good, conditioned),
            dense=classification.dense,
        )

    def context_of(self, call: CallFacts) -> tuple[str, RoutingContext]:
        """(task class, routing context) of a call: as recorded, else computed again."""
        if call.routing and call.task_class:
            return call.task_class, RoutingContext.from_json(call.routing)
        messages = call.request.get("messages") or []
        c = self.classifier.classify(
            messages,
            node=call.node,
            has_tools=bool(call.request.get("tools")),
            response_format=call.request.get("response_format"),
        )
        user, system = messages_text(messages)
        match = self.learner.clusters.match(user or system, c.dense)
        prior = float(c.p_good.get(call.tier, 0.0))
        return c.task_class, RoutingContext(
            cell_cluster(match), prior, ood=not match.in_distribution
        )

    def observation(self, call: CallFacts, source: FeedbackSource, score: float) -> Observation:
        """Feedback on `call` in the cells of its routing context.

        A cascade's verdict is about the raw answer, so it lands in the plain cells; every
        other source rates the answer as it was used, so a kept cascade answer's feedback
        lands in the cells of the condition it was kept under.
        """
        task_class, context = self.context_of(call)
        return Observation(
            tenant=call.tenant,
            call_id=call.call_id,
            source=source,
            task_class=task_class,
            cluster=context.cluster,
            tier=call.tier,
            model=call.model,
            score=score,
            prior_p=min(max(context.prior_p, 0.0), 1.0),
            condition="" if source == "cascade_verifier" else context.condition,
        )

    async def record(self, observations: Sequence[Observation]) -> None:
        """Store implicit feedback; a database error loses the feedback, not the run."""
        if not observations:
            return
        try:
            await self.learner.record(observations)
        except SQLAlchemyError as exc:
            calls = ", ".join(sorted({o.call_id for o in observations}))
            log.warning("implicit feedback on calls %s not stored: %s", calls, exc)

    async def record_on_calls(self, feedback: Sequence[CallFeedback]) -> None:
        """Implicit feedback on calls of the ledger by id (ids not in the ledger are skipped)."""
        try:
            async with self._sessions() as session:
                rows = await ledger_repo.calls_by_id(session, [f.call_id for f in feedback])
        except SQLAlchemyError as exc:
            log.warning("implicit feedback on %d calls not stored: %s", len(feedback), exc)
            return
        await self.record(
            [
                self.observation(CallFacts.of(rows[f.call_id]), f.source, f.score)
                for f in feedback
                if f.call_id in rows
            ]
        )

    async def output_verdict(
        self, ctx: CallContext, record: AttemptRecord, call_id: str, score: float
    ) -> None:
        """structured_output feedback: the node's validator accepted (1) or rejected (0)."""
        facts = CallFacts(
            call_id,
            ctx.tenant_id,
            ctx.node,
            record.model.tier,
            record.model.name,
            record.task_class,
            record.request,
            record.routing,
        )
        await self.record([self.observation(facts, "structured_output", score)])

    async def cascade_verdict(
        self,
        ctx: CallContext,
        result: ModelResult,
        task_class: str | None,
        context: RoutingContext,
        verdict: Verdict,
        step: CascadeStep,
    ) -> None:
        """The verifier's verdict as feedback on the stage's call; a kept answer's call
        remembers the condition it was kept under (and the keep decision's reason)."""
        facts = CallFacts(
            result.call_id,
            ctx.tenant_id,
            ctx.node,
            result.tier,
            result.model,
            task_class,
            {},
            context.to_json(),
        )
        score = 1.0 if verdict.accepted else 0.0
        await self.record([self.observation(facts, "cascade_verifier", score)])
        if step.keep:
            await self.mark_kept(
                result.call_id, context, step.condition, step.explored, step.reason
            )

    async def mark_kept(
        self, call_id: str, context: RoutingContext, condition: str, explored: bool, reason: str
    ) -> None:
        """A cascade kept this call's answer: later feedback on it lands under `condition`."""
        kept = RoutingContext(context.cluster, context.prior_p, condition, explored, context.ood)
        try:
            async with self._sessions.begin() as session:
                await ledger_repo.annotate_call(session, call_id, kept.to_json(), f"; {reason}")
        except SQLAlchemyError as exc:
            log.warning("cascade keep of call %s not recorded: %s", call_id, exc)


def stage_context(view: OnlineView, classification: Classification, tier: str) -> RoutingContext:
    """The routing context of a cascade stage on `tier` (its condition is set if kept)."""
    prior = float(classification.p_good.get(tier, 0.0))
    return RoutingContext(view.cluster, prior, ood=not view.in_distribution)
