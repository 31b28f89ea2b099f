"""Use cases on runs: submit (idempotent), read, list, cancel."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import graphs_repo, runs_repo
from app.db.events_repo import append_event
from app.db.models import Run
from app.db.notify import notify_run_queued
from app.schemas.runs import SubmitRun
from app.services.errors import (
    IdempotencyConflict,
    InvalidInput,
    RunAlreadyFinished,
    RunNotFound,
    UnknownGraph,
)
from app.services.run_state import is_terminal, transition
from graphs.registry import GraphDefinition


def _fingerprint(body: SubmitRun) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()


def validate_input(definition: GraphDefinition, payload: dict[str, Any]) -> None:
    try:
        # strict: a JSON body is never coerced (`"threshold": "0.5"` is not a number).
        definition.input_model.model_validate(payload, strict=True)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise InvalidInput(
            f"input does not match graph {definition.name!r}'s input schema", errors=errors
        ) from exc


async def submit_run(
    sessions: async_sessionmaker[AsyncSession],
    graphs: dict[str, GraphDefinition],
    body: SubmitRun,
    *,
    idempotency_key: str | None = None,
) -> tuple[Run, bool]:
    """Queue a run (never execute it here); returns (run, created). Same key, same run."""
    definition = graphs.get(body.graph)
    if definition is None:
        raise UnknownGraph(f"no graph named {body.graph!r}", available=sorted(graphs))
    validate_input(definition, body.input)
    fingerprint = _fingerprint(body)
    if idempotency_key:
        existing = await _existing_for_key(sessions, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False
    async with sessions() as session:
        version = await graphs_repo.latest_version(session, definition.name)
    if version is None:
        raise UnknownGraph(f"graph {body.graph!r} is not registered in this database")
    run_id = runs_repo.new_run_id()
    run = Run(
        id=run_id,
        thread_id=body.thread_id or str(uuid.uuid4()),
        graph=definition.name,
        version=version.version,
        input=body.input,
        status="queued",
        priority=body.priority,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        budget_usd=body.budget_usd,
    )
    try:
        async with sessions.begin() as session:
            session.add(run)
            await notify_run_queued(session)
    except IntegrityError:
        # Another request with the same key won the race: answer with its run.
        if idempotency_key:
            existing = await _existing_for_key(sessions, idempotency_key, fingerprint)
            if existing is not None:
                return existing, False
        raise
    await append_event(sessions, run_id, "queued", payload={"graph": run.graph})
    return run, True


async def _existing_for_key(
    sessions: async_sessionmaker[AsyncSession], key: str, fingerprint: str
) -> Run | None:
    async with sessions() as session:
        existing = await runs_repo.get_run_by_idempotency_key(session, key)
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was used for a different request (run {existing.id})"
        )
    return existing


async def get_run(sessions: async_sessionmaker[AsyncSession], run_id: str) -> Run:
    async with sessions() as session:
        run = await runs_repo.get_run(session, run_id)
    if run is None:
        raise RunNotFound(f"no run with id {run_id!r}")
    return run


async def cancel_run(sessions: async_sessionmaker[AsyncSession], run_id: str) -> Run:
    """A queued run is cancelled at once; a running one stops at its next node or call."""
    async with sessions.begin() as session:
        run = await session.get(Run, run_id, with_for_update=True)  # vs a racing claim
        if run is None:
            raise RunNotFound(f"no run with id {run_id!r}")
        if is_terminal(run.status):
            raise RunAlreadyFinished(f"run {run_id} already ended as {run.status}")
        if run.status == "queued":
            transition(run, "cancelled", error="cancelled before it started")
            kind = "cancelled"
        else:
            run.cancel_requested = True
            kind = "cancel_requested"
    await append_event(sessions, run_id, kind)
    return run
