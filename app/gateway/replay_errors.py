"""How a replay departs from its source run, and the errors that end a replay early."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from app.gateway.errors import GatewayError

DivergenceKind = Literal[
    "prompt_changed",  # a call asked something else than the source asked under its key
    "route_changed",  # the policy now routes away from the model whose answer was used
    "no_recording",  # the source made no call under this key
    "answer_rejected",  # the node's validation now refuses the recorded answer
    "output_changed",  # a step wrote another state than the source's same step
    "path_changed",  # a step ran other nodes than the source's same step
]


@dataclass(frozen=True)
class Divergence:
    """The first place a replay did not do what its source did."""

    kind: DivergenceKind
    step: int | None
    node: str | None
    detail: str
    call_index: int | None = None
    call_key: str | None = None  # the tape key (without the run id)
    diff: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        where = f"step {self.step}" if self.step is not None else "the end"
        node = f" ({self.node}" + (
            f", call {self.call_index}" if self.call_index is not None else ""
        )
        node = node + ")" if self.node else ""
        return f"replay diverged at {where}{node}: {self.kind}: {self.detail}"


class ReplayDiverged(GatewayError):
    """A replay with `on_divergence: stop` reached its first divergence and stops there."""

    def __init__(self, divergence: Divergence) -> None:
        self.divergence = divergence
        super().__init__(divergence.describe())


class SourceEnded(GatewayError):
    """The replay reached the point where its source run stopped (budget, cancel, ...):
    it ends the same way, with the source's status and error."""

    def __init__(self, status: str, error: str | None) -> None:
        self.status = status
        self.error = error
        super().__init__(error or f"the source run ended {status} here")
