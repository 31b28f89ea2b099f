"""`/openapi.json` as a client generator reads it: every error response is problem+json,
and the run body carries the input schema of every graph whose code the service runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FastAPI, httpx.Client]]:
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'rg.db'}"))
    with LiveServer(app) as base_url, httpx.Client(base_url=base_url) as client:
        yield app, client


def run_body_graphs(document: dict[str, Any]) -> list[str]:
    body = document["paths"]["/v1/runs"]["post"]["requestBody"]["content"]["application/json"]
    return sorted(body["schema"]["discriminator"]["mapping"])


def test_every_error_response_is_declared_as_problem_json(
    served: tuple[FastAPI, httpx.Client],
) -> None:
    _, client = served
    document = client.get("/openapi.json").json()
    body_errors = {"400", "413", "415", "422"}
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            responses = operation["responses"]
            if "requestBody" in operation:
                assert body_errors <= set(responses), (method, path)
            if operation.get("parameters"):
                assert "422" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], status
    assert {"404", "409"} <= set(document["paths"]["/v1/runs/{run_id}/cancel"]["post"]["responses"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"title", "status", "detail"}


def test_the_run_body_lists_the_loaded_graphs_but_no_tenant_specs(
    served: tuple[FastAPI, httpx.Client],
) -> None:
    """Graphs whose code the service runs are in the shared document with their input
    schemas; a spec a tenant pushed is private to it and stays out of the document."""
    _, client = served
    assert run_body_graphs(client.get("/openapi.json").json()) == ["answer", "plan_execute"]
    spec = yaml.safe_load((EXAMPLES / "cascade.yaml").read_text())
    pushed = client.post("/v1/graphs", json=spec)
    assert pushed.status_code == 201, pushed.text
    assert run_body_graphs(client.get("/openapi.json").json()) == ["answer", "plan_execute"]
    assert pushed.json()["name"] in {g["name"] for g in client.get("/v1/graphs").json()}
