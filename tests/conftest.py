"""Shared fixtures: a real database per test (SQLite and Postgres), the real simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from devtools.routing.datasets import DataMissingError, Row, load_gsm8k
from tests.support.databases import (
    Templates,
    fresh_pg_database,
    fresh_sqlite_database,
)
from tests.support.routing_data import data_missing
from tests.support.simulator_admin import SimulatorAdmin


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    """This test process's migrated templates (tests/support/databases.py)."""
    templates = Templates(tmp_path_factory.mktemp("templates"))
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, database_templates: Templates
) -> Iterator[str]:
    """A fresh database at the schema's head, on SQLite and on Postgres."""
    if request.param == "sqlite":
        yield fresh_sqlite_database(tmp_path / "routegraph.db", database_templates)
        return
    with fresh_pg_database(database_templates) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no schema yet, on SQLite and on Postgres (migration tests)."""
    if request.param == "sqlite":
        yield fresh_sqlite_database(tmp_path / "routegraph.db")
        return
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, database_templates: Templates) -> str:
    """A fresh SQLite file at the schema's head, the embedded default (a test whose
    subject is not storage)."""
    return fresh_sqlite_database(tmp_path / "routegraph.db", database_templates)


@pytest.fixture
def postgres_url(database_templates: Templates) -> Iterator[str]:
    """A fresh Postgres database at the schema's head, for faults only a database server
    has."""
    with fresh_pg_database(database_templates) as url:
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
