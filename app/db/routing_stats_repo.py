"""The learned routing table in the database: one store every worker and API process shares.

`apply_feedback` is the only writer. Per observation it upserts the `feedback` row of its
identity (tenant, call, source), and when that identity was seen before it subtracts the
earlier observation's contribution before adding the new one, as `InMemoryStatsStore`
does. Cells are changed by `INSERT ... ON CONFLICT DO UPDATE SET events = events + ...`
(SQLite and Postgres), so concurrent writers never lose an update; every transaction takes
its feedback rows, then its cells, in one sorted order, so two writers cannot deadlock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import Feedback, ModelCall, RoutingCell, utcnow
from app.routing.observations import ANY, Cell, CellKey, Counts, Observation, observation_keys

KEY_COLUMNS = ("scope", "task_class", "cluster", "arm", "condition", "band")
_FEEDBACK_IDENTITY = ("tenant_id", "call_id", "source")
CACHE_MAX_CELLS = 50_000
_EMPTY = 1e-9  # a cell whose contributions were all replaced sums to ~0, not exactly 0
# The feedback columns that, with its identity, are the observation it contributed.
_OBSERVED = (
    Feedback.task_class,
    Feedback.cluster,
    Feedback.tier,
    Feedback.model,
    Feedback.score,
    Feedback.prior_p,
    Feedback.condition,
)


@dataclass(frozen=True)
class FeedbackEntry:
    """An observation and what only the feedback table keeps: its run, a label, a comment."""

    observation: Observation
    run_id: str | None = None
    label: str | None = None
    comment: str | None = None


def _insert(session: AsyncSession, table: type[Any]) -> Any:
    """The dialect's INSERT, which has `on_conflict_do_*` on both SQLite and Postgres."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def load_cells(session: AsyncSession, keys: Collection[CellKey]) -> dict[CellKey, Cell]:
    """The stored cells among `keys`, in one query (absent cells are left out).

    Each key column is matched against the values the keys have (a few short IN lists,
    which run ~2x faster on Postgres than a row-value IN of every key), then the rows are
    narrowed to the exact keys.
    """
    wanted = set(keys)
    if not wanted:
        return {}
    table = RoutingCell.__table__
    columns = [table.c[column].in_({getattr(k, column) for k in wanted}) for column in KEY_COLUMNS]
    rows = (await session.execute(select(table).where(*columns))).all()
    return {key: cell for key, cell in _cells(rows).items() if key in wanted}


async def all_cells(session: AsyncSession) -> dict[CellKey, Cell]:
    """Every cell with events left (what `routegraph routing stats` shows)."""
    cells = _cells((await session.execute(select(RoutingCell))).scalars())
    # A source whose feedback all moved elsewhere (replaced) keeps a row of zeros: not shown.
    kept = {
        key: Cell({s: c for s, c in cell.by_source.items() if abs(c.events) > _EMPTY})
        for key, cell in cells.items()
    }
    return {key: cell for key, cell in kept.items() if cell.by_source}


def _cells(rows: Iterable[Any]) -> dict[CellKey, Cell]:
    """Cells from `routing_cells` rows (ORM objects or result rows)."""
    by_key: dict[CellKey, dict[str, Counts]] = {}
    for row in rows:
        key = CellKey(row.scope, row.task_class, row.cluster, row.arm, row.condition, row.band)
        by_key.setdefault(key, {})[row.source] = Counts(row.events, row.good, row.prior)
    return {key: Cell(counts) for key, counts in by_key.items()}


async def apply_feedback(
    session: AsyncSession, entries: Sequence[FeedbackEntry], scope_of: Callable[[str], str]
) -> list[bool]:
    """Store each entry and move the cells by its observation; per entry, True if its
    identity is new (False: it replaced an earlier one). Call inside a transaction."""
    created = [False] * len(entries)
    deltas: dict[tuple[CellKey, str], Counts] = {}
    # Stable sort: repeats of one identity within `entries` still apply in their order.
    for index in sorted(range(len(entries)), key=lambda i: entries[i].observation.identity):
        entry = entries[index]
        scope = scope_of(entry.observation.tenant)
        previous = await _upsert_feedback(session, entry, scope)
        created[index] = previous is None
        if previous == (entry.observation, scope):
            continue
        if previous is not None:
            _accumulate(deltas, *previous, sign=-1.0)
        _accumulate(deltas, entry.observation, scope, sign=1.0)
    await _move_cells(session, deltas)
    return created


def _accumulate(
    deltas: dict[tuple[CellKey, str], Counts], o: Observation, scope: str, *, sign: float
) -> None:
    delta = Counts(sign, sign * o.score, sign * o.prior_p)
    for key in observation_keys(o, scope):
        deltas[(key, o.source)] = deltas.get((key, o.source), Counts()) + delta


