"""Policies by name, as experiments' arms give them: `auto`, `cascade`, a tier or a model."""

from __future__ import annotations

from typing import cast

from app.routing.catalog import Catalog, TierName
from app.routing.policy import Auto, Cascade, FixedModel, FixedTier, Policy


def policy_names(catalog: Catalog) -> set[str]:
    """Every name `named_policy` accepts."""
    return {"auto", "cascade", *catalog.tiers, *catalog.models}


def named_policy(name: str, catalog: Catalog) -> Policy:
    """The policy a name stands for, with each policy's defaults (cascade: edge then
    frontier, a non-empty answer accepted); KeyError for a name the catalog lacks."""
    if name == "auto":
        return Auto()
    if name == "cascade":
        return Cascade(tiers=("edge", "frontier"), verifier="nonempty")
    if name in catalog.tiers:
        return FixedTier(cast(TierName, name))
    if name in catalog.models:
        return FixedModel(name)
    raise KeyError(f"no policy named {name!r}")
