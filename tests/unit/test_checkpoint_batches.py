"""A run's checkpoint writes sent behind it (`LeaseBatches.write_behind`): they return at
once, go out in as few sends as one in flight and one filling allow, in the order they
were made, and `flush` waits for all of them and raises the first that failed."""

from __future__ import annotations

import asyncio

import pytest

from app.db.checkpoint_batches import LeaseBatches, Statement
from app.db.fencing import LeaseLost, LeaseToken

LEASE = LeaseToken("run-1", 1)


class RecordingSend:
    """Stands in for the pipeline: records each batch, holds it until released."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.sent: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_with = fail_with

    async def __call__(self, _lease: LeaseToken, statements: list[Statement]) -> None:
        self.sent.append([sql for sql, _params, _many in statements])
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with


def write(sql: str) -> list[Statement]:
    return [(sql, None, False)]


async def test_writes_behind_return_at_once_and_go_out_in_two_sends_in_order() -> None:
    send = RecordingSend()
    batches = LeaseBatches(send)
    for sql in ("a", "b", "c", "d"):
        batches.write_behind(LEASE, write(sql))  # returns before anything is stored
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert send.sent == [["a"]]  # the first goes at once, the others wait together
    send.release.set()
    await batches.flush(LEASE)
    assert send.sent == [["a"], ["b", "c", "d"]]


async def test_flush_raises_the_failure_and_a_later_write_behind_refuses() -> None:
    send = RecordingSend(fail_with=LeaseLost("the lease moved on"))
    batches = LeaseBatches(send)
    batches.write_behind(LEASE, write("a"))
    send.release.set()
    await batches.settle(LEASE)
    with pytest.raises(LeaseLost):
        batches.write_behind(LEASE, write("b"))
    with pytest.raises(LeaseLost):
        await batches.flush(LEASE)
    assert send.sent == [["a"]]
    await batches.flush(LEASE)  # flushed: the lease is forgotten


async def test_a_forgotten_leases_writes_end_on_their_own_and_their_failure_is_dropped() -> None:
    send = RecordingSend(fail_with=LeaseLost("the lease moved on"))
    batches = LeaseBatches(send)
    batches.write_behind(LEASE, write("a"))
    await asyncio.sleep(0)
    batches.forget(LEASE)  # the run was cancelled: nothing waits for its writes
    send.release.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await batches.flush(LEASE)  # nothing tracked, nothing raised
    assert send.sent == [["a"]]
