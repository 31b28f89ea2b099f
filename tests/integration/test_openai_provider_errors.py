"""A provider's refusal of the request itself (context too long, content policy) is the
caller's error: returned once as OpenAI's 400 with the provider's code, never tried on
the rest of the chain, and booked in the ledger as `rejected`; a model lacking a
capability (`unsupported_parameter`) falls back as before. Through the direct client and
through LiteLLM, plain and streamed."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.conftest import SimulatorAdmin
from tests.support.chat_rig import ChatService, chat_service

QUESTION = [{"role": "user", "content": "Summarise the whole of War and Peace"}]


@pytest.fixture
def service(database_url: str, simulator: SimulatorAdmin) -> Iterator[ChatService]:
    with chat_service(database_url, simulator.base_url) as running:
        yield running


def sdk(service: ChatService) -> openai.AsyncOpenAI:
    # Retries on: a refusal must say it is not worth retrying (x-should-retry: false).
    return openai.AsyncOpenAI(
        base_url=service.base_url, api_key="unused", max_retries=2, _strict_response_validation=True
    )


@pytest.mark.parametrize("stream", [False, True])
async def test_a_context_length_refusal_is_the_callers_400_sent_once(
    service: ChatService, simulator: SimulatorAdmin, stream: bool
) -> None:
    await simulator.inject("edge-a", "context_length", times=None)
    async with sdk(service) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="edge", messages=QUESTION, stream=stream)
    assert refused.value.code == "context_length_exceeded"
    assert isinstance(refused.value.body, dict) and refused.value.body["param"] == "messages"
    assert "maximum context length" in refused.value.message
    assert len(await simulator.requests("edge-a")) == 1  # once: no SDK retry
    assert await simulator.requests("edge-b") == []  # and not down the chain
    [row] = await service.rows()
    assert (row.status, row.model, row.cost_usd) == ("rejected", "edge-a", 0)
    assert (row.error or "").startswith("edge-a refused the request (context_length_exceeded)")


async def test_content_policy_is_a_400_with_the_providers_code(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("mid-a", "content_policy")
    async with sdk(service) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="mid", messages=QUESTION)
    assert refused.value.code == "content_policy_violation"
    assert await simulator.requests("mid-b") == []


async def test_a_model_lacking_a_capability_falls_back_to_the_next(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("edge-a", "unsupported_parameter")
    async with sdk(service) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="edge", messages=QUESTION
        )
    assert raw.parse().model == "edge-b" and raw.headers["x-routegraph-attempts"] == "2"
    failed, served = await service.rows()
    assert failed.status == "error" and "Unsupported parameter" in (failed.error or "")
    assert served.status == "ok"


async def test_through_litellm_a_refusal_is_also_the_callers_400(
    database_url: str, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("edge-a", "context_length", times=None)
    with chat_service(database_url, simulator.base_url, direct_provider_client=False) as service:
        async with sdk(service) as client:
            with pytest.raises(openai.BadRequestError) as refused:
                await client.chat.completions.create(model="edge", messages=QUESTION)
        [row] = await service.rows()
    assert refused.value.code == "context_length_exceeded"
    assert row.status == "rejected" and await simulator.requests("edge-b") == []
