"""Answers dataset prompts with a real model's recorded answer (RouteLLM's GSM8K outputs).

Edge-tier models answer with Mixtral-8x7B's recorded response and mid/frontier models with
GPT-4's, so routing quality can be measured end to end through the real service: whether a
routed call was right is whether the recorded answer of the model it reached was right.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from app.routing.catalog import ModelSpec
from devtools.routing.datasets import Row, load_gsm8k, normalize_prompt
from devtools.simulator.answers import Answer, last_user_text
from devtools.simulator.schemas import ChatCompletionRequest


class RecordedAnswers:
    """An answer source for prompts found in the recorded data; None for anything else."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._answers: dict[str, tuple[str, str]] = {
            normalize_prompt(row.prompt): (row.weak_response or "", row.strong_response or "")
            for row in rows
            if row.weak_response is not None and row.strong_response is not None
        }

    @classmethod
    def from_data_dir(cls, data_dir: str | Path | None = None) -> RecordedAnswers:
        """GSM8K's recorded answers from `data_dir` (default: the copy in benchmarks/data)."""
        return cls(load_gsm8k(data_dir))

    def __len__(self) -> int:
        return len(self._answers)

    def answer(self, request: ChatCompletionRequest, model: ModelSpec) -> Answer | None:
        recorded = self._answers.get(normalize_prompt(last_user_text(request)))
        if recorded is None:
            return None
        weak, strong = recorded
        return Answer(content=weak if model.tier == "edge" else strong, source="recorded")
