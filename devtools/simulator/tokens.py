"""Offline, deterministic token estimates: no tokenizer download, same answer every time.

Words count ~1.3 tokens each and every punctuation mark one token, which lands close to
what BPE tokenizers bill for English prose and JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

PER_MESSAGE_OVERHEAD = 4  # role markers and separators around every message
REPLY_PRIMING = 3  # the assistant turn every prompt ends with
PER_TOOL_CALL_OVERHEAD = 3
TOKENS_PER_WORD = 1.3

_PIECE = re.compile(r"\w+|[^\w\s]")


def _count(words: int, marks: int) -> int:
    return math.ceil(words * TOKENS_PER_WORD) + marks


def count_text_tokens(text: str | None) -> int:
    """Tokens of one piece of text."""
    if not text:
        return 0
    words = marks = 0
    for piece in _PIECE.findall(text):
        if piece[0].isalnum() or piece[0] == "_":
            words += 1
        else:
            marks += 1
    return _count(words, marks)


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text` (cut between pieces) that fits in `limit` tokens."""
    if limit <= 0:
        return ""
    words = marks = 0
    end = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        if piece[0].isalnum() or piece[0] == "_":
            words += 1
        else:
            marks += 1
        if _count(words, marks) > limit:
            return text[:end]
        end = match.end()
    return text


def content_text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content-part list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
        ]
        return "\n".join(parts)
    return json.dumps(content, sort_keys=True)


def count_message_tokens(message: dict[str, Any]) -> int:
    """One prompt message: overhead, content, name and any tool calls it carries."""
    total = PER_MESSAGE_OVERHEAD + count_text_tokens(content_text(message.get("content")))
    if message.get("name"):
        total += 1 + count_text_tokens(str(message["name"]))
    if message.get("tool_calls"):
        total += count_text_tokens(json.dumps(message["tool_calls"], sort_keys=True))
    return total


def count_tools_tokens(tools: Sequence[Any] | None) -> int:
    """Tool schemas are sent to the model as text, so they are billed as prompt tokens."""
    if not tools:
        return 0
    return count_text_tokens(json.dumps(list(tools), sort_keys=True))


def count_prompt_tokens(
    messages: Sequence[dict[str, Any]], tools: Sequence[Any] | None = None
) -> int:
    """What a provider would bill as prompt tokens for this request."""
    return (
        sum(count_message_tokens(message) for message in messages)
        + count_tools_tokens(tools)
        + REPLY_PRIMING
    )


def count_completion_tokens(content: str | None, tool_calls: Sequence[tuple[str, str]]) -> int:
    """Tokens of an answer: its text plus, per tool call, the name and JSON arguments."""
    total = count_text_tokens(content)
    for name, arguments in tool_calls:
        total += PER_TOOL_CALL_OVERHEAD + count_text_tokens(name) + count_text_tokens(arguments)
    return total
