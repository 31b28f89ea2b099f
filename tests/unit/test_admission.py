"""Admission: at most N requests worked on at once, FIFO; a started response (a stream)
or `release_slot` frees the slot; /healthz never waits."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from app.api.admission import Admission, release_slot
from tests.support.live_server import LiveServer


def make_app(limit: int) -> tuple[FastAPI, dict[str, Any]]:
    app = FastAPI()
    seen: dict[str, Any] = {"active": 0, "peak": 0, "gate": threading.Event()}

    @app.get("/work")
    async def work() -> dict[str, int]:
        seen["active"] += 1
        seen["peak"] = max(seen["peak"], seen["active"])
        await asyncio.sleep(0.01)
        seen["active"] -= 1
        return {"peak": seen["peak"]}

    @app.get("/wait")
    async def wait(request: Request) -> dict[str, bool]:
        release_slot(request)
        await asyncio.to_thread(seen["gate"].wait, 10)
        return {"waited": True}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def body() -> Any:
            yield b"first\n"
            await asyncio.to_thread(seen["gate"].wait, 10)
            yield b"last\n"

        return StreamingResponse(body())

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(Admission, limit=limit)
    return app, seen


async def test_at_most_limit_requests_are_worked_on_at_once() -> None:
    app, seen = make_app(2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers = await asyncio.gather(*(client.get("/work") for _ in range(12)))
    assert all(a.status_code == 200 for a in answers)
    assert seen["peak"] == 2


async def test_waiting_handlers_and_open_streams_hold_no_slot() -> None:
    app, seen = make_app(1)
    with LiveServer(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            await _wait_and_stream(client, seen)


async def _wait_and_stream(client: httpx.AsyncClient, seen: dict[str, Any]) -> None:
    waiting = asyncio.create_task(client.get("/wait"))
    await asyncio.sleep(0.2)  # the waiting handler took (and gave back) the slot
    async with client.stream("GET", "/stream") as streaming:
        lines = streaming.aiter_lines()
        assert await anext(lines) == "first"
        # The only slot is free while one handler waits and one stream is open.
        worked = await asyncio.wait_for(client.get("/work"), 5)
        healthy = await asyncio.wait_for(client.get("/healthz"), 5)
        seen["gate"].set()
        rest = [line async for line in lines]
    assert (await waiting).json() == {"waited": True}
    assert worked.status_code == 200 and healthy.status_code == 200 and rest == ["last"]
