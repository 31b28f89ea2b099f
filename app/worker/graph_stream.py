"""The parts a run's graph streams, and LangChain's events when a client asked for them.

Stream mode `events` is LangGraph's server's: the graph runs under `astream_events`
(version "v2"), every event (`on_chain_start`, `on_chat_model_stream`, `on_chain_end`, ...)
goes to the client as an `events` chunk, and the graph's own stream parts (its root run's
`on_chain_stream` events) are taken out and handled as `astream` would give them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import StreamMode

from graphs.registry import Compiled

Part = tuple[Any, ...]


async def graph_parts(
    compiled: Compiled,
    graph_input: Any,
    config: RunnableConfig,
    *,
    context: Any,
    modes: list[StreamMode],
    stream_kwargs: dict[str, Any],
    on_event: Callable[[dict[str, Any]], None] | None,
    name: str = "LangGraph",
) -> AsyncIterator[Part]:
    """`astream`'s parts (`(mode, chunk)` or `(namespace, mode, chunk)`); with `on_event`,
    LangChain's events of the run too, handed to it as they come (the root run named
    `name`: LangGraph's server names it after the graph)."""
    if on_event is None:
        async for part in compiled.astream(
            graph_input, config, context=context, stream_mode=modes, **stream_kwargs
        ):
            yield part
        return
    root = uuid.uuid4()
    config = {**config, "run_id": root, "run_name": name}
    events = compiled.astream_events(
        graph_input, config, version="v2", context=context, stream_mode=modes, **stream_kwargs
    )
    async for event in events:  # type: ignore[union-attr]
        if "langsmith:hidden" in (event.get("tags") or ()):
            continue
        if event["event"] == "on_chain_stream" and event["run_id"] == str(root):
            yield tuple(event["data"]["chunk"])
        else:
            on_event(dict(event))
