"""Errors the gateway raises; the worker maps them to run outcomes."""

from __future__ import annotations


class GatewayError(Exception):
    """Base class for failures of a logical model call."""


class BudgetExceeded(GatewayError):
    """The next call would take the run past its budget, so it was not made."""

    def __init__(self, *, spent_usd: float, estimate_usd: float, budget_usd: float) -> None:
        self.spent_usd = spent_usd
        self.estimate_usd = estimate_usd
        self.budget_usd = budget_usd
        super().__init__(
            f"budget exceeded: spent ${spent_usd:.6f} + next call ~${estimate_usd:.6f} "
            f"> budget ${budget_usd:.6f}"
        )


class RunCancelled(GatewayError):
    """The run was cancelled; no further model calls are made."""


class AllModelsFailed(GatewayError):
    """Every model of the route failed; `attempts` says how each one failed."""

    def __init__(self, attempts: list[str]) -> None:
        self.attempts = attempts
        super().__init__("every model in the fallback chain failed: " + "; ".join(attempts))
