"""Use cases on crons (LangGraph's scheduled runs): create per thread or stateless, search,
count, update, delete, and firing the due ones.

A firing is claimed and its run queued in one transaction (`crons_repo.claim_firing`), so
however many workers look at a due cron, exactly one run starts per firing. The run is an
ordinary routegraph run shown by the LangGraph API as a run of the cron's assistant
(`cron_runs.cron_run`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from app.db import crons_repo
from app.db.cron_table import Cron
from app.services import lg_threads
from app.services.container import Services
from app.services.cron_runs import cron_run
from app.services.cron_schedule import InvalidSchedule, parse_schedule
from app.services.errors import InvalidInput, ServiceError
from app.services.lg_assistants import get_assistant

log = logging.getLogger(__name__)


class CronNotFound(ServiceError):
    status = 404
    title = "Cron not found"


def _now() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every stored time is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def cron_out(cron: Cron) -> dict[str, Any]:
    """A cron in LangGraph's shape (`langgraph_sdk.schema.Cron`)."""
    return {
        "cron_id": cron.cron_id,
        "assistant_id": cron.assistant_id,
        "thread_id": cron.thread_id,
        "on_run_completed": cron.on_run_completed,
        "end_time": _iso(cron.end_time),
        "schedule": cron.schedule,
        "timezone": cron.timezone,
        "created_at": _iso(cron.created_at),
        "updated_at": _iso(cron.updated_at),
        "payload": cron.payload,
        "user_id": cron.user_id,
        "next_run_date": _iso(cron.next_run_date),
        "metadata": cron.cron_metadata,
        "enabled": cron.enabled,
    }


def parse_time(value: object, field: str) -> datetime | None:
    """An ISO 8601 time from a body (UTC when it names no offset), or InvalidInput."""
    if value is None or isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str):
        try:
            return utc(datetime.fromisoformat(value))
        except ValueError:
            pass
    raise InvalidInput(f"{field}: expected an ISO 8601 time, got {value!r}")


def _iso(value: datetime | None) -> str | None:
    moment = utc(value)
    return None if moment is None else moment.isoformat()


async def create_cron(
    services: Services,
    tenant_id: str,
    payload: dict[str, Any],
    *,
    thread_id: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """A new cron from a LangGraph create-cron body (checked now: schedule, graph, input)."""
    assistant = await get_assistant(services, payload["assistant_id"], tenant_id)
    if payload.get("multitask_strategy") in ("interrupt", "rollback"):
        raise InvalidInput(
            "multitask_strategy: a cron's firings queue behind the thread's runs ('enqueue') "
            "or are skipped while it is busy ('reject'); 'interrupt' and 'rollback' are not "
            "supported"
        )
    thread = None
    if thread_id is not None:
        thread = await lg_threads.get_thread_row(services, thread_id, tenant_id)
    schedule_text = payload["schedule"]
    timezone = payload.get("timezone")
    try:
        parse_schedule(schedule_text, timezone)
    except InvalidSchedule as exc:
        raise InvalidInput(f"schedule: {exc}") from exc
    # The input is checked at creation, not at the first firing hours later.
    await cron_run(services, tenant_id, payload, thread_id=thread_id)
    if thread is not None:  # the thread's state is read with this graph from now on
        tags = {"graph_id": assistant.graph_id, "assistant_id": assistant.assistant_id}
        await lg_threads.tag_thread(services, thread, tags)
    now = _now()
    end_time = parse_time(payload.get("end_time"), "end_time")
    cron = Cron(
        cron_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        assistant_id=assistant.assistant_id,
        graph=assistant.graph_id,
        thread_id=thread_id,
        schedule=schedule_text,
        timezone=timezone,
        payload=payload,
        cron_metadata=payload.get("metadata") or {},
        user_id=user_id,
        enabled=payload.get("enabled", True),
        on_run_completed=None if thread_id else payload.get("on_run_completed", "delete"),
        end_time=end_time,
        next_run_date=next_firing(schedule_text, timezone, now, end_time),
        fired=0,
        created_at=now,
        updated_at=now,
    )
    async with services.sessions.begin() as session:
        session.add(cron)
    return cron_out(cron)


def next_firing(
    schedule: str, timezone: str | None, after: datetime, end_time: datetime | None
) -> datetime | None:
    """The next firing after `after`, or None once past `end_time`."""
    moment = parse_schedule(schedule, timezone).next_after(after)
    return None if end_time is not None and moment > end_time else moment


async def search_crons(services: Services, tenant_id: str, body: dict[str, Any]) -> list[Any]:
    """The tenant's crons matching a LangGraph search body."""
    graph = None
    if body.get("assistant_id"):
        graph = (await get_assistant(services, body["assistant_id"], tenant_id)).graph_id
    async with services.sessions() as session:
        rows = await crons_repo.search_crons(
            session,
            tenant_id,
            graph=graph,
            thread_id=body.get("thread_id"),
            enabled=body.get("enabled"),
            metadata=body.get("metadata"),
            sort_by=body.get("sort_by") or "created_at",
            descending=(body.get("sort_order") or "desc") == "desc",
            limit=body.get("limit", 10),
            offset=body.get("offset", 0),
        )
    selected = body.get("select")
    out = [cron_out(row) for row in rows]
    return [{k: v for k, v in c.items() if k in selected} for c in out] if selected else out


async def count_crons(services: Services, tenant_id: str, body: dict[str, Any]) -> int:
    graph = None
    if body.get("assistant_id"):
        graph = (await get_assistant(services, body["assistant_id"], tenant_id)).graph_id
    async with services.sessions() as session:
        return await crons_repo.count_crons(
            session,
            tenant_id,
            graph=graph,
            thread_id=body.get("thread_id"),
            metadata=body.get("metadata"),
        )


async def delete_cron(services: Services, tenant_id: str, cron_id: str) -> None:
    async with services.sessions.begin() as session:
        if not await crons_repo.delete_cron(session, tenant_id, cron_id):
            raise CronNotFound(f"Cron {cron_id} not found")


async def update_cron(
    services: Services, tenant_id: str, cron_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply a LangGraph cron update; a new schedule, timezone or end time moves the next
    firing."""
    async with services.sessions.begin() as session:
        cron = await crons_repo.get_cron(session, tenant_id, cron_id)
        if cron is None:
            raise CronNotFound(f"Cron {cron_id} not found")
        schedule = changes.get("schedule", cron.schedule)
        timezone = changes.get("timezone", cron.timezone)
        try:
            parse_schedule(schedule, timezone)
        except InvalidSchedule as exc:
            raise InvalidInput(f"schedule: {exc}") from exc
        payload = {**cron.payload, **changes}
        await cron_run(
            services,
            tenant_id,
            {**payload, "assistant_id": cron.assistant_id},
            thread_id=cron.thread_id,
        )
        now = _now()
        cron.schedule, cron.timezone, cron.payload = schedule, timezone, payload
        if "end_time" in changes:
            cron.end_time = parse_time(changes["end_time"], "end_time")
        if "metadata" in changes:
            cron.cron_metadata = changes["metadata"] or {}
        if "enabled" in changes:
            cron.enabled = bool(changes["enabled"])
        if "on_run_completed" in changes and cron.thread_id is None:
            cron.on_run_completed = changes["on_run_completed"]
        cron.next_run_date = next_firing(schedule, timezone, now, utc(cron.end_time))
        cron.updated_at = now
        return cron_out(cron)
