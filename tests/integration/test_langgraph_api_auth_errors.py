"""The LangGraph API's paths answer errors as `{"detail": ...}`; `/v1` keeps problem+json;
`x-api-key` (langgraph_sdk's `api_key=`) authenticates like `Authorization: Bearer`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import AuthenticationError, NotFoundError

from app.api.app import create_app
from app.settings import Settings
from tests.support.lg_graphs import write_lg_config
from tests.support.live_server import LiveServer
from tests.support.simulator_admin import SimulatorAdmin
from tests.support.tenants import bearer, make_key


async def test_x_api_key_and_bearer_name_the_same_keys_and_errors_are_detail_on_langgraph_paths(
    database_url: str,
) -> None:
    settings = Settings(database_url=database_url)
    with LiveServer(create_app(settings)) as base_url:
        token = await make_key(database_url, "acme")
        await asyncio.sleep(2.1)  # a running service notices the first key within 2 s
        async with httpx.AsyncClient(base_url=base_url) as raw:
            anonymous = await raw.get("/v1/runs")
            by_header = await raw.get("/v1/runs", headers={"x-api-key": token})
            by_bearer = await raw.get("/v1/runs", headers=bearer(token))
            wrong = await raw.get("/v1/runs", headers={"x-api-key": "rg-nope"})
            unknown = await raw.get("/threads/a/b/c/d", headers={"x-api-key": token})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert by_header.status_code == 200 and by_bearer.status_code == 200
    assert by_header.json() == by_bearer.json()
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "the API key is unknown or revoked"
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Not Found"}


QUESTION = {"messages": [{"role": "user", "content": "Say hello."}]}


async def test_the_sdks_api_key_acts_for_its_tenant_and_budgets_apply(
    database_url: str, simulator: SimulatorAdmin, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url,
        simulator_url=simulator.base_url,
        config=write_lg_config(tmp_path),
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
        acme = get_client(url=base_url, api_key=await make_key(database_url, "acme"))
        globex = get_client(url=base_url, api_key=await make_key(database_url, "globex"))
        await asyncio.sleep(2.1)  # a running service notices the first key within 2 s
        thread = await acme.threads.create(thread_id="shared-name")
        await globex.threads.create(thread_id="shared-name")  # its own thread of that name
        done = await acme.runs.wait(thread["thread_id"], "chat", input=QUESTION)
        assert done["messages"][-1]["type"] == "ai"
        assert (await globex.threads.get("shared-name"))["values"] is None
        with pytest.raises(NotFoundError):
            await globex.runs.list("not-acmes")
        runs = await acme.runs.list(thread["thread_id"])
        with pytest.raises(NotFoundError):
            await globex.runs.get("shared-name", runs[0]["run_id"])
        broke = await acme.runs.wait(
            thread["thread_id"],
            "chat",
            input=QUESTION,
            context={"budget_usd": 1e-9},
            raise_error=False,
        )
        assert broke["__error__"]["error"] == "BudgetExceeded"
        assert (await acme.threads.get(thread["thread_id"]))["status"] == "error"
        with pytest.raises(AuthenticationError) as refused:
            await get_client(url=base_url, api_key="rg-nope").threads.search()
        assert set(refused.value.body) == {"detail"}  # type: ignore[arg-type]


async def test_bad_input_on_langgraph_paths_is_a_4xx_detail_never_a_5xx(
    database_url: str, simulator: SimulatorAdmin, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url,
        simulator_url=simulator.base_url,
        config=write_lg_config(tmp_path),
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
        client = get_client(url=base_url)
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "chat", input=QUESTION)
        async with httpx.AsyncClient(base_url=base_url) as raw:
            answers = [
                await raw.post(f"/threads/{thread}/state", json={"values": {}, "as_node": "nope"}),
                await raw.post(f"/threads/{thread}/state", json={"values": "not a dict"}),
                await raw.get("/threads/a%00b"),
                await raw.post(
                    "/threads", content=b"{not json", headers={"content-type": "application/json"}
                ),
                await raw.post("/threads/search", json={"limit": -1}),
                await raw.post(
                    f"/threads/{thread}/runs", json={"assistant_id": "chat", "input": []}
                ),
                await raw.get(f"/threads/{thread}/state/not-a-checkpoint"),
            ]
    for answer in answers[:-1]:
        assert 400 <= answer.status_code < 500, (answer.request.url, answer.text)
        assert set(answer.json()) == {"detail"}
    assert answers[-1].status_code == 200 and answers[-1].json()["values"] == {}
