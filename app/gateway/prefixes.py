"""Prompt prefixes as a provider's prompt cache sees them: whole messages, tools first,
hashed in a chain so that a digest names one exact prefix. `cache_control` markers are
left out of the hash: they say where to cache, not what."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.gateway.tokens import PER_MESSAGE_OVERHEAD, estimate_prompt_tokens
from app.routing.features import estimate_tokens

STABLE_ROLES = frozenset({"system", "developer"})


@dataclass(frozen=True)
class Prefix:
    """The first `messages` messages of a prompt: their chained digest and token estimate."""

    messages: int
    digest: str
    tokens: int


def without_cache_control(value: Any) -> Any:
    """A message (or content) with every `cache_control` marker removed."""
    if isinstance(value, dict):
        return {k: without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_cache_control(item) for item in value]
    return value


def canonical_message(message: dict[str, Any]) -> str:
    """Content given as one text part hashes like the same text given as a string."""
    plain = without_cache_control(message)
    content = plain.get("content")
    if isinstance(content, list) and all(
        isinstance(part, dict) and part.get("type") == "text" for part in content
    ):
        plain = {**plain, "content": "".join(str(part.get("text", "")) for part in content)}
    return json.dumps(plain, sort_keys=True, default=str)


def prompt_prefixes(
    messages: Sequence[dict[str, Any]], tools: Sequence[Any] | None = None
) -> list[Prefix]:
    """Every message prefix of a prompt, shortest first."""
    digest = hashlib.sha256(json.dumps(list(tools or []), sort_keys=True).encode()).hexdigest()
    tokens = estimate_prompt_tokens([], list(tools) if tools else None)
    prefixes = []
    for index, message in enumerate(messages):
        digest = hashlib.sha256((digest + canonical_message(message)).encode()).hexdigest()
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content or "")
        tokens += PER_MESSAGE_OVERHEAD + estimate_tokens(text)
        prefixes.append(Prefix(index + 1, digest, tokens))
    return prefixes


def stable_prefix_length(messages: Sequence[dict[str, Any]]) -> int:
    """How many leading messages are the stable part of a prompt (system/developer)."""
    count = 0
    for message in messages:
        if message.get("role") not in STABLE_ROLES:
            break
        count += 1
    return count
