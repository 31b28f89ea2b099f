"""Several processes starting at once on a fresh Postgres database all migrate it.

The checkpointer's and the store's setup build indexes CONCURRENTLY, which waits for every
statement holding a snapshot; a process blocked in `pg_advisory_lock` is one, so waiting for
the migration lock that way hung all of them (found by the LangGraph resume test starting two
workers and an API together)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.databases import fresh_pg_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_three_processes_migrate_a_fresh_database_at_once() -> None:
    with fresh_pg_database() as database_url:
        env = {**os.environ, "ROUTEGRAPH_DATABASE_URL": database_url}
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "app.cli", "migrate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = []
        try:
            for child in children:
                out, _ = child.communicate(timeout=90)
                outputs.append((child.returncode, out))
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
        for returncode, out in outputs:
            assert returncode == 0, out
            assert "database is up to date" in out, out
