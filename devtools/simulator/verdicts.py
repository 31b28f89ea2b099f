"""Verdicts on demand: what a simulated model answers when asked to verify or judge a draft.

Left alone, the simulated `verifier` role checks arithmetic and accepts any non-empty draft
of free prose (`pattern_roles.verifier_answer`): it cannot tell good prose from bad. A test
that needs a judge to reject (or to answer something unparseable) adds a rule: the next
`times` verifier calls of `model` ("*": any) answer that verdict instead. Rules match in the
order they were added, like fault rules, and the draws are deterministic (no probability).
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from devtools.simulator.rule_book import RuleBook

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


class VerdictScript(RuleBook[VerdictRule]):
    """The live verdict rules of one simulator; used from its event loop only."""

    def draw(self, model: str) -> VerdictRule | None:
        """The scripted verdict for this verifier call of `model`, if any; counts it."""
        return self.first_due(model)
