"""A worker killed with SIGKILL mid-run: the next worker resumes from the checkpoint and
pays for no model call that is already in the ledger."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.db.events_repo import events_after
from app.db.models import ModelCall, Run
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from devtools.demo import DEFAULT_QUESTION
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.support.simulator_admin import SimulatorAdmin

pytestmark = pytest.mark.slow

# The demo question: three priced items, a total, a split (5 plan steps).
QUESTION = DEFAULT_QUESTION


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], env=env, stdout=out, stderr=out
        )


def request_signature(model: str, messages: list[dict[str, Any]]) -> str:
    """LiteLLM drops `content: null` from tool-call messages on the wire: compare without."""
    cleaned = [{k: v for k, v in m.items() if v is not None} for m in messages]
    return model + json.dumps(cleaned, sort_keys=True)


async def test_killed_worker_run_resumes_without_paying_twice(
    database_url: str, tmp_path: Path
) -> None:
    # Catalog latencies (0.2-1 s a call) leave time to kill the worker mid-run.
    with SimulatorServer(SimulatorConfig(latency_scale=1.0)) as simulator_url:
        settings = Settings(database_url=database_url, simulator_url=simulator_url)
        env = {
            **os.environ,
            "ROUTEGRAPH_DATABASE_URL": database_url,
            "ROUTEGRAPH_SIMULATOR_URL": simulator_url,
            "ROUTEGRAPH_LEASE_SECONDS": "3",
            "ROUTEGRAPH_POLL_SECONDS": "0.2",
            "ROUTEGRAPH_LOG_LEVEL": "INFO",
        }
        log = tmp_path / "workers.log"
        async with build_services(settings) as services:
            body = SubmitRun(graph="plan_execute", input={"question": QUESTION})
            run, _ = await run_service.submit_run(services, body)

            async def finished_nodes() -> list[str]:
                async with services.sessions() as session:
                    events = await events_after(session, run.id)
                return [e.node or "" for e in events if e.kind == "node_finished"]

            first = start_worker(env, log)
            try:
                deadline = time.monotonic() + 120
                while (await finished_nodes()).count("execute") < 2:
                    assert time.monotonic() < deadline, log.read_text()[-3000:]
                    assert first.poll() is None, log.read_text()[-3000:]
                    await asyncio.sleep(0.05)
                os.kill(first.pid, signal.SIGKILL)
            finally:
                first.kill()
                first.wait(timeout=10)

            async with services.sessions() as session:
                paid_before = list(
                    (
                        await session.execute(
                            select(ModelCall).where(
                                ModelCall.run_id == run.id, ModelCall.status == "ok"
                            )
                        )
                    ).scalars()
                )
                crashed = await session.get(Run, run.id)
                assert crashed is not None and crashed.status == "running"
            assert len(paid_before) >= 3  # the plan and at least two steps were paid for

            second = start_worker(env, log)
            try:
                deadline = time.monotonic() + 120
                while True:
                    current = await run_service.get_run(services, run.id)
                    if current.status not in ("queued", "running"):
                        break
                    assert time.monotonic() < deadline, log.read_text()[-3000:]
                    await asyncio.sleep(0.1)
            finally:
                second.terminate()
                second.wait(timeout=20)

            assert current.status == "succeeded", current.error
            assert current.epoch == 2
            assert current.output is not None
            assert "Final answer: 865" in current.output["answer"]
            async with services.sessions() as session:
                events = await events_after(session, run.id)
                all_calls = list(
                    (
                        await session.execute(select(ModelCall).where(ModelCall.run_id == run.id))
                    ).scalars()
                )
            kinds = [(e.kind, e.node) for e in events]
            assert ("resumed", None) in kinds
            assert kinds.count(("node_started", "plan")) == 1  # the plan was not redone
        admin = SimulatorAdmin(simulator_url)
        received = Counter(
            request_signature(r["model"], r["messages"]) for r in await admin.requests()
        )
        await admin.close()

    # Ledger: one paid answer per logical call; the calls paid before the crash reached
    # the provider exactly once in total (the new worker took them from the ledger).
    ok_keys = Counter(c.call_key for c in all_calls if c.status == "ok")
    assert all(count == 1 for count in ok_keys.values()), ok_keys
    assert len(ok_keys) == 7  # plan + 5 steps + synthesis
    for call in paid_before:
        assert received[request_signature(call.model, call.request["messages"])] == 1
