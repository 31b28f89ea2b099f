from __future__ import annotations

from pathlib import Path

import pytest

from app import supply_chain_check


def test_clean_environment_passes() -> None:
    assert supply_chain_check.find_problems() == []
    assert supply_chain_check.main([]) == 0


def test_a_litellm_init_pth_anywhere_on_the_path_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "litellm_init.pth").write_text("import os\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for pth_only in (True, False):
        problems = supply_chain_check.find_problems(pth_only=pth_only)
        assert problems == [f"{tmp_path / 'litellm_init.pth'} exists"]
    assert supply_chain_check.main(["--pth-only"]) == 1
