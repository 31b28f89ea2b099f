"""Several processes, one `/metrics`: `routegraph serve` (no worker) and a separate
`routegraph worker` share ROUTEGRAPH_METRICS_DIR, and the API's page adds them up."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from app.db.migrate import upgrade_database
from tests.support.processes import Child, service_env, start_api
from tests.support.prometheus import scrape


def test_the_api_process_shows_what_a_separate_worker_process_did(
    sqlite_url: str, simulator_url: str, tmp_path: Path
) -> None:
    upgrade_database(sqlite_url)
    env = service_env(sqlite_url, simulator_url, metrics_dir=tmp_path / "metrics", poll_seconds=0.2)
    api, root = start_api(env, tmp_path / "api.log", worker=False)
    worker = Child(["worker"], env, tmp_path / "worker.log")
    try:
        body = {"graph": "plan_execute", "input": {"question": "What is 2 * 21?"}}
        with httpx.Client(base_url=root, timeout=30) as client:
            run_id = client.post("/v1/runs", json=body).json()["id"]
            deadline = time.monotonic() + 60
            while client.get(f"/v1/runs/{run_id}").json()["status"] != "succeeded":
                assert time.monotonic() < deadline, worker.tail()
                time.sleep(0.1)
            calls = client.get(f"/v1/runs/{run_id}/calls").json()
        metrics = scrape(root)
        assert metrics.total("routegraph_runs_finished_total", status="succeeded") == 1
        assert metrics.total("routegraph_model_calls_total") == len(calls) == 3
        assert metrics.total("routegraph_worker_slots") == 32  # the worker's, not the API's
        assert metrics.total("routegraph_http_requests_total", route="/v1/runs") == 1
        worker.stop()
        # A stopped worker's live gauges go; what it counted stays counted.
        after = scrape(root)
        assert after.total("routegraph_worker_slots") == 0
        assert after.total("routegraph_runs_finished_total", status="succeeded") == 1
    finally:
        worker.stop()
        api.stop()
