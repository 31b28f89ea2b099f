"""A cascade streamed over the LangGraph API: the escalated model's tokens stream live; a
cheap draft reaches the client only once the verifier accepts it, whole, and never when the
cascade escalates past it. The simulator answers GSM8K prompts with each model's recorded
answer, so the arithmetic verifier judges real model output."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client

from app.api.app import create_app
from app.routing.verifiers import verify_arithmetic
from app.settings import Settings
from devtools.routing.datasets import Row
from tests.support.lg_graphs import write_lg_config
from tests.support.live_server import LiveServer


@pytest.fixture
def served(database_url: str, recorded_simulator: str, tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        database_url=database_url,
        simulator_url=recorded_simulator,
        config=write_lg_config(tmp_path),
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
        yield base_url


def _accepted(row: Row) -> bool:
    return verify_arithmetic([{"role": "user", "content": row.prompt}], row.weak_response).accepted


async def _streamed_text(url: str, row: Row) -> tuple[list[str], str]:
    """The content of each `messages` chunk, and the answer in the thread's state."""
    client = get_client(url=url)
    thread = (await client.threads.create())["thread_id"]
    question = {
        "messages": [
            {"role": "system", "content": "Answer the user's question."},
            {"role": "user", "content": row.prompt},
        ]
    }
    contents = [
        part.data[0]["content"]
        async for part in client.runs.stream(
            thread, "cascade", input=question, stream_mode="messages-tuple"
        )
        if part.event == "messages"
    ]
    state = await client.threads.get_state(thread)
    return [c for c in contents if c], state["values"]["messages"][-1]["content"]


async def test_an_escalated_cascade_streams_the_strong_models_tokens_and_no_draft(
    served: str, gsm8k: list[Row]
) -> None:
    row = next(r for r in gsm8k if not _accepted(r) and r.weak_response != r.strong_response)
    contents, answer = await _streamed_text(served, row)
    assert answer == row.strong_response
    assert len(contents) > 1  # token by token, not one message
    assert "".join(contents) == row.strong_response  # nothing of the rejected draft


async def test_an_accepted_draft_reaches_the_client_whole_once_verified(
    served: str, gsm8k: list[Row]
) -> None:
    row = next(r for r in gsm8k if _accepted(r))
    contents, answer = await _streamed_text(served, row)
    assert answer == row.weak_response
    assert contents == [row.weak_response]
