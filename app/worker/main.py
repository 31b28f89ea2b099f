"""`routegraph worker`: a standalone worker process with graceful shutdown."""

from __future__ import annotations

import asyncio
import signal

from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker


async def run_worker(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with build_services(settings) as services:
        # Runs in flight at SIGTERM reach their next checkpoint and hand their leases back.
        await Worker(services).run_forever(stop)
