"""`response_format: json_schema` answers are checked against the schema before they are
returned: a mismatch is an invalid output, retried with the error fed back, then the next
model; the simulator writes documents that fit the schema and honours `stop`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

import openai
import pytest
from pydantic import BaseModel

from tests.conftest import SimulatorAdmin
from tests.support.chat_rig import ChatService, chat_service

QUESTION = [{"role": "user", "content": "Extract the city and the headcount of the office"}]


class Office(BaseModel):
    city: str
    headcount: int
    kind: Literal["hq", "branch"]
    tags: list[str]


@pytest.fixture
def service(database_url: str, simulator: SimulatorAdmin) -> Iterator[ChatService]:
    with chat_service(database_url, simulator.base_url) as running:
        yield running


def sdk(service: ChatService) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=service.base_url, api_key="unused", max_retries=0, _strict_response_validation=True
    )


async def test_the_sdks_parse_gets_a_document_that_fits_the_schema(service: ChatService) -> None:
    async with sdk(service) as client:
        parsed = await client.chat.completions.parse(
            model="mid", messages=QUESTION, response_format=Office
        )
    office = parsed.choices[0].message.parsed
    assert isinstance(office, Office) and office.kind in ("hq", "branch")


async def test_an_answer_off_the_schema_is_retried_with_the_error_fed_back(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("mid-a", "off_schema")
    async with sdk(service) as client:
        parsed = await client.chat.completions.parse(
            model="mid", messages=QUESTION, response_format=Office
        )
    assert isinstance(parsed.choices[0].message.parsed, Office) and parsed.model == "mid-a"
    invalid, served = await service.rows()
    assert invalid.status == "invalid_output" and "does not match the schema" in (
        invalid.error or ""
    )
    assert served.status == "ok" and served.routing_reason.startswith("retry on mid-a")
    _, retried = await simulator.requests("mid-a")
    assert retried["messages"][: len(QUESTION)] == QUESTION
    assert "could not be used" in retried["messages"][-1]["content"]
    assert "JSON Schema" in retried["messages"][-1]["content"]


async def test_three_unusable_answers_move_to_the_next_model_also_when_streamed(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("mid-a", "malformed_json", times=3)
    schema = Office.model_json_schema()
    response_format = {"type": "json_schema", "json_schema": {"name": "office", "schema": schema}}
    async with sdk(service) as client:
        stream = await client.chat.completions.create(
            model="mid",
            messages=QUESTION,
            response_format=response_format,  # type: ignore[arg-type]
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    Office.model_validate(json.loads(text))
    rows = await service.rows()
    assert [(row.model, row.status) for row in rows] == [
        ("mid-a", "invalid_output"),
        ("mid-a", "invalid_output"),
        ("mid-a", "invalid_output"),
        ("mid-b", "ok"),
    ]
    assert {chunk.model for chunk in chunks} == {"mid-b"}


async def test_the_simulator_stops_at_a_stop_sequence(service: ChatService) -> None:
    async with sdk(service) as client:
        whole = await client.chat.completions.create(model="mid", messages=QUESTION)
        stopped = await client.chat.completions.create(
            model="mid", messages=QUESTION, stop=["Answer"]
        )
    assert (whole.choices[0].message.content or "").startswith("[mid-a] Answer to:")
    assert stopped.choices[0].message.content == "[mid-a] "
    assert stopped.choices[0].finish_reason == "stop"
