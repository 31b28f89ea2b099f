"""The simulator on loopback for its own tests: one server per module, an admin client that
starts each test with no faults, no verdicts and an empty request log, and the real
`openai` SDK pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import openai
import pytest

from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.integration.simulator.helpers import HANG_SECONDS


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(latency_scale=0.0, timeout_hang_seconds=HANG_SECONDS, seed=11)
    simulator = SimulatorServer(config)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
async def admin(server: SimulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    """Admin API client; every test starts with no faults and an empty request log."""
    async with httpx.AsyncClient(base_url=server.root_url, timeout=10) as client:
        (await client.delete("/admin/faults")).raise_for_status()
        (await client.delete("/admin/requests")).raise_for_status()
        (await client.delete("/admin/verdicts")).raise_for_status()
        yield client


@pytest.fixture
async def client(
    server: SimulatorServer, admin: httpx.AsyncClient
) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key="sim", max_retries=0, timeout=10)
    try:
        yield sdk
    finally:
        await sdk.close()
