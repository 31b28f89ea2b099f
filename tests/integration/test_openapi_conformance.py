"""schemathesis checks the real server against its own OpenAPI document, with every check.

The service runs as `routegraph serve` runs it (embedded worker, SQLite, the simulator,
the guarded h11 protocol), so the runs schemathesis submits are executed and their event
streams end. schemathesis' engine runs all its phases (examples, coverage, fuzzing in
positive and negative modes, stateful sequences along the document's links) with every
check enabled, as `st run --checks all` does. Its pytest plugin cannot be used: its
fixture-loaded schemas set `request.node._nodeid`, which pytest 9 no longer has.

Bounded by examples per operation and stateful scenarios (no time limit: under one the
engine repeats phases until it is spent), about a minute on two cores.
`ROUTEGRAPH_TEST_SCHEMATHESIS_SEED` replays a run; the default keeps `make test` stable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis.engine import StopReason, events
from schemathesis.engine.run import PhaseName
from schemathesis.specs.openapi.schemas import OpenApiSchema

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer

SEED = int(os.environ.get("ROUTEGRAPH_TEST_SCHEMATHESIS_SEED", "20261127"))
EXAMPLES = 25  # per operation and phase; also the number of stateful scenarios
STATEFUL_STEPS = 6
# The examples phase is enabled too; it has work only where the document has examples.
CHECKED_PHASES = {PhaseName.COVERAGE, PhaseName.FUZZING, PhaseName.STATEFUL_TESTING}


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory, simulator_url: str) -> Iterator[str]:
    database = Path(tmp_path_factory.mktemp("conformance")) / "routegraph.db"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}", simulator_url=simulator_url)
    with LiveServer(create_app(settings, embedded_worker=True), settings=settings) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def api_schema(service_url: str) -> OpenApiSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "request-timeout": 30,
            "checks": {"enabled": True},
            "generation": {"mode": "all", "max-examples": EXAMPLES},
            "operations": [
                # With auth off (no key exists) keys are made by `routegraph keys create`:
                # creating or revoking one over REST is a 403. (Include filters are OR'ed and the
                # first matching entry wins: these paths alone, before the POST rule below.)
                {
                    "include-path": ["/v1/keys"],
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "403"]}},
                },
                {
                    "include-path": ["/v1/keys/{key_id}"],
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ["2xx", "403", "404"]}
                    },
                },
                # A graph spec's meaning (nodes that exist, reachable, known models and tools,
                # template variables in the state...) is beyond JSON Schema: a schema-valid
                # spec may still be a 422, with every problem and its pointer.
                {
                    "include-path": ["/v1/graphs", "/v1/graphs/validate"],
                    "include-method": "POST",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "404", "409", "422"]
                        }
                    },
                },
            ],
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
            },
        }
    )
    return schemathesis.openapi.from_url(f"{service_url}/openapi.json", config=config)


def _failures(recorder: schemathesis.engine.recorder.ScenarioRecorder) -> list[str]:
    return [
        f"{check.name}: {check.failure_info.failure}\n{check.failure_info.code_sample}"
        for checks in recorder.checks.values()
        for check in checks
        if check.failure_info is not None
    ]


def test_every_check_passes_in_every_phase(api_schema: OpenApiSchema) -> None:
    failures: list[str] = []
    errors: list[str] = []
    checked: dict[PhaseName, int] = {}
    finished: events.EngineFinished | None = None
    for event in schemathesis.engine.from_schema(api_schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            failures += _failures(event.recorder)
            if isinstance(event, events.ScenarioFinished) and event.recorder.checks:
                checked[event.phase] = checked.get(event.phase, 0) + 1
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            finished = event
    assert finished is not None and finished.stop_reason is StopReason.COMPLETED
    failures += [str(failure) for failure in finished.failures]
    assert not errors, "\n\n".join(errors)
    assert not failures, f"{len(failures)} failures (seed {SEED}):\n\n" + "\n\n".join(failures)
    assert set(checked) >= CHECKED_PHASES, checked  # each phase checked responses


def test_the_document_carries_each_graphs_input_schema(api_schema: OpenApiSchema) -> None:
    raw = api_schema.raw_schema
    body = raw["paths"]["/v1/runs"]["post"]["requestBody"]["content"]["application/json"]
    branches = [branch["$ref"].rsplit("/", 1)[1] for branch in body["schema"]["oneOf"]]
    assert branches == ["SubmitRun.answer", "SubmitRun.plan_execute"]
    plan_execute = raw["components"]["schemas"]["SubmitRun.plan_execute"]["properties"]
    assert plan_execute["graph"]["const"] == "plan_execute"
    assert plan_execute["input"]["required"] == ["question"]
    assert plan_execute["input"]["properties"]["question"]["pattern"] == "^[^\\u0000]*$"
