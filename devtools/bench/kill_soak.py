"""Kill soak: worker processes, each running many runs, are SIGKILLed at random moments
(and, on Postgres, every database connection can be dropped) while runs execute; then the
outcome is checked: every run succeeded with the right answer, no call was paid twice,
every provider request is in the ledger, costs add up, and events are in order.

Used by `tests/e2e/test_kill_soak.py` (small) and `benchmarks/kill_soak.py` (full size).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy.exc
from sqlalchemy import func, select

from app.db.engine import is_sqlite, libpq_url
from app.db.models import ModelCall, Run, RunEvent
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from devtools.demo import DEFAULT_QUESTION
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer

TERMINAL = {"succeeded", "failed", "cancelled", "budget_exceeded"}
EXPECTED_ANSWER = "Final answer: 865"


def duplicated_node_events(events: list[RunEvent]) -> list[tuple[int, str, Any]]:
    """(attempt, kind, task) written more than once within one attempt of a run."""
    attempt, seen = 0, Counter[tuple[int, str, Any]]()
    for event in events:
        if event.kind in ("started", "resumed"):
            attempt = int(event.payload.get("epoch", attempt + 1))
        elif event.kind in ("node_started", "node_finished"):
            seen[(attempt, event.kind, event.payload.get("task_id"))] += 1
    return [key for key, count in seen.items() if count > 1]


@dataclass
class SoakReport:
    runs: int
    kills: int = 0
    connection_drops: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    wrong_answers: int = 0
    keys_paid_twice: int = 0
    provider_requests: int = 0
    ledger_rows: int = 0
    lost_rows: int = 0
    cost_mismatches: int = 0
    event_order_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = []
        if self.statuses.get("succeeded", 0) != self.runs:
            found.append(f"statuses {dict(self.statuses)}")
        if self.wrong_answers:
            found.append(f"{self.wrong_answers} wrong answers")
        if self.keys_paid_twice:
            found.append(f"{self.keys_paid_twice} call keys paid twice")
        # Every request is on the books: rows with an outcome were each a request; a `lost`
        # row may or may not have reached the provider before its worker died.
        answered = self.ledger_rows - self.lost_rows
        if not answered <= self.provider_requests <= self.ledger_rows:
            found.append(
                f"{self.provider_requests} provider requests for {self.ledger_rows} ledger rows "
                f"({self.lost_rows} lost)"
            )
        if self.cost_mismatches:
            found.append(f"{self.cost_mismatches} runs whose cost is not the sum of their rows")
        found.extend(self.event_order_errors[:5])
        return found


def _spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], env=env, stdout=out, stderr=out
        )


def _started_lines(log: Path) -> int:
    if not log.exists():
        return 0
    return log.read_text(errors="replace").count(" runs at once)")


def _drop_connections(database_url: str) -> int:
    database = libpq_url(database_url).rsplit("/", 1)[1]
    admin = libpq_url(database_url).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


async def run_soak(
    database_url: str,
    log_dir: Path,
    *,
    runs: int = 100,
    workers: int = 2,
    concurrency: int = 16,
    kill_every: tuple[float, float] = (1.0, 3.0),
    min_ready_s: float = 3.0,
    progress_between_kills: int = 5,
    latency_scale: float = 0.3,
    drop_connections: int = 0,
    seed: int = 7,
    timeout_s: float = 600.0,
) -> SoakReport:
    rng = random.Random(seed)
    report = SoakReport(runs=runs)
    config = SimulatorConfig(latency_scale=latency_scale, request_log_size=runs * 40)
    with SimulatorServer(config) as simulator_url:
        env = {
            **os.environ,
            "ROUTEGRAPH_DATABASE_URL": database_url,
            "ROUTEGRAPH_SIMULATOR_URL": simulator_url,
            # Long enough that a worker busy importing LiteLLM (seconds of CPU holding the
            # GIL) still renews its leases in time.
            "ROUTEGRAPH_LEASE_SECONDS": "5",
            "ROUTEGRAPH_POLL_SECONDS": "0.5",
            "ROUTEGRAPH_WORKER_CONCURRENCY": str(concurrency),
            "ROUTEGRAPH_DB_POOL_SIZE": "3",
            "ROUTEGRAPH_LOG_LEVEL": "INFO",  # "worker ... started" says it is ready
        }
        settings = Settings(database_url=database_url, simulator_url=simulator_url)
        async with build_services(settings) as services:
            body = SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})
            ids = [(await run_service.submit_run(services, body))[0].id for _ in range(runs)]
            logs = [log_dir / f"worker-{i}.log" for i in range(workers)]
            procs = [_spawn_worker(env, logs[i]) for i in range(workers)]
            # A worker is killed only once it has started (LiteLLM's import alone takes
            # seconds) and had `min_ready_s` to take runs over: else nothing progresses.
            ready_lines = [_started_lines(log) for log in logs]
            ready_at: list[float | None] = [None] * workers
            started = time.monotonic()
            drops_at = sorted(rng.uniform(2.0, 15.0) for _ in range(drop_connections))
            next_kill = time.monotonic() + rng.uniform(*kill_every)
            answered_at_kill = 0
            try:
                while True:
                    try:
                        statuses = await _statuses(services.sessions, ids)
                        answered = await _answered_calls(services.sessions, ids)
                    except sqlalchemy.exc.OperationalError:  # ours was among those dropped
                        statuses, answered = [], answered_at_kill
                    if statuses and all(s in TERMINAL for s in statuses):
                        break
                    if time.monotonic() - started > timeout_s:
                        raise TimeoutError(f"soak did not finish: {Counter(statuses)}")
                    for i in range(workers):
                        if ready_at[i] is None and _started_lines(logs[i]) > ready_lines[i]:
                            ready_at[i] = time.monotonic()
                    grown = [
                        i
                        for i in range(workers)
                        if (at := ready_at[i]) is not None and time.monotonic() - at >= min_ready_s
                    ]
                    # A kill only after the workers made progress since the last one: on a slow
                    # or loaded machine the soak slows down instead of never finishing.
                    progressed = answered - answered_at_kill >= progress_between_kills
                    if time.monotonic() >= next_kill and grown and progressed:
                        answered_at_kill = answered
                        victim = rng.choice(grown)
                        procs[victim].send_signal(signal.SIGKILL)
                        procs[victim].wait()
                        ready_lines[victim] = _started_lines(logs[victim])
                        ready_at[victim] = None
                        procs[victim] = _spawn_worker(env, logs[victim])
                        report.kills += 1
                        next_kill = time.monotonic() + rng.uniform(*kill_every)
                    if drops_at and time.monotonic() - started >= drops_at[0]:
                        drops_at.pop(0)
                        if not is_sqlite(database_url):
                            await asyncio.to_thread(_drop_connections, database_url)
                            report.connection_drops += 1
                    await asyncio.sleep(0.1)
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
            report.seconds = time.monotonic() - started
            await check_outcome(services.sessions, ids, report)
        async with httpx.AsyncClient(base_url=simulator_url.removesuffix("/v1")) as client:
            log = (await client.get("/admin/requests")).json()
        report.provider_requests = len(log["requests"] if isinstance(log, dict) else log)
    return report


async def _answered_calls(sessions: Any, ids: list[str]) -> int:
    async with sessions() as session:
        query = (
            select(func.count())
            .select_from(ModelCall)
            .where(ModelCall.run_id.in_(ids), ModelCall.status == "ok")
        )
        return int((await session.execute(query)).scalar_one())


async def _statuses(sessions: Any, ids: list[str]) -> list[str]:
    async with sessions() as session:
        return list((await session.execute(select(Run.status).where(Run.id.in_(ids)))).scalars())


async def check_outcome(sessions: Any, ids: list[str], report: SoakReport) -> None:
    """Fill `report` from the database: statuses, answers, ledger, costs, event order."""
    async with sessions() as session:
        runs = list((await session.execute(select(Run).where(Run.id.in_(ids)))).scalars())
        calls = list(
            (await session.execute(select(ModelCall).where(ModelCall.run_id.in_(ids)))).scalars()
        )
        events = list(
            (
                await session.execute(
                    select(RunEvent).where(RunEvent.run_id.in_(ids)).order_by(RunEvent.seq)
                )
            ).scalars()
        )
    report.statuses = Counter(r.status for r in runs)
    report.wrong_answers = sum(
        1
        for r in runs
        if r.status == "succeeded" and EXPECTED_ANSWER not in json.dumps(r.output or {})
    )
    paid = Counter(c.call_key for c in calls if c.status == "ok")
    report.keys_paid_twice = sum(1 for n in paid.values() if n > 1)
    report.ledger_rows = len(calls)
    report.lost_rows = sum(1 for c in calls if c.status == "lost")
    cost_by_run: defaultdict[str, float] = defaultdict(float)
    for call in calls:
        cost_by_run[call.run_id or ""] += call.cost_usd
    report.cost_mismatches = sum(1 for r in runs if abs(r.cost_usd - cost_by_run[r.id]) > 1e-9)
    by_run: defaultdict[str, list[RunEvent]] = defaultdict(list)
    for event in events:
        by_run[event.run_id].append(event)
    for run_id, timeline in by_run.items():
        kinds = [e.kind for e in timeline]
        seqs = [e.seq for e in timeline]
        terminals = [k for k in kinds if k in TERMINAL]
        if seqs != list(range(1, len(seqs) + 1)):
            report.event_order_errors.append(f"{run_id}: sequence {seqs}")
        if kinds[0] != "queued" or kinds[-1] not in TERMINAL or len(terminals) != 1:
            report.event_order_errors.append(f"{run_id}: {kinds[0]} ... {kinds[-1]}")
        twice = duplicated_node_events(timeline)
        if twice:
            report.event_order_errors.append(f"{run_id}: written twice {twice[:3]}")
