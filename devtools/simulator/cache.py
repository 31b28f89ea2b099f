"""A provider-style prompt prefix cache, so `cached_tokens` (and cached pricing) is exercised.

Like OpenAI's: per model, only prompts sharing a prefix of at least `min_tokens`, counted
in 128-token blocks. Prefixes are whole messages (tools first), hashed in a chain.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from devtools.simulator.tokens import count_message_tokens, count_tools_tokens

BLOCK_TOKENS = 128
MAX_PREFIXES = 20_000


class PrefixCache:
    """Remembers every message prefix it has seen; bounded, least recently used first out."""

    def __init__(self, min_tokens: int, max_prefixes: int = MAX_PREFIXES) -> None:
        self._min_tokens = min_tokens
        self._max = max_prefixes
        self._seen: OrderedDict[str, int] = OrderedDict()

    def cached_tokens(
        self, model: str, messages: Sequence[dict[str, Any]], tools: Sequence[Any] | None
    ) -> int:
        """Tokens of the longest already-seen prefix (in blocks), then remember this prompt."""
        digest = hashlib.sha256(json.dumps([model, tools], sort_keys=True).encode()).hexdigest()
        tokens = count_tools_tokens(tools)
        hit = 0
        missed = False
        for message in messages:
            chained = digest + json.dumps(message, sort_keys=True, default=str)
            digest = hashlib.sha256(chained.encode()).hexdigest()
            tokens += count_message_tokens(message)
            if not missed and digest in self._seen:
                hit = tokens
            else:
                missed = True
            self._seen[digest] = tokens
            self._seen.move_to_end(digest)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        if hit < max(self._min_tokens, BLOCK_TOKENS):
            return 0
        return hit // BLOCK_TOKENS * BLOCK_TOKENS

    def clear(self) -> None:
        self._seen.clear()
