"""A gateway on a real database, and its ledger read back in the order it was written."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
