"""Every REST route acts for the tenant of the request's API key: another tenant's runs,
calls, threads, graphs and feedback are 404 (as if they did not exist), a graph name is
per tenant, and no key (once keys exist) is 401 problem+json with `WWW-Authenticate`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.demo import DEFAULT_QUESTION
from app.settings import Settings
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
