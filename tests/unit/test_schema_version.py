"""The schema-version shortcut at start-up names the same head as Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from app.db.migrate import alembic_config, upgrade_database
from app.db.schema_version import HEAD, current_revision, schema_is_current


def test_head_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite:///unused.db"))
    assert script.get_current_head() == HEAD


def test_a_fresh_file_is_not_current_until_migrated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rg.db'}"
    assert current_revision(url) is None and not schema_is_current(url)
    upgrade_database(url)
    assert schema_is_current(url)
