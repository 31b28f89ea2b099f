"""Every REST route acts for the tenant of the request's API key: another tenant's runs,
calls, threads, graphs and feedback are 404 (as if they did not exist), a graph name is
per tenant, and no key (once keys exist) is 401 problem+json with `WWW-Authenticate`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.settings import Settings
from devtools.demo import DEFAULT_QUESTION
from tests.support.live_server import LiveServer
from tests.support.tenants import bearer, make_key

SPEC = Path(__file__).resolve().parents[2] / "examples" / "specs" / "structured_extraction.yaml"


@pytest.fixture
def keys(database_url: str) -> dict[str, str]:
    upgrade_database(database_url)
    return {tenant: asyncio.run(make_key(database_url, tenant)) for tenant in ("acme", "globex")}


@pytest.fixture
def base_url(database_url: str, simulator_url: str, keys: dict[str, str]) -> Iterator[str]:
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    with LiveServer(create_app(settings, embedded_worker=True)) as url:
        yield url


def client(base_url: str, token: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=60, headers=bearer(token) if token else {})


def test_a_tenant_sees_only_its_own_runs_graphs_and_calls(
    base_url: str, keys: dict[str, str]
) -> None:
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    with (
        client(base_url, keys["acme"]) as acme,
        client(base_url, keys["globex"]) as globex,
        client(base_url) as anonymous,
    ):
        refused = anonymous.get("/v1/runs")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["www-authenticate"] == "Bearer"
        assert anonymous.post("/v1/graphs", json=spec).status_code == 401

        assert acme.post("/v1/graphs", json=spec).status_code == 201
        body = {"graph": "plan_execute", "input": {"question": DEFAULT_QUESTION}}
        body["thread_id"] = "acme-thread"
        run = acme.post("/v1/runs?wait=true", json=body).json()
        assert run["status"] == "succeeded"
        call_id = acme.get(f"/v1/runs/{run['id']}/calls").json()[0]["id"]

        # Nothing of acme's is visible to globex.
        for path in (
            f"/v1/runs/{run['id']}",
            f"/v1/runs/{run['id']}/calls",
            f"/v1/runs/{run['id']}/events",
            f"/v1/runs/{run['id']}/timeline",
            f"/v1/runs/{run['id']}/checkpoints",
            f"/v1/runs/{run['id']}/feedback",
            f"/v1/calls/{call_id}/feedback",
            "/v1/threads/acme-thread/runs",
            "/v1/graphs/structured-extraction",
            "/v1/graphs/structured-extraction/versions/1",
        ):
            answer = globex.get(path)
            assert answer.status_code == 404, (path, answer.status_code, answer.text)
        assert globex.post(f"/v1/runs/{run['id']}/cancel").status_code == 404
        assert globex.post(f"/v1/runs/{run['id']}/replay", json={}).status_code == 404
        fork = globex.post(f"/v1/runs/{run['id']}/fork", json={"step": 1})
        assert fork.status_code == 404, fork.text
        score = {"score": 0.0}
        assert globex.post(f"/v1/runs/{run['id']}/feedback", json=score).status_code == 404
        assert globex.post(f"/v1/calls/{call_id}/feedback", json=score).status_code == 404
        assert globex.get("/v1/runs").json()["items"] == []
        names = {graph["name"] for graph in globex.get("/v1/graphs").json()}
        assert "structured-extraction" not in names and "plan_execute" in names
        submitted = globex.post(
            "/v1/runs", json={"graph": "structured-extraction", "input": {"document": "x"}}
        )
        assert submitted.status_code == 404, submitted.text

        # Graph names are per tenant: globex pushes its own version 1 of the same name.
        assert globex.post("/v1/graphs", json=spec).json()["version"] == 1
        assert acme.post("/v1/graphs", json={**spec, "description": "v2"}).json()["version"] == 2

        # acme still sees all of its own.
        assert [r["id"] for r in acme.get("/v1/runs").json()["items"]] == [run["id"]]
        assert acme.get(f"/v1/runs/{run['id']}/timeline").status_code == 200
        assert acme.post(f"/v1/calls/{call_id}/feedback", json=score).status_code in (200, 201)


def test_an_idempotency_key_is_each_tenants_own(base_url: str, keys: dict[str, str]) -> None:
    job = {"graph": "plan_execute", "input": {"question": "What is 2 * 21?"}}
    other = {"graph": "plan_execute", "input": {"question": "What is 3 * 14?"}}
    key = {"Idempotency-Key": "nightly-job"}
    with client(base_url, keys["acme"]) as acme, client(base_url, keys["globex"]) as globex:
        mine = acme.post("/v1/runs", json=job, headers=key)
        assert mine.status_code == 202, mine.text
        # globex's same key is globex's own: a new run, whatever the body.
        theirs = globex.post("/v1/runs", json=job, headers=key)
        assert theirs.status_code == 202 and theirs.json()["id"] != mine.json()["id"]
        assert theirs.json()["input"]["question"] == "What is 2 * 21?"
        again = globex.post("/v1/runs", json=job, headers=key)
        assert again.status_code == 200 and again.json()["id"] == theirs.json()["id"]
        # A different body under acme's key is acme's conflict, naming only acme's run.
        conflict = acme.post("/v1/runs", json=other, headers=key)
        assert conflict.status_code == 409
        assert mine.json()["id"] in conflict.text and theirs.json()["id"] not in conflict.text
        other_key = globex.post("/v1/runs", json=other, headers={"Idempotency-Key": "job-2"})
        assert other_key.status_code == 202
        assert acme.post("/v1/runs", json=job, headers=key).json()["id"] == mine.json()["id"]


def test_a_thread_id_is_each_tenants_own(base_url: str, keys: dict[str, str]) -> None:
    acme_question, globex_question = "What is 2 * 21?", "What is 3 * 14?"

    def ask(tenant: httpx.Client, question: str) -> dict[str, Any]:
        body = {"graph": "plan_execute", "input": {"question": question}, "thread_id": "t-1"}
        run: dict[str, Any] = tenant.post("/v1/runs?wait=true", json=body).json()
        assert run["status"] == "succeeded", run
        return run

    def seen(tenant: httpx.Client, run: dict[str, Any]) -> str:
        timeline = tenant.get(f"/v1/runs/{run['id']}/timeline")
        assert timeline.status_code == 200
        return timeline.text

    with client(base_url, keys["acme"]) as acme, client(base_url, keys["globex"]) as globex:
        first = ask(acme, acme_question)
        theirs = ask(globex, globex_question)
        assert theirs["thread_id"] == "t-1"
        assert acme_question not in seen(globex, theirs)
        assert globex.get("/v1/runs/" + first["id"] + "/checkpoints").status_code == 404
        second = ask(acme, "What is 5 * 5?")
        # acme's thread holds acme's conversation, and nothing of globex's.
        assert acme_question in seen(acme, second)
        assert globex_question not in seen(acme, second)
        thread = acme.get("/v1/threads/t-1/runs").json()["items"]
        assert [run["id"] for run in thread] == [first["id"], second["id"]]
        assert [r["id"] for r in globex.get("/v1/threads/t-1/runs").json()["items"]] == [
            theirs["id"]
        ]
        # A fork and a replay of globex's run read globex's thread only.
        fork = globex.post(f"/v1/runs/{theirs['id']}/fork", json={"step": 1})
        assert fork.status_code == 202, fork.text
        replay = globex.post(f"/v1/runs/{theirs['id']}/replay", json={})
        assert replay.status_code == 202, replay.text
        for branched in (fork.json(), replay.json()):
            done = globex.get(f"/v1/runs/{branched['id']}?wait=true").json()
            deadline = 60
            while done["status"] in ("queued", "running") and deadline:
                time.sleep(0.25)
                deadline -= 1
                done = globex.get(f"/v1/runs/{branched['id']}").json()
            assert done["status"] == "succeeded", done
            assert acme_question not in seen(globex, done)


def test_a_spec_cannot_point_a_tool_inside(
    base_url: str, keys: dict[str, str], simulator_url: str
) -> None:
    def fetching(url: str, hosts: list[str]) -> dict[str, Any]:
        return {
            "name": "peek",
            "state": {"question": {"type": "string"}, "found": {"type": "object"}},
            "input": ["question"],
            "entry": "fetch",
            "nodes": {
                "fetch": {
                    "kind": "tool",
                    "tool": "http",
                    "args": {"url": url},
                    "config": {"allow_hosts": hosts},
                    "output": "found",
                }
            },
            "edges": [{"from": "fetch", "to": "END"}],
        }

    admin = simulator_url.rsplit("/v1", 1)[0] + "/admin/requests"
    with client(base_url, keys["globex"]) as globex:
        for path in ("/v1/graphs/validate", "/v1/graphs"):
            refused = globex.post(path, json=fetching(admin, ["127.0.0.1"]))
            assert refused.status_code == 422, refused.text
            problems = {e["pointer"]: e["msg"] for e in refused.json()["errors"]}
            assert "loopback" in problems["/nodes/fetch/config/allow_hosts/0"]
            assert "loopback" in problems["/nodes/fetch/args/url"]
        metadata = globex.post(
            "/v1/graphs/validate",
            json=fetching("http://169.254.169.254/latest/meta-data/", ["169.254.169.254"]),
        )
        assert metadata.status_code == 422 and "cloud metadata" in metadata.text
        assert globex.get("/v1/graphs/peek").status_code == 404
