"""The LangGraph API's paths answer errors as `{"detail": ...}`; `/v1` keeps problem+json;
`x-api-key` (langgraph_sdk's `api_key=`) authenticates like `Authorization: Bearer`."""

from __future__ import annotations

import asyncio

import httpx

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer
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
