"""Use cases of A/B experiments: create one on a target, read it with its arms compared,
list them, stop one with the arm that gets all traffic from then on."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from app.db import experiments_repo
from app.db.experiments_repo import Outcome
from app.db.routing_models import Experiment
from app.routing.ab_stats import (
    Estimate,
    Test,
    mean_interval,
    proportion_test,
    welch_test,
    wilson_interval,
)
from app.routing.policy_names import policy_names
from app.schemas.experiments import (
    ArmIn,
    ArmStats,
    Difference,
    ExperimentBrief,
    ExperimentHeader,
    ExperimentIn,
    ExperimentOut,
    Interval,
)
from app.services.container import Services
from app.services.errors import (
    ExperimentConflict,
    ExperimentNotFound,
    InvalidExperiment,
    ServiceError,
)

CHAT = "chat"
METRIC_WORDS = {
    "cost_usd": "cost per request",
    "latency_ms": "latency",
    "error_rate": "error rate",
    "feedback": "feedback score",
}


async def create_experiment(services: Services, tenant_id: str, body: ExperimentIn) -> Experiment:
    """Validate the arms against the target, then start splitting its traffic (409 while
    another experiment on the same target runs)."""
    await _check_arms(services, tenant_id, body)
    experiment = Experiment(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        name=body.name,
        target=body.target,
        split=body.split,
        arms=[arm.model_dump(exclude_none=True) for arm in body.arms],
        status="running",
    )
    async with services.sessions.begin() as session:
        running = await experiments_repo.running_for(session, tenant_id, body.target)
        if running is not None:
            raise ExperimentConflict(
                f"experiment {running.id} already splits {body.target!r}: stop it first",
                running=running.id,
            )
        await experiments_repo.add(session, experiment)
    services.assigner.forget(tenant_id, body.target)
    return experiment


async def _check_arms(services: Services, tenant_id: str, body: ExperimentIn) -> None:
    known = policy_names(services.catalog)
    for arm in body.arms:
        if arm.policy is not None and arm.policy not in known:
            raise InvalidExperiment(
                f"arm {arm.name!r}: unknown policy {arm.policy!r} (auto, cascade, a tier "
                "or a catalog model)"
            )
        if body.target == CHAT:
            if arm.policy is None:
                raise InvalidExperiment(f"arm {arm.name!r}: chat arms name a policy")
            continue
        try:
            await services.registry.resolve(body.target, arm.version, tenant_id=tenant_id)
        except ServiceError as exc:
            raise InvalidExperiment(f"arm {arm.name!r}: {exc.detail}") from exc


async def get_experiment(services: Services, tenant_id: str, experiment_id: str) -> ExperimentOut:
    async with services.sessions() as session:
        experiment = await experiments_repo.get(session, experiment_id, tenant_id)
        if experiment is None:
            raise ExperimentNotFound(f"no experiment {experiment_id!r}")
        read = (
            experiments_repo.chat_outcomes
            if experiment.target == CHAT
            else experiments_repo.run_outcomes
        )
        outcomes = await read(session, experiment.id, experiment.stopped_at)
    return compare(experiment, outcomes)


async def list_experiments(services: Services, tenant_id: str, limit: int) -> list[ExperimentBrief]:
    async with services.sessions() as session:
        rows = await experiments_repo.list_for_tenant(session, tenant_id, limit)
    return [brief(row) for row in rows]


async def stop_experiment(
    services: Services, tenant_id: str, experiment_id: str, arm: str
) -> ExperimentOut:
    """Every later request of the target goes to `arm`."""
    async with services.sessions.begin() as session:
        experiment = await experiments_repo.get(session, experiment_id, tenant_id)
        if experiment is None:
            raise ExperimentNotFound(f"no experiment {experiment_id!r}")
        names = [a["name"] for a in experiment.arms]
        if arm not in names:
            raise InvalidExperiment(f"experiment {experiment_id} has no arm {arm!r} ({names})")
        if not await experiments_repo.stop(session, experiment_id, arm):
            raise ExperimentConflict(
                f"experiment {experiment_id} was already stopped (winner {experiment.winner!r})"
            )
        target = experiment.target
    services.assigner.forget(tenant_id, target)
    return await get_experiment(services, tenant_id, experiment_id)


def _header(row: Experiment) -> dict[str, Any]:
    """The fields of `ExperimentHeader`, from the stored experiment."""
    return {name: getattr(row, name) for name in ExperimentHeader.model_fields}


def brief(row: Experiment) -> ExperimentBrief:
    return ExperimentBrief(**_header(row), arms=[ArmIn.model_validate(arm) for arm in row.arms])


def compare(experiment: Experiment, outcomes: Sequence[Outcome]) -> ExperimentOut:
    """Each arm's figures with 95% intervals, and each arm against the first (control)."""
    by_arm: dict[str, list[Outcome]] = {arm["name"]: [] for arm in experiment.arms}
    for outcome in outcomes:
        by_arm.setdefault(outcome.arm, []).append(outcome)
    stats = []
    for arm in experiment.arms:
        served = by_arm[arm["name"]]
        stats.append(
            ArmStats(
                name=arm["name"],
                weight=arm["weight"],
                policy=arm.get("policy"),
                version=arm.get("version"),
                requests=len(served),
                cost_usd=_interval(mean_interval([o.cost_usd for o in served])),
                latency_ms=_interval(mean_interval(_latencies(served))),
                error_rate=_interval(wilson_interval(sum(o.failed for o in served), len(served))),
                feedback=_interval(mean_interval(_scores(served))),
            )
        )
    control_name = experiment.arms[0]["name"]
    control = by_arm[control_name]
    comparisons: list[Difference] = []
    summary: list[str] = []
    for arm in experiment.arms[1:]:
        served = by_arm[arm["name"]]
        tests = {
            "cost_usd": welch_test([o.cost_usd for o in served], [o.cost_usd for o in control]),
            "latency_ms": welch_test(_latencies(served), _latencies(control)),
            "error_rate": proportion_test(
                sum(o.failed for o in served),
                len(served),
                sum(o.failed for o in control),
                len(control),
            ),
            "feedback": welch_test(_scores(served), _scores(control)),
        }
        for metric, test in tests.items():
            comparisons.append(_difference(arm["name"], metric, test))
            if test.significant and test.difference is not None:
                direction = "higher" if test.difference > 0 else "lower"
                summary.append(
                    f"{arm['name']} has a significantly {direction} {METRIC_WORDS[metric]} "
                    f"than {control_name} ({test.difference:+.6g}, p={test.p_value:.3g})"
                )
    if not summary:
        summary.append("no significant difference between the arms yet")
    return ExperimentOut(
        **_header(experiment),
        arms=stats,
        comparisons=comparisons,
        summary=summary,
    )


def _latencies(outcomes: Sequence[Outcome]) -> list[float]:
    return [o.latency_ms for o in outcomes if o.latency_ms is not None]


def _scores(outcomes: Sequence[Outcome]) -> list[float]:
    return [o.score for o in outcomes if o.score is not None]


def _interval(estimate: Estimate) -> Interval:
    return Interval(mean=estimate.mean, low=estimate.low, high=estimate.high, n=estimate.n)


def _difference(arm: str, metric: str, test: Test) -> Difference:
    return Difference(
        arm=arm,
        metric=metric,  # type: ignore[arg-type]
        difference=test.difference,
        low=test.low,
        high=test.high,
        p_value=test.p_value,
        significant=test.significant,
    )
