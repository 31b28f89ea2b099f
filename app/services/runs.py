"""Use cases on runs: submit (idempotent), read, list, cancel, wait for the end."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.db import ledger_repo, runs_repo
from app.db.models import ModelCall, Run
from app.db.runs_repo import CURSOR_PATTERN
from app.db.tenant_scope import scoped
from app.schemas.runs import SubmitRun
from app.services import run_state
from app.services.claim_here import ClaimHere
from app.services.container import Services
from app.services.errors import (
    IdempotencyConflict,
    InvalidInput,
    RuleRefused,
    RunAlreadyFinished,
    RunNotFound,
)
from app.services.graph_registry import parse_graph_ref
from app.services.tenancy import DEFAULT_TENANT
from graphs.registry import GraphInputInvalid

__all__ = [
    "CURSOR_PATTERN",
    "cancel_run",
    "get_run",
    "list_runs",
    "prepare_run",
    "run_calls",
    "submit_run",
    "wait_for_run",
    "wait_for_run_state",
]


def _fingerprint(body: SubmitRun) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()


async def submit_run(
    services: Services,
    body: SubmitRun,
    *,
    idempotency_key: str | None = None,
    tenant_id: str = DEFAULT_TENANT,
    user: str | None = None,
    key_id: str | None = None,
) -> tuple[Run, bool]:
    """Queue a run (never execute it here); returns (run, created). Same key, same run."""
    fingerprint = _fingerprint(body)
    # The key is the tenant's own: another tenant's run under the same key is never found.
    stored_key = scoped(tenant_id, idempotency_key) if idempotency_key else None
    run = await prepare_run(services, body, tenant_id=tenant_id, user=user, key_id=key_id)
    if idempotency_key:
        existing = await _existing_for_key(services, idempotency_key, tenant_id, fingerprint)
        if existing is not None:
            return existing, False
    run.idempotency_key = stored_key
    run.request_fingerprint = fingerprint
    here = ClaimHere(services)
    try:
        async with services.sessions.begin() as session:
            await services.journal.enqueue(
                session, run, {"graph": run.graph, "version": run.version}
            )
            await here.claim(session)
    except IntegrityError:
        here.abandoned()
        # Another request with the same key won the race: answer with its run.
        if idempotency_key:
            existing = await _existing_for_key(services, idempotency_key, tenant_id, fingerprint)
            if existing is not None:
                return existing, False
        raise
    except BaseException:
        here.abandoned()
        raise
    here.committed(run.id)
    return run, True


async def prepare_run(
    services: Services,
    body: SubmitRun,
    *,
    tenant_id: str,
    user: str | None = None,
    key_id: str | None = None,
) -> Run:
    """A new run's row, its graph resolved and its input checked (InvalidInput), not yet
    queued: `services.journal.enqueue` it in the transaction that decides it is due.
    A run of a graph under an A/B experiment, with no version pinned, gets its arm's.
    Its model calls obey the tenant's and `key_id`'s provider rules; an input holding a
    blocked term is refused now (RuleRefused) rather than failing the run later."""
    name, version = parse_graph_ref(body.graph)
    arm = None
    if version is None:
        arm = await services.assigner.assign(tenant_id, name, thread=body.thread_id, user=user)
        version = arm.version if arm is not None else None
    graph = await services.registry.resolve(name, version, tenant_id=tenant_id)
    try:
        graph.definition.validate_input(body.input)
    except GraphInputInvalid as exc:
        raise InvalidInput(str(exc), errors=exc.errors) from exc
    rules = await services.gateway.rules_of(tenant_id, key_id)
    breach = rules.content_breach(list(_strings(body.input)), 0) if not rules.empty else None
    if breach is not None:
        raise RuleRefused(
            f"the run's input is refused by {breach.text()}", status=422, rule=breach.rule
        )
    return Run(
        id=runs_repo.new_run_id(),
        tenant_id=tenant_id,
        thread_id=body.thread_id or str(uuid.uuid4()),
        graph=graph.name,
        version=graph.version,
        input=body.input,
        priority=body.priority,
        budget_usd=body.budget_usd if body.budget_usd is not None else graph.definition.budget_usd,
        epoch=0,
        cost_usd=0.0,
        cancel_requested=False,
        experiment_id=arm.experiment_id if arm is not None else None,
        experiment_arm=arm.arm if arm is not None else None,
        api_key_id=key_id,
    )


async def _existing_for_key(
    services: Services, key: str, tenant_id: str, fingerprint: str
) -> Run | None:
    async with services.sessions() as session:
        existing = await runs_repo.get_run_by_idempotency_key(session, scoped(tenant_id, key))
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was used for a different request (run {existing.id})"
        )
    return existing


async def get_run(services: Services, run_id: str, tenant_id: str | None = None) -> Run:
    """The run, or RunNotFound; with `tenant_id`, another tenant's run is not found either."""
    async with services.sessions() as session:
        run = await runs_repo.get_run(session, run_id)
    if run is None or (tenant_id is not None and run.tenant_id != tenant_id):
        raise RunNotFound(f"no run with id {run_id!r}")
    return run


