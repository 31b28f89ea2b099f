"""Stream mode `messages` as LangGraph's server sends it, from the run's message chunks.

The worker streams LangGraph's `messages` mode as `[message, metadata]` pairs (what
`messages-tuple` sends as they are). For plain `messages` the server puts each message
together as its chunks come: `messages/metadata` `{id: {"metadata": ...}}` when a message
first appears, then `messages/partial` `[the message so far]` (a message, not a chunk)
after each chunk, or `messages/complete` `[message]` for a message that came whole.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, BaseMessageChunk, messages_from_dict
from langchain_core.messages.utils import message_chunk_to_message

from app.services.lg_json import jsonable

Out = tuple[str, Any]  # (event, data)


class MessageAssembler:
    """One per stream: the messages begun so far, by id."""

    def __init__(self) -> None:
        self._messages: dict[str | None, BaseMessage] = {}

    def add(self, data: Any) -> list[Out]:
        """The events one `[message, metadata]` chunk becomes ([] if it is not one)."""
        if not isinstance(data, list | tuple) or len(data) != 2 or not isinstance(data[0], dict):
            return []
        raw, metadata = data
        message = _message(raw)
        if message is None:
            return []
        out: list[Out] = []
        known = self._messages.get(message.id)
        if known is None:
            self._messages[message.id] = message
            out.append(("messages/metadata", {message.id: {"metadata": metadata}}))
        elif isinstance(known, BaseMessageChunk) and isinstance(message, BaseMessageChunk):
            self._messages[message.id] = known + message
        else:
            self._messages[message.id] = message  # a whole message replaces what was begun
        # Sent as a message (`type` "ai", not "AIMessageChunk"), as LangGraph's server does.
        whole = jsonable(message_chunk_to_message(self._messages[message.id]))
        partial = isinstance(message, BaseMessageChunk)
        return [*out, ("messages/partial" if partial else "messages/complete", [whole])]


def _message(raw: dict[str, Any]) -> BaseMessage | None:
    kind = raw.get("type")
    if not isinstance(kind, str):
        return None
    try:
        return messages_from_dict([{"type": kind, "data": raw}])[0]
    except (ValueError, TypeError, KeyError):
        return None
