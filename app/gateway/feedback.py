"""How failed attempts are described: fed back to the model, and written to the ledger."""

from __future__ import annotations

from dataclasses import replace

import httpx
import openai
from pydantic import ValidationError

from app.gateway.types import ModelRequest


def with_feedback(request: ModelRequest, content: str, error: str) -> ModelRequest:
    """The conversation plus the unusable answer and what was wrong with it."""
    feedback = (
        f"Your previous answer could not be used ({error}). Reply again with only a JSON "
        "object that follows the required format."
    )
    messages = [
        *request.messages,
        {"role": "assistant", "content": content},
        {"role": "user", "content": feedback},
    ]
    return replace(request, messages=messages)


def short_validation_error(exc: ValidationError) -> str:
    """The first validation problem, short enough for a ledger row and a retry prompt."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "answer"
    return f"{where}: {first.get('msg', 'invalid')}"


def describe_provider_error(exc: openai.OpenAIError | httpx.HTTPError) -> str:
    """`RateLimitError (HTTP 429): <provider message>`, without LiteLLM's repeated prefixes."""
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    text = str(exc).splitlines()[0] if str(exc) else kind
    # LiteLLM formats messages as "litellm.X: X: <Provider>Exception - <message>".
    text = text.rsplit("Exception - ", 1)[-1].strip()
    return f"{kind}{f' (HTTP {status})' if status else ''}: {text[:300]}"
