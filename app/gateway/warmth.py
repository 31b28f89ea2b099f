"""Where a conversation's prompt prefix is warm: the gateway records each served prompt's
prefixes per model with the provider's cache lifetime, and routing reads them back to
prefer a model whose cache would make the call cheaper (`app.routing.warm_route`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import prefix_repo
from app.gateway.prefixes import prompt_prefixes, stable_prefix_length
from app.gateway.types import ModelRequest, Usage
from app.routing.catalog import ModelSpec
from app.routing.warm_route import WarmPrefix

PURGE_EVERY = 500  # recorded calls between purges of cold prefixes

log = logging.getLogger(__name__)


class PrefixWarmth:
    """Built by the gateway; `clock` is the time the providers' caches live by."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._recorded = 0
        self._pending: set[asyncio.Task[None]] = set()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    @staticmethod
    def cacheable(models: Sequence[ModelSpec], prompt_tokens: int) -> list[ModelSpec]:
        """The models whose provider would cache a prompt this long."""
        return [
            m
            for m in models
            if m.prompt_cache is not None and prompt_tokens >= m.prompt_cache.min_tokens
        ]

    async def lookup(
        self, request: ModelRequest, tenant_id: str, models: Sequence[ModelSpec]
    ) -> dict[str, WarmPrefix]:
        """Per model, the longest prefix of this prompt its provider still holds."""
        prefixes = prompt_prefixes(request.messages, request.tools)
        now = self.now()
        async with self._sessions() as session:
            rows = await prefix_repo.warm_prefixes(
                session,
                tenant_id,
                [p.digest for p in prefixes],
                [m.name for m in models],
                now,
            )
        return {
            model: WarmPrefix(tokens, (expires_at - now).total_seconds())
            for model, (tokens, expires_at) in rows.items()
        }

    def record_behind(
        self, request: ModelRequest, tenant_id: str, model: ModelSpec, usage: Usage
    ) -> None:
        """`record`, written behind the answer (as its ledger completion is): the caller
        does not wait for it. `settled` waits for every such write."""
        cache = model.prompt_cache
        if cache is None or usage.prompt_tokens < cache.min_tokens:
            return
        task = asyncio.create_task(self._record_logged(request, tenant_id, model, usage))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settled(self) -> None:
        """Every warm prefix recorded so far is written (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _record_logged(
        self, request: ModelRequest, tenant_id: str, model: ModelSpec, usage: Usage
    ) -> None:
        try:
            await self.record(request, tenant_id, model, usage)
        except (SQLAlchemyError, OSError):  # a lost record costs money, never the answer
            log.warning("could not record the warm prefix on %s", model.name, exc_info=True)

    async def record(
        self, request: ModelRequest, tenant_id: str, model: ModelSpec, usage: Usage
    ) -> None:
        """A served prompt: its stable part and the whole prompt are now warm on `model`
        for the provider's cache lifetime (a provider that caches only marked prefixes was
        sent markers at exactly those two places)."""
        cache = model.prompt_cache
        if cache is None or usage.prompt_tokens < cache.min_tokens:
            return
        prefixes = prompt_prefixes(request.messages, request.tools)
        if not prefixes:
            return
        stable = stable_prefix_length(request.messages)
        kept = [prefixes[-1]]
        if 0 < stable < len(prefixes) and prefixes[stable - 1].tokens >= cache.min_tokens:
            kept.append(prefixes[stable - 1])
        now = self.now()
        expires_at = now + timedelta(seconds=cache.lifetime_seconds)
        rows = [
            {
                "tenant_id": tenant_id,
                "model": model.name,
                "digest": p.digest,
                "tokens": p.tokens,
                "expires_at": expires_at,
            }
            for p in kept
        ]
        async with self._sessions() as session, session.begin():
            await prefix_repo.touch_prefixes(session, rows)
            self._recorded += 1
            if self._recorded % PURGE_EVERY == 0:
                await prefix_repo.purge_cold(session, now)
