"""Feedback over REST: validation, idempotency, tenants, and the next `auto` decision it changes.

The service runs with its embedded worker on the real simulator, on SQLite and Postgres.
A test-only dependency override lets a request act as another tenant (`X-Test-Tenant`),
as API keys will once they exist.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Header

from app.api.app import create_app
from app.api.tenant import current_tenant
from app.settings import Settings
from tests.conftest import SimulatorAdmin
from tests.support.learning import PEACHES
from tests.support.ledger_rig import ledger_call
from tests.support.live_server import LiveServer


def tenant_from_header(x_test_tenant: Annotated[str, Header()] = "default") -> str:
    return x_test_tenant


def serve(settings: Settings, *, worker: bool) -> LiveServer:
    app = create_app(settings, embedded_worker=worker)
    app.dependency_overrides[current_tenant] = tenant_from_header
    return LiveServer(app)


@pytest.fixture
async def api(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    with serve(settings, worker=True) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            yield client


@pytest.fixture
def idle_api(database_url: str) -> Iterator[httpx.Client]:
    """No worker: submitted runs stay queued."""
    server = serve(Settings(database_url=database_url), worker=False)
    with server as base_url, httpx.Client(base_url=base_url) as client:
        yield client


async def ask(api: httpx.AsyncClient, question: str = PEACHES) -> tuple[str, list[dict[str, Any]]]:
    """Run the `answer` graph with `auto` to the end; (run id, its ledger rows)."""
    body = {"graph": "answer", "input": {"question": question, "policy": "auto"}}
    run = (await api.post("/v1/runs", params={"wait": "true"}, json=body)).json()
    assert run["status"] == "succeeded", run
    calls = (await api.get(f"/v1/runs/{run['id']}/calls")).json()
    return run["id"], calls


def assert_problem(response: httpx.Response, status: int, title: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] == title and body["detail"]
    return body


async def test_feedback_moves_auto_from_one_model_to_another_within_a_task_class(
    api: httpx.AsyncClient,
) -> None:
    first_run, (first,) = await ask(api)
    assert first["model"] == "edge-a" and "class=math" in first["routing_reason"]
    reason = first["routing_reason"]
    assert reason.startswith("auto for node 'answer' (online): edge-a: cheapest known model")
    prior = reason.split("edge-a(prior ", 1)[1][:4]
    assert f"edge-a(prior {prior} -> est {prior}" in reason
    assert "from 0 events in cluster, 0 in class, 0 overall" in reason
    # Not an exploration, and the reason says so with what the tenant's exploration used.
    assert "; not exploring (0 of 1 decisions explored (0.0%, cap 5%))" in reason

    wrong = {"score": 0.0, "label": "wrong total"}
    assert (await api.post(f"/v1/runs/{first_run}/feedback", json=wrong)).status_code == 201
    # A repeat replaces the first score: still one event.
    assert (await api.post(f"/v1/runs/{first_run}/feedback", json=wrong)).status_code == 200
    _, (second,) = await ask(api)
    # One failure is within what the prior explains.
    assert second["model"] == "edge-a", second["routing_reason"]
    assert "from 1 events in cluster, 1 in class, 1 overall" in second["routing_reason"]

    latest, failures = second, 1
    while latest["model"] == "edge-a":
        assert failures < 10, latest["routing_reason"]
        status = (await api.post(f"/v1/calls/{latest['id']}/feedback", json=wrong)).status_code
        assert status == 201
        failures += 1
        _, (latest,) = await ask(api)
    # The same task class, the same tier, another model: edge-b has no failures on record.
    assert (latest["model"], latest["tier"]) == ("edge-b", "edge")
    assert "class=math" in latest["routing_reason"]
    reason = latest["routing_reason"]
    assert reason.startswith("auto for node 'answer' (online): edge-b: cheapest known model")
    edge_a = reason.split("edge-a(", 1)[1].split(")", 1)[0]
    assert f"from {failures} events in cluster, {failures} in class" in edge_a
    assert float(edge_a.split("-> est ", 1)[1][:4]) < float(prior)


@pytest.fixture
async def utility_api(
    database_url: str, simulator: SimulatorAdmin
) -> AsyncIterator[httpx.AsyncClient]:
    """`auto` chooses by expected utility (ROUTEGRAPH_ROUTING_COST_WEIGHT), never exploring."""
    settings = Settings(
        database_url=database_url,
        simulator_url=simulator.base_url,
        routing_cost_weight=1.0,
        routing_explore_share=0.0,
    )
    with serve(settings, worker=True) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            yield client


async def test_feedback_moves_auto_by_expected_utility_from_one_model_to_another(
    utility_api: httpx.AsyncClient,
) -> None:
    run_id, (first,) = await ask(utility_api)
    assert first["model"] == "edge-a", first["routing_reason"]
    assert "(online): edge-a: highest expected utility" in first["routing_reason"]
    wrong = {"score": 0.0, "label": "wrong total"}
    assert (await utility_api.post(f"/v1/runs/{run_id}/feedback", json=wrong)).status_code == 201
    latest, failures = first, 1
    while latest["model"] == "edge-a":
        assert failures < 15, latest["routing_reason"]
        _, (latest,) = await ask(utility_api)
        if latest["model"] == "edge-a":
            path = f"/v1/calls/{latest['id']}/feedback"
            assert (await utility_api.post(path, json=wrong)).status_code == 201
            failures += 1
    # Within the task class, the same tier's other model now has the higher utility.
    assert (latest["model"], latest["tier"]) == ("edge-b", "edge")
    reason = latest["routing_reason"]
    assert "(online): edge-b: highest expected utility" in reason and "class=math" in reason
    edge_a = reason.split("edge-a(", 1)[1].split(")", 1)[0]
    assert f"from {failures} events in cluster, {failures} in class" in edge_a


async def test_feedback_on_a_call_is_stored_once_per_call_readable_and_writes_no_event(
    api: httpx.AsyncClient,
) -> None:
    run_id, (call,) = await ask(api)
    path = f"/v1/calls/{call['id']}/feedback"
    created = await api.post(path, json={"score": 0.25, "label": "vague", "comment": "no units"})
    assert created.status_code == 201
    assert created.json() | {"created_at": None, "updated_at": None} == {
        "call_id": call["id"],
        "run_id": run_id,
        "source": "user",
        "score": 0.25,
        "label": "vague",
        "comment": "no units",
        "tier": call["tier"],
        "model": call["model"],
        "task_class": "math",
        "cluster": "c05:hours-day-many",
        "condition": "",
        "created_at": None,
        "updated_at": None,
    }
    # Run feedback lands on the same call (the run's last call with an answer): an update.
    updated = await api.post(f"/v1/runs/{run_id}/feedback", json={"score": 1})
    assert updated.status_code == 200
    assert updated.json()["call_id"] == call["id"] and updated.json()["label"] is None
    (stored,) = (await api.get(path)).json()
    assert (stored["score"], stored["label"], stored["comment"]) == (1.0, None, None)
    assert stored["created_at"] == created.json()["created_at"]
    assert (await api.get(f"/v1/runs/{run_id}/feedback")).json() == [stored]
    # Feedback wrote no run event: the run's terminal event is still its last.
    stream = (await api.get(f"/v1/runs/{run_id}/events")).text
    kinds = [line.split(": ", 1)[1] for line in stream.splitlines() if line.startswith("event: ")]
    assert kinds[-1] == "succeeded" and kinds.count("succeeded") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "score"),
        ({"score": 1.5}, "score"),
        ({"score": -0.1}, "score"),
        ({"score": "1"}, "score"),
        ({"score": True}, "score"),
        ({"score": 1, "label": ""}, "label"),
        ({"score": 1, "label": "x" * 101}, "label"),
        ({"score": 1, "label": "nul\u0000"}, "label"),
        ({"score": 1, "comment": "x" * 4001}, "comment"),
        ({"score": 1, "stars": 5}, "stars"),
    ],
)
def test_invalid_feedback_is_a_422_problem_naming_the_field(
    idle_api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    for path in ("/v1/calls/some-call/feedback", "/v1/runs/some-run/feedback"):
        problem = assert_problem(idle_api.post(path, json=body), 422, "Invalid request")
        assert any(error["loc"][:2] == ["body", field] for error in problem["errors"]), problem


def test_a_score_that_is_not_a_number_is_a_422(idle_api: httpx.Client) -> None:
    raw = b'{"score": NaN}'
    response = idle_api.post(
        "/v1/calls/c/feedback", content=raw, headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "Invalid request")


async def test_another_tenants_call_and_run_are_not_found(api: httpx.AsyncClient) -> None:
    run_id, (call,) = await ask(api)
    other = {"X-Test-Tenant": "globex"}
    score = {"score": 0.0}
    for response in (
        await api.post(f"/v1/calls/{call['id']}/feedback", json=score, headers=other),
        await api.get(f"/v1/calls/{call['id']}/feedback", headers=other),
    ):
        assert_problem(response, 404, "Model call not found")
    for response in (
        await api.post(f"/v1/runs/{run_id}/feedback", json=score, headers=other),
        await api.get(f"/v1/runs/{run_id}/feedback", headers=other),
    ):
        assert_problem(response, 404, "Run not found")
    assert (await api.get(f"/v1/calls/{call['id']}/feedback")).json() == []  # nothing stored


def test_a_run_without_an_answer_has_nothing_to_rate(idle_api: httpx.Client) -> None:
    body = {"graph": "answer", "input": {"question": PEACHES}}
    run_id = idle_api.post("/v1/runs", json=body).json()["id"]
    queued = idle_api.post(f"/v1/runs/{run_id}/feedback", json={"score": 1})
    assert "is queued" in assert_problem(queued, 409, "No answer to rate")["detail"]
    idle_api.post(f"/v1/runs/{run_id}/cancel")
    cancelled = idle_api.post(f"/v1/runs/{run_id}/feedback", json={"score": 1})
    detail = assert_problem(cancelled, 409, "No answer to rate")["detail"]
    assert "without a model call that answered" in detail


async def test_a_failed_attempt_has_nothing_to_rate(
    api: httpx.AsyncClient, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("edge-a", "server_error", times=1)
    _, calls = await ask(api)
    failed, served = calls
    assert (failed["status"], served["status"]) == ("error", "ok")
    response = await api.post(f"/v1/calls/{failed['id']}/feedback", json={"score": 0})
    assert "status error" in assert_problem(response, 409, "No answer to rate")["detail"]


async def chat_auto(api: httpx.AsyncClient, *, stream: bool) -> tuple[str, str]:
    """One `auto` chat completion over the OpenAI endpoint: (its call id, routing reason)."""
    body = {"model": "auto", "messages": [{"role": "user", "content": PEACHES}], "stream": stream}
    fresh = {"x-routegraph-cache": "off"}  # routed and answered, not a cache hit
    if not stream:
        answer = await api.post("/v1/chat/completions", json=body, headers=fresh)
        assert answer.status_code == 200, answer.text
        return answer.headers["x-routegraph-call-id"], answer.headers["x-routegraph-reason"]
    extension: dict[str, Any] = {}
    async with api.stream("POST", "/v1/chat/completions", json=body, headers=fresh) as answer:
        assert answer.status_code == 200
        reason = answer.headers["x-routegraph-reason"]
        async for line in answer.aiter_lines():
            if line.startswith("data: {"):
                extension = json.loads(line[6:]).get("routegraph") or extension
    return extension["call_id"], reason


async def recorded_routing(database_url: str, call_id: str) -> dict[str, Any] | None:
    return (await ledger_call(database_url, call_id)).routing


async def test_feedback_on_a_streamed_auto_call_reaches_the_estimates(
    api: httpx.AsyncClient, database_url: str
) -> None:
    call_id, reason = await chat_auto(api, stream=True)
    assert "from 0 events in cluster" in reason, reason
    plain_id, _ = await chat_auto(api, stream=False)
    # The stream is booked with the routing context it was decided on, as a plain call is.
    streamed = await recorded_routing(database_url, call_id)
    assert streamed is not None and streamed == await recorded_routing(database_url, plain_id)
    wrong = {"score": 0.0, "label": "wrong total"}
    for _ in range(100):  # a stream's ledger row is completed behind the answer
        rated = await api.post(f"/v1/calls/{call_id}/feedback", json=wrong)
        if rated.status_code != 409:
            break
        await asyncio.sleep(0.05)
    assert rated.status_code == 201, rated.text
    _, after = await chat_auto(api, stream=False)
    assert "from 1 events in cluster" in after, after
