"""schemathesis runs OpenAI's own OpenAPI document (vendored in tests/data/openai_openapi,
with its license) against the real server's `POST /v1/chat/completions` and
`GET /v1/models`, positive and negative: no answer is a 5xx, a body OpenAI's schema
refuses is refused (4xx), and every 200 is valid under OpenAI's response schema.

OpenAI documents only 200 and 429 for these operations, so the status code and content
type of our 400/404 answers are not checked against it (their shape is, in
test_openai_hostile_input). Model names are drawn from the ones this service serves
(OpenAI's document allows any string, which would make nearly every positive case a 404
and leave the response schema unchecked); everything else is OpenAI's document as is.
Bounded by examples per phase: seconds on two cores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import StopReason, events

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.settings import Settings
from tests.support.live_server import LiveServer

DOCUMENT = Path(__file__).resolve().parents[1] / "data" / "openai_openapi" / "openapi.json"
SEED = int(os.environ.get("ROUTEGRAPH_TEST_SCHEMATHESIS_SEED", "20261206"))
EXAMPLES = 30
SERVED_MODELS = ["auto", "edge", "mid", "frontier", "edge-a", "mid-b"]
CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "negative_data_rejection",
)


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory, simulator_url: str) -> Iterator[str]:
    database = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('openai') / 'routegraph.db'}"
    upgrade_database(database)
    settings = Settings(database_url=database, simulator_url=simulator_url)
    with LiveServer(create_app(settings), settings=settings) as base_url:
        yield base_url


def test_openais_document_finds_no_5xx_and_no_invalid_answer(service_url: str) -> None:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "base-url": f"{service_url}/v1",
            "request-timeout": 30,
            "checks": {
                "enabled": False,
                **{name: {"enabled": True} for name in CHECKS},
            },
            "generation": {"mode": "all", "max-examples": EXAMPLES},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
        }
    )
    schema = schemathesis.openapi.from_dict(served_models_only(), config=config)
    failures: list[str] = []
    errors: list[str] = []
    answered = ok = 0
    finished: events.EngineFinished | None = None
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            for interaction in event.recorder.interactions.values():
                response = interaction.response
                ok += response is not None and response.status_code == 200
            for checks in event.recorder.checks.values():
                answered += len(checks)
                failures += [
                    f"{check.name}: {check.failure_info.failure}\n{check.failure_info.code_sample}"
                    for check in checks
                    if check.failure_info is not None
                ]
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            finished = event
    assert finished is not None and finished.stop_reason is StopReason.COMPLETED
    failures += [str(failure) for failure in finished.failures]
    assert not errors, "\n\n".join(errors)
    assert not failures, f"{len(failures)} failures (seed {SEED}):\n\n" + "\n\n".join(failures[:20])
    assert answered > 0
    assert ok >= 5, f"only {ok} answers were 200: the response schema was hardly checked"


def served_models_only() -> dict[str, Any]:
    """OpenAI's document, with `model` drawn from the models this service serves."""
    document: dict[str, Any] = json.loads(DOCUMENT.read_text())
    schemas = document["components"]["schemas"]
    schemas["ModelIdsShared"] = {"type": "string", "enum": SERVED_MODELS}
    return document
