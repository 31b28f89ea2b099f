"""How much of its routing `auto` may spend on exploring models it would not choose."""

from __future__ import annotations


class ExplorationBudget:
    """Caps exploration per tenant: after every decision explored <= share * made, and the
    extra money explorations cost (over what the exploited choice would have) stays within
    `money_usd` (None: no money cap). One per process; every worker keeping its own cap keeps
    the fleet under it too.
    """

    def __init__(self, share: float, money_usd: float | None = None) -> None:
        self.share = share
        self.money_usd = money_usd
        self._decisions: dict[str, int] = {}
        self._explorations: dict[str, int] = {}
        self._spent: dict[str, float] = {}

    @property
    def decisions(self) -> int:
        return sum(self._decisions.values())

    @property
    def explorations(self) -> int:
        return sum(self._explorations.values())

    def affordable(self, extra_usd: float, tenant: str = "") -> bool:
        """Whether an exploration costing `extra_usd` more fits the tenant's money cap."""
        if self.money_usd is None or extra_usd <= 0:
            return True
        return self._spent.get(tenant, 0.0) + extra_usd <= self.money_usd + 1e-12

    def decide(self, wants_to_explore: bool, tenant: str = "", extra_usd: float = 0.0) -> bool:
        """Count one decision; True if it may explore (the share and the money allow it)."""
        made = self._decisions[tenant] = self._decisions.get(tenant, 0) + 1
        explored = self._explorations.get(tenant, 0)
        if (
            wants_to_explore
            and explored + 1 <= self.share * made + 1e-9
            and self.affordable(extra_usd, tenant)
        ):
            self._explorations[tenant] = explored + 1
            self._spent[tenant] = self._spent.get(tenant, 0.0) + max(extra_usd, 0.0)
            return True
        return False

    def describe(self, tenant: str = "") -> str:
        """What the tenant's exploration has used so far, for routing reasons."""
        made = self._decisions.get(tenant, 0)
        explored = self._explorations.get(tenant, 0)
        money = (
            ""
            if self.money_usd is None
            else f", ${self._spent.get(tenant, 0.0):.4f} of ${self.money_usd:g} extra spend"
        )
        share = explored / made if made else 0.0
        return f"{explored} of {made} decisions explored ({share:.1%}, cap {self.share:.0%}{money})"
