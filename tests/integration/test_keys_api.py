"""A tenant's keys over REST: listed without tokens, created and revoked only with an
unlimited key of the tenant, another tenant's keys as if they did not exist."""

from __future__ import annotations

import asyncio

import httpx

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.settings import Settings
from tests.support.live_server import LiveServer
from tests.support.tenants import bearer, make_key


def test_keys_are_the_tenants_own_and_limited_keys_cannot_mint_keys(
    database_url: str,
) -> None:
    upgrade_database(database_url)
    admin = asyncio.run(make_key(database_url, "acme"))
    limited = asyncio.run(make_key(database_url, "acme", budget_usd=1.0))
    other = asyncio.run(make_key(database_url, "globex"))
    settings = Settings(database_url=database_url, key_cache_seconds=0)
    with LiveServer(create_app(settings)) as url, httpx.Client(base_url=url) as http:
        listed = http.get("/v1/keys", headers=bearer(admin)).json()
        assert {key["tenant_id"] for key in listed} == {"acme"} and len(listed) == 2
        assert all("token" not in key and key["spent_usd"] == 0 for key in listed)
        globex_id = http.get("/v1/keys", headers=bearer(other)).json()[0]["id"]

        made = http.post("/v1/keys", json={"name": "ci", "budget_usd": 3}, headers=bearer(admin))
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["tenant_id"] == "acme" and body["token"].startswith(body["prefix"])
        assert http.get("/v1/keys", headers=bearer(body["token"])).status_code == 200

        refused = http.post("/v1/keys", json={}, headers=bearer(limited))
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert http.delete(f"/v1/keys/{body['id']}", headers=bearer(limited)).status_code == 403
        for bad in ({"budget_usd": -1}, {"period": "year"}, {"tenant_id": "globex"}):
            assert http.post("/v1/keys", json=bad, headers=bearer(admin)).status_code == 422

        assert http.delete(f"/v1/keys/{globex_id}", headers=bearer(admin)).status_code == 404
        revoked = http.delete(f"/v1/keys/{body['id']}", headers=bearer(admin))
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        assert http.get("/v1/keys", headers=bearer(body["token"])).status_code == 401
        assert http.get("/v1/keys").status_code == 401
        stats = http.get("/v1/routing/stats", headers=bearer(other))
        assert stats.status_code == 200 and stats.json() == {"cells": []}
