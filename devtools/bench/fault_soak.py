"""Fault soak: runs of the demo graph against a simulator that fails on purpose, then the
outcome is checked: no run succeeds with a wrong answer, every provider request the
simulator received has a ledger row, and each run's cost is the sum of its rows.

Scenarios put one fault kind on the first model of one tier ("alone"), or every kind on
the first model of every tier at once with a probability ("mixed"). The second model of
each tier stays healthy, so each run can finish by retrying and falling back.

Used by `tests/e2e/test_fault_soak.py` (Postgres, small) and `benchmarks/fault_soak.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from app.db.models import ModelCall
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker
from devtools.bench.kill_soak import TERMINAL, SoakReport, check_outcome
from devtools.demo import DEFAULT_QUESTION
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.faults import FAULT_KINDS
from devtools.simulator.server import SimulatorServer

FIRST_MODELS = {"edge": "edge-a", "mid": "mid-a", "frontier": "frontier-a"}


@dataclass(frozen=True)
class Scenario:
    name: str
    rules: tuple[dict[str, Any], ...]
    runs: int


@dataclass
class ScenarioResult:
    scenario: Scenario
    report: SoakReport
    faults_fired: int
    malformed_fired: int  # `malformed_json` faults: each must be one invalid output
    invalid_outputs: int
    seconds: float
    errors: Counter[str] = field(default_factory=Counter)


def alone(runs: int) -> list[Scenario]:
    """Each fault kind on the first model of each tier, one scenario each: the first
    `2 * runs` calls to that model fail (so retries on it fail too, then it falls back)."""
    return [
        Scenario(f"{kind} on {model}", ({"model": model, "kind": kind, "times": 2 * runs},), runs)
        for kind in FAULT_KINDS
        for model in FIRST_MODELS.values()
    ]


def mixed(runs: int, probability: float = 0.3) -> Scenario:
    """Every kind on every tier's first model, each with `probability / len(kinds)`, so
    about `probability` of the calls to those models fail one way or another."""
    share = probability / len(FAULT_KINDS)
    rules = tuple(
        {"model": model, "kind": kind, "probability": share}
        for model in FIRST_MODELS.values()
        for kind in FAULT_KINDS
    )
    # Rule i is drawn only when rules before it did not fire: scale so each kind's share
    # of a model's calls stays `share` (1 - k*share is what reaches rule k).
    scaled = tuple(
        {**rule, "probability": round(share / (1 - (index % len(FAULT_KINDS)) * share), 4)}
        for index, rule in enumerate(rules)
    )
    return Scenario(f"mixed {probability:.0%}", scaled, runs)


async def run_scenarios(
    database_url: str,
    scenarios: list[Scenario],
    *,
    concurrency: int = 8,
    model_timeout_s: float = 2.0,
    seed: int = 5,
    timeout_s: float = 300.0,
) -> list[ScenarioResult]:
    """Run each scenario on one in-process worker against one simulator, in order."""
    config = SimulatorConfig(
        latency_scale=0.0,
        seed=seed,
        timeout_hang_seconds=model_timeout_s * 5,
        request_log_size=100_000,
    )
    settings = Settings(
        database_url=database_url,
        model_timeout_seconds=model_timeout_s,
        worker_concurrency=concurrency,
        lease_seconds=30,
    )
    results = []
    with SimulatorServer(config) as simulator_url:
        admin = httpx.AsyncClient(base_url=simulator_url.removesuffix("/v1"), timeout=30)
        settings = settings.model_copy(update={"simulator_url": simulator_url})
        async with admin, build_services(settings) as services:
            stop = asyncio.Event()
            worker = asyncio.create_task(Worker(services).run_forever(stop))
            try:
                for scenario in scenarios:
                    results.append(await _run(services, admin, scenario, timeout_s))
            finally:
                stop.set()
                await worker
    return results


async def _run(
    services: Any, admin: httpx.AsyncClient, scenario: Scenario, timeout_s: float
) -> ScenarioResult:
    (await admin.delete("/admin/faults")).raise_for_status()
    (await admin.delete("/admin/requests")).raise_for_status()
    for rule in scenario.rules:
        (await admin.post("/admin/faults", json=rule)).raise_for_status()
    started = time.monotonic()
    body = SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})
    ids = [(await run_service.submit_run(services, body))[0].id for _ in range(scenario.runs)]
    while True:
        runs = [await run_service.get_run(services, run_id) for run_id in ids]
        if all(run.status in TERMINAL for run in runs):
            break
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{scenario.name}: {Counter(run.status for run in runs)}")
        await asyncio.sleep(0.2)
    report = SoakReport(runs=scenario.runs)
    await check_outcome(services.sessions, ids, report)
    log = (await admin.get("/admin/requests")).json()
    requests = log["requests"] if isinstance(log, dict) else log
    report.provider_requests = len(requests)
    rows = await _ledger_statuses(services, ids)
    return ScenarioResult(
        scenario=scenario,
        report=report,
        faults_fired=sum(1 for entry in requests if entry.get("fault")),
        malformed_fired=sum(1 for entry in requests if entry.get("fault") == "malformed_json"),
        invalid_outputs=rows.get("invalid_output", 0),
        seconds=time.monotonic() - started,
        errors=Counter((run.error or "")[:120] for run in runs if run.status != "succeeded"),
    )


async def _ledger_statuses(services: Any, ids: list[str]) -> Counter[str]:
    async with services.sessions() as session:
        query = select(ModelCall.status).where(ModelCall.run_id.in_(ids))
        return Counter((await session.execute(query)).scalars())


def problems(result: ScenarioResult) -> list[str]:
    """What went wrong in one scenario: every run must succeed with the right answer, every
    provider request be a ledger row, and exactly the corrupted answers be invalid."""
    found = result.report.problems()
    if result.report.provider_requests != result.report.ledger_rows:
        found.append(
            f"{result.report.provider_requests} provider requests but "
            f"{result.report.ledger_rows} ledger rows"
        )
    # Every spoiled answer caught, and nothing else called invalid (no false positives).
    if result.invalid_outputs != result.malformed_fired:
        found.append(
            f"{result.invalid_outputs} invalid outputs for {result.malformed_fired} "
            "malformed_json faults"
        )
    return [f"{result.scenario.name}: {problem}" for problem in found]
