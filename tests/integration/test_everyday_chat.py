"""Everyday chat sent to the running service as `model=auto` is answered on the edge tier,
as a known task class, not sent to the frontier as out of distribution."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import SimulatorAdmin
from tests.support.chat_rig import ChatService, chat_service

EVERYDAY = (
    "What is the capital of France?",
    "Name three colours please.",
    "Hello!",
    "Rewrite this more politely: send me the report now.",
)


@pytest.fixture
def service(sqlite_url: str, simulator: SimulatorAdmin) -> Iterator[ChatService]:
    with chat_service(sqlite_url, simulator.base_url) as running:
        yield running


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_chat_on_auto_is_answered_on_the_edge_tier(
    service: ChatService, text: str
) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    answer = httpx.post(f"{service.base_url}/chat/completions", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    reason = answer.headers["x-routegraph-reason"]
    assert answer.headers["x-routegraph-tier"] == "edge", reason
    assert answer.json()["model"] == "edge-a"
    assert "class=chat" in reason and "a known task class" in reason
