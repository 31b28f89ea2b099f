"""Continuing a stream that broke mid-answer on another model, without repeating it.

The next model gets the conversation, the partial answer as an assistant turn and an
instruction to continue from its last character. What it sends back goes through
`RepeatFilter`, which drops a restart of the answer or a repeated tail, so the client's
stream reads as one answer even when a model does not follow the instruction.
"""

from __future__ import annotations

from dataclasses import replace

from app.gateway.types import ModelRequest
from app.routing.features import estimate_tokens

CONTINUE_INSTRUCTION = (
    "Your previous answer was cut off mid-way. Continue it exactly from its last "
    "character: do not repeat any of it, do not comment, just write the rest."
)
# Text of a continuation held back to tell a restart from a real continuation.
DECIDE_CHARS = 64
MIN_TAIL_OVERLAP = 8


def continuation_request(request: ModelRequest, partial: str) -> ModelRequest:
    """The conversation plus the partial answer and the instruction to continue it."""
    messages = [
        *request.messages,
        {"role": "assistant", "content": partial},
        {"role": "user", "content": CONTINUE_INSTRUCTION},
    ]
    max_tokens = request.max_tokens
    if max_tokens is not None:
        max_tokens = max(1, max_tokens - estimate_tokens(partial))
    return replace(request, messages=messages, max_tokens=max_tokens)


class RepeatFilter:
    """Feeds a continuation's text through; drops what repeats the text already sent."""

    def __init__(self, sent: str) -> None:
        self._sent = sent
        self._decide = min(len(sent), DECIDE_CHARS)
        self._held = ""
        self._skip_at: int | None = None  # restart: index in `sent` still being matched
        self._open = not sent  # nothing sent yet: pass everything through

    def feed(self, text: str) -> str:
        """What of `text` the client should get now."""
        if self._open:
            return text
        if self._skip_at is not None:
            return self._skip(text)
        self._held += text
        if len(self._held) < self._decide:
            return ""
        return self._resolve()

    def flush(self) -> str:
        """At the end of the continuation: whatever is still held back."""
        if self._open or self._skip_at is not None:
            return ""
        return self._resolve()

    def _resolve(self) -> str:
        held, self._held = self._held, ""
        self._open = True
        if held.startswith(self._sent[: self._decide]):
            # The model started the answer again: drop it for as long as it matches.
            self._open = False
            self._skip_at = 0
            return self._skip(held)
        return held[_tail_overlap(self._sent, held) :]

    def _skip(self, text: str) -> str:
        assert self._skip_at is not None
        index = 0
        while index < len(text) and self._skip_at < len(self._sent):
            if text[index] != self._sent[self._skip_at]:
                break
            index += 1
            self._skip_at += 1
        if index == len(text) and self._skip_at < len(self._sent):
            return ""  # still repeating
        self._skip_at = None
        self._open = True
        return text[index:]


def _tail_overlap(sent: str, continuation: str) -> int:
    """Length of the longest tail of `sent` (at least MIN_TAIL_OVERLAP) that the
    continuation starts with: a model that re-wrote its last words."""
    longest = min(len(sent), len(continuation))
    for size in range(longest, MIN_TAIL_OVERLAP - 1, -1):
        if sent.endswith(continuation[:size]):
            return size
    return 0
