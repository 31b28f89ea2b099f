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
