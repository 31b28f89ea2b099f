"""Cache-control hints: providers that cache only marked prefixes (Anthropic) get a
`cache_control` marker at the end of a long prompt's stable part (its system messages) and
on its last message, so the conversation so far is cached and read back next turn."""

from __future__ import annotations

from typing import Any

from app.gateway.tokens import estimate_prompt_tokens
from app.routing.catalog import ModelSpec

HINT_ROLES = frozenset({"system", "developer", "user", "assistant"})


def needs_hints(model: ModelSpec, messages: list[dict[str, Any]], tools: Any = None) -> bool:
    """Whether the model's provider caches only marked prefixes and this prompt is long
    enough for its cache."""
    cache = model.prompt_cache
    if cache is None or not cache.hints:
        return False
    return estimate_prompt_tokens(messages, tools) >= cache.min_tokens


def with_cache_hints(model: ModelSpec, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with markers on the last system message and the last message that can
    carry one (at most two of the four breakpoints Anthropic allows)."""
    cache = model.prompt_cache
    marker: dict[str, Any] = {"type": "ephemeral"}
    if cache is not None and cache.hint_ttl is not None:
        marker["ttl"] = cache.hint_ttl
    marked = list(messages)
    stable = [i for i, m in enumerate(marked) if m.get("role") in ("system", "developer")]
    last = [i for i, m in enumerate(marked) if m.get("role") in HINT_ROLES]
    for index in {*stable[-1:], *last[-1:]}:
        marked[index] = _marked(marked[index], marker)
    return marked


def _marked(message: dict[str, Any], marker: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str) and content:
        parts: list[Any] = [{"type": "text", "text": content}]
    elif isinstance(content, list) and content and isinstance(content[-1], dict):
        parts = list(content)
    else:
        return message  # nothing to mark (an assistant turn of tool calls only)
    parts[-1] = {**parts[-1], "cache_control": marker}
    return {**message, "content": parts}