async def list_runs(
    services: Services,
    tenant_id: str,
    *,
    status: str | None,
    graph: str | None,
    limit: int,
    cursor: str | None,
    created_since: datetime | None = None,
    created_until: datetime | None = None,
) -> tuple[list[Run], str | None]:
    """The tenant's runs, newest first, a page at a time (InvalidInput: a foreign cursor),
    optionally only those created in [created_since, created_until)."""
    try:
        async with services.sessions() as session:
            return await runs_repo.list_runs(
                session,
                status=status,
                graph=graph,
                limit=limit,
                cursor=cursor,
                tenant_id=tenant_id,
                created_since=created_since,
                created_until=created_until,
            )
    except ValueError as exc:
        raise InvalidInput(f"cursor: {exc}") from exc


async def run_calls(services: Services, run_id: str, tenant_id: str) -> list[ModelCall]:
    """The run's ledger: every model attempt, failed ones included."""
    await get_run(services, run_id, tenant_id)
    async with services.sessions() as session:
        return await ledger_repo.calls_for_run(session, run_id)


async def cancel_run(services: Services, run_id: str, tenant_id: str | None = None) -> Run:
    """A queued run is cancelled at once; a running one stops at its next node or call."""
    async with services.sessions.begin() as session:
        run = await session.get(Run, run_id, with_for_update=True)  # vs a racing claim
        if run is None or (tenant_id is not None and run.tenant_id != tenant_id):
            raise RunNotFound(f"no run with id {run_id!r}")
        if run_state.is_terminal(run.status):
            raise RunAlreadyFinished(f"run {run_id} already ended as {run.status}")
        kind = await run_state.cancel(services.journal, session, run)
    if kind == "cancel_requested":
        services.notifier.cancel_requested(run_id)
    return run


async def wait_for_run(
    services: Services,
    run_id: str,
    timeout_s: float,
    *,
    enqueued: Run | None = None,
    needs_output: bool = True,
) -> Run:
    """The run once it has ended, or as it is when `timeout_s` runs out.

    The run is read once, then again only when it may have ended: a terminal event was
    committed in this process, another process signalled a change, or the safety poll
    came round. Its other events (started, node events) are no reason to read it.

    `enqueued`: the run as the caller just queued it, with no `await` since its commit.
    It is not read again: this process ran nothing else meanwhile, and another process's
    change reaches the watch opened here (signals are dispatched by this event loop).
    Without `needs_output` (the caller reads the ended run's status and error, not its
    output), a terminal event committed in this process ends `enqueued` with no read:
    the terminal event is the run's last write and carries both."""
    run, _state = await wait_for_run_state(
        services, run_id, timeout_s, enqueued=enqueued, needs_output=needs_output
    )
    return run


async def wait_for_run_state(
    services: Services,
    run_id: str,
    timeout_s: float,
    *,
    enqueued: Run | None = None,
    needs_output: bool = True,
) -> tuple[Run, dict[str, Any] | None]:
    """`wait_for_run`, and the state the run ended with when this process's worker ended
    it and left that state for its waiters (`Notifier.leave_state`), else None."""
    deadline = time.monotonic() + timeout_s
    with services.notifier.watch(run_id) as watch:
        run = enqueued if enqueued is not None else await get_run(services, run_id)
        while True:
            remaining = deadline - time.monotonic()
            if run_state.is_terminal(run.status) or remaining <= 0:
                return run, None
            poll = min(remaining, services.settings.push_safety_poll_seconds)
            try:
                await asyncio.wait_for(watch.changed.wait(), poll)
                woken = True
            except TimeoutError:
                woken = False
            watch.changed.clear()
            pushed = watch.take()
            hinted = watch.take_hint()
            terminal = next((e for e in pushed if run_state.is_terminal(e["kind"])), None)
            if woken and not hinted and terminal is None:
                continue
            if terminal is not None and enqueued is not None and not needs_output:
                return _ended(enqueued, terminal), watch.state
            run = await get_run(services, run_id)


def _ended(run: Run, terminal: dict[str, Any]) -> Run:
    """`run` (detached, as queued) as its committed terminal event says it ended."""
    run.status = terminal["kind"]
    run.error = (terminal.get("payload") or {}).get("error")
    at = terminal.get("at")
    run.finished_at = datetime.fromisoformat(at) if isinstance(at, str) else at
    return run


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value (keys too: a term can hide in either)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
