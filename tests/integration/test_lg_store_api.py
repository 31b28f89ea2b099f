"""`/store` driven by langgraph_sdk's own StoreClient (async and sync) on a live server:
LangGraph's shapes, each API key's tenant its own store, graphs writing to the same store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from langgraph_sdk import get_client, get_sync_client

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.settings import Settings
from tests.support.live_server import LiveServer
from tests.support.memory_graph import write_config
from tests.support.tenants import make_key


async def test_the_sdk_store_per_tenant_and_shared_with_graphs(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, config=write_config(tmp_path))
    # Keys exist before the server starts: it then requires them (auth is on).
    await asyncio.to_thread(upgrade_database, database_url)
    acme_key = await make_key(database_url, "acme")
    globex_key = await make_key(database_url, "globex")
    app = create_app(settings, embedded_worker=True)
    with LiveServer(app) as url:
        acme = get_client(url=url, api_key=acme_key)
        globex = get_client(url=url, api_key=globex_key)

        await acme.store.put_item(["memories", "ada"], "tea", {"likes": "tea", "n": 1})
        await acme.store.put_item(["memories", "bob"], "tea", {"likes": "coffee", "n": 2})
        await globex.store.put_item(["memories", "ada"], "tea", {"likes": "water"})

        item = await acme.store.get_item(["memories", "ada"], key="tea")
        assert (item["namespace"], item["key"], item["value"]) == (
            ["memories", "ada"],
            "tea",
            {"likes": "tea", "n": 1},
        )
        assert item["created_at"] and item["updated_at"]
        other = await globex.store.get_item(["memories", "ada"], key="tea")
        assert other["value"] == {"likes": "water"}  # the same namespace, another tenant
        assert await acme.store.get_item(["memories", "eve"], key="tea") is None

        found = await acme.store.search_items(["memories"], filter={"likes": "coffee"})
        assert [(i["namespace"], i["value"]["n"]) for i in found["items"]] == [
            (["memories", "bob"], 2)
        ]
        page = await acme.store.search_items(["memories"], limit=1, offset=1)
        assert len(page["items"]) == 1
        listed = await acme.store.list_namespaces(prefix=["memories"])
        assert sorted(listed["namespaces"]) == [["memories", "ada"], ["memories", "bob"]]
        assert (await acme.store.list_namespaces(suffix=["bob"]))["namespaces"] == [
            ["memories", "bob"]
        ]
        assert (await globex.store.list_namespaces(max_depth=1))["namespaces"] == [["memories"]]

        await acme.store.delete_item(["memories", "bob"], key="tea")
        assert await acme.store.get_item(["memories", "bob"], key="tea") is None

        # A graph run through the LangGraph API writes into its tenant's store.
        result = await acme.runs.wait(None, "memory", input={"user": "ada", "note": "hi"})
        assert result["seen"] == 0
        notes = await acme.store.search_items(["notes", "ada"])
        assert [i["value"] for i in notes["items"]] == [{"text": "hi"}]
        assert (await globex.store.search_items(["notes"]))["items"] == []

        sync = get_sync_client(url=url, api_key=acme_key)
        sync.store.put_item(["sync"], "k", {"v": 1})
        assert sync.store.get_item(["sync"], key="k")["value"] == {"v": 1}


BAD_REQUESTS = [
    ("PUT", "/store/items", {"namespace": ["a.b"], "key": "k", "value": {}}, "periods"),
    ("PUT", "/store/items", {"namespace": [], "key": "k", "value": {}}, "at least one"),
    ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": 3}, "value"),
    ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {}, "x": 1}, "x"),
    ("POST", "/store/items/search", {"namespace_prefix": ["a"], "query": "q"}, "index"),
    ("POST", "/store/items/search", {"limit": 0}, "limit"),
    ("POST", "/store/namespaces", {"max_depth": 0}, "max_depth"),
]


def test_bad_store_requests_are_a_422_detail(sqlite_url: str) -> None:
    with LiveServer(create_app(Settings(database_url=sqlite_url))) as url:
        for method, path, body, cause in BAD_REQUESTS:
            response = httpx.request(method, url + path, json=body)
            assert response.status_code == 422, (body, response.text)
            assert cause in str(response.json()["detail"]), (body, response.text)
