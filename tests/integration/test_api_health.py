"""`/healthz` answers 200 while the database answers and a problem+json 503 once it is gone."""

from __future__ import annotations

import httpx
import psycopg

from app.api.app import create_app
from app.settings import Settings
from tests.support.databases import PG_ADMIN_URL
from tests.support.live_server import LiveServer


def test_healthz_is_503_problem_json_when_the_database_is_gone(postgres_url: str) -> None:
    with (
        LiveServer(create_app(Settings(database_url=postgres_url))) as base_url,
        httpx.Client(base_url=base_url, timeout=15) as client,
    ):
        assert client.get("/healthz").json()["status"] == "ok"
        database = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"] == "Database unavailable"
