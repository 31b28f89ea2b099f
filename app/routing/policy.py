"""Routing policies: turn a request into an ordered list of candidate models, with a reason."""

from __future__ import annotations

from dataclasses import dataclass

from app.routing.catalog import Catalog, ModelSpec, TierName


@dataclass(frozen=True)
class Route:
    """Candidates in the order they are tried; the reason is written to the ledger."""

    requested: str
    tier: TierName
    candidates: tuple[ModelSpec, ...]
    reason: str
    task_class: str | None = None


@dataclass(frozen=True)
class FixedTier:
    """Always this tier; its models are the fallback chain (no silent drop to a cheaper tier)."""

    tier: TierName


@dataclass(frozen=True)
class FixedModel:
    """One named model first, then the rest of its tier's chain."""

    model: str


Policy = FixedTier | FixedModel


def route_request(policy: Policy, catalog: Catalog, *, node: str | None = None) -> Route:
    """The route for one logical call under `policy`."""
    where = f" for node {node!r}" if node else ""
    if isinstance(policy, FixedTier):
        chain = tuple(catalog.chain(policy.tier))
        return Route(
            requested=policy.tier,
            tier=policy.tier,
            candidates=chain,
            reason=f"fixed tier {policy.tier}{where}; chain {' > '.join(m.name for m in chain)}",
        )
    first = catalog.model(policy.model)
    rest = tuple(m for m in catalog.chain(first.tier) if m.name != first.name)
    return Route(
        requested=first.name,
        tier=first.tier,
        candidates=(first, *rest),
        reason=f"model {first.name} requested{where}; fallback within tier {first.tier}",
    )
