"""Cache-aware ordering: within a tier (equal quality), a model whose provider still holds
this conversation's prompt prefix goes first when reading it back makes the call cheaper
than the route's own first choice; the route's reason says so."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from app.routing.catalog import ModelSpec
from app.routing.policy import Route


@dataclass(frozen=True)
class WarmPrefix:
    """How much of the prompt a model's provider has cached, and for how much longer."""

    tokens: int
    seconds_left: float


def expected_cost(
    model: ModelSpec, prompt_tokens: int, output_tokens: int, warm: WarmPrefix | None
) -> float:
    """A call's cost with what is warm read from the cache and, for a provider that
    caches on request, the rest of a cacheable prompt written to it."""
    cached = min(warm.tokens, prompt_tokens) if warm is not None else 0
    cache = model.prompt_cache
    written = 0
    if cache is not None and cache.hints and prompt_tokens >= cache.min_tokens:
        written = prompt_tokens - cached
    return model.cost_usd(prompt_tokens, output_tokens, cached, written)


def prefer_warm(
    route: Route,
    warm: Mapping[str, WarmPrefix],
    prompt_tokens: int,
    output_tokens: int,
) -> Route:
    """The route with warm, cheaper models moved ahead within each tier's run of models."""
    if not warm or not any(m.name in warm for m in route.candidates):
        return route
    groups: list[list[ModelSpec]] = []
    for model in route.candidates:
        if groups and groups[-1][0].tier == model.tier:
            groups[-1].append(model)
        else:
            groups.append([model])

    def cost(model: ModelSpec) -> float:
        return expected_cost(model, prompt_tokens, output_tokens, warm.get(model.name))

    ordered: list[ModelSpec] = []
    notes: list[str] = []
    for group in groups:
        first = group[0]
        cheaper = sorted(
            (m for m in group[1:] if m.name in warm and cost(m) < cost(first)), key=cost
        )
        if cheaper:
            best = cheaper[0]
            notes.append(
                f"prefix warm on {best.name} ({_warm_text(warm[best.name])}): "
                f"~${cost(best):.5f} vs ~${cost(first):.5f} on {first.name}, "
                f"so {best.name} first"
            )
            ordered += cheaper + [m for m in group if m not in cheaper]
        else:
            if first.name in warm and not ordered:
                notes.append(f"prefix warm on {first.name} ({_warm_text(warm[first.name])})")
            ordered += group
    if not notes:
        return route
    candidates = tuple(ordered)
    reason = f"{route.reason}; cache-aware: {'; '.join(notes)}"
    if candidates != route.candidates:
        reason += f"; chain {' > '.join(m.name for m in candidates)}"
    return replace(route, candidates=candidates, reason=reason)


def _warm_text(warm: WarmPrefix) -> str:
    minutes = warm.seconds_left / 60
    return f"{warm.tokens} tokens cached, {minutes:.0f} min left"
