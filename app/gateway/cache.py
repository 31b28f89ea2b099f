"""The response cache: answers by the hash of the normalised request, per tenant.

Stored in the service's database (`response_cache`), or in Redis when
`ROUTEGRAPH_REDIS_URL` is set (many API replicas sharing one cache without a write to the
database per answer). A hit is a ledger row of status `cache_hit`: cost 0, `saved_usd`
what the reused answer cost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import redis.asyncio
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import cache_repo, ledger_repo
from app.db.models import ModelCall, utcnow
from app.gateway.call_records import call_row
from app.gateway.types import CallContext

log = logging.getLogger(__name__)
PURGE_EVERY_S = 60.0
FLUSH_DELAY_S = 0.05


@dataclass(frozen=True)
class CachedAnswer:
    """What the client needs to get the same answer again, and what it cost."""

    model: str
    tier: str
    choices: list[dict[str, Any]]  # {"message", "finish_reason"}
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float
    call_id: str | None
    # What the provider sent beyond the answer (logprobs, fingerprint, usage details...),
    # given back on a hit as on the first answer; entries written before it have none.
    passthrough: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CachedAnswer:
        return cls(**data)


def cache_key(tenant_id: str, normalised: dict[str, Any]) -> str:
    """SHA-256 of the tenant and the normalised request (key order does not matter)."""
    text = json.dumps([tenant_id, normalised], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class CacheStore(Protocol):
    async def get(self, key: str, tenant_id: str) -> CachedAnswer | None: ...

    async def put(self, key: str, tenant_id: str, answer: CachedAnswer, ttl_s: float) -> None: ...

    async def aclose(self) -> None: ...


class DatabaseCache:
    """The cache in the service's database.

    Writes are batched: an answer is kept in this process at once and written with the
    others of the next `FLUSH_DELAY_S` in one transaction, so under load the cache costs
    one write for many answers instead of one each (and no write lock on the answer's
    path). Reads go through `reader` when the database offers a faster one (SQLite:
    `cache_repo.SqliteCacheReader`), else through a session.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reader: cache_repo.SqliteCacheReader | None = None,
    ) -> None:
        self._sessions = sessions
        self._pending: dict[str, tuple[str, CachedAnswer, datetime]] = {}
        self._writing: dict[str, tuple[str, CachedAnswer, datetime]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._purged_at = 0.0
        self._reader = reader

    async def get(self, key: str, tenant_id: str) -> CachedAnswer | None:
        now = datetime.now(UTC)
        pending = self._pending.get(key) or self._writing.get(key)
        if pending is not None and pending[0] == tenant_id and pending[2] > now:
            return pending[1]
        if self._reader is not None:
            data = self._reader.read(key, tenant_id, now)
        else:
            async with self._sessions() as session:
                data = await cache_repo.get_entry(session, key, tenant_id, now)
        return CachedAnswer.from_json(data) if data is not None else None

    async def put(self, key: str, tenant_id: str, answer: CachedAnswer, ttl_s: float) -> None:
        self._pending[key] = (tenant_id, answer, datetime.now(UTC) + timedelta(seconds=ttl_s))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(FLUSH_DELAY_S))

    async def _flush(self, delay_s: float) -> None:
        """Write what is pending, one transaction per batch, until nothing is left."""
        try:
            while True:
                await asyncio.sleep(delay_s)  # at most one cache write per delay
                if not self._pending:
                    break
                self._writing, self._pending = self._pending, {}
                await self._write(self._writing)
                self._writing = {}
        finally:
            self._flusher = None

    async def _write(self, batch: dict[str, tuple[str, CachedAnswer, datetime]]) -> None:
        now = datetime.now(UTC)
        rows = [
            {
                "key": key,
                "tenant_id": tenant_id,
                "model": answer.model,
                "response": asdict(answer),
                "cost_usd": answer.cost_usd,
                "created_at": now,
                "expires_at": expires_at,
            }
            for key, (tenant_id, answer, expires_at) in batch.items()
        ]
        purge = time.monotonic() - self._purged_at > PURGE_EVERY_S
        try:
            async with self._sessions.begin() as session:
                await cache_repo.put_entries(session, rows)
                if purge:
                    self._purged_at = time.monotonic()
                    await cache_repo.purge_expired(session, now)
        except SQLAlchemyError as exc:
            log.warning("response cache write of %d answers failed: %s", len(rows), exc)

    async def aclose(self) -> None:
        if self._flusher is not None:
            await self._flusher
        await self._flush(0)
        if self._reader is not None:
            self._reader.close()


class RedisCache:
    """The cache in Redis (`ROUTEGRAPH_REDIS_URL`); Redis expires entries itself. Redis
    errors are logged and act as a miss: the cache never fails a call."""

    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        # No retries of its own: a slow or absent Redis is a miss, never a slow answer.
        self._client = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=None
        )

    async def get(self, key: str, tenant_id: str) -> CachedAnswer | None:
        try:
            raw = await self._client.get(f"routegraph:cache:{tenant_id}:{key}")
        except RedisError as exc:
            log.warning("response cache read failed: %s", exc)
            return None
        return CachedAnswer.from_json(json.loads(raw)) if raw is not None else None

    async def put(self, key: str, tenant_id: str, answer: CachedAnswer, ttl_s: float) -> None:
        try:
            await self._client.set(
                f"routegraph:cache:{tenant_id}:{key}",
                json.dumps(asdict(answer)).encode(),
                px=max(1, int(ttl_s * 1000)),
            )
        except RedisError as exc:
            log.warning("response cache write failed: %s", exc)

    async def aclose(self) -> None:
        await self._client.aclose()


async def record_reuse(
    sessions: async_sessionmaker[AsyncSession],
    ctx: CallContext,
    answer: CachedAnswer,
    *,
    requested: str,
    reason: str,
    request: dict[str, Any],
) -> str:
    """The ledger row of a call answered without a provider request (cache or shared)."""
    row = ModelCall(
        **call_row(
            ctx,
            call_id=str(uuid.uuid4()),
            attempt=1,
            model=None,
            reason=reason,
            requested=requested,
            request=request,
            status="cache_hit",
        ),
        tier=answer.tier,
        model=answer.model,
        provider="cache",
        response={"choices": answer.choices, "reused_call": answer.call_id},
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        cached_tokens=answer.cached_tokens,
        cost_usd=0.0,
        saved_usd=answer.cost_usd,
        latency_ms=0.0,
        completed_at=utcnow(),
    )
    async with sessions.begin() as session:
        ledger_repo.add_call(session, row)
    return row.id
