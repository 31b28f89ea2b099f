"""Errors the gateway raises; the worker maps them to run outcomes."""

from __future__ import annotations

from app.db.fencing import LeaseLost
from app.routing.provider_rules import RuleBreach


class GatewayError(Exception):
    """Base class for failures of a logical model call."""


class BudgetExceeded(GatewayError):
    """The next call would take the run past its budget, so it was not made."""

    def __init__(
        self,
        *,
        spent_usd: float,
        estimate_usd: float,
        budget_usd: float,
        reserve_usd: float = 0.0,
        what: str = "next call",
    ) -> None:
        self.spent_usd = spent_usd
        self.estimate_usd = estimate_usd
        self.budget_usd = budget_usd
        self.reserve_usd = reserve_usd
        kept = f" + ${reserve_usd:.6f} kept for later calls" if reserve_usd else ""
        super().__init__(
            f"budget exceeded: spent ${spent_usd:.6f} + {what} ~${estimate_usd:.6f}{kept} "
            f"> budget ${budget_usd:.6f}"
        )


class RunCancelled(GatewayError):
    """The run was cancelled; no further model calls are made."""


class StepFailed(GatewayError):
    """A node could not produce a usable result (every model's answer was unusable, or a
    tool fails on the arguments the step asks for); the run fails with this reason."""


__all__ = [
    "AllModelsFailed",
    "BudgetExceeded",
    "GatewayError",
    "LeaseLost",
    "ProviderRejected",
    "RuleViolation",
    "RunCancelled",
    "StepFailed",
]


class AllModelsFailed(GatewayError):
    """Every model of the route failed; `attempts` says how each one failed."""

    def __init__(self, attempts: list[str]) -> None:
        self.attempts = attempts
        super().__init__("every model in the fallback chain failed: " + "; ".join(attempts))


class ProviderRejected(GatewayError):
    """The provider refused the request itself (HTTP 400: context too long, content policy,
    an invalid parameter): every model would refuse it, so the chain stops here and the
    caller gets the provider's error."""

    def __init__(
        self,
        model: str,
        message: str,
        *,
        status: int = 400,
        code: str | None = None,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        self.model = model
        self.message = message
        self.status = status
        self.code = code
        self.param = param
        self.error_type = error_type
        why = code or f"HTTP {status}"
        super().__init__(f"{model} refused the request ({why}): {message}")


class RuleViolation(GatewayError):
    """The tenant's or key's provider rules do not let this request be served (a model,
    provider, region or price outside them, or a prompt they refuse); nothing was sent."""

    def __init__(self, breach: RuleBreach) -> None:
        self.breach = breach
        self.rule = breach.rule
        self.status = breach.status
        super().__init__(f"refused by provider {breach.text()}")
