"""One logical call's walk down its route, whatever answers it (a provider's reply, its
stream, a replay's tape): attempt numbers, the link from each fallback to the attempt
before it, why each attempt was tried, and the ledger record of each attempt, built in one
place so that every kind of call is booked, and learned from, alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.gateway.errors import AllModelsFailed
from app.gateway.ledger import AttemptRecord
from app.gateway.types import CallContext, ModelRequest
from app.routing.catalog import ModelSpec
from app.routing.policy import Route


@dataclass
class FallbackChain:
    route: Route
    ctx: CallContext
    # None: the first attempt is numbered from the ledger's history (a resumed call).
    number: int | None = None
    previous_id: str | None = None
    failures: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, route: Route, ctx: CallContext) -> FallbackChain:
        return cls(route, ctx, number=1 if ctx.new_call else None)

    def reason(self, index: int, *, continuing: bool = False) -> str:
        """Why the `index`-th model of the route is tried."""
        if index == 0:
            why = self.route.reason
        elif continuing:
            why = f"continuation of the answer after {self.failures[-1]}"
        else:
            why = f"fallback after {self.failures[-1]}"
        return f"{why} [{self.ctx.purpose}]" if self.ctx.purpose else why

    def record(self, model: ModelSpec, request: ModelRequest, reason: str) -> AttemptRecord:
        """The ledger record of the next attempt (with the route's learning context, so
        feedback on any attempt reaches the estimates it was routed by)."""
        learning = self.route.learning
        return AttemptRecord(
            model=model,
            number=self.number,
            reason=reason,
            requested=self.route.requested,
            task_class=self.route.task_class,
            fallback_of=self.previous_id,
            request=request.to_json(),
            routing=learning.to_json() if learning is not None else None,
            policy=self.route.policy,
        )

    def booked(self, call_id: str, number: int) -> None:
        """The attempt is on the books: the next one is numbered after it and links to it."""
        self.number = number + 1
        self.previous_id = call_id

    def failed(self, model: ModelSpec, error: str) -> None:
        self.failures.append(f"{model.name}: {error}")

    @property
    def attempts_failed(self) -> int:
        return len(self.failures)

    def exhausted(self) -> AllModelsFailed:
        return AllModelsFailed(self.failures)
