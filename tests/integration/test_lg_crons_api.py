"""`/runs/crons` and `/threads/{id}/runs/crons` driven by langgraph_sdk's CronClient on a live
server: LangGraph's shapes, per-tenant crons, runs started on schedule, 4xx `{"detail"}`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from sqlalchemy import select, text

from app.api.app import create_app
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import Run, RunEvent
from app.db.tenant_scope import checkpoint_thread
from app.services.lg_assistants import default_assistant_id
from app.services.tenancy import DEFAULT_TENANT
from tests.integration.test_crons import settings_for
from tests.support.live_server import LiveServer
from tests.support.tenants import make_key


async def _runs_of(client: object, thread_id: str, at_least: int, timeout_s: float) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        runs = await client.runs.list(thread_id)  # type: ignore[attr-defined]
        done = [r for r in runs if r["status"] == "success"]
        if len(done) >= at_least or time.monotonic() > deadline:
            return runs
        await asyncio.sleep(0.2)


async def test_the_sdk_crons_per_thread_and_stateless(database_url: str, tmp_path: Path) -> None:
    # Keys exist before the server starts: it then requires them (auth is on).
    await asyncio.to_thread(upgrade_database, database_url)
    acme_key = await make_key(database_url, "acme")
    globex_key = await make_key(database_url, "globex")
    app = create_app(settings_for(database_url, tmp_path), embedded_worker=True)
    with LiveServer(app) as url:
        acme = get_client(url=url, api_key=acme_key)
        globex = get_client(url=url, api_key=globex_key)
        thread = await acme.threads.create()
        on_thread = await acme.crons.create_for_thread(
            thread["thread_id"],
            "echo",
            schedule="* * * * * *",
            input={"topic": "tick"},
            metadata={"team": "ops"},
        )
        assert on_thread["thread_id"] == thread["thread_id"]
        assert on_thread["assistant_id"] == default_assistant_id("echo")
        assert on_thread["schedule"] == "* * * * * *" and on_thread["enabled"] is True
        daily = await acme.crons.create("echo", schedule="27 15 * * *", input={"topic": "d"})
        assert daily["thread_id"] is None
        assert daily["next_run_date"].endswith("15:27:00+00:00")

        runs = await _runs_of(acme, thread["thread_id"], at_least=2, timeout_s=15)
        finished = [r for r in runs if r["status"] == "success"]
        assert len(finished) >= 2, runs
        state = await acme.threads.get_state(thread["thread_id"])
        assert state["values"]["echoed"] == "TICK"

        everyone = await acme.crons.search()
        assert {c["cron_id"] for c in everyone} == {on_thread["cron_id"], daily["cron_id"]}
        assert await acme.crons.count(metadata={"team": "ops"}) == 1
        assert await globex.crons.search() == []

        await acme.crons.delete(on_thread["cron_id"])
        await asyncio.sleep(0.5)  # a firing claimed just before the delete is queued by now
        quiet = len(await acme.runs.list(thread["thread_id"]))
        await asyncio.sleep(1.2)
        assert len(await acme.runs.list(thread["thread_id"])) == quiet  # no more firings

        sync = get_sync_client(url=url, api_key=acme_key)
        assert [c["cron_id"] for c in sync.crons.search()] == [daily["cron_id"]]

        with pytest.raises(httpx.HTTPStatusError) as missing:
            await globex.crons.delete(daily["cron_id"])  # another tenant's cron
        assert missing.value.response.status_code == 404


BAD_CRONS = [
    ({"assistant_id": "echo", "schedule": "61 * * * *"}, "minute: 61 is outside 0-59"),
    ({"assistant_id": "nope", "schedule": "* * * * *"}, "nope"),
    ({"assistant_id": "echo", "schedule": "* * * * *", "input": {"topc": 1}}, "topc"),
    ({"assistant_id": "echo", "schedule": "* * * * *", "webhook": "http://x"}, "webhook"),
    ({"assistant_id": "echo"}, "schedule"),
]


def test_a_bad_cron_is_a_422_detail(sqlite_url: str, tmp_path: Path) -> None:
    with LiveServer(create_app(settings_for(sqlite_url, tmp_path))) as url:
        for body, cause in BAD_CRONS:
            response = httpx.post(url + "/runs/crons", json=body)
            assert response.status_code == 422, (body, response.text)
            assert cause in str(response.json()["detail"]), (body, response.text)
        unknown_thread = httpx.post(
            url + "/threads/nope/runs/crons", json={"assistant_id": "echo", "schedule": "* * * * *"}
        )
        assert unknown_thread.status_code == 404, unknown_thread.text


async def _cron_runs(database_url: str, cron_ids: set[str]) -> dict[str, list[Run]]:
    """Each cron's runs so far, read from the database (the SDK lists runs per thread)."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            rows = (
                await session.execute(
                    select(RunEvent.payload, Run)
                    .join(Run, Run.id == RunEvent.run_id)
                    .where(RunEvent.kind == "queued")
                )
            ).all()
    finally:
        await engine.dispose()
    found: dict[str, list[Run]] = {cron_id: [] for cron_id in cron_ids}
    for payload, run in rows:
        if payload.get("cron_id") in found:
            found[payload["cron_id"]].append(run)
    return found


