"""How failed attempts are described: fed back to the model, and written to the ledger."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from app.gateway.types import ModelRequest


def with_feedback(
    request: ModelRequest, content: str, error: str, instruction: str
) -> ModelRequest:
    """The conversation plus the unusable answer and what was wrong with it.

    The answer goes back as plain text even when it was a tool call: a malformed tool call
    in the history would itself be refused by a strict provider.
    """
    feedback = f"Your previous answer could not be used ({error}). {instruction}"
    messages = [
        *request.messages,
        {"role": "assistant", "content": content},
        {"role": "user", "content": feedback},
    ]
    return replace(request, messages=messages)


def answer_as_text(content: str | None, tool_calls: list[dict[str, Any]]) -> str:
    """An unusable answer as the text fed back to the model."""
    parts = [content] if content else []
    for call in tool_calls:
        function = call.get("function") or {}
        parts.append(f"(tool call {function.get('name')}({function.get('arguments')}))")
    return "\n".join(parts) or "(empty answer)"


def short_validation_error(exc: ValidationError) -> str:
    """The first validation problem, short enough for a ledger row and a retry prompt."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "answer"
    return f"{where}: {first.get('msg', 'invalid')}"


def describe_provider_error(exc: BaseException, timeout_s: float) -> str:
    """What went wrong, in words an operator can act on: `timeout after 60 s`, `response
    cut off after 308 of 617 bytes`, `RateLimitError (HTTP 429): <provider message>`."""
    chain = list(_causes(exc))
    if any(_is_timeout(e) for e in chain):
        return f"timeout after {timeout_s:g} s (no complete answer from the provider)"
    for cause in chain:
        cut = _CUT_BODY.search(str(cause))
        if cut:
            return (
                f"response cut off after {cut['received']} of {cut['expected']} bytes "
                "(connection closed mid-answer)"
            )
        if "payload is not completed" in str(cause) or "peer closed connection" in str(cause):
            return "response cut off (connection closed mid-answer)"
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    text = str(exc).splitlines()[0] if str(exc) else kind
    # LiteLLM formats messages as "litellm.X: X: <Provider>Exception - <message>".
    text = text.rsplit("Exception - ", 1)[-1].strip()
    return f"{kind}{f' (HTTP {status})' if status else ''}: {text[:300]}"


_CUT_BODY = re.compile(r"received (?P<received>\d+) of (?P<expected>\d+) bytes")


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 12:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_timeout(exc: BaseException) -> bool:
    # Imported here: the OpenAI SDK takes most of a second to import, and it is only needed
    # once a call failed (by then LiteLLM, which imports it anyway, is loaded).
    import httpx
    import openai

    return isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException, TimeoutError))
