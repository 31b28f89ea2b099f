"""Puts requests in experiment arms: finds the experiment in effect for a tenant's target
(cached in the process for a second; this process's own changes clear it at once) and
draws the arm for the request's unit (`app.routing.experiment_arms`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import experiments_repo
from app.routing.experiment_arms import pick_arm

CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class Assignment:
    experiment_id: str
    arm: str
    policy: str | None
    version: int | None


@dataclass(frozen=True)
class _InEffect:
    id: str
    split: str
    arms: list[dict[str, Any]]
    winner: str | None


class ArmAssigner:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cache: dict[tuple[str, str], tuple[float, _InEffect | None]] = {}

    def forget(self, tenant_id: str, target: str) -> None:
        """An experiment of this target was created or stopped here."""
        self._cache.pop((tenant_id, target), None)

    async def assign(
        self, tenant_id: str, target: str, *, thread: str | None, user: str | None
    ) -> Assignment | None:
        """The arm serving this request, or None when no experiment covers the target."""
        found = await self._in_effect(tenant_id, target)
        if found is None:
            return None
        arm: Mapping[str, Any]
        if found.winner is not None:
            arm = next(a for a in found.arms if a["name"] == found.winner)
        else:
            unit = {"thread": thread, "user": user}.get(found.split)
            arm = pick_arm(found.id, found.arms, unit or f"request:{uuid.uuid4()}")
        return Assignment(found.id, str(arm["name"]), arm.get("policy"), arm.get("version"))

    async def _in_effect(self, tenant_id: str, target: str) -> _InEffect | None:
        key = (tenant_id, target)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._sessions() as session:
            row = await experiments_repo.in_effect(session, tenant_id, target)
        found = (
            _InEffect(row.id, row.split, list(row.arms), row.winner) if row is not None else None
        )
        self._cache[key] = (now + CACHE_SECONDS, found)
        return found
