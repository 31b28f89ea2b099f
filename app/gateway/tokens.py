"""Prompt-token estimates for the budget check and routing (no tokenizer download)."""

from __future__ import annotations

import json
from typing import Any

from app.routing.features import estimate_tokens

PER_MESSAGE_OVERHEAD = 4  # role and separators, as chat formats bill them


def estimate_prompt_tokens(messages: list[dict[str, Any]], tools: list[Any] | None = None) -> int:
    """What a provider will bill as prompt tokens, within a few percent for English text."""
    total = 0
    for message in messages:
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content or "")
        total += PER_MESSAGE_OVERHEAD + estimate_tokens(text)
        if message.get("tool_calls"):
            total += estimate_tokens(json.dumps(message["tool_calls"]))
    if tools:
        total += estimate_tokens(json.dumps(tools))
    return total
