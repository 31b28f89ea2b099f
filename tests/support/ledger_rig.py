"""A gateway on a real database, and its ledger read back in the order it was written."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import create_engine, create_session_factory
from app.db.models import ModelCall
from app.gateway.gateway import Gateway


@dataclass
class LedgerRig:
    gateway: Gateway
    sessions: async_sessionmaker[AsyncSession]

    async def calls(self) -> list[ModelCall]:
        """Every ledger row, in the order the attempts were made."""
        async with self.sessions() as session:
            query = select(ModelCall).order_by(ModelCall.created_at, ModelCall.attempt)
            return list((await session.execute(query)).scalars())


async def ledger_call(database_url: str, call_id: str) -> ModelCall:
    """One ledger row of a service's database, read on an engine of its own."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            call = await session.get(ModelCall, call_id)
    finally:
        await engine.dispose()
    assert call is not None, f"no ledger row {call_id}"
    return call
