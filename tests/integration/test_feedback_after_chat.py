"""Feedback the moment an answer arrives: a `/v1/chat/completions` answer is sent before
its ledger row is completed (group commit behind the answer), and a client that got the
answer must still be able to rate it at once, with the openai SDK as the client."""

from __future__ import annotations

import httpx
import openai

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer

ROUNDS = 40


async def test_an_answer_can_be_rated_the_moment_it_arrives(
    database_url: str, simulator_url: str
) -> None:
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    with LiveServer(create_app(settings)) as root:
        client = openai.AsyncOpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
        async with client, httpx.AsyncClient(base_url=root, timeout=30) as api:
            for i in range(ROUNDS):
                question = [{"role": "user", "content": f"Name {i + 2} uses of a paperclip"}]
                raw = await client.chat.completions.with_raw_response.create(
                    model="edge", messages=question
                )
                assert raw.parse().choices[0].message.content
                call_id = raw.headers["x-routegraph-call-id"]
                rated = await api.post(f"/v1/calls/{call_id}/feedback", json={"score": 1.0})
                assert rated.status_code == 201, (i, rated.status_code, rated.text)
                assert rated.json()["call_id"] == call_id
