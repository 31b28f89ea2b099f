"""The learned table in the database behaves as the in-memory store, concurrent writers too."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable

import pytest
from alembic import command
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine, create_session_factory, open_database
from app.db.migrate import alembic_config, upgrade_database
from app.db.models import Feedback
from app.db.routing_stats_repo import DbStatsStore, FeedbackEntry
from app.routing.observations import (
    ANY,
    Cell,
    CellKey,
    InMemoryStatsStore,
    Observation,
    observation_keys,
    tier_arm,
)


def observation(call: str, score: float, *, tenant: str = "acme", **fields: object) -> Observation:
    values: dict[str, object] = {
        "source": "user",
        "task_class": "math",
        "cluster": "c05:hours-day-many",
        "tier": "edge",
        "model": "edge-a",
        "prior_p": 0.8,
        "condition": "",
    } | fields
    return Observation(tenant=tenant, call_id=call, score=score, **values)  # type: ignore[arg-type]


def stream(seed: int, size: int) -> list[Observation]:
    """Observations over a few cells, with repeats of identities that change score and cell."""
    rng = random.Random(seed)
    items = []
    for _ in range(size):
        items.append(
            observation(
                f"call-{rng.randrange(size // 2)}",
                rng.choice([0.0, 0.5, 1.0]),
                tenant=rng.choice(["acme", "globex"]),
                source=rng.choice(["user", "judge", "cascade_verifier"]),
                tier=rng.choice(["edge", "mid"]),
                cluster=rng.choice(["c05:hours-day-many", "ood:c01:many-each-there"]),
                prior_p=rng.choice([0.55, 0.85]),
                condition=rng.choice(["", "arithmetic:accepted"]),
            )
        )
    return items


def keys_of(observations: Iterable[Observation], scope_of: object) -> set[CellKey]:
    return {k for o in observations for k in observation_keys(o, scope_of(o.tenant))}  # type: ignore[operator]


def assert_same_cells(found: dict[CellKey, Cell], expected: dict[CellKey, Cell]) -> None:
    assert set(found) == set(expected)
    for key, cell in expected.items():
        assert set(found[key].by_source) == set(cell.by_source), key
        for source, counts in cell.by_source.items():
            got = found[key].by_source[source]
            assert got.events == pytest.approx(counts.events, abs=1e-9), (key, source)
            assert got.good == pytest.approx(counts.good, abs=1e-9), (key, source)
            assert got.prior == pytest.approx(counts.prior, abs=1e-9), (key, source)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade_database, database_url)
    built = create_engine(database_url)
    try:
        yield built
    finally:
        await built.dispose()


@pytest.mark.parametrize("per_tenant", [False, True])
async def test_the_database_store_matches_the_in_memory_store(
    engine: AsyncEngine, per_tenant: bool
) -> None:
    store = DbStatsStore(create_session_factory(engine), per_tenant=per_tenant)
    reference = InMemoryStatsStore(per_tenant=per_tenant)
    observations = stream(seed=7, size=60)
    for start in range(0, len(observations), 7):  # batches, some repeating an identity
        batch = observations[start : start + 7]
        await store.add(batch)
        reference.add_now(batch)
    keys = keys_of(observations, store.scope_of)
    assert_same_cells(await store.load(keys), reference.load_now(keys))
    assert_same_cells(await store.table(), reference.table())


async def test_a_repeat_replaces_the_earlier_feedback_and_an_identical_one_changes_nothing(
    engine: AsyncEngine,
) -> None:
    store = DbStatsStore(create_session_factory(engine), per_tenant=False)
    cell = CellKey(ANY, "math", "c05:hours-day-many", tier_arm("edge"), "", "0.80-0.90")
    assert await store.add_feedback([FeedbackEntry(observation("c1", 0.0))]) == [True]
    assert await store.add_feedback([FeedbackEntry(observation("c1", 1.0), label="fixed")]) == [
        False
    ]
    await store.add([observation("c1", 1.0)])
    counts = (await store.load([cell]))[cell].by_source["user"]
    assert (counts.events, counts.good, counts.prior) == pytest.approx((1.0, 1.0, 0.8))
    # Moved to another cell: the old one is emptied, the new one holds it.
    await store.add([observation("c1", 1.0, prior_p=0.55)])
    assert (await store.load([cell]))[cell].by_source["user"].events == pytest.approx(0.0)
    assert cell not in await store.table()


async def test_load_reads_every_key_of_a_view_in_one_query(engine: AsyncEngine) -> None:
    store = DbStatsStore(create_session_factory(engine), per_tenant=False)
    observations = stream(seed=3, size=30)
    await store.add(observations)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        cells = await store.load(keys_of(observations, store.scope_of))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(cells) > 20
    assert len([s for s in statements if "routing_cells" in s]) == 1


async def test_cells_are_reused_for_a_while_and_own_feedback_clears_them(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    store = DbStatsStore(sessions, per_tenant=False, cache_seconds=60)
    other = DbStatsStore(sessions, per_tenant=False)  # another process's store
    first = observation("call-1", 1.0)
    keys = keys_of([first], store.scope_of)
    await store.add([first])
    reads: list[str] = []

    def count(*args: object) -> None:
        if "routing_cells" in str(args[2]) and str(args[2]).lstrip().upper().startswith("SELECT"):
            reads.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        loaded = await store.load(keys)
        again = await store.load(keys)
        assert len(reads) == 1 and again == loaded  # the second decision reads no database
        await other.add([observation("call-2", 0.0)])  # seen only once the entries expire
        assert await store.load(keys) == loaded and len(reads) == 1
        await store.add([observation("call-3", 0.0)])  # this process's feedback: at once
        fresh = await store.load(keys)
        assert len(reads) == 2
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    events = {key: sum(c.events for c in cell.by_source.values()) for key, cell in fresh.items()}
    assert events and all(count == 3 for count in events.values())


async def test_concurrent_writers_lose_no_update(database_url: str) -> None:
    """Four workers (each its own engine and pool) add overlapping feedback at once, the
    same identities included: the cells are the sum of the feedback that won."""
    await asyncio.to_thread(upgrade_database, database_url)
    workers = [open_database(database_url, pool_size=2) for _ in range(4)]
    stores = [DbStatsStore(db.worker, per_tenant=False) for db in workers]
    observations = stream(seed=11, size=160)
    shards = [observations[i :: len(stores)] for i in range(len(stores))]

    async def feed(store: DbStatsStore, shard: list[Observation]) -> None:
        for start in range(0, len(shard), 3):
            await store.add(shard[start : start + 3])

    try:
        await asyncio.gather(*(feed(s, shard) for s, shard in zip(stores, shards, strict=True)))
        async with workers[1].api() as session:
            stored = list((await session.execute(select(Feedback))).scalars())
        assert len(stored) == len({o.identity for o in observations})
        reference = InMemoryStatsStore()
        reference.add_now(
            Observation(
                tenant=row.tenant_id,
                call_id=row.call_id,
                source=row.source,  # type: ignore[arg-type]
                task_class=row.task_class,
                cluster=row.cluster,
                tier=row.tier,
                model=row.model,
                score=row.score,
                prior_p=row.prior_p,
                condition=row.condition,
            )
            for row in stored
        )
        assert_same_cells(await stores[0].table(), reference.table())
    finally:
        for db in workers:
            await db.dispose()


async def test_the_migration_downgrades_and_upgrades_again(database_url: str) -> None:
    await asyncio.to_thread(upgrade_database, database_url)
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0004")
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    try:
        store = DbStatsStore(create_session_factory(engine), per_tenant=False)
        await store.add([observation("c1", 1.0)])
        assert len(await store.table()) == 6  # tier and model arms at three levels
    finally:
        await engine.dispose()
