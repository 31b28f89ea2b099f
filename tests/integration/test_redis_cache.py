"""The response cache in Redis (ROUTEGRAPH_REDIS_URL), when a Redis answers on loopback."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from app.gateway.cache import CachedAnswer, RedisCache

REDIS_URL = os.environ.get("ROUTEGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_reachable(), reason="no Redis on 127.0.0.1:6379")
async def test_redis_cache_round_trip_per_tenant() -> None:
    cache = RedisCache(REDIS_URL)
    key = uuid.uuid4().hex
    answer = CachedAnswer(
        model="edge-a",
        tier="edge",
        choices=[{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        prompt_tokens=3,
        completion_tokens=1,
        cached_tokens=0,
        cost_usd=0.001,
        call_id="c1",
    )
    try:
        assert await cache.get(key, "acme") is None
        await cache.put(key, "acme", answer, ttl_s=30)
        assert await cache.get(key, "acme") == answer
        assert await cache.get(key, "globex") is None
    finally:
        await cache.aclose()


async def test_an_unreachable_redis_is_a_miss_not_a_failure() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0")
    assert await cache.get("k", "acme") is None
    await cache.put("k", "acme", CachedAnswer("m", "edge", [], 0, 0, 0, 0.0, None), ttl_s=5)
    await cache.aclose()
