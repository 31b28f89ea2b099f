"""What each recorded row would cost on our catalog's tiers.

The recorded weak model (Mixtral) is priced as the `edge` tier's first model, the strong
model (GPT-4) as the `frontier` tier's first model. Token counts are estimated offline from
the recorded texts (`features.estimate_tokens`): the prompt for input; the model's own
recorded response for output where the data has one (GSM8K), else a fixed assumption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.routing.catalog import Catalog, ModelSpec, load_catalog
from app.routing.features import estimate_tokens
from devtools.routing.datasets import Row

# Output tokens assumed where the data holds no response text. MMLU prompts end in
# "Answer:" and are graded on the option letter: one letter plus an end token.
ASSUMED_COMPLETION_TOKENS: dict[str, int] = {"mmlu": 2}


@dataclass(frozen=True)
class TierPricing:
    """The two catalog models the recorded weak and strong models stand in for."""

    weak: ModelSpec
    strong: ModelSpec

    @classmethod
    def from_catalog(cls, catalog: Catalog | None = None) -> TierPricing:
        catalog = catalog or load_catalog()
        return cls(weak=catalog.chain("edge")[0], strong=catalog.chain("frontier")[0])

    def describe(self) -> dict[str, object]:
        return {
            "weak": {"recorded": "Mixtral-8x7B", "as": self.weak.name, "tier": "edge"},
            "strong": {"recorded": "GPT-4-1106", "as": self.strong.name, "tier": "frontier"},
            "usd_per_mtok": {
                self.weak.name: self.weak.price_per_mtok.model_dump(),
                self.strong.name: self.strong.price_per_mtok.model_dump(),
            },
            "assumed_completion_tokens": ASSUMED_COMPLETION_TOKENS,
        }


def _completion_tokens(row: Row, response: str | None) -> int:
    if response is not None:
        return estimate_tokens(response)
    try:
        return ASSUMED_COMPLETION_TOKENS[row.dataset]
    except KeyError:
        raise ValueError(
            f"{row.row_id}: no recorded response and no assumed completion length "
            f"for dataset {row.dataset!r}"
        ) from None


def row_costs(rows: Sequence[Row], pricing: TierPricing) -> tuple[np.ndarray, np.ndarray]:
    """USD per row if the weak model answers, and if the strong model answers."""
    weak = np.empty(len(rows))
    strong = np.empty(len(rows))
    for i, row in enumerate(rows):
        prompt_tokens = estimate_tokens(row.prompt)
        weak[i] = pricing.weak.cost_usd(prompt_tokens, _completion_tokens(row, row.weak_response))
        strong[i] = pricing.strong.cost_usd(
            prompt_tokens, _completion_tokens(row, row.strong_response)
        )
    return weak, strong
