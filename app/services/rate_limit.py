"""Requests per minute per API key: a token bucket in this process.

Each API replica keeps its own buckets, so N replicas behind a load balancer let a key
make up to N times its limit; the budget (in the database) is the hard limit on spend.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class RateState:
    """A key's bucket after a request, as OpenAI's `x-ratelimit-*-requests` headers say it."""

    limit: int
    remaining: int
    reset_s: float  # until the bucket is full again

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(self.remaining),
            "x-ratelimit-reset-requests": duration(self.reset_s),
        }


def duration(seconds: float) -> str:
    """OpenAI's spelling of a reset time: `20ms`, `1s`, `6m0s`."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    whole = math.ceil(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key_id: str, per_minute: int) -> float | None:
        """Take one request; None if allowed, else the seconds until one is."""
        wait, _ = self.take_with_state(key_id, per_minute)
        return wait

    def take_with_state(self, key_id: str, per_minute: int) -> tuple[float | None, RateState]:
        """Take one request: (None if allowed, else the seconds until one is; the bucket)."""
        now = time.monotonic()
        capacity = float(per_minute)
        tokens, at = self._buckets.get(key_id, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * per_minute / 60.0)
        wait = None
        if tokens < 1.0:
            wait = (1.0 - tokens) * 60.0 / per_minute
        else:
            if len(self._buckets) >= MAX_BUCKETS:
                self._buckets.clear()
            tokens -= 1.0
        self._buckets[key_id] = (tokens, now)
        state = RateState(per_minute, int(tokens), (capacity - tokens) * 60.0 / per_minute)
        return wait, state
