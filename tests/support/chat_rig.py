"""The service on a loopback port with the real simulator behind it, and its ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.api.app import create_app
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import ModelCall
from app.settings import Settings
from tests.support.live_server import LiveServer


@dataclass
class ChatService:
    base_url: str  # the OpenAI base URL (ends in /v1)
    database_url: str

    async def rows(self, **where: Any) -> list[ModelCall]:
        """Ledger rows, oldest first, filtered by column values, once none is in flight
        (completions are written just behind the answers)."""
        engine = create_engine(self.database_url)
        try:
            for _ in range(100):
                async with create_session_factory(engine)() as session:
                    query = select(ModelCall).order_by(ModelCall.created_at, ModelCall.attempt)
                    for column, value in where.items():
                        query = query.where(getattr(ModelCall, column) == value)
                    rows = list((await session.execute(query)).scalars())
                if all(row.status != "in_flight" for row in rows):
                    return rows
                await asyncio.sleep(0.02)
            return rows
        finally:
            await engine.dispose()


@contextmanager
def chat_service(database_url: str, simulator_url: str, **settings: Any) -> Iterator[ChatService]:
    """The API (no worker) on loopback; keys are looked up on every request."""
    upgrade_database(database_url)
    config = Settings(
        database_url=database_url,
        simulator_url=simulator_url,
        key_cache_seconds=0,
        model_timeout_seconds=5,
        **settings,
    )
    with LiveServer(create_app(config)) as root:
        yield ChatService(f"{root}/v1", database_url)


async def in_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run the synchronous SDK client off the test's event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)
