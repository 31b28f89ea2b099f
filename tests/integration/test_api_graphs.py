"""Graph specs over REST: push versions, validate, run a pinned version, errors with pointers."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"
TRIP = "Flights cost 2 * 340, the hotel 5 * 120 and food 5 * 45. What is the total?"


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / name).read_text())


@pytest.fixture
def served(database_url: str, simulator_url: str) -> Iterator[tuple[FastAPI, httpx.Client]]:
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    app = create_app(settings, embedded_worker=True)
    with LiveServer(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        yield app, client


def run_and_wait(client: httpx.Client, graph: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/runs?wait=true", json={"graph": graph, "input": payload})
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def events(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    found = []
    with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                found.append(json.loads(line[5:]))
    return found


def test_a_pushed_debate_runs_with_parallel_debaters_and_a_judge_that_says_why(
    served: tuple[FastAPI, httpx.Client],
) -> None:
    _, client = served
    pushed = client.post("/v1/graphs", json=example("debate_judge.yaml"))
    assert pushed.status_code == 201 and pushed.json()["version"] == 1
    assert pushed.headers["location"] == "/v1/graphs/debate-judge/versions/1"
    again = client.post("/v1/graphs", json=example("debate_judge.yaml"))
    assert again.status_code == 200 and again.json() == {**pushed.json(), "created": False}

    run = run_and_wait(client, "debate-judge", {"question": TRIP})
    assert run["status"] == "succeeded", run["error"]
    assert run["version"] == 1 and run["budget_usd"] == 0.5  # the spec's limit
    verdict = run["output"]["verdict"]
    assert verdict["winner"] == "mid_2" and "leaving out 5 * 45" in verdict["reason"]

    timeline = events(client, run["id"])
    (pick,) = [e for e in timeline if e["kind"] == "decision"]
    assert pick["payload"]["decision"] == "judge_pick"
    assert pick["payload"]["winner"] == "mid_2" and pick["payload"]["reason"]
    calls = client.get(f"/v1/runs/{run['id']}/calls").json()
    assert sorted(c["tier"] for c in calls) == ["edge", "edge", "frontier", "mid", "mid"]
    judge = next(c for c in calls if c["tier"] == "frontier")
    assert "judge of 2 debaters" in judge["routing_reason"]
    # The debaters of a round ran at the same time: their calls overlap.
    first_round = [c for c in calls if c["tier"] in ("edge", "mid")][:2]
    starts = sorted(c["created_at"] for c in first_round)
    ends = sorted(c["completed_at"] for c in first_round)
    assert starts[1] < ends[0]


def test_versions_are_immutable_and_a_run_executes_the_version_it_pinned(
    database_url: str, simulator_url: str
) -> None:
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    v1 = example("speculative.yaml")  # node draft_and_verify: an edge draft, a frontier check
    v2 = {
        **copy.deepcopy(v1),
        "description": "version 2: one frontier call",
        "state": {"question": v1["state"]["question"], "answer": {"type": "string"}},
        "output": ["answer"],
        "entry": "respond",
        "nodes": {
            "respond": {
                "kind": "llm",
                "prompt": "{{ question }}",
                "tier": "frontier",
                "output": "answer",
            }
        },
        "edges": [{"from": "respond", "to": "END"}],
    }
    body = {"input": {"question": TRIP}}
    # No worker yet: the run of version 1 waits in the queue while version 2 is pushed.
    api_only = create_app(settings, embedded_worker=False)
    with LiveServer(api_only) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.post("/v1/graphs", json=v1).json()["version"] == 1
        queued = client.post("/v1/runs", json={"graph": v1["name"], **body}).json()
        assert client.post("/v1/graphs", json=v2).json()["version"] == 2
        pinned = client.post("/v1/runs", json={"graph": f"{v1['name']}@1", **body}).json()
        latest = client.post("/v1/runs", json={"graph": v1["name"], **body}).json()
        assert (queued["version"], pinned["version"], latest["version"]) == (1, 1, 2)
        detail = client.get(f"/v1/graphs/{v1['name']}").json()
        assert detail["version"] == 2 and [v["version"] for v in detail["versions"]] == [1, 2]
        assert client.get(f"/v1/graphs/{v1['name']}/versions/1").json()["document"] == v1
        assert client.get(f"/v1/graphs/{v1['name']}/versions/3").status_code == 404
        missing = client.post("/v1/runs", json={"graph": f"{v1['name']}@7", **body})
        assert missing.status_code == 404
    # A new process (the worker restarted) compiles each run's own version from the store.
    with_worker = create_app(settings, embedded_worker=True)
    with LiveServer(with_worker) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        nodes = [{c["node"] for c in _wait(client, r["id"])} for r in (queued, pinned, latest)]
    assert nodes[0] == nodes[1] == {"draft_and_verify"}
    assert nodes[2] == {"respond"}


def _wait(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    """The ledger of a run once it succeeded (its event stream ends with the run)."""
    events(client, run_id)
    run = client.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "succeeded", run
    calls: list[dict[str, Any]] = client.get(f"/v1/runs/{run_id}/calls").json()
    return calls


def test_an_invalid_spec_is_a_422_listing_every_problem_with_its_pointer(
    served: tuple[FastAPI, httpx.Client],
) -> None:
    _, client = served
    spec = example("cascade.yaml")
    spec["nodes"]["ghost"] = {"kind": "teleport"}
    spec["edges"].append({"from": "ghost", "to": "nowhere"})
    first = next(iter(spec["nodes"]))
    spec["nodes"][first]["tier"] = "platinum"
    for path in ("/v1/graphs", "/v1/graphs/validate"):
        response = client.post(path, json=spec)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        pointers = {e["pointer"] for e in problem["errors"]}
        assert "/nodes/ghost/kind" in pointers and len(problem["errors"]) >= 3
        assert all(e["loc"][0] == "body" and e["msg"] for e in problem["errors"])
    assert spec["name"] not in {g["name"] for g in client.get("/v1/graphs").json()}


JUDGED = {
    "name": "judged",
    "state": {"topic": {"type": "string"}, "poem": {"type": "string"}},
    "input": ["topic"],
    "entry": "write",
    "nodes": {
        "write": {
            "kind": "llm",
            "prompt": "Compose a limerick about {{ topic }}.",
            "policy": {
                "name": "cascade",
                "tiers": ["edge", "frontier"],
                "verifier": "judge",
                "judge_with": "mid-b",
            },
            "output": "poem",
        }
    },
    "edges": [{"from": "write", "to": "END"}],
}


def test_a_spec_cascade_policy_with_a_judge_runs_and_an_unknown_judge_is_a_422(
    served: tuple[FastAPI, httpx.Client],
) -> None:
    _, client = served
    wrong = copy.deepcopy(JUDGED)
    wrong["nodes"]["write"]["policy"]["judge_with"] = "mid-z"
    response = client.post("/v1/graphs", json=wrong)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["pointer"] == "/nodes/write/policy/judge_with"
    assert "unknown model or tier 'mid-z'" in error["msg"]

    assert client.post("/v1/graphs", json=JUDGED).status_code == 201
    run = run_and_wait(client, "judged", {"topic": "a cat who plays the bassoon"})
    assert run["status"] == "succeeded", run["error"]
    calls = client.get(f"/v1/runs/{run['id']}/calls").json()
    assert [c["model"] for c in calls] == ["edge-a", "mid-b"]  # the simulator's judge accepts
    assert calls[1]["call_key"] == calls[0]["call_key"] + "/judge"
    assert calls[1]["routing_reason"].startswith("judge check: mid-b judges edge-a's answer")


def test_validate_does_not_store_and_a_loaded_graph_name_is_taken(
    served: tuple[FastAPI, httpx.Client],
) -> None:
    _, client = served
    spec = example("structured_extraction.yaml")
    checked = client.post("/v1/graphs/validate", json=spec)
    assert checked.status_code == 200 and checked.json()["valid"] is True
    assert client.get(f"/v1/graphs/{spec['name']}").status_code == 404
    assert "nodes" in client.get("/v1/graphs/schema").json()["properties"]
    taken = client.post("/v1/graphs", json={**spec, "name": "plan_execute"})
    assert taken.status_code == 409


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
        max_leaves=30,
    ),
    mutate=st.sampled_from(["nodes", "edges", "state", "entry", "limits", "name"]),
)
def test_spec_endpoints_never_answer_5xx(
    served: tuple[FastAPI, httpx.Client], document: Any, mutate: str
) -> None:
    _, client = served
    spec = example("debate_judge.yaml")
    spec[mutate] = document
    for body in (document, spec):
        for path in ("/v1/graphs/validate", "/v1/graphs"):
            response = client.post(path, json=body)
            assert response.status_code < 500, (path, body, response.text)
