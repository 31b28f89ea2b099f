"""Provider rules on runs: the multi-model patterns (debate + judge, cascade, speculative)
pushed as specs and run by the live service's worker never call a model outside the
tenant's (and the submitting key's) rules; what cannot be served inside them fails the
run naming the rule, and an input holding a blocked term is a 422 at submit. SQLite and
Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import SimulatorAdmin
from tests.support.rules_rig import BACKENDS, RulesRig, module_database, rules_service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"
PATTERNS = ("debate_judge.yaml", "cascade.yaml", "speculative.yaml")
QUESTION = {"question": "What is 4 * 340 + 5 * 120?"}


@pytest.fixture(scope="module", params=BACKENDS)
async def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, simulator_url: str
) -> AsyncIterator[RulesRig]:
    with module_database(request.param, tmp_path_factory) as url:
        async with rules_service(url, simulator_url) as running:
            async with running.rest(running.manager) as client:
                for name in PATTERNS:
                    spec = yaml.safe_load((EXAMPLES / name).read_text())
                    assert (await client.post("/v1/graphs", json=spec)).status_code == 201
            yield running


@pytest.fixture
async def rig(service: RulesRig, simulator: SimulatorAdmin) -> RulesRig:
    await service.clear_rules()
    return service


async def run(client: httpx.AsyncClient, graph: str) -> tuple[dict[str, Any], list[str]]:
    """Run `graph` to its end; the run and the models of its ledger rows."""
    response = await client.post("/v1/runs?wait=true", json={"graph": graph, "input": QUESTION})
    assert response.status_code == 200, response.text
    finished = response.json()
    calls = (await client.get(f"/v1/runs/{finished['id']}/calls")).json()
    return finished, [call["model"] for call in calls]


async def test_every_pattern_runs_inside_the_allowed_regions(
    rig: RulesRig, simulator: SimulatorAdmin
) -> None:
    await rig.set_rules({"allowed_regions": ["eu"]})
    async with rig.rest(rig.plain) as client:
        for graph in ("debate-judge", "cascade", "speculative"):
            finished, models = await run(client, graph)
            assert finished["status"] == "succeeded", (graph, finished["error"])
            assert models and all(m.endswith("-b") for m in models), (graph, models)
    called = {str(r["model"]) for r in await simulator.requests()}
    assert called and all(name.endswith("-b") for name in called), called
    assert "frontier-b" in called  # the judge and the verifier ran, on the allowed model


async def test_a_pattern_that_needs_a_forbidden_tier_fails_naming_the_rule(
    rig: RulesRig, simulator: SimulatorAdmin
) -> None:
    await rig.set_rules({"allowed_models": ["edge-a", "edge-b", "mid-a", "mid-b"]})
    async with rig.rest(rig.plain) as client:
        debate, models = await run(client, "debate-judge")
        speculative, _ = await run(client, "speculative")
    for finished in (debate, speculative):
        assert finished["status"] == "failed"
        assert (
            "rule allowed_models of tenant acme: no model allowed for frontier"
            in (finished["error"])
        )
    assert models and not any(m.startswith("frontier") for m in models)
    assert not any(str(r["model"]).startswith("frontier") for r in await simulator.requests())


async def test_a_runs_calls_obey_the_rules_of_the_key_that_submitted_it(rig: RulesRig) -> None:
    await rig.set_rules({"allowed_models": ["edge-a", "edge-b"]}, key_id=rig.plain_id)
    async with rig.rest(rig.plain) as client:
        limited, _ = await run(client, "speculative")
    async with rig.rest(rig.manager) as client:
        free, models = await run(client, "speculative")
    assert limited["status"] == "failed"
    assert f"rule allowed_models of key {rig.plain_id}" in limited["error"]
    assert free["status"] == "succeeded" and "frontier-a" in models


async def test_an_input_with_a_blocked_term_is_refused_at_submit(rig: RulesRig) -> None:
    await rig.set_rules({"blocked_terms": ["falcon"]})
    body = {"graph": "cascade", "input": {"question": "How fast is a Falcon 9?"}}
    async with rig.rest(rig.plain) as client:
        before = (await client.get("/v1/runs")).json()["items"]
        refused = await client.post("/v1/runs", json=body)
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["rule"] == "blocked_terms" and "falcon" in problem["detail"]
        assert (await client.get("/v1/runs")).json()["items"] == before  # nothing queued
