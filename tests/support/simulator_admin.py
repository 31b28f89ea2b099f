"""Drives the simulator's admin API from tests: faults, verdicts, the log of received requests."""

from __future__ import annotations

from typing import Any

import httpx


class SimulatorAdmin:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url  # ends in /v1
        root = base_url.removesuffix("/v1")
        self._client = httpx.AsyncClient(base_url=root, timeout=10)

    async def reset(self) -> None:
        (await self._client.delete("/admin/faults")).raise_for_status()
        (await self._client.delete("/admin/requests")).raise_for_status()
        (await self._client.delete("/admin/verdicts")).raise_for_status()

    async def inject(self, model: str, kind: str, times: int | None = 1) -> None:
        rule = {"model": model, "kind": kind, "times": times}
        (await self._client.post("/admin/faults", json=rule)).raise_for_status()

    async def script_verdict(self, verdict: str, model: str = "*", times: int | None = 1) -> None:
        """The next `times` verifier/judge calls of `model` answer `verdict`."""
        rule = {"model": model, "verdict": verdict, "times": times}
        (await self._client.post("/admin/verdicts", json=rule)).raise_for_status()

    async def requests(self, model: str | None = None) -> list[dict[str, Any]]:
        params = {"model": model} if model else {}
        response = await self._client.get("/admin/requests", params=params)
        response.raise_for_status()
        body = response.json()
        return body["requests"] if isinstance(body, dict) else body

    async def advance_clock(self, seconds: float) -> float:
        """Age the simulator's prompt cache as if `seconds` passed; its new time."""
        response = await self._client.post("/admin/clock", json={"advance_seconds": seconds})
        response.raise_for_status()
        return float(response.json()["now"])

    async def clock_offset(self) -> float:
        response = await self._client.get("/admin/clock")
        response.raise_for_status()
        return float(response.json()["offset_seconds"])

    async def close(self) -> None:
        await self._client.aclose()
