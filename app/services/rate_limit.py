"""Requests per minute per API key: a token bucket in this process.

Each API replica keeps its own buckets, so N replicas behind a load balancer let a key
make up to N times its limit; the budget (in the database) is the hard limit on spend.
"""

from __future__ import annotations

import time

MAX_BUCKETS = 100_000


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key_id: str, per_minute: int) -> float | None:
        """Take one request; None if allowed, else the seconds until one is."""
        now = time.monotonic()
        capacity = float(per_minute)
        tokens, at = self._buckets.get(key_id, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * per_minute / 60.0)
        if tokens < 1.0:
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) * 60.0 / per_minute
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()
        self._buckets[key_id] = (tokens - 1.0, now)
        return None
