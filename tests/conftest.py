"""Shared fixtures: a real database per test (SQLite and Postgres), the real simulator."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from devtools.routing.datasets import DataMissingError, Row, load_gsm8k
from tests.support.routing_data import data_missing
from tests.support.simulator_admin import SimulatorAdmin

PG_ADMIN_URL = os.environ.get(
    "ROUTEGRAPH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}".replace("postgresql://", "postgresql+psycopg://", 1)


def _require_postgres() -> None:
    if postgres_available():
        return
    if os.environ.get("ROUTEGRAPH_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("PostgreSQL unreachable and ROUTEGRAPH_TEST_SKIP_POSTGRES=1")
    pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (set ROUTEGRAPH_TEST_PG_URL)")


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create a database for one test and drop it afterwards, whatever happened."""
    _require_postgres()
    name = f"rg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated-by-the-test database, on SQLite and on Postgres."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'routegraph.db'}"
        return
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file, the embedded default (a test whose subject is not storage)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'routegraph.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh Postgres database, for faults only a database server has."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    """One real simulator on loopback for the session; tests reset its faults and log."""
    from devtools.simulator.config import SimulatorConfig
    from devtools.simulator.server import SimulatorServer

    with SimulatorServer(SimulatorConfig(latency_scale=0.0)) as url:
        yield url


@pytest.fixture(scope="module")
def gsm8k() -> list[Row]:
    """The shipped GSM8K recordings (a test module's routing data)."""
    try:
        return load_gsm8k()
    except DataMissingError as exc:
        data_missing(exc)


@pytest.fixture(scope="module")
def recorded_simulator(gsm8k: list[Row]) -> Iterator[str]:
    """A simulator answering dataset prompts with the models' recorded outputs."""
    from devtools.simulator.config import SimulatorConfig
    from devtools.simulator.server import SimulatorServer

    with SimulatorServer(SimulatorConfig(latency_scale=0.0, recorded_answers=True)) as url:
        yield url


@pytest.fixture
async def simulator(simulator_url: str) -> AsyncIterator[SimulatorAdmin]:
    admin = SimulatorAdmin(simulator_url)
    await admin.reset()
    try:
        yield admin
    finally:
        await admin.reset()
        await admin.close()
