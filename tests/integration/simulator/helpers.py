"""Requests and fault rules the simulator's tests share."""

from __future__ import annotations

from typing import Any

import httpx

from devtools.simulator.server import SimulatorServer

HANG_SECONDS = 3.0
USER = [{"role": "user", "content": "Tell me something about routing cheap models"}]
EXECUTOR = [
    {"role": "system", "content": "ROLE: executor\nCarry out one step."},
    {"role": "user", "content": "Step 1: flights\nExpression: 2 * 340"},
]


async def inject(admin: httpx.AsyncClient, model: str, kind: str, times: int | None = 1) -> None:
    rule = {"model": model, "kind": kind, "times": times}
    response = await admin.post("/admin/faults", json=rule)
    assert response.status_code == 201, response.text


async def raw_stream_lines(server: SimulatorServer, body: dict[str, Any]) -> list[str]:
    """The SSE lines as sent (the SDK hides `[DONE]`); "<cut>" marks a dropped connection."""
    lines: list[str] = []
    url = f"{server.base_url}/chat/completions"
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", url, json=body) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        try:
            async for line in response.aiter_lines():
                if line:
                    lines.append(line)
        except httpx.RemoteProtocolError:
            lines.append("<cut>")
    return lines
