"""Which arm of an A/B experiment serves a request: a weighted draw that is the same for
the same unit (a thread, a user) and experiment, so sticky splits stay sticky."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any


def unit_point(experiment_id: str, unit: str) -> float:
    """A point in [0, 1) fixed by the experiment and the unit."""
    digest = hashlib.sha256(f"{experiment_id}\x00{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_arm(experiment_id: str, arms: Sequence[Mapping[str, Any]], unit: str) -> Mapping[str, Any]:
    """The arm whose share of the total weight holds the unit's point."""
    total = sum(float(arm["weight"]) for arm in arms)
    point = unit_point(experiment_id, unit) * total
    for arm in arms:
        point -= float(arm["weight"])
        if point < 0:
            return arm
    return arms[-1]
