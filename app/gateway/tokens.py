"""Offline token estimates (no tokenizer download): ~4 characters a token."""

from __future__ import annotations

import json
import math
from typing import Any

PER_MESSAGE_OVERHEAD = 4


def estimate_text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def estimate_prompt_tokens(messages: list[dict[str, Any]], tools: list[Any] | None = None) -> int:
    """A close, slightly high estimate of what a provider will bill as prompt tokens."""
    total = 0
    for message in messages:
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content or "")
        total += PER_MESSAGE_OVERHEAD + estimate_text_tokens(text)
        if message.get("tool_calls"):
            total += estimate_text_tokens(json.dumps(message["tool_calls"]))
    if tools:
        total += estimate_text_tokens(json.dumps(tools))
    return total
