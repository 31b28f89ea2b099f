"""Provider rules over the live API: managed per tenant and key by the keys that may, and
obeyed by every policy of the OpenAI endpoint (driven by the official openai SDK), on
SQLite and Postgres. The simulator's request log shows which models were really called."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from tests.conftest import SimulatorAdmin
from tests.support.rules_rig import BACKENDS, RulesRig, module_database, rules_service

ASK = [{"role": "user", "content": "Name three uses of a paperclip"}]
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module", params=BACKENDS)
async def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, simulator_url: str
) -> AsyncIterator[RulesRig]:
    with module_database(request.param, tmp_path_factory) as url:
        async with rules_service(url, simulator_url) as running:
            yield running


@pytest.fixture
async def rig(service: RulesRig, simulator: SimulatorAdmin) -> RulesRig:
    await service.clear_rules()
    return service


async def called_models(simulator: SimulatorAdmin) -> set[str]:
    return {str(request["model"]) for request in await simulator.requests()}


async def test_rules_are_managed_per_tenant_and_key_by_keys_that_may(rig: RulesRig) -> None:
    eu = {"allowed_regions": ["eu"], "blocked_terms": ["falcon"]}
    async with rig.rest(rig.plain) as plain, rig.rest(rig.manager) as manager:
        refused = await plain.put("/v1/rules", json=eu)
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
        assert "--manage-rules" in refused.json()["detail"]
        assert (await plain.get("/v1/rules")).json()["rules"] is None

        stored = await manager.put("/v1/rules", json=eu)
        assert stored.status_code == 200
        assert stored.json()["rules"]["allowed_regions"] == ["eu"]
        seen = (await plain.get("/v1/rules")).json()
        assert seen["tenant_id"] == "acme" and seen["rules"]["blocked_terms"] == ["falcon"]

        typo = await manager.put("/v1/rules", json={"allowed_models": ["edge-a", "edge-z"]})
        assert typo.status_code == 422 and typo.headers["content-type"] == PROBLEM
        assert typo.json()["errors"][0]["loc"] == ["body", "allowed_models", 1]
        for bad in ({"max_usd_per_call": -1}, {"surprise": 1}, {"blocked_terms": "falcon"}):
            assert (await manager.put("/v1/rules", json=bad)).status_code == 422, bad
        assert (await plain.get("/v1/rules")).json()["rules"]["allowed_regions"] == ["eu"]

        key_path = f"/v1/keys/{rig.plain_id}/rules"
        assert (await plain.put(key_path, json={"allowed_models": ["edge-b"]})).status_code == 403
        assert (await manager.put(key_path, json={"allowed_models": ["edge-b"]})).status_code == 200
        assert (await plain.get(key_path)).json()["rules"]["allowed_models"] == ["edge-b"]
        assert (await plain.get(f"/v1/keys/{rig.manager_id}/rules")).status_code == 403
        assert (await manager.get("/v1/keys/no-such-key/rules")).status_code == 404

        assert (await manager.delete("/v1/rules")).status_code == 204
        assert (await plain.get("/v1/rules")).json()["rules"] is None
    async with rig.rest(rig.globex) as globex:
        # Another tenant neither sees acme's rules nor reaches its keys.
        assert (await globex.get("/v1/rules")).json() == {
            "tenant_id": "globex",
            "key_id": None,
            "rules": None,
        }
        assert (await globex.get(key_path)).status_code == 404


async def test_every_policy_stays_inside_the_allowed_regions(
    rig: RulesRig, simulator: SimulatorAdmin
) -> None:
    await rig.set_rules({"allowed_regions": ["eu"]})
    async with rig.sdk(rig.plain) as client:
        raw = await client.chat.completions.with_raw_response.create(model="frontier", messages=ASK)
        assert raw.parse().model == "frontier-b"
        assert "provider rules exclude frontier-a" in raw.headers["x-routegraph-reason"]
        stream = await client.chat.completions.create(model="edge", messages=ASK, stream=True)
        assert {chunk.model async for chunk in stream} == {"edge-b"}
        auto = await client.chat.completions.create(model="auto", messages=ASK)
        assert auto.model in {"edge-b", "mid-b", "frontier-b"}
        cascade = await client.chat.completions.create(model="cascade", messages=ASK)
        assert cascade.model.endswith("-b")
        # Agreement's default second opinion (the tier's next model, edge-a) is not allowed:
        # edge-b answers twice instead.
        options = {"cascade_tiers": ["edge", "mid"], "verifier": "agreement", "cache": False}
        agreed = await client.chat.completions.create(
            model="cascade", messages=ASK, extra_body={"routegraph": options}
        )
        assert agreed.model.endswith("-b")
        # The judge's default (the mid tier's first model, mid-a) is not allowed: mid-b judges.
        options = {"cascade_tiers": ["edge", "frontier"], "verifier": "judge", "cache": False}
        judged = await client.chat.completions.create(
            model="cascade", messages=ASK, extra_body={"routegraph": options}
        )
        assert judged.model == "edge-b"  # the simulator's judge accepts prose
        (verdict,) = await simulator.requests("mid-b")
        assert verdict["messages"][0]["content"].startswith("ROLE: verifier")

        # The fallback chain ends where the allowed set does: mid-a is never tried.
        await simulator.inject("mid-b", "server_error")
        other = [{"role": "user", "content": "Name three uses of a brick"}]  # not cached
        with pytest.raises(openai.InternalServerError) as failed:
            await client.chat.completions.create(model="mid", messages=other)
        assert failed.value.status_code == 502 and failed.value.code == "all_models_failed"

        with pytest.raises(openai.PermissionDeniedError) as named:
            await client.chat.completions.create(model="mid-a", messages=ASK)
    assert named.value.code == "provider_rule_violation" and named.value.param == "allowed_regions"
    assert "rule allowed_regions of tenant acme: mid-a runs in region us" in named.value.message
    called = await called_models(simulator)
    assert called and all(name.endswith("-b") for name in called), called


async def test_a_keys_rules_narrow_its_tenants_for_that_key_only(
    rig: RulesRig, simulator: SimulatorAdmin
) -> None:
    await rig.set_rules({"allowed_regions": ["eu"]})
    await rig.set_rules({"allowed_models": ["edge-b", "edge-a"]}, key_id=rig.plain_id)
    async with rig.sdk(rig.plain) as client, rig.sdk(rig.manager) as manager:
        assert [m.id async for m in client.models.list()] == ["auto", "edge", "edge-b"]
        listed = [m.id async for m in manager.models.list()]
        assert listed == ["auto", "edge", "mid", "frontier", "frontier-b", "mid-b", "edge-b"]
        with pytest.raises(openai.PermissionDeniedError) as refused:
            await client.chat.completions.create(model="mid", messages=ASK)
        auto = await client.chat.completions.create(model="auto", messages=ASK)
        edge = await client.chat.completions.create(model="edge", messages=ASK)
    assert f"rule allowed_models of key {rig.plain_id}" in refused.value.message
    assert auto.model == "edge-b" and edge.model == "edge-b"  # edge-a: the tenant's region rule
    async with rig.sdk(rig.manager) as client:
        assert (await client.chat.completions.create(model="mid", messages=ASK)).model == "mid-b"
    assert await called_models(simulator) == {"edge-b", "mid-b"}


async def test_content_rules_refuse_the_prompt_with_422(
    rig: RulesRig, simulator: SimulatorAdmin
) -> None:
    falcon = [{"role": "user", "content": "What is Project FALCON about?"}]
    async with rig.sdk(rig.plain) as client:
        # Answered (and cached) before the rule exists; afterwards the cache does not help.
        assert (await client.chat.completions.create(model="edge", messages=falcon)).model
        await rig.set_rules({"blocked_terms": ["project falcon"], "max_prompt_tokens": 40})
        for stream in (False, True):
            with pytest.raises(openai.UnprocessableEntityError) as blocked:
                await client.chat.completions.create(model="edge", messages=falcon, stream=stream)
            assert blocked.value.code == "provider_rule_violation"
            assert blocked.value.param == "blocked_terms"
        long = [{"role": "user", "content": "Summarise this: " + "lorem ipsum " * 60}]
        with pytest.raises(openai.UnprocessableEntityError) as big:
            await client.chat.completions.create(model="auto", messages=long)
        assert big.value.param == "max_prompt_tokens"
        assert (await client.chat.completions.create(model="edge", messages=ASK)).model == "edge-a"
    assert len(await simulator.requests()) == 2


async def test_the_price_cap_refuses_a_fixed_tier_and_bounds_auto(
    rig: RulesRig, simulator: SimulatorAdmin
) -> None:
    await rig.set_rules({"max_usd_per_call": 0.002})
    async with rig.sdk(rig.plain) as client:
        with pytest.raises(openai.PermissionDeniedError) as refused:
            await client.chat.completions.create(model="frontier", messages=ASK, max_tokens=500)
        assert refused.value.param == "max_usd_per_call"
        assert "no model allowed for frontier" in refused.value.message
        raw = await client.chat.completions.with_raw_response.create(
            model="auto", messages=ASK, max_tokens=500
        )
    # mid costs up to 500 x $15/M = $0.0075 > $0.002: auto chooses among the edge models.
    assert raw.parse().model in {"edge-a", "edge-b"}
    assert "max_usd_per_call of tenant acme" in raw.headers["x-routegraph-reason"]
    assert {name.split("-")[0] for name in await called_models(simulator)} == {"edge"}
