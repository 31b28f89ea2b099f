"""The REST API over a real HTTP server on loopback, on SQLite and Postgres (no worker)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer

QUESTION = {"question": "What is 2 * 21?"}


@pytest.fixture
def api(database_url: str) -> Iterator[httpx.Client]:
    settings = Settings(database_url=database_url, max_body_bytes=20_000)
    with LiveServer(create_app(settings)) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, title: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] == title and body["detail"]
    return body


def submit(client: httpx.Client, **extra: object) -> httpx.Response:
    return client.post("/v1/runs", json={"graph": "plan_execute", "input": QUESTION, **extra})


def test_submit_queues_a_run_and_get_returns_it(api: httpx.Client) -> None:
    response = submit(api, budget_usd=0.25, thread_id="t-1", priority=3)
    assert response.status_code == 202
    run = response.json()
    assert run["status"] == "queued" and run["graph"] == "plan_execute" and run["version"] == 1
    assert run["thread_id"] == "t-1" and run["budget_usd"] == 0.25 and run["priority"] == 3
    assert response.headers["location"] == f"/v1/runs/{run['id']}"
    fetched = api.get(f"/v1/runs/{run['id']}").json()
    assert fetched["id"] == run["id"] and fetched["input"] == QUESTION


def test_idempotency_key_returns_the_same_run(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = api.post("/v1/runs", json={"graph": "plan_execute", "input": QUESTION}, headers=headers)
    again = api.post("/v1/runs", json={"graph": "plan_execute", "input": QUESTION}, headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert len(api.get("/v1/runs").json()["items"]) == 1
    other = api.post(
        "/v1/runs",
        json={"graph": "plan_execute", "input": {"question": "different"}},
        headers=headers,
    )
    assert_problem(other, 409, "Idempotency key reused with a different request")


def test_unknown_graph_is_404_and_lists_the_available_ones(api: httpx.Client) -> None:
    body = assert_problem(
        api.post("/v1/runs", json={"graph": "nope", "input": {}}), 404, "Unknown graph"
    )
    assert body["available"] == ["answer", "plan_execute"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"question": ""}, {"question": 3}, {"question": "x", "extra": 1}],
)
def test_input_is_validated_against_the_graph_schema(
    api: httpx.Client, payload: dict[str, object]
) -> None:
    response = api.post("/v1/runs", json={"graph": "plan_execute", "input": payload})
    body = assert_problem(response, 422, "Invalid input")
    assert body["errors"]
    assert api.get("/v1/runs").json()["items"] == []  # nothing was stored


@pytest.mark.parametrize(
    ("raw", "status", "title"),
    [
        (b"{not json", 400, "Malformed JSON"),
        (b'{"graph": "plan_execute"}', 422, "Invalid request"),
        (b'{"graph": "plan_execute", "input": {}, "budget_usd": -1}', 422, "Invalid request"),
        (b'{"graph": "plan_execute", "input": {}, "surprise": true}', 422, "Invalid request"),
        (b"[]", 422, "Invalid request"),
    ],
)
def test_bad_bodies_get_problem_json(
    api: httpx.Client, raw: bytes, status: int, title: str
) -> None:
    response = api.post("/v1/runs", content=raw, headers={"content-type": "application/json"})
    assert_problem(response, status, title)


def test_oversized_body_is_413(api: httpx.Client) -> None:
    big = {"graph": "plan_execute", "input": {"question": "x" * 30_000}}
    assert_problem(api.post("/v1/runs", json=big), 413, "Request body too large")


def test_unknown_run_is_404_everywhere(api: httpx.Client) -> None:
    for method, path in [
        ("GET", "/v1/runs/missing"),
        ("POST", "/v1/runs/missing/cancel"),
        ("GET", "/v1/runs/missing/calls"),
        ("GET", "/v1/runs/missing/events"),
    ]:
        assert_problem(api.request(method, path), 404, "Run not found")


def test_cancel_a_queued_run_then_cancel_again_is_409(api: httpx.Client) -> None:
    run_id = submit(api).json()["id"]
    cancelled = api.post(f"/v1/runs/{run_id}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert_problem(api.post(f"/v1/runs/{run_id}/cancel"), 409, "Run already finished")


def test_list_filters_and_paginates(api: httpx.Client) -> None:
    ids = [submit(api).json()["id"] for _ in range(5)]
    api.post(f"/v1/runs/{ids[0]}/cancel")
    page = api.get("/v1/runs", params={"status": "queued", "limit": 2}).json()
    seen = [r["id"] for r in page["items"]]
    while page["next_cursor"]:
        page = api.get(
            "/v1/runs", params={"status": "queued", "limit": 2, "cursor": page["next_cursor"]}
        ).json()
        seen += [r["id"] for r in page["items"]]
    assert seen == list(reversed(ids[1:]))
    cancelled = api.get("/v1/runs", params={"status": "cancelled"}).json()["items"]
    assert [r["id"] for r in cancelled] == [ids[0]]
    assert api.get("/v1/runs", params={"graph": "other"}).json()["items"] == []
    assert_problem(api.get("/v1/runs", params={"status": "bogus"}), 422, "Invalid request")
    assert_problem(api.get("/v1/runs", params={"cursor": "!!!"}), 422, "Invalid request")
    assert_problem(api.get("/v1/runs", params={"limit": 0}), 422, "Invalid request")


def test_events_of_a_cancelled_run_replay_from_last_event_id(api: httpx.Client) -> None:
    run_id = submit(api).json()["id"]
    api.post(f"/v1/runs/{run_id}/cancel")
    stream = api.get(f"/v1/runs/{run_id}/events", timeout=10)
    assert stream.headers["content-type"].startswith("text/event-stream")
    ids = [line.split(": ", 1)[1] for line in stream.text.splitlines() if line.startswith("id: ")]
    kinds = [
        line.split(": ", 1)[1] for line in stream.text.splitlines() if line.startswith("event: ")
    ]
    assert kinds == ["queued", "cancelled"] and ids == ["1", "2"]
    replay = api.get(f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": "1"}, timeout=10)
    assert "event: queued" not in replay.text and "event: cancelled" in replay.text
    assert_problem(
        api.get(f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": "x"}),
        422,
        "Invalid request",
    )


def test_graphs_and_health(api: httpx.Client) -> None:
    graphs = {g["name"]: g for g in api.get("/v1/graphs").json()}
    assert sorted(graphs) == ["answer", "plan_execute"]
    plan_execute = graphs["plan_execute"]
    assert plan_execute["nodes"] == {"plan": "frontier", "execute": "edge", "synthesize": "mid"}
    assert plan_execute["input_schema"]["required"] == ["question"]
    health = api.get("/healthz").json()
    assert health["status"] == "ok" and health["model_client"] in ("ready", "loading")
    assert_problem(api.get("/nothing-here"), 404, "Not Found")
    assert_problem(api.get("/v1/runs/nope/nothing-here"), 404, "Not Found")
    # Other unknown /v1 paths are where an OpenAI client may call: OpenAI's error shape.
    openai_style = api.get("/v1/nothing-here")
    assert openai_style.status_code == 404
    assert openai_style.json()["error"]["type"] == "invalid_request_error"


def test_a_run_executes_in_the_served_process_and_streams_to_the_end(
    database_url: str, simulator_url: str
) -> None:
    """`serve` = API + embedded worker: submit over REST, follow SSE until the run ends."""
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    with (
        LiveServer(create_app(settings, embedded_worker=True)) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        run_id = submit(client).json()["id"]
        with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
            events = [
                json.loads(line[len("data: ") :])
                for line in stream.iter_lines()
                if line.startswith("data: ")
            ]
        kinds = [(e["kind"], e["node"]) for e in events]
        assert kinds[0] == ("queued", None) and kinds[-1] == ("succeeded", None)
        assert kinds.index(("node_finished", "plan")) < kinds.index(("node_started", "execute"))
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        run = client.get(f"/v1/runs/{run_id}").json()
        assert run["status"] == "succeeded" and "Final answer: 42" in run["output"]["answer"]
        calls = client.get(f"/v1/runs/{run_id}/calls").json()
        assert {c["tier"] for c in calls} == {"frontier", "edge", "mid"}
        assert run["cost_usd"] == pytest.approx(sum(c["cost_usd"] for c in calls))
