"""A run's ledger read as a tape: per tape key, what the call first asked and the answer
it used, and how a new request differs from the recorded one.

Only the answer a logical call ended with matters: the attempts that failed before it
(provider errors, invalid outputs fed back, fallbacks, calls lost with a crashed worker)
are on the tape but a replay does not act them out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.db.models import ModelCall
from app.gateway.ledger_rows import recorded_result
from app.gateway.tape_keys import tape_key_of
from app.gateway.types import ModelRequest, ModelResult
from app.routing.catalog import Catalog

ANSWERED = ("ok", "replayed")
FAILED = ("error", "invalid_output")
SNIPPET = 160


@dataclass(frozen=True)
class Recording:
    """One logical call of the source run (one tape key)."""

    key: str
    attempts: tuple[ModelCall, ...]  # in attempt order
    spent_before_usd: float  # what the source had spent when the call began

    @property
    def first(self) -> ModelCall:
        return self.attempts[0]

    @property
    def answer(self) -> ModelCall | None:
        return next((row for row in reversed(self.attempts) if row.status in ANSWERED), None)

    @property
    def failures(self) -> list[ModelCall]:
        return [row for row in self.attempts if row.status in FAILED]

    def result(self, call_id: str) -> ModelResult:
        """The used answer as the node received it, at no cost."""
        row = self.answer
        assert row is not None
        return replace(recorded_result(row), call_id=call_id, attempts=len(self.failures) + 1)


@dataclass
class Tape:
    """The source run's recordings by tape key; tracks which ones the replay has used."""

    source_run_id: str
    source_status: str
    source_error: str | None
    budget_usd: float | None
    recordings: dict[str, Recording]
    used: set[str] = field(default_factory=set)

    @classmethod
    def from_rows(
        cls,
        source_run_id: str,
        rows: Sequence[ModelCall],
        *,
        status: str,
        error: str | None,
        budget_usd: float | None,
    ) -> Tape:
        """`rows`: the source's ledger in the order the attempts were written."""
        grouped: dict[str, list[ModelCall]] = {}
        spent_before: dict[str, float] = {}
        spent = 0.0
        for row in rows:
            key = tape_key_of(row.call_key, source_run_id)
            if key not in grouped:
                grouped[key] = []
                spent_before[key] = spent
            grouped[key].append(row)
            spent += row.cost_usd
        recordings = {
            key: Recording(key, tuple(sorted(group, key=lambda r: r.attempt)), spent_before[key])
            for key, group in grouped.items()
        }
        return cls(source_run_id, status, error, budget_usd, recordings)

    def take(self, key: str) -> Recording | None:
        recording = self.recordings.get(key)
        if recording is not None:
            self.used.add(key)
        return recording

    def has(self, key: str) -> bool:
        return key in self.recordings

    def exhausted(self) -> bool:
        """Every recorded call has been replayed: the replay is where the source stopped."""
        return self.used >= set(self.recordings)


def request_as_recorded(request: ModelRequest, first_model: str, catalog: Catalog) -> Any:
    """The request as the gateway stored it for the first attempt (max_tokens capped to the
    model's limit), through a JSON round trip so it compares with the stored JSON."""
    spec = catalog.models.get(first_model)
    if spec is not None and request.max_tokens is not None:
        request = replace(request, max_tokens=min(request.max_tokens, spec.max_output_tokens))
    return canonical(request.to_json())


def canonical(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def request_change(now: dict[str, Any], recorded: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Where a request differs from the recorded one: a sentence and a short diff."""
    for name in sorted(set(now) | set(recorded)):
        if name == "messages" or now.get(name) == recorded.get(name):
            continue
        return f"`{name}` changed", {
            "field": name,
            "recorded": recorded.get(name),
            "now": now.get(name),
        }
    before, after = recorded.get("messages") or [], now.get("messages") or []
    for index in range(max(len(before), len(after))):
        old = before[index] if index < len(before) else None
        new = after[index] if index < len(after) else None
        if old == new:
            continue
        diff: dict[str, Any] = {"message": index}
        if old is None or new is None:
            diff.update(recorded=_brief(old), now=_brief(new))
            what = "added" if old is None else "removed"
            return f"message {index} {what} ({len(before)} -> {len(after)} messages)", diff
        role = new.get("role")
        old_text, new_text = _text(old), _text(new)
        at = next(
            (i for i, (a, b) in enumerate(zip(old_text, new_text, strict=False)) if a != b),
            min(len(old_text), len(new_text)),
        )
        start = max(0, at - 40)
        diff.update(
            role=role,
            at_char=at,
            recorded=old_text[start : start + SNIPPET],
            now=new_text[start : start + SNIPPET],
        )
        return f"message {index} ({role}) differs from character {at}", diff
    return "the request differs", {}


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content, sort_keys=True)
    if message.get("tool_calls"):
        text += json.dumps(message["tool_calls"], sort_keys=True)
    return text


def _brief(message: dict[str, Any] | None) -> str | None:
    return None if message is None else _text(message)[:SNIPPET]
