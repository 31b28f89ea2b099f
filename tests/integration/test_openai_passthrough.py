"""What the provider returns beyond the answer reaches the OpenAI client as sent:
logprobs when asked, system_fingerprint, service_tier, usage details (cached and
reasoning tokens) and the message's annotations."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.conftest import SimulatorAdmin
from tests.support.chat_rig import ChatService, chat_service

QUESTION = [{"role": "user", "content": "Give three reasons the sky looks blue"}]


@pytest.fixture
def service(database_url: str, simulator: SimulatorAdmin) -> Iterator[ChatService]:
    with chat_service(database_url, simulator.base_url) as running:
        yield running


async def test_logprobs_fingerprint_tier_usage_details_and_annotations_pass_through(
    service: ChatService,
) -> None:
    async with openai.AsyncOpenAI(
        base_url=service.base_url, api_key="unused", max_retries=0, _strict_response_validation=True
    ) as client:
        answer = await client.chat.completions.create(
            model="frontier", messages=QUESTION, logprobs=True, top_logprobs=2
        )
        plain = await client.chat.completions.create(model="edge", messages=QUESTION)
    choice = answer.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    tokens = choice.logprobs.content
    assert "".join(token.token for token in tokens) == choice.message.content
    assert all(len(token.top_logprobs) == 2 and token.logprob < 0 for token in tokens)
    assert answer.system_fingerprint == "fp_routegraph_sim"
    assert answer.service_tier == "default"
    assert choice.message.annotations == []
    usage = answer.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == usage.completion_tokens // 4 > 0
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    # Not asked for, not sent.
    assert plain.choices[0].logprobs is None
    [row, _] = await service.rows()
    assert row.request["logprobs"] is True and row.request["top_logprobs"] == 2


async def test_logprobs_route_to_models_that_give_them_and_a_cache_hit_keeps_them(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    async with openai.AsyncOpenAI(
        base_url=service.base_url, api_key="unused", max_retries=0, _strict_response_validation=True
    ) as client:
        first = await client.chat.completions.with_raw_response.create(
            model="edge", messages=QUESTION, logprobs=True, top_logprobs=1
        )
        again = await client.chat.completions.with_raw_response.create(
            model="edge", messages=QUESTION, logprobs=True, top_logprobs=1
        )
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="edge-b", messages=QUESTION, logprobs=True)
    # edge-b gives no logprobs: the edge tier's route keeps edge-a alone, and says why.
    answer = first.parse()
    assert answer.model == "edge-a" and answer.choices[0].logprobs is not None
    assert "edge-b cannot give it" in first.headers["x-routegraph-reason"]
    # The cached answer comes back with the logprobs and fingerprint of the first.
    hit = again.parse()
    assert again.headers["x-routegraph-cache"] == "hit"
    assert hit.choices[0].logprobs == answer.choices[0].logprobs
    assert hit.system_fingerprint == answer.system_fingerprint == "fp_routegraph_sim"
    # Asked of a model that cannot: refused before any provider is asked.
    error = refused.value
    assert error.code == "unsupported_parameter" and error.param == "logprobs"
    assert [r["model"] for r in await simulator.requests()] == ["edge-a"]


async def test_a_stream_carries_logprobs_fingerprint_and_usage_details(
    service: ChatService,
) -> None:
    async with openai.AsyncOpenAI(
        base_url=service.base_url, api_key="unused", max_retries=0, _strict_response_validation=True
    ) as client:
        stream = await client.chat.completions.create(
            model="mid",
            messages=[{"role": "user", "content": "Name the planets, briefly"}],
            logprobs=True,
            top_logprobs=1,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    tokens = [
        token.token
        for c in chunks
        if c.choices and c.choices[0].logprobs and c.choices[0].logprobs.content
        for token in c.choices[0].logprobs.content
    ]
    assert text and "".join(tokens) == text  # every piece of text with its log probability
    assert {c.system_fingerprint for c in chunks} - {None} == {"fp_routegraph_sim"}
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.prompt_tokens_details is not None
