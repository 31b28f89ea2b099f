"""Provider faults on demand, so fallbacks and retries are tested against real HTTP failures.

Rules are matched in the order they were added; the first rule that matches the model, has
firings left and wins its probability draw decides the fault. Draws come from one seeded
`random.Random`, so a run with the same seed and the same requests fails the same way.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from devtools.simulator.rule_book import RuleBook

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "timeout",
    "cut_stream",
    "malformed_json",
    "off_schema",
    "context_length",
    "content_policy",
    "unsupported_parameter",
]
# Faults of the model or the provider: another model (or a retry) may succeed.
FAULT_KINDS: tuple[FaultKind, ...] = (
    "rate_limit",
    "server_error",
    "timeout",
    "cut_stream",
    "malformed_json",
)
# A 400 about the request itself (every model would refuse it), a 400 about a capability
# this model lacks (`unsupported_parameter`: another model may have it), and an answer
# that is valid JSON but ignores the requested schema (`off_schema`).
REQUEST_FAULT_KINDS: tuple[FaultKind, ...] = (
    "context_length",
    "content_policy",
    "unsupported_parameter",
)


class FaultRule(BaseModel):
    """One fault: which model ("*" for all), what goes wrong, how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(default="*", min_length=1, description='catalog model name, or "*"')
    kind: FaultKind
    times: int | None = Field(
        default=None, ge=0, description="fire this many times, then stop; null = no limit"
    )
    probability: float = Field(
        default=1.0, ge=0.0, le=1.0, description="chance a matching call fails"
    )
    retry_after_seconds: int = Field(
        default=1, ge=0, description="Retry-After sent with rate_limit"
    )

    def matches(self, model: str) -> bool:
        return self.model in ("*", model)


class FaultInjector(RuleBook[FaultRule]):
    """The live fault rules of one simulator, drawn from one seeded random stream."""

    def __init__(self, rules: list[FaultRule], seed: int) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        super().__init__(rules)

    def clear(self) -> int:
        """Drop every rule and reseed, so what follows is reproducible on its own."""
        self._rng = random.Random(self._seed)
        return super().clear()

    def draw(self, model: str) -> FaultRule | None:
        """The fault to apply to this call of `model`, if any; counts the firing."""
        return self.first_due(model, self._wins_draw)

    def _wins_draw(self, rule: FaultRule) -> bool:
        return rule.probability >= 1.0 or self._rng.random() < rule.probability