async def _checkpoints(database_url: str, thread_id: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text("SELECT count(*) FROM checkpoints WHERE thread_id = :t"),
                {"t": checkpoint_thread(DEFAULT_TENANT, thread_id)},
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def test_a_stateless_crons_thread_is_deleted_after_its_run_unless_kept(
    database_url: str, tmp_path: Path
) -> None:
    """As LangGraph's server: `on_run_completed` "delete" (the default) removes the firing's
    thread and its checkpoints once the run ends; "keep" leaves a thread per firing."""
    app = create_app(settings_for(database_url, tmp_path), embedded_worker=True)
    with LiveServer(app) as url:
        client = get_client(url=url)
        every_second = {"schedule": "* * * * * *"}
        dropped = await client.crons.create(
            "echo", input={"topic": "gone"}, on_run_completed="delete", **every_second
        )
        default = await client.crons.create("echo", input={"topic": "default"}, **every_second)
        kept = await client.crons.create(
            "echo", input={"topic": "kept"}, on_run_completed="keep", **every_second
        )
        assert default["on_run_completed"] == "delete"
        assert kept["on_run_completed"] == "keep"
        await asyncio.sleep(2.5)
        for cron in (dropped, default, kept):
            await client.crons.delete(cron["cron_id"])
        ids = {dropped["cron_id"], default["cron_id"], kept["cron_id"]}

        deadline = time.monotonic() + 30
        while True:
            runs = await _cron_runs(database_url, ids)
            if all(r.status == "succeeded" for rs in runs.values() for r in rs):
                break
            assert time.monotonic() < deadline, runs
            await asyncio.sleep(0.2)
        assert all(runs[cron_id] for cron_id in ids), runs  # each cron fired

        for run in runs[kept["cron_id"]]:
            thread = await client.threads.get(run.thread_id)
            assert thread["values"] == {"topic": "kept", "echoed": "KEPT"}
            assert thread["metadata"]["cron_id"] == kept["cron_id"]
            assert thread["status"] == "idle"
            assert await _checkpoints(database_url, run.thread_id) > 0
        found = await client.threads.search(metadata={"cron_id": kept["cron_id"]})
        assert {t["thread_id"] for t in found} == {r.thread_id for r in runs[kept["cron_id"]]}

        for run in runs[dropped["cron_id"]] + runs[default["cron_id"]]:
            while True:  # a worker deletes it at its next look for due crons
                try:
                    await client.threads.get(run.thread_id)
                except httpx.HTTPStatusError as gone:
                    assert gone.response.status_code == 404
                    break
                assert time.monotonic() < deadline, f"thread {run.thread_id} was kept"
                await asyncio.sleep(0.1)
            assert await _checkpoints(database_url, run.thread_id) == 0
        # The run itself stays in the run list and the ledger.
        assert (await client.runs.get(run.thread_id, run.id))["status"] == "success"


async def test_a_stateless_runs_thread_is_deleted_after_it_ends_unless_kept(
    database_url: str, tmp_path: Path
) -> None:
    """As LangGraph's server: a stateless run's `on_completion` "delete" (the default) removes
    the thread it ran on, checkpoints included, once it ends; "keep" leaves it readable."""
    app = create_app(settings_for(database_url, tmp_path), embedded_worker=True)
    with LiveServer(app) as url:
        client = get_client(url=url)
        dropped = await client.runs.create(None, "echo", input={"topic": "gone"})
        kept = await client.runs.create(None, "echo", input={"topic": "kept"}, on_completion="keep")
        deadline = time.monotonic() + 30
        for run in (dropped, kept):
            while (await client.runs.get(run["thread_id"], run["run_id"]))["status"] != "success":
                assert time.monotonic() < deadline, run
                await asyncio.sleep(0.1)

        thread = await client.threads.get(kept["thread_id"])
        assert thread["values"] == {"topic": "kept", "echoed": "KEPT"}
        assert await _checkpoints(database_url, kept["thread_id"]) > 0

        while await _checkpoints(database_url, dropped["thread_id"]) > 0:
            assert time.monotonic() < deadline, "the stateless run's checkpoints were kept"
            await asyncio.sleep(0.1)
        with pytest.raises(httpx.HTTPStatusError) as gone:
            await client.threads.get(dropped["thread_id"])
        assert gone.value.response.status_code == 404
        # The run itself stays readable, with its cost rows.
        assert (await client.runs.get(dropped["thread_id"], dropped["run_id"]))[
            "status"
        ] == "success"
        # A worker's later look finds nothing more to delete: the kept thread stays.
        await asyncio.sleep(1.5)
        assert await _checkpoints(database_url, kept["thread_id"]) > 0
