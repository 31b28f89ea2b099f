"""For LangGraph API streaming tests: a prompt that makes a long streamed answer, and which
of a run's stream chunks are written to `run_events` now."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.models import RunEvent

# The simulator's answers echo the prompt, a few words a chunk: a long prompt, many chunks.
PROMPT = (
    "Tell a long story about a lighthouse keeper who saw a ship lost in a storm one winter "
    "night, lit the great lamp again, and guided the crew past the rocks to the harbour."
)
STORY = {"messages": [{"role": "user", "content": PROMPT}]}


async def written_ids(database_url: str, run_id: str) -> set[str]:
    """The stream ids of the run's chunks that are in `run_events` now."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = select(RunEvent.payload).where(
                RunEvent.run_id == run_id, RunEvent.kind == "stream"
            )
            return {payload.get("id") for (payload,) in await conn.execute(query)}
    finally:
        await engine.dispose()
