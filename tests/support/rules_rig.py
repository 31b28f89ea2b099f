"""A live service (API + embedded worker) with tenants whose provider rules tests set.

`acme` has a key that manages rules and a plain key; `globex` has one plain key. Clients:
`rest(token)` (httpx, /v1 REST) and `sdk(token)` (the official async openai client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.settings import Settings
from tests.support.databases import fresh_pg_database
from tests.support.live_server import LiveServer
from tests.support.tenants import bearer, make_key_with_id


@dataclass
class RulesRig:
    root: str
    manager: str
    manager_id: str
    plain: str
    plain_id: str
    globex: str

    def rest(self, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.root, headers=bearer(token), timeout=60)

    def sdk(self, token: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.root}/v1",
            api_key=token,
            max_retries=0,
            _strict_response_validation=True,
        )

    async def set_rules(self, rules: dict[str, Any], key_id: str | None = None) -> None:
        """PUT the tenant's (or a key's) rules with the managing key."""
        path = f"/v1/keys/{key_id}/rules" if key_id else "/v1/rules"
        async with self.rest(self.manager) as client:
            response = await client.put(path, json=rules)
        assert response.status_code == 200, response.text

    async def clear_rules(self) -> None:
        """No rules for acme nor its plain key (a test starts from here)."""
        async with self.rest(self.manager) as client:
            for path in ("/v1/rules", f"/v1/keys/{self.plain_id}/rules"):
                assert (await client.delete(path)).status_code == 204


# The rig's backends: one service per test module and backend, shared by its tests.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def module_database(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for a module's service: a SQLite file, or a Postgres database."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('rules') / 'routegraph.db'}"
        return
    with fresh_pg_database() as url:
        yield url


@asynccontextmanager
async def rules_service(database_url: str, simulator_url: str) -> AsyncIterator[RulesRig]:
    upgrade_database(database_url)
    manager_id, manager = await make_key_with_id(database_url, "acme", manages_rules=True)
    plain_id, plain = await make_key_with_id(database_url, "acme")
    _, globex = await make_key_with_id(database_url, "globex")
    settings = Settings(
        database_url=database_url,
        simulator_url=simulator_url,
        key_cache_seconds=0,
        model_timeout_seconds=5,
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as root:
        yield RulesRig(root, manager, manager_id, plain, plain_id, globex)
