"""A/B experiments: stored, found for a request, stopped, and the outcomes of their arms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Feedback, ModelCall, Run, utcnow
from app.db.routing_models import Experiment
from app.run_status import RunStatus

MAX_OUTCOMES = 200_000  # units read per comparison (the newest first)


@dataclass(frozen=True)
class Outcome:
    """One request an arm served: its cost, latency, whether it failed, its feedback."""

    arm: str
    cost_usd: float
    latency_ms: float | None
    failed: bool
    score: float | None


async def add(session: AsyncSession, experiment: Experiment) -> None:
    session.add(experiment)
    await session.flush()


async def get(session: AsyncSession, experiment_id: str, tenant_id: str) -> Experiment | None:
    query = select(Experiment).where(
        Experiment.id == experiment_id, Experiment.tenant_id == tenant_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def list_for_tenant(session: AsyncSession, tenant_id: str, limit: int) -> list[Experiment]:
    query = (
        select(Experiment)
        .where(Experiment.tenant_id == tenant_id)
        .order_by(Experiment.created_at.desc(), Experiment.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def running_for(session: AsyncSession, tenant_id: str, target: str) -> Experiment | None:
    """The tenant's running experiment on `target`, if any."""
    query = select(Experiment).where(
        Experiment.tenant_id == tenant_id,
        Experiment.target == target,
        Experiment.status == "running",
    )
    return (await session.execute(query)).scalars().first()


async def in_effect(session: AsyncSession, tenant_id: str, target: str) -> Experiment | None:
    """What decides `target`'s traffic: the running experiment, else the last stopped one
    (its winner gets everything)."""
    query = (
        select(Experiment)
        .where(Experiment.tenant_id == tenant_id, Experiment.target == target)
        .order_by(
            (Experiment.status == "running").desc(),
            Experiment.stopped_at.desc(),
            Experiment.created_at.desc(),
        )
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()


async def stop(session: AsyncSession, experiment_id: str, winner: str) -> bool:
    """Stop a running experiment with its winner; False if it was no longer running."""
    result = await session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status == "running")
        .values(status="stopped", winner=winner, stopped_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def chat_outcomes(
    session: AsyncSession, experiment_id: str, until: datetime | None
) -> list[Outcome]:
    """Per chat request (call key) of the experiment: total cost and latency of its
    attempts, failed unless one answered, and the mean feedback on its calls."""
    ok = func.sum(case((ModelCall.status.in_(("ok", "cache_hit")), 1), else_=0))
    query = (
        select(
            ModelCall.call_key,
            func.min(ModelCall.experiment_arm),
            func.sum(ModelCall.cost_usd),
            func.sum(ModelCall.latency_ms),
            ok,
            func.avg(Feedback.score),
        )
        .outerjoin(Feedback, and_(Feedback.call_id == ModelCall.id, Feedback.source == "user"))
        .where(ModelCall.experiment_id == experiment_id, ModelCall.status != "in_flight")
        .group_by(ModelCall.call_key)
        .order_by(func.min(ModelCall.created_at).desc())
        .limit(MAX_OUTCOMES)
    )
    if until is not None:
        query = query.where(ModelCall.created_at <= until)
    rows = (await session.execute(query)).all()
    return [
        Outcome(arm, float(cost or 0), float(latency or 0), not ok_count, _score(score))
        for _, arm, cost, latency, ok_count, score in rows
    ]


async def run_outcomes(
    session: AsyncSession, experiment_id: str, until: datetime | None
) -> list[Outcome]:
    """Per ended run of the experiment: its cost, wall time, failure and mean feedback."""
    score = (
        select(func.avg(Feedback.score))
        .where(Feedback.run_id == Run.id, Feedback.source == "user")
        .scalar_subquery()
    )
    query = (
        select(Run.experiment_arm, Run.cost_usd, Run.started_at, Run.finished_at, Run.status, score)
        .where(Run.experiment_id == experiment_id, Run.finished_at.is_not(None))
        .order_by(Run.created_at.desc())
        .limit(MAX_OUTCOMES)
    )
    if until is not None:
        query = query.where(Run.created_at <= until)
    outcomes = []
    for arm, cost, started, finished, status, mean_score in (await session.execute(query)).all():
        latency = (finished - started).total_seconds() * 1000 if started and finished else None
        failed = status != RunStatus.SUCCEEDED
        outcomes.append(Outcome(arm, float(cost or 0), latency, failed, _score(mean_score)))
    return outcomes


def _score(value: Any) -> float | None:
    return None if value is None else float(value)
