"""In-flight de-duplication: identical concurrent requests share one provider call.

The first request of a key starts the call in its own task and every request with the
same key (the leader included) follows its events from the start, so a late follower
of a stream still reads the whole answer. The call runs to its end even if every client
leaves: its answer is paid for, and cached. Flights are per process (per API replica).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any


class Flight:
    """The events of one call so far, with a wake-up for those following it."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.error: BaseException | None = None
        self.finished = False
        self.followers = 0
        self._changed = asyncio.Event()

    def push(self, item: Any) -> None:
        self.items.append(item)
        self._wake()

    def finish(self, error: BaseException | None = None) -> None:
        self.error = error
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self) -> AsyncIterator[Any]:
        """Every event from the first; raises the call's error at the end."""
        index = 0
        while True:
            changed = self._changed
            while index < len(self.items):
                yield self.items[index]
                index += 1
            if self.finished:
                if self.error is not None:
                    raise self.error
                return
            await changed.wait()


class Flights:
    """Key -> the call in flight for it."""

    def __init__(self) -> None:
        self._flights: dict[str, Flight] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def join(
        self, key: str | None, produce: Callable[[Flight], Awaitable[None]]
    ) -> tuple[Flight, bool]:
        """The flight for `key` (starting `produce` for a new one); True if it was new.
        A None key never shares."""
        if key is not None:
            flight = self._flights.get(key)
            if flight is not None:
                flight.followers += 1
                return flight, False
        flight = Flight()
        if key is not None:
            self._flights[key] = flight

        async def run() -> None:
            try:
                await produce(flight)
            except BaseException as exc:
                flight.finish(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                if not flight.finished:
                    flight.finish()
            finally:
                if key is not None and self._flights.get(key) is flight:
                    del self._flights[key]

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return flight, True

    async def aclose(self) -> None:
        """At shutdown: let the calls in flight end (their rows are on the books)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
