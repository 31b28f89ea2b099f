"""Verdicts on demand: what a simulated model answers when asked to verify or judge a draft.

Left alone, the simulated `verifier` role checks arithmetic and accepts any non-empty draft
of free prose (`pattern_roles.verifier_answer`): it cannot tell good prose from bad. A test
that needs a judge to reject (or to answer something unparseable) adds a rule: the next
`times` verifier calls of `model` ("*": any) answer that verdict instead. Rules match in the
order they were added, like fault rules, and the draws are deterministic (no probability).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

VerdictKind = Literal["accept", "reject", "unparseable"]
UNPARSEABLE = "Looks fine to me, I suppose - hard to say."  # no JSON, no verdict word first


class VerdictRule(BaseModel):
    """One scripted verdict: which verifier model ("*" for all), what it says, how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(default="*", min_length=1, description='catalog model name, or "*"')
    verdict: VerdictKind
    times: int | None = Field(
        default=None, ge=0, description="answer this many verifier calls, then stop; null = all"
    )
    reason: str = Field(default="", max_length=500, description="the verdict's reason")

    def content(self) -> str:
        """The verifier's reply under this rule."""
        if self.verdict == "unparseable":
            return UNPARSEABLE
        reason = self.reason or f"scripted {self.verdict} (simulator verdict rule)"
        return json.dumps({"verdict": self.verdict, "reason": reason})


@dataclass
class _Active:
    id: int
    rule: VerdictRule
    fired: int = 0

    @property
    def remaining(self) -> int | None:
        return None if self.rule.times is None else max(self.rule.times - self.fired, 0)

    def to_json(self) -> dict[str, Any]:
        body = self.rule.model_dump(mode="json")
        return {"id": self.id, **body, "fired": self.fired, "remaining": self.remaining}


class VerdictScript:
    """The live verdict rules of one simulator; used from its event loop only."""

    def __init__(self, rules: list[VerdictRule]) -> None:
        self._rules: list[_Active] = []
        self._next_id = 1
        self.add(rules)

    def add(self, rules: list[VerdictRule]) -> list[dict[str, Any]]:
        added = []
        for rule in rules:
            active = _Active(self._next_id, rule)
            self._next_id += 1
            self._rules.append(active)
            added.append(active.to_json())
        return added

    def clear(self) -> int:
        count = len(self._rules)
        self._rules.clear()
        return count

    def list(self) -> list[dict[str, Any]]:
        return [active.to_json() for active in self._rules]

    def draw(self, model: str) -> VerdictRule | None:
        """The scripted verdict for this verifier call of `model`, if any; counts it."""
        for active in self._rules:
            if active.rule.model not in ("*", model) or active.remaining == 0:
                continue
            active.fired += 1
            return active.rule
        return None
