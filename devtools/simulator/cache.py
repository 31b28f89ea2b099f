"""A provider-style prompt prefix cache, so cached and written prompt tokens (and their
prices) are exercised, deterministically for a given sequence of prompts and clock.

Two kinds of provider, as the catalog's `prompt_cache` says of each model:
- automatic (OpenAI): every prompt of at least `min_tokens` is cached; a later prompt
  sharing a prefix reads it back, counted in 128-token blocks; writes are not reported;
- marked (`hints: true`, Anthropic): only prefixes ending at a `cache_control` marker are
  cached, the tokens written are reported (`cache_creation_input_tokens`), and a later
  prompt reads back the longest cached prefix.
A prefix lives `lifetime` seconds after its last use (a marker's `ttl` of "1h" or "5m"
sets it for marked providers), by the simulator's own clock, which tests advance.
Prefixes are whole messages (tools first), hashed in a chain without the markers.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.gateway.prefixes import canonical_message
from app.routing.catalog import ModelSpec
from devtools.simulator.tokens import count_message_tokens, count_tools_tokens

BLOCK_TOKENS = 128
MAX_PREFIXES = 20_000
DEFAULT_LIFETIME_S = 300.0  # OpenAI: "5 to 10 minutes of inactivity"
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


class SimClock:
    """Wall time plus an offset the admin API moves forward (cache lifetimes run on it)."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> float:
        self.offset_s += seconds
        return self.now()


@dataclass(frozen=True)
class CacheUsage:
    cached_tokens: int = 0
    written_tokens: int | None = None  # None: the provider does not report writes


class PrefixCache:
    """Every cached prefix with its expiry; bounded, least recently used first out."""

    def __init__(
        self, min_tokens: int, max_prefixes: int = MAX_PREFIXES, clock: SimClock | None = None
    ) -> None:
        self._min_tokens = min_tokens
        self._max = max_prefixes
        self._clock = clock or SimClock()
        # digest -> (tokens, expires_at, lifetime): each use keeps a prefix for its lifetime.
        self._seen: OrderedDict[str, tuple[int, float, float]] = OrderedDict()

    def cached_tokens(
        self, model: str, messages: Sequence[dict[str, Any]], tools: Sequence[Any] | None
    ) -> int:
        """Tokens of the longest cached prefix of an automatically cached prompt."""
        return self.usage(model, messages, tools).cached_tokens

    def usage_for(
        self, spec: ModelSpec, messages: Sequence[dict[str, Any]], tools: Sequence[Any] | None
    ) -> CacheUsage:
        """What `spec`'s provider reads from and writes to its cache for this prompt."""
        cache = spec.prompt_cache
        if cache is None:
            return self.usage(spec.name, messages, tools)
        return self.usage(
            spec.name,
            messages,
            tools,
            lifetime_s=float(cache.lifetime_seconds),
            min_tokens=max(self._min_tokens, cache.min_tokens),
            marked=cache.hints,
        )

    def usage(
        self,
        model: str,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[Any] | None,
        *,
        lifetime_s: float = DEFAULT_LIFETIME_S,
        min_tokens: int | None = None,
        marked: bool = False,
    ) -> CacheUsage:
        """Read the longest live prefix, then cache this prompt's prefixes."""
        floor = max(self._min_tokens if min_tokens is None else min_tokens, 1)
        now = self._clock.now()
        digest = hashlib.sha256(json.dumps([model, tools], sort_keys=True).encode()).hexdigest()
        tokens = count_tools_tokens(tools)
        prefixes: list[tuple[str, int, float | None]] = []  # digest, tokens, marker lifetime
        for message in messages:
            digest = hashlib.sha256((digest + canonical_message(message)).encode()).hexdigest()
            tokens += count_message_tokens(message)
            prefixes.append((digest, tokens, _marker_lifetime(message)))
        hit = 0
        for key, length, _ in prefixes:
            entry = self._seen.get(key)
            if entry is not None and entry[1] > now:
                hit = length
                self._seen[key] = (length, now + entry[2], entry[2])
                self._seen.move_to_end(key)
        if marked:
            return self._write_marked(prefixes, hit, now, floor, lifetime_s)
        for key, length, _ in prefixes:
            self._remember(key, length, now, lifetime_s)
        if hit < max(floor, BLOCK_TOKENS):
            return CacheUsage(0)
        return CacheUsage(hit // BLOCK_TOKENS * BLOCK_TOKENS)

    def _write_marked(
        self,
        prefixes: list[tuple[str, int, float | None]],
        hit: int,
        now: float,
        floor: int,
        lifetime_s: float,
    ) -> CacheUsage:
        marks = [(key, length, ttl) for key, length, ttl in prefixes if ttl is not None]
        if not marks:
            return CacheUsage(0, 0)  # nothing marked: nothing cached, nothing read
        end = marks[-1][1]
        for key, length, ttl in marks:
            if length >= floor:
                self._remember(key, length, now, ttl or lifetime_s)
        cached = hit if hit >= floor else 0
        written = end - cached if end >= floor else 0
        return CacheUsage(cached, max(0, written))

    def _remember(self, key: str, tokens: int, now: float, lifetime_s: float) -> None:
        current = self._seen.get(key)
        if current is None or current[1] < now + lifetime_s:
            self._seen[key] = (tokens, now + lifetime_s, lifetime_s)
        self._seen.move_to_end(key)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)

    def clear(self) -> None:
        self._seen.clear()


def _marker_lifetime(message: dict[str, Any]) -> float | None:
    """The lifetime a message's `cache_control` marker asks for (None: no marker)."""
    content = message.get("content")
    markers = [message.get("cache_control")]
    if isinstance(content, list):
        markers += [part.get("cache_control") for part in content if isinstance(part, dict)]
    for marker in reversed(markers):
        if isinstance(marker, dict):
            return TTL_SECONDS.get(str(marker.get("ttl", "5m")), TTL_SECONDS["5m"])
    return None
