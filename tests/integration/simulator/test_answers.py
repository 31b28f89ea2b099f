"""The simulator over real HTTP on loopback, driven by the real `openai` SDK: its answers,
streams, structured outputs and tool calls."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from app.routing.catalog import load_catalog
from devtools.simulator.server import SimulatorServer
from devtools.simulator.tokens import count_prompt_tokens
from nodes.calculator import CALCULATOR_TOOL
from nodes.planner import Plan
from tests.integration.simulator.helpers import EXECUTOR, USER, raw_stream_lines


async def test_models_lists_the_simulator_models_of_the_catalog(
    client: openai.AsyncOpenAI,
) -> None:
    ids = [model.id async for model in client.models.list()]
    assert sorted(ids) == sorted(load_catalog().models)
    assert (await client.models.retrieve("mid-b")).id == "mid-b"


async def test_completion_has_usage_and_a_model_specific_answer(
    client: openai.AsyncOpenAI,
) -> None:
    response = await client.chat.completions.create(model="frontier-a", messages=USER)
    choice = response.choices[0]
    assert choice.finish_reason == "stop" and "frontier-a" in (choice.message.content or "")
    usage = response.usage
    assert usage is not None and usage.prompt_tokens == count_prompt_tokens(USER)
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details and usage.prompt_tokens_details.cached_tokens == 0
    again = await client.chat.completions.create(model="openai/frontier-a", messages=USER)
    assert again.choices[0].message.content == choice.message.content
    assert again.model == "frontier-a"


async def test_max_tokens_cuts_the_answer(client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(model="mid-a", messages=USER, max_tokens=3)
    assert response.choices[0].finish_reason == "length"
    assert response.usage is not None and response.usage.completion_tokens <= 3


async def test_streaming_with_include_usage(
    client: openai.AsyncOpenAI, server: SimulatorServer
) -> None:
    stream = await client.chat.completions.create(
        model="edge-a", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    plain = await client.chat.completions.create(model="edge-a", messages=USER)
    assert text == plain.choices[0].message.content and len(chunks) > 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == [] and last.usage == plain.usage
    body = {"model": "edge-a", "messages": USER, "stream": True}
    lines = await raw_stream_lines(server, body)
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)
    assert all(json.loads(line[6:]).get("usage") is None for line in lines[:-1])


async def test_planner_answers_json_that_validates_as_a_plan(client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(
        model="frontier-b",
        messages=[
            {"role": "system", "content": "ROLE: planner\nReply with JSON."},
            {"role": "user", "content": "flights cost 2 * 340 USD, hotel 5 * 120 USD"},
        ],
        response_format={"type": "json_object"},
    )
    plan = Plan.model_validate_json(response.choices[0].message.content or "")
    assert [step.expression for step in plan.steps] == ["2 * 340", "5 * 120", "#1 + #2"]


async def test_tool_call_round_trip(client: openai.AsyncOpenAI) -> None:
    first = await client.chat.completions.create(
        model="edge-b", messages=EXECUTOR, tools=[CALCULATOR_TOOL]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_") and call.type == "function"
    assert call.function.name == "calculator"
    assert json.loads(call.function.arguments) == {"expression": "2 * 340"}
    followed = [
        *EXECUTOR,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "680"},
    ]
    second = await client.chat.completions.create(
        model="edge-b", messages=followed, tools=[CALCULATOR_TOOL]
    )
    assert second.choices[0].message.content == "Result: 680"


async def test_streamed_tool_call(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="edge-a", messages=EXECUTOR, tools=[CALCULATOR_TOOL], stream=True
    )
    ids, names, arguments, finish = set(), set(), "", None
    async for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            if delta.id:
                ids.add(delta.id)
            if delta.function:
                names.update([delta.function.name] if delta.function.name else [])
                arguments += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls" and names == {"calculator"} and len(ids) == 1
    assert json.loads(arguments) == {"expression": "2 * 340"}


async def test_unknown_model_and_invalid_body_are_openai_errors(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(model="gpt-nope", messages=USER)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="mid-a", messages=[])
    for body in (b"{not json", b'{"model": "mid-a"}', b'{"model": "mid-a", "messages": [{}]}'):
        response = await admin.post("/v1/chat/completions", content=body)
        error = response.json()["error"]
        assert response.status_code == 400 and {"message", "type", "code"} <= error.keys()
