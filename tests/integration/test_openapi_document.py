"""`/openapi.json` as a client generator reads it: every error response is problem+json,
and the run body follows the graphs registered now, not those at the first request."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.api.app import create_app
from app.services.container import Services
from app.settings import Settings
from tests.support.live_server import LiveServer


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


def test_the_run_body_follows_the_graphs_registered_at_request_time(
    served: tuple[FastAPI, httpx.Client],
) -> None:
    app, client = served
    assert run_body_graphs(client.get("/openapi.json").json()) == ["answer", "plan_execute"]
    services: Services = app.state.services
    services.graphs["echo"] = dataclasses.replace(services.graphs["answer"], name="echo")
    try:
        assert run_body_graphs(client.get("/openapi.json").json()) == [
            "answer",
            "echo",
            "plan_execute",
        ]
    finally:
        del services.graphs["echo"]
    assert run_body_graphs(client.get("/openapi.json").json()) == ["answer", "plan_execute"]
