"""The model catalog: our own tiers, prices, context windows and fallback order."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

TierName = Literal["frontier", "mid", "edge"]
TIER_ORDER: tuple[TierName, ...] = ("edge", "mid", "frontier")  # cheapest first


class Prices(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float = Field(ge=0)
    # Input written to the provider's prompt cache (Anthropic bills it above `input`: 1.25x
    # for its 5-minute cache, 2x for the 1-hour one); unset: billed as `input` (OpenAI).
    cache_write_input: float | None = Field(default=None, ge=0)

    @property
    def cache_write(self) -> float:
        return self.input if self.cache_write_input is None else self.cache_write_input


class PromptCache(BaseModel):
    """The model's provider's prompt cache: how long a prefix stays warm after its last
    use, from what length prompts are cached, and whether it caches only prefixes marked
    with `cache_control` (Anthropic) rather than every prompt (OpenAI)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lifetime_seconds: int = Field(gt=0)
    min_tokens: int = Field(1024, ge=0)
    hints: bool = False
    hint_ttl: Literal["5m", "1h"] | None = None

    @model_validator(mode="after")
    def _ttl_matches_lifetime(self) -> PromptCache:
        if self.hint_ttl is not None and not self.hints:
            raise ValueError("hint_ttl is only meaningful with hints: true")
        return self


class Latency(BaseModel):
    """Typical latency, used by the simulator and for latency-SLO routing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_token: int = Field(ge=0, description="milliseconds to the first token")
    per_output_token: float = Field(ge=0, description="milliseconds per output token")


class TaskPrior(BaseModel):
    """Public knowledge of how well a model does a task class (a vendor's or a leaderboard's
    published score), used as its Beta prior there before feedback: prior knowledge, not
    learned. `source` says where the figure was published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    success: float = Field(ge=0, le=1)
    source: str = Field(min_length=1)


class ModelSpec(BaseModel):
    """One model: where LiteLLM reaches it and what it costs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    tier: TierName
    provider: str
    # Where the provider serves it (data residency); provider rules can allow regions.
    region: str | None = None
    litellm_model: str
    price_per_mtok: Prices
    context_window: int = Field(gt=0)
    max_output_tokens: int = Field(
        16_384, gt=0, description="largest max_tokens the model accepts (retries grow up to it)"
    )
    capabilities: tuple[str, ...] = ()
    latency_ms: Latency = Latency(first_token=500, per_output_token=10)
    prompt_cache: PromptCache | None = None
    # Per task class (the classifier's `task_class`): a published score as the prior.
    task_priors: dict[str, TaskPrior] = Field(default_factory=dict)

    def cost_usd(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        """Cost of one call from its token counts: prompt tokens read from the provider's
        cache are discounted, those written to it priced as writes (both are part of
        `prompt_tokens`, as providers report them in the OpenAI shape)."""
        cached = min(max(cached_tokens, 0), prompt_tokens)
        written = min(max(cache_write_tokens, 0), prompt_tokens - cached)
        p = self.price_per_mtok
        return (
            (prompt_tokens - cached - written) * p.input
            + cached * p.cached_input
            + written * p.cache_write
            + completion_tokens * p.output
        ) / 1_000_000


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    models: tuple[str, ...] = Field(min_length=1)


class TaskClassDefaults(BaseModel):
    """What routing assumes of a task class before any feedback: known classes need no
    classifier (everyday chat) and start on their default tier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    default_tier: TierName
    prior: dict[TierName, float] = Field(description="expected success per tier, 0..1")


def _unknown_prior() -> dict[TierName, float]:
    return {"edge": 0.6, "mid": 0.7, "frontier": 0.8}


class Catalog(BaseModel):
    """Tiers (ordered fallback chains), models, and per task class defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: dict[TierName, Tier]
    models: dict[str, ModelSpec]
    task_classes: dict[str, TaskClassDefaults] = Field(default_factory=dict)
    # A weak prior per tier for requests nothing has been learned about (out of distribution).
    unknown_prior: dict[TierName, float] = Field(default_factory=_unknown_prior)

    @model_validator(mode="before")
    @classmethod
    def _name_models(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("models"), dict):
            data = dict(data)
            data["models"] = {
                name: {"name": name, **spec} if isinstance(spec, dict) else spec
                for name, spec in data["models"].items()
            }
        return data

    @model_validator(mode="after")
    def _check_references(self) -> Catalog:
        for tier_name, tier in self.tiers.items():
            for model_name in tier.models:
                model = self.models.get(model_name)
                if model is None:
                    raise ValueError(f"tier {tier_name!r} lists unknown model {model_name!r}")
                if model.tier != tier_name:
                    raise ValueError(
                        f"model {model_name!r} is in tier {model.tier!r} "
                        f"but listed under {tier_name!r}"
                    )
        return self

    def by_price(self) -> list[ModelSpec]:
        """Every model, cheapest first (output price, then input price, then tier order)."""
        return sorted(
            self.models.values(),
            key=lambda m: (
                m.price_per_mtok.output + m.price_per_mtok.input,
                TIER_ORDER.index(m.tier),
                self.tiers[m.tier].models.index(m.name)
                if m.name in self.tiers[m.tier].models
                else 0,
            ),
        )

    def chain(self, tier: TierName) -> list[ModelSpec]:
        """The tier's models in fallback order."""
        return [self.models[name] for name in self.tiers[tier].models]

    def model(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            raise KeyError(f"model {name!r} is not in the catalog") from None


def default_catalog_path() -> Path:
    """The catalog shipped with the package."""
    return Path(str(resources.files("app.routing").joinpath("catalog.yaml")))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalog file (the shipped one by default)."""
    source = Path(path) if path is not None else default_catalog_path()
    with source.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return Catalog.model_validate(data)
