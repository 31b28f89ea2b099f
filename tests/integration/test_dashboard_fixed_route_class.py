"""The dashboard's routing mix per task class names the calls routed without the
classifier (a fixed tier, a pinned model) for what they are, beside the classified ones."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import openai

from app.api.app import create_app
from app.services.dashboard import FIXED_ROUTE_CLASS
from app.settings import Settings
from tests.support.live_server import LiveServer

QUESTION = [{"role": "user", "content": "What is 17 * 23? Show the steps."}]


async def _classes(api: httpx.AsyncClient, requests: int) -> list[dict[str, Any]]:
    """The task-classes page once it counts `requests` (ledger rows are written behind)."""
    deadline = time.monotonic() + 30
    while True:
        page = (await api.get("/v1/dashboard/task-classes")).json()
        if sum(c["requests"] for c in page["classes"]) >= requests:
            return list(page["classes"])
        assert time.monotonic() < deadline, page
        await asyncio.sleep(0.1)


async def test_fixed_tier_and_pinned_model_calls_are_named_apart_from_classified_ones(
    database_url: str, simulator_url: str
) -> None:
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    with LiveServer(create_app(settings)) as root:
        client = openai.AsyncOpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
        async with client, httpx.AsyncClient(base_url=root, timeout=30) as api:
            for model in ("edge", "mid-a", "auto"):  # a tier, a model, the classifier's
                await client.chat.completions.create(model=model, messages=QUESTION)
            classes = await _classes(api, requests=3)
    by_name = {c["task_class"]: c["requests_by_tier"] for c in classes}
    assert FIXED_ROUTE_CLASS == "fixed route (not classified)"  # what the page shows
    assert by_name.pop("fixed route (not classified)") == {"edge": 1, "mid": 1}
    ((name, tiers),) = by_name.items()  # the auto call (and any check of it), classified
    assert name != FIXED_ROUTE_CLASS and sum(tiers.values()) >= 1
