"""What nodes hand the gateway and what they get back."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.events_repo import PendingEvent


@dataclass(frozen=True)
class ModelRequest:
    """One logical model call; the gateway decides which model(s) actually serve it."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] | None = None
    # Other OpenAI request fields passed through as given (top_p, seed, n, ...).
    options: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": self.messages}
        for key in ("tools", "tool_choice", "response_format", "max_tokens", "temperature", "stop"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        if self.options:
            body.update(self.options)
        return body


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to it (billed as writes)


@dataclass(frozen=True)
class ModelResult:
    """The answer of the model that finally served a call."""

    content: str | None
    tool_calls: list[dict[str, Any]]
    model: str
    tier: str
    usage: Usage
    cost_usd: float
    latency_ms: float
    call_id: str
    from_ledger: bool = False  # True when a previous attempt of this run already paid for it
    attempts: int = 1
    finish_reason: str | None = None
    # Every choice ({"message", "finish_reason"}) when the request asked for n > 1.
    choices: tuple[dict[str, Any], ...] = ()
    # The provider's fields an OpenAI client gets as sent (`provider_answer.passthrough_fields`).
    passthrough: Mapping[str, Any] | None = None

    def assistant_message(self) -> dict[str, Any]:
        """The answer as a chat message, to append to the conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message


class RunFence(Protocol):
    """The run a call belongs to, as the worker holding its lease sees it
    (`app.worker.run_scope.RunScope`). The gateway writes a run's ledger rows and events
    under `lock`, fenced by `epoch`, together with the events the worker has buffered."""

    run_id: str
    epoch: int
    graph: str | None
    lock: asyncio.Lock

    def check_usable(self) -> None:
        """Raise if the worker already knows the run is lost or cancelled (no database)."""

    def take_events(self) -> list[PendingEvent]: ...

    def put_back(self, events: Sequence[PendingEvent]) -> None: ...

    def mark_lost(self) -> None: ...


class CallAccount(Protocol):
    """Who pays for a call outside a run (an API key): the ledger reserves the call's
    estimate before the provider is called and settles the difference after, each in the
    transaction that writes the ledger row."""

    key_id: str | None
    # Accounts with the same `pool` draw on one budget: a batch reserves and settles them
    # with one statement each.
    pool: Hashable

    async def reserve(self, session: AsyncSession, estimate_usd: float, what: str) -> None:
        """Raise BudgetExceeded if the estimate does not fit what is left."""

    async def settle(self, session: AsyncSession, delta_usd: float) -> None: ...


@dataclass
class CallContext:
    """Who is calling: ties ledger rows to a run, a node and a deterministic call key."""

    call_key: str
    run_id: str | None = None
    node: str | None = None
    # Why the node makes this call (e.g. "judge of 3 debaters"): appended to the ledger's
    # routing reason, so a pattern's decisions can be read from the ledger.
    purpose: str | None = None
    # The worker's hold on the run: with it every write is fenced by the lease epoch.
    run: RunFence | None = None
    graph: str | None = None
    tenant_id: str = "default"
    # Budget the run must keep for calls it will still make after this one.
    reserve_usd: float = 0.0
    # The API key paying for a call made outside a run (per-key budget).
    account: CallAccount | None = None
    # The API key the call is made for (its provider rules apply, with its tenant's).
    key_id: str | None = None
    # Return answers as the provider gave them: no retry of a cut or empty answer (the
    # OpenAI-compatible endpoint, whose client asked for exactly this request).
    as_is: bool = False
    # The call key was just minted (not derived from a run's step): no earlier attempts
    # to look up, so the ledger skips reading its history.
    new_call: bool = False
    # The A/B experiment arm serving the call (`app.services.experiment_assign`).
    experiment_id: str | None = None
    experiment_arm: str | None = None
