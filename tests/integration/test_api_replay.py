"""Timeline, replay, fork, checkpoints and thread runs over a real HTTP server on loopback,
with the embedded worker executing the runs, on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.api.app import create_app
from app.settings import Settings
from devtools.demo import DEFAULT_QUESTION
from tests.support.live_server import LiveServer
from tests.support.simulator_admin import SimulatorAdmin

WAIT = {"wait": "true", "timeout": "60"}


@pytest.fixture
def api(database_url: str, simulator: SimulatorAdmin) -> Iterator[httpx.Client]:
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    app = create_app(settings, embedded_worker=True)
    with LiveServer(app) as base_url, httpx.Client(base_url=base_url, timeout=90) as client:
        yield client


@pytest.fixture
def api_without_worker(database_url: str) -> Iterator[httpx.Client]:
    settings = Settings(database_url=database_url)
    with LiveServer(create_app(settings)) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


def problem(response: httpx.Response, status: int, title: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["title"] == title and body["detail"]
    return body


def run_plan_execute(api: httpx.Client, thread_id: str = "conversation-1") -> dict[str, object]:
    body = {
        "graph": "plan_execute",
        "input": {"question": DEFAULT_QUESTION},
        "thread_id": thread_id,
    }
    response = api.post("/v1/runs", json=body, params=WAIT)
    assert response.status_code == 200 and response.json()["status"] == "succeeded", response.text
    run: dict[str, object] = response.json()
    return run


def test_timeline_replay_fork_checkpoints_and_thread_over_rest(
    api: httpx.Client, simulator: SimulatorAdmin
) -> None:
    source = run_plan_execute(api)
    timeline = api.get(f"/v1/runs/{source['id']}/timeline", params={"max_chars": 60}).json()
    kinds = [(s["kind"], s["nodes"]) for s in timeline["steps"]]
    assert kinds[:3] == [("input", []), ("node", ["__start__"]), ("node", ["plan"])]
    assert kinds[3:] == [("node", ["execute"])] * 5 + [("node", ["synthesize"])]
    plan_step = timeline["steps"][2]
    (call,) = plan_step["tasks"][0]["calls"]
    assert call["answered_by"].startswith("frontier") and call["key"] == "s1:plan:plan:plan:0"
    assert plan_step["diff"]["plan"]["before"] == [] and plan_step["read"]["question"]
    assert plan_step["tasks"][0]["duration_ms"] > 0
    assert timeline["totals"]["cost_usd"] == pytest.approx(source["cost_usd"])

    checkpoints = api.get(f"/v1/runs/{source['id']}/checkpoints").json()
    assert [c["step"] for c in checkpoints] == list(range(-1, 8))
    assert checkpoints[2]["written_by"] == ["plan"] and checkpoints[2]["next"] == ["execute"]

    simulator_calls_before = len(api_requests(simulator))
    replayed = api.post(f"/v1/runs/{source['id']}/replay", json={}, params=WAIT)
    assert replayed.status_code == 200, replayed.text
    replay = replayed.json()
    assert replayed.headers["location"] == f"/v1/runs/{replay['id']}"
    assert replay["replay_of"] == source["id"] and replay["cost_usd"] == 0
    assert replay["replay"]["reproduced"] is True and replay["output"] == source["output"]
    assert len(api_requests(simulator)) == simulator_calls_before

    body = {
        "checkpoint_id": checkpoints[2]["checkpoint_id"],
        "model_overrides": {"synthesize": {"tier": "frontier"}},
    }
    forked = api.post(f"/v1/runs/{source['id']}/fork", json=body, params=WAIT)
    assert forked.status_code == 200, forked.text
    fork = forked.json()
    assert fork["parent_run_id"] == source["id"] and fork["status"] == "succeeded"
    fork_timeline = api.get(f"/v1/runs/{fork['id']}/timeline").json()
    assert fork_timeline["branched_from"]["source_step"] == 1
    first = fork_timeline["steps"][0]
    assert first["kind"] == "branch" and first["copied_from"]["run_id"] == source["id"]
    assert [s["nodes"] for s in fork_timeline["steps"][1:]] == [["execute"]] * 5 + [["synthesize"]]
    synth = fork_timeline["steps"][-1]["tasks"][0]["calls"][0]
    assert synth["tier"] == "frontier"

    thread = api.get("/v1/threads/conversation-1/runs").json()
    assert [r["id"] for r in thread["items"]] == [source["id"]]
    assert thread["items"][0]["models"][0].startswith("frontier")


def api_requests(simulator: SimulatorAdmin) -> list[object]:
    """The simulator's request log (read synchronously: this test is not async)."""
    response = httpx.get(simulator.base_url.removesuffix("/v1") + "/admin/requests")
    body = response.json()
    return list(body["requests"] if isinstance(body, dict) else body)


def test_replay_and_fork_refuse_what_they_cannot_do(api_without_worker: httpx.Client) -> None:
    api = api_without_worker
    problem(api.post("/v1/runs/nope/replay", json={}), 404, "Run not found")
    problem(api.get("/v1/runs/nope/timeline"), 404, "Run not found")
    problem(api.get("/v1/threads/nobody/runs"), 404, "Run not found")
    queued = api.post("/v1/runs", json={"graph": "plan_execute", "input": {"question": "2+2?"}})
    run_id = queued.json()["id"]
    problem(api.post(f"/v1/runs/{run_id}/replay", json={}), 409, "Run not finished")
    problem(api.post(f"/v1/runs/{run_id}/fork", json={"step": 3}), 404, "Checkpoint not found")
    both = api.post(f"/v1/runs/{run_id}/fork", json={"step": 3, "checkpoint_id": "x"})
    assert both.status_code == 422
    problem(api.post(f"/v1/runs/{run_id}/replay"), 415, "Unsupported media type")
    timeline = api.get(f"/v1/runs/{run_id}/timeline").json()
    assert timeline["steps"] == [] and timeline["lifecycle"][0]["kind"] == "queued"
    api.post(f"/v1/runs/{run_id}/cancel")
    problem(api.post(f"/v1/runs/{run_id}/replay", json={}), 409, "Run cannot be replayed or forked")


def test_a_fork_patch_that_does_not_fit_the_state_is_a_422_naming_the_key(
    api: httpx.Client,
) -> None:
    source = run_plan_execute(api, thread_id="patched")
    step = {"id": 1, "description": "add", "tool": "calculator", "expression": "1 + 1"}
    for patch, key, says in [
        ({"messages": "x"}, "messages", "cannot be added"),
        ({"step_results": [1, 2]}, "step_results", "cannot be added"),
        ({"plan": "x"}, "plan", "valid array"),
        ({"plan": [step] * 10_000}, "plan", "at most 20 items"),
        ({"plan": [{**step, "id": "1"}]}, "plan", "0.id"),
        ({"answer": 5}, "answer", "valid string"),
    ]:
        refused = api.post(f"/v1/runs/{source['id']}/fork", json={"step": 1, "state_patch": patch})
        body = problem(refused, 422, "Invalid state patch")
        errors = body["errors"]
        assert isinstance(errors, list)
        assert [e["loc"] for e in errors] == [["body", "state_patch", key]], errors
        assert says in str(errors[0]["msg"]), errors
    before = len(api.get("/v1/runs").json()["items"])
    assert before == 1  # nothing was queued
    fits = api.post(
        f"/v1/runs/{source['id']}/fork",
        json={"step": 1, "state_patch": {"plan": [step]}},
        params=WAIT,
    )
    assert fits.status_code == 200, fits.text
    assert fits.json()["status"] == "succeeded" and fits.json()["output"]["step_results"]
