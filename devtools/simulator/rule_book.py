"""A simulator's live scripted rules (faults, verdicts): numbered, counted, matched in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar


class ScriptedRule(Protocol):
    """What a rule book needs of a rule: whom it applies to and how often."""

    @property
    def model(self) -> str: ...

    @property
    def times(self) -> int | None: ...

    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...


R = TypeVar("R", bound=ScriptedRule)


@dataclass
class ActiveRule(Generic[R]):
    id: int
    rule: R
    fired: int = 0

    @property
    def remaining(self) -> int | None:
        return None if self.rule.times is None else max(self.rule.times - self.fired, 0)

    def to_json(self) -> dict[str, Any]:
        body = self.rule.model_dump(mode="json")
        return {"id": self.id, **body, "fired": self.fired, "remaining": self.remaining}


class RuleBook(Generic[R]):
    """Rules in the order they were added; used from the simulator's event loop only."""

    def __init__(self, rules: list[R]) -> None:
        self._rules: list[ActiveRule[R]] = []
        self._next_id = 1
        self.add(rules)

    def add(self, rules: list[R]) -> list[dict[str, Any]]:
        """Append rules (after the existing ones) and return them as stored."""
        added = []
        for rule in rules:
            active = ActiveRule(self._next_id, rule)
            self._next_id += 1
            self._rules.append(active)
            added.append(active.to_json())
        return added

    def clear(self) -> int:
        count = len(self._rules)
        self._rules.clear()
        return count

    def list(self) -> list[dict[str, Any]]:
        return [active.to_json() for active in self._rules]

    def first_due(self, model: str, fires: Callable[[R], bool] = lambda _rule: True) -> R | None:
        """The first rule for `model` with firings left that `fires`; counts its firing."""
        for active in self._rules:
            if active.rule.model not in ("*", model) or active.remaining == 0:
                continue
            if not fires(active.rule):
                continue
            active.fired += 1
            return active.rule
        return None
