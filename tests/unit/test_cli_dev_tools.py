"""`routegraph bench|simulate|demo`: the development tool in a checkout, a pointer to it in
an installed service."""

from __future__ import annotations

from pathlib import Path

import app.cli
from app.cli import checkout_root, dev_tool_missing


def test_an_installed_service_says_where_a_development_tool_is(tmp_path: Path) -> None:
    installed = tmp_path / "site-packages" / "app" / "cli" / "__init__.py"
    installed.parent.mkdir(parents=True)
    installed.touch()
    assert checkout_root(installed) is None
    assert checkout_root(Path(app.cli.__file__)) == Path(__file__).resolve().parents[2]
    assert dev_tool_missing("bench", ["routing", "--models"]) == (
        "error: `routegraph bench` is a development tool that comes with a checkout, not with "
        "the installed service: run `.venv/bin/python -m devtools bench routing --models` "
        "from the repository"
    )
