"""What nodes may use of a gateway: the live one (`Gateway`) and a replay's (`TapeGateway`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from app.gateway.estimate import CostEstimator
from app.gateway.learning import CallFeedback
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.routing.catalog import Catalog
from app.routing.policy import Classifier, Policy

T = TypeVar("T", bound=BaseModel)


class ModelGateway(Protocol):
    """The run context's gateway, as nodes call it."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def classifier(self) -> Classifier | None: ...

    @property
    def estimator(self) -> CostEstimator: ...

    async def complete(
        self,
        request: ModelRequest,
        policy: Policy,
        ctx: CallContext,
        *,
        validate: Callable[[ModelResult], Any] | None = None,
    ) -> ModelResult: ...

    async def complete_structured(
        self, request: ModelRequest, schema: type[T], policy: Policy, ctx: CallContext
    ) -> tuple[T, ModelResult]: ...

    async def expected_cost_usd(
        self, tier: str, request: ModelRequest, *, graph: str | None, node: str | None
    ) -> float: ...

    async def record_feedback(self, feedback: Sequence[CallFeedback]) -> None: ...
