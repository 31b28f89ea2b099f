"""Provider faults on demand, so fallbacks and retries are tested against real HTTP failures.

Rules are matched in the order they were added; the first rule that matches the model, has
firings left and wins its probability draw decides the fault. Draws come from one seeded
`random.Random`, so a run with the same seed and the same requests fails the same way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


@dataclass
class _ActiveRule:
    id: int
    rule: FaultRule
    fired: int = 0

    @property
    def remaining(self) -> int | None:
        return None if self.rule.times is None else max(self.rule.times - self.fired, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.rule.model_dump(mode="json"),
            "fired": self.fired,
            "remaining": self.remaining,
        }


class FaultInjector:
    """The live rule set of one simulator; not thread-safe, used from its event loop."""

    def __init__(self, rules: list[FaultRule], seed: int) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[_ActiveRule] = []
        self._next_id = 1
        self.add(rules)

    def add(self, rules: list[FaultRule]) -> list[dict[str, Any]]:
        """Append rules (after the existing ones) and return them as stored."""
        added = []
        for rule in rules:
            active = _ActiveRule(self._next_id, rule)
            self._next_id += 1
            self._rules.append(active)
            added.append(active.to_json())
        return added

    def clear(self) -> int:
        """Drop every rule and reseed, so what follows is reproducible on its own."""
        count = len(self._rules)
        self._rules.clear()
        self._rng = random.Random(self._seed)
        return count

    def list(self) -> list[dict[str, Any]]:
        return [active.to_json() for active in self._rules]

    def draw(self, model: str) -> FaultRule | None:
        """The fault to apply to this call of `model`, if any; counts the firing."""
        for active in self._rules:
            if not active.rule.matches(model) or active.remaining == 0:
                continue
            probability = active.rule.probability
            if probability < 1.0 and self._rng.random() >= probability:
                continue
            active.fired += 1
            return active.rule
        return None
