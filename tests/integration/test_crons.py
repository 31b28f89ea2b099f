"""Crons: schedules stored in the database, fired by workers, one run per firing however
many workers look; the runs are ordinary runs of the cron's tenant."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.cron_table import Cron
from app.db.models import Run, RunEvent
from app.schemas.langgraph import ThreadCreate
from app.services import crons, lg_threads
from app.services.container import Services, build_services
from app.services.errors import InvalidInput, ServiceError
from app.settings import Settings
from app.worker.loop import Worker

GRAPH = '''
"""Echo the input: a graph that makes no model call."""
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    topic: str
    echoed: str


def echo(state: State) -> State:
    return {"echoed": state["topic"].upper()}


builder = StateGraph(State)
builder.add_node("echo", echo)
builder.add_edge(START, "echo")
builder.add_edge("echo", END)
graph = builder.compile()
'''


def settings_for(database_url: str, directory: Path) -> Settings:
    (directory / "echo.py").write_text(textwrap.dedent(GRAPH))
    config = directory / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"echo": "./echo.py:graph"}}))
    return Settings(database_url=database_url, config=config, cron_poll_seconds=0.05)


async def test_two_workers_start_each_firing_once(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path)
    async with build_services(settings) as first, build_services(settings) as second:
        await lg_threads.create_thread(first, ThreadCreate(thread_id="t-1"), "acme")
        every_second = {"assistant_id": "echo", "schedule": "* * * * * *"}
        on_thread = await crons.create_cron(
            first, "acme", {**every_second, "input": {"topic": "thread"}}, thread_id="t-1"
        )
        stateless = await crons.create_cron(
            first, "acme", {**every_second, "input": {"topic": "stateless"}}
        )
        paused = await crons.create_cron(
            first, "acme", {**every_second, "input": {"topic": "never"}, "enabled": False}
        )
        stop = asyncio.Event()
        workers = [
            asyncio.create_task(Worker(services, f"w{i}").run_forever(stop))
            for i, services in enumerate((first, second))
        ]
        await asyncio.sleep(3.2)
        await crons.delete_cron(first, "acme", stateless["cron_id"])
        await asyncio.sleep(1.2)  # both workers keep looking: the deleted cron stays quiet
        stop.set()
        await asyncio.gather(*workers)

        async with first.sessions() as session:
            queued = (
                await session.execute(
                    select(RunEvent.payload, Run)
                    .join(Run, Run.id == RunEvent.run_id)
                    .where(RunEvent.kind == "queued")
                )
            ).all()
            rows = {c.cron_id: c for c in (await session.scalars(select(Cron))).all()}

    by_cron = Counter(payload["cron_id"] for payload, _ in queued)
    firings = Counter((payload["cron_id"], payload["scheduled_for"]) for payload, _ in queued)
    assert max(firings.values()) == 1, firings  # no firing started twice
    assert by_cron[on_thread["cron_id"]] >= 4
    assert by_cron[on_thread["cron_id"]] == rows[on_thread["cron_id"]].fired
    assert 2 <= by_cron[stateless["cron_id"]] <= 5  # deleted after about 3.2 s
    assert paused["cron_id"] not in by_cron
    runs = [run for _, run in queued]
    assert {run.tenant_id for run in runs} == {"acme"}
    assert {run.thread_id for run in runs if run.input["topic"] == "thread"} == {"t-1"}
    stateless_threads = [run.thread_id for run in runs if run.input["topic"] == "stateless"]
    assert len(set(stateless_threads)) == len(stateless_threads)  # a new thread each time
    finished = [run for run in runs if run.status == "succeeded"]
    assert len(finished) >= len(runs) - 2  # the workers ran them (the last may be queued)
    assert {run.output["echoed"] for run in finished} <= {"THREAD", "STATELESS"}


async def test_crons_are_searched_updated_and_checked_per_tenant(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with build_services(settings_for(sqlite_url, tmp_path)) as services:
        await _search_update_and_refusals(services)


async def _search_update_and_refusals(services: Services) -> None:
    daily = {"assistant_id": "echo", "schedule": "27 15 * * *", "input": {"topic": "a"}}
    made = await crons.create_cron(services, "acme", {**daily, "metadata": {"team": "x"}})
    assert set(made) == {
        "cron_id",
        "assistant_id",
        "thread_id",
        "on_run_completed",
        "end_time",
        "schedule",
        "timezone",
        "created_at",
        "updated_at",
        "payload",
        "user_id",
        "next_run_date",
        "metadata",
        "enabled",
    }
    assert made["next_run_date"].endswith("15:27:00+00:00")
    await lg_threads.create_thread(services, ThreadCreate(thread_id="t-9"), "acme")
    await crons.create_cron(services, "acme", daily, thread_id="t-9")
    await crons.create_cron(services, "globex", daily)

    assert len(await crons.search_crons(services, "acme", {})) == 2
    assert await crons.count_crons(services, "globex", {}) == 1
    found = await crons.search_crons(services, "acme", {"metadata": {"team": "x"}})
    assert [c["cron_id"] for c in found] == [made["cron_id"]]
    on_thread = await crons.search_crons(services, "acme", {"thread_id": "t-9"})
    assert [c["thread_id"] for c in on_thread] == ["t-9"]

    moved = await crons.update_cron(
        services, "acme", made["cron_id"], {"schedule": "0 9 * * *", "timezone": "Europe/Paris"}
    )
    assert moved["next_run_date"].endswith("08:00:00+00:00")  # 09:00 in Paris in winter

    with pytest.raises(crons.CronNotFound):  # another tenant's cron is not found
        await crons.delete_cron(services, "globex", made["cron_id"])
    with pytest.raises(ServiceError, match="Thread t-9 not found"):  # nor its thread
        await crons.create_cron(services, "globex", daily, thread_id="t-9")
    for bad, cause in (
        ({**daily, "schedule": "61 * * * *"}, "minute: 61 is outside 0-59"),
        ({**daily, "assistant_id": "nope"}, "'nope' is neither an assistant id nor a graph"),
        ({**daily, "multitask_strategy": "rollback"}, "'rollback' are not supported"),
        ({**daily, "input": {"topc": "a"}}, "input does not match"),
        ({**daily, "timezone": "Mars/Olympus"}, "unknown timezone"),
    ):
        with pytest.raises(InvalidInput, match=cause):
            await crons.create_cron(services, "acme", bad)
