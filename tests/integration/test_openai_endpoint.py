"""`/v1/chat/completions` and `/v1/models` driven by the official `openai` SDK (strict
response validation) against the real simulator, on SQLite and Postgres."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import openai
import pytest

from nodes.calculator import CALCULATOR_TOOL
from tests.conftest import SimulatorAdmin
from tests.support.chat_rig import ChatService, chat_service, in_thread

QUESTION = [{"role": "user", "content": "Name three uses of a paperclip"}]
STORY = [{"role": "user", "content": "Tell a short story about a lighthouse keeper and a cat"}]


@pytest.fixture
def service(database_url: str, simulator: SimulatorAdmin) -> Iterator[ChatService]:
    with chat_service(database_url, simulator.base_url) as running:
        yield running


def sdk(service: ChatService) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=service.base_url, api_key="unused", max_retries=0, _strict_response_validation=True
    )


async def test_sync_and_async_clients_get_a_routed_answer_and_a_ledger_row(
    service: ChatService,
) -> None:
    client = openai.OpenAI(
        base_url=service.base_url, api_key="unused", max_retries=0, _strict_response_validation=True
    )
    raw = await in_thread(
        client.chat.completions.with_raw_response.create, model="edge", messages=QUESTION
    )
    answer = raw.parse()
    assert answer.choices[0].message.content.startswith("[edge-a]")
    assert answer.model == "edge-a" and answer.usage is not None and answer.usage.total_tokens > 0
    assert raw.headers["x-routegraph-model"] == "edge-a"
    assert raw.headers["x-routegraph-route"] == "edge: edge-a > edge-b"
    assert "fixed tier edge" in raw.headers["x-routegraph-reason"]
    assert raw.headers["x-routegraph-cache"] == "miss"
    cost = float(raw.headers["x-routegraph-cost-usd"])
    client.close()

    async with sdk(service) as aclient:
        auto = await aclient.chat.completions.create(model="auto", messages=QUESTION)
    assert auto.choices[0].finish_reason == "stop"

    rows = await service.rows()
    assert [(row.status, row.model) for row in rows] == [("ok", "edge-a"), ("ok", auto.model)]
    assert rows[0].tenant_id == "default" and rows[0].run_id is None
    assert rows[0].cost_usd == pytest.approx(cost) and rows[0].api_key_id is None
    assert re.match(r"auto( \(online\))?: ", rows[1].routing_reason), rows[1].routing_reason


async def test_streaming_sends_chunks_usage_and_done(service: ChatService) -> None:
    async with sdk(service) as client:
        stream = await client.chat.completions.create(
            model="mid", messages=STORY, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[mid-a] Answer to:") and "lighthouse" in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    [row] = await service.rows()
    assert row.status == "ok" and row.model == "mid-a"
    assert row.completion_tokens == chunks[-1].usage.completion_tokens
    assert (row.response or {})["message"]["content"] == text


async def test_tools_json_schema_n_stop_and_token_limits(service: ChatService) -> None:
    tool_choice = {"type": "function", "function": {"name": "calculator"}}
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
            },
        },
    }
    async with sdk(service) as client:
        called = await client.chat.completions.create(
            model="edge", messages=QUESTION, tools=[CALCULATOR_TOOL], tool_choice=tool_choice
        )
        streamed = await client.chat.completions.create(
            model="edge",
            messages=QUESTION,
            tools=[CALCULATOR_TOOL],
            tool_choice=tool_choice,
            stream=True,
            extra_body={"routegraph": {"cache": False}},  # a real streamed tool call
        )
        deltas = [chunk async for chunk in streamed]
        structured = await client.chat.completions.create(
            model="mid",
            messages=QUESTION,
            response_format=schema,  # type: ignore[arg-type]
        )
        several = await client.chat.completions.create(
            model="edge", messages=STORY, n=2, stop=["\n\n"], temperature=0.2
        )
        cut = await client.chat.completions.create(
            model="edge", messages=STORY, max_completion_tokens=3
        )
    [call] = called.choices[0].message.tool_calls or []
    assert call.function.name == "calculator" and "expression" in json.loads(
        call.function.arguments
    )
    assert called.choices[0].finish_reason == "tool_calls"
    streamed_calls = [d.choices[0].delta.tool_calls for d in deltas if d.choices]
    streamed_call = next(calls for calls in streamed_calls if calls)[0]
    assert streamed_call.function is not None
    assert json.loads(streamed_call.function.arguments or "") == json.loads(call.function.arguments)
    assert set(json.loads(structured.choices[0].message.content or "")) >= {"answer"}
    assert [choice.index for choice in several.choices] == [0, 1]
    # The client's own token limit is honoured as asked: no retry with a larger one.
    assert cut.choices[0].finish_reason == "length"
    sent = await service.rows(model="edge-a")
    assert all(row.status == "ok" for row in sent)
    assert sent[-2].request["n"] == 2 and sent[-2].request["stop"] == ["\n\n"]


async def test_models_and_errors_use_openai_shapes(service: ChatService) -> None:
    async with sdk(service) as client:
        listed = [model.id for model in (await client.models.list()).data]
        assert listed[:4] == ["auto", "edge", "mid", "frontier"] and "frontier-b" in listed
        assert (await client.models.retrieve("mid")).id == "mid"
        with pytest.raises(openai.NotFoundError) as missing:
            await client.chat.completions.create(model="gpt-nope", messages=QUESTION)
        with pytest.raises(openai.BadRequestError) as invalid:
            await client.chat.completions.create(model="edge", messages=[])
    assert missing.value.code == "model_not_found"
    assert isinstance(missing.value.body, dict) and missing.value.body["param"] == "model"
    assert invalid.value.code == "invalid_value" and "messages" in invalid.value.message
    assert isinstance(invalid.value.body, dict) and invalid.value.body["param"] == "messages"
    assert await service.rows() == []


async def test_a_failed_model_falls_back_with_the_whole_conversation(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("frontier-a", "server_error")
    async with sdk(service) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="frontier", messages=QUESTION
        )
    assert raw.parse().model == "frontier-b" and raw.headers["x-routegraph-attempts"] == "2"
    failed, served = await service.rows()
    assert failed.status == "error" and "HTTP 500" in (failed.error or "")
    assert served.fallback_of == failed.id and served.routing_reason.startswith("fallback after")
    [received] = await simulator.requests("frontier-b")
    assert received["messages"] == QUESTION


async def test_a_stream_cut_mid_answer_continues_on_the_next_model_without_repeating(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("edge-a", "cut_stream")
    async with sdk(service) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="edge", messages=STORY, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in raw.parse()]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # One coherent answer: edge-a's beginning, edge-b's rest, nothing said twice.
    whole = "[edge-a] Tell a short story about a lighthouse keeper and a cat"
    assert text == whole
    cut, continued = await service.rows()
    assert cut.status == "error" and (cut.error or "").startswith("stream cut after ")
    assert continued.status == "ok" and continued.model == "edge-b"
    assert continued.fallback_of == cut.id
    assert continued.routing_reason.startswith("continuation of the answer after edge-a")
    partial = (cut.response or {})["message"]["content"]
    assert partial and whole.startswith(partial) and len(partial) < len(whole)
    [received] = await simulator.requests("edge-b")
    assert received["messages"][: len(STORY)] == STORY
    assert received["messages"][-2] == {"role": "assistant", "content": partial}
    assert "Continue it exactly" in received["messages"][-1]["content"]
    # One model names the answer throughout (who began it); the end says who finished it.
    assert {chunk.model for chunk in chunks} == {raw.headers["x-routegraph-model"]} == {"edge-a"}
    extension = next(c.model_extra["routegraph"] for c in chunks if "routegraph" in c.model_extra)
    assert extension["model"] == "edge-b" and extension["attempts"] == 2
    # Usage and cost count the same attempts: the cut one (the client has its text) and
    # the continuation.
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens == cut.prompt_tokens + continued.prompt_tokens
    assert usage.completion_tokens == cut.completion_tokens + continued.completion_tokens
    assert cut.cost_usd > 0
    assert extension["cost_usd"] == pytest.approx(cut.cost_usd + continued.cost_usd, abs=1e-8)


async def test_the_cache_answers_a_repeat_for_free_unless_opted_out(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    async with sdk(service) as client:
        first = await client.chat.completions.with_raw_response.create(
            model="edge", messages=QUESTION, temperature=0
        )
        again = await client.chat.completions.with_raw_response.create(
            model="edge", messages=QUESTION, temperature=0
        )
        streamed = await client.chat.completions.create(
            model="edge", messages=QUESTION, temperature=0, stream=True
        )
        chunks = [chunk async for chunk in streamed]
        fresh = await client.chat.completions.with_raw_response.create(
            model="edge",
            messages=QUESTION,
            temperature=0,
            extra_headers={"x-routegraph-cache": "off"},
        )
        other = await client.chat.completions.with_raw_response.create(
            model="edge", messages=QUESTION, temperature=0.5
        )
    assert first.headers["x-routegraph-cache"] == "miss"
    assert again.headers["x-routegraph-cache"] == "hit"
    assert float(again.headers["x-routegraph-cost-usd"]) == 0
    assert again.parse().choices[0].message.content == first.parse().choices[0].message.content
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == first.parse().choices[0].message.content
    assert {chunk.model for chunk in chunks} == {"edge-a"}  # the model, not the tier
    assert fresh.headers["x-routegraph-cache"] == "off"
    assert other.headers["x-routegraph-cache"] == "miss"  # other sampling parameters
    assert len(await simulator.requests("edge-a")) == 3  # first, fresh, other
    rows = await service.rows()
    hits = [row for row in rows if row.status == "cache_hit"]
    assert len(hits) == 2 and all(row.cost_usd == 0 for row in hits)
    assert hits[0].saved_usd == pytest.approx(rows[0].cost_usd) and hits[0].saved_usd > 0
