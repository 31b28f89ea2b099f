"""Workers running many runs each are SIGKILLed at random moments while Postgres drops every
connection now and then: every run still succeeds with the right answer, no call is paid
twice, every provider request is on the books, and each run's events are in order.

This is the small version kept in `make test`; `benchmarks/kill_soak.py` runs 100+ runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.bench.kill_soak import run_soak

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def test_killed_workers_and_dropped_connections_lose_no_run(
    postgres_url: str, tmp_path: Path
) -> None:
    report = await run_soak(
        postgres_url,
        tmp_path,
        runs=20,
        workers=2,
        concurrency=8,
        kill_every=(2.0, 4.0),
        min_ready_s=6.0,  # each worker works a while before it dies: runs progress
        latency_scale=1.0,  # calls of 0.2-1 s: workers die mid-call
        drop_connections=2,
        seed=11,
        timeout_s=480,
    )
    assert report.kills >= 2, report
    assert report.problems() == [], (report, _logs(tmp_path))


def _logs(directory: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-1500:] for p in directory.glob("*.log"))
