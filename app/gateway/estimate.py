"""What a call will cost before it is made: prompt tokens estimated from the messages,
output tokens from what this node's calls on this model really produced (the ledger).

`max_tokens` is only the cap: a planner allowed 600 tokens that writes 150 is estimated at
about 150. With no history yet the estimate falls back to `prior_output_tokens`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import ledger_repo
from app.gateway.tokens import estimate_prompt_tokens
from app.gateway.types import ModelRequest
from app.routing.catalog import ModelSpec

HISTORY_ROWS = 200  # the latest successful calls of one (graph, node, model) looked at
MIN_HISTORY = 3  # fewer than this: the prior is used
PERCENTILE = 0.9  # a high percentile: budgets should rarely stop a typical run
REFRESH_S = 60.0


@dataclass(frozen=True)
class Estimate:
    prompt_tokens: int
    output_tokens: int
    cost_usd: float
    basis: str  # "history p90 of 40 calls" | "prior" ...


class CostEstimator:
    """Per-process cache of output-token percentiles, refreshed from the ledger each minute."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], prior_output_tokens: int = 256
    ) -> None:
        self._sessions = sessions
        self._prior = prior_output_tokens
        self._cache: dict[tuple[str | None, str | None, str], tuple[float, int | None, int]] = {}

    async def estimate(
        self, model: ModelSpec, request: ModelRequest, *, graph: str | None, node: str | None
    ) -> Estimate:
        prompt = estimate_prompt_tokens(request.messages, request.tools)
        typical, samples = await self._output_tokens(graph, node, model.name)
        if typical is None:
            output, basis = self._prior, "prior"
        else:
            output, basis = typical, f"p{int(PERCENTILE * 100)} of {samples} calls"
        if request.max_tokens is not None:
            output = min(output, request.max_tokens)
        return Estimate(prompt, output, model.cost_usd(prompt, output), basis)

    async def _output_tokens(
        self, graph: str | None, node: str | None, model: str
    ) -> tuple[int | None, int]:
        key = (graph, node, model)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < REFRESH_S:
            return cached[1], cached[2]
        async with self._sessions() as session:
            tokens = sorted(
                await ledger_repo.recent_completion_tokens(
                    session, graph=graph, node=node, model=model, limit=HISTORY_ROWS
                )
            )
        typical = None
        if len(tokens) >= MIN_HISTORY:
            typical = tokens[min(len(tokens) - 1, math.ceil(PERCENTILE * len(tokens)) - 1)]
        self._cache[key] = (time.monotonic(), typical, len(tokens))
        return typical, len(tokens)

    def forget(self) -> None:
        """Drop the cache (tests, or after a bulk import of history)."""
        self._cache.clear()