async def _upsert_feedback(
    session: AsyncSession, entry: FeedbackEntry, scope: str
) -> tuple[Observation, str] | None:
    """Write the entry's feedback row; the observation (and scope) it replaced, if any."""
    o = entry.observation
    now = utcnow()
    values: dict[str, Any] = {
        "score": o.score,
        "label": entry.label,
        "comment": entry.comment,
        "scope": scope,
        "task_class": o.task_class,
        "cluster": o.cluster,
        "tier": o.tier,
        "model": o.model,
        "prior_p": o.prior_p,
        "condition": o.condition,
        "updated_at": now,
    }
    identity = {"tenant_id": o.tenant, "call_id": o.call_id, "source": o.source}
    # Implicit feedback names only the call: its run comes from the ledger.
    run_id = entry.run_id or (
        select(ModelCall.run_id).where(ModelCall.id == o.call_id).scalar_subquery()
    )
    inserted = await session.execute(
        _insert(session, Feedback)
        .values(**identity, **values, run_id=run_id, created_at=now)
        .on_conflict_do_nothing(index_elements=list(_FEEDBACK_IDENTITY))
        .returning(Feedback.id)
    )
    if inserted.first() is not None:
        return None
    # The identity exists: lock its row (a concurrent repeat waits here) and read what it added.
    row = (
        await session.execute(
            select(Feedback.id, Feedback.scope, *_OBSERVED)
            .where(*(getattr(Feedback, k) == v for k, v in identity.items()))
            .with_for_update()
        )
    ).one()
    previous = Observation(
        tenant=o.tenant,
        call_id=o.call_id,
        source=o.source,
        **{column.key: getattr(row, column.key) for column in _OBSERVED},
    )
    if entry.run_id is not None:
        values["run_id"] = entry.run_id
    await session.execute(
        update(Feedback)
        .where(Feedback.id == row.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return previous, row.scope


async def _move_cells(session: AsyncSession, deltas: dict[tuple[CellKey, str], Counts]) -> None:
    """Add each delta to its cell in one statement (cells in a fixed order: no deadlocks)."""
    if not deltas:
        return
    rows = [
        {
            **key._asdict(),
            "source": source,
            "events": counts.events,
            "good": counts.good,
            "prior": counts.prior,
        }
        for (key, source), counts in sorted(deltas.items())
    ]
    statement = _insert(session, RoutingCell).values(rows)
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[*KEY_COLUMNS, "source"],
            set_={
                "events": RoutingCell.events + excluded.events,
                "good": RoutingCell.good + excluded.good,
                "prior": RoutingCell.prior + excluded.prior,
            },
        )
    )


class DbStatsStore:
    """The service's `StatsStore`: the learned table in its database.

    Cells read for a decision are reused for `cache_seconds` (a query per `auto` decision
    was a database round trip on every routed call); feedback this process writes clears
    them, feedback from other processes is seen within `cache_seconds`.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        per_tenant: bool,
        cache_seconds: float = 0.0,
    ) -> None:
        self.per_tenant = per_tenant
        self._sessions = sessions
        self._cache_seconds = cache_seconds
        self._cached: dict[CellKey, tuple[float, Cell | None]] = {}

    def scope_of(self, tenant: str) -> str:
        return tenant if self.per_tenant else ANY

    async def load(self, keys: Collection[CellKey]) -> dict[CellKey, Cell]:
        if self._cache_seconds <= 0:
            async with self._sessions() as session:
                return await load_cells(session, keys)
        now = time.monotonic()
        found: dict[CellKey, Cell] = {}
        missing = []
        for key in keys:
            hit = self._cached.get(key)
            if hit is not None and hit[0] > now:
                if hit[1] is not None:
                    found[key] = hit[1]
            else:
                missing.append(key)
        if missing:
            async with self._sessions() as session:
                loaded = await load_cells(session, missing)
            if len(self._cached) > CACHE_MAX_CELLS:
                self._cached.clear()
            expires = now + self._cache_seconds
            for key in missing:
                self._cached[key] = (expires, loaded.get(key))
            found.update(loaded)
        return found

    async def add(self, observations: Sequence[Observation]) -> None:
        await self.add_feedback([FeedbackEntry(o) for o in observations])

    async def add_feedback(self, entries: Sequence[FeedbackEntry]) -> list[bool]:
        """`add` with each entry's run, label and comment; per entry, True if it was new."""
        try:
            async with self._sessions.begin() as session:
                return await apply_feedback(session, entries, self.scope_of)
        finally:
            self.forget()

    def forget(self) -> None:
        self._cached.clear()

    async def table(self) -> dict[CellKey, Cell]:
        async with self._sessions() as session:
            return await all_cells(session)
