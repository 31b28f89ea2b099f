"""The train/test split: deterministic, leak-free, and what the shipped artifact used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.routing import datasets
from devtools.routing.datasets import Row, normalize_prompt
from devtools.routing.training import default_artifact_path, shipped_training_rows
from tests.support.routing_data import data_missing


@pytest.fixture(scope="module")
def data() -> dict[str, list[Row]]:
    try:
        return datasets.load_all()
    except datasets.DataMissingError as exc:
        data_missing(exc)


def test_no_training_row_leaks_into_the_test_split(data: dict[str, list[Row]]) -> None:
    contaminated = datasets.load_contaminated()
    every = [r for rows in data.values() for r in rows]
    train = datasets.training_rows(every, contaminated)
    test = datasets.held_out_rows(every)
    assert train and test
    train_texts = {normalize_prompt(r.prompt) for r in train}
    train_keys = {normalize_prompt(r.split_key) for r in train}
    for row in test:
        assert normalize_prompt(row.prompt) not in train_texts, row.row_id
        assert normalize_prompt(row.split_key) not in train_keys, row.row_id
    assert not {r.row_id for r in train} & {r.row_id for r in test}


def test_split_is_deterministic_and_near_70_30(data: dict[str, list[Row]]) -> None:
    mmlu = data["mmlu"]
    first = [datasets.split_of(r.split_key) for r in mmlu]
    assert first == [datasets.split_of(r.split_key) for r in mmlu]
    share = first.count("train") / len(first)
    assert 0.67 < share < 0.73
    assert datasets.split_of("  Same   TEXT ") == datasets.split_of("same text")


def test_mt_bench_turns_of_a_question_stay_together(data: dict[str, list[Row]]) -> None:
    by_question: dict[str, set[str]] = {}
    for row in data["mt_bench"]:
        question = row.row_id.rsplit(":", 1)[0]
        by_question.setdefault(question, set()).add(datasets.split_of(row.split_key))
    assert all(len(splits) == 1 for splits in by_question.values())


def test_contaminated_prompts_never_reach_training(data: dict[str, list[Row]]) -> None:
    contaminated = datasets.load_contaminated()
    assert contaminated
    train = datasets.training_rows([r for rows in data.values() for r in rows], contaminated)
    assert not any(datasets.is_contaminated(r, contaminated) for r in train)


def test_shipped_artifact_was_fit_on_exactly_the_training_split() -> None:
    try:
        rows = shipped_training_rows()
    except datasets.DataMissingError as exc:
        data_missing(exc)
    training = json.loads(default_artifact_path().read_text())["training"]
    assert training["rows_digest"] == datasets.rows_digest(rows)
    assert training["rows"] == len(rows)
    assert all(datasets.split_of(r.split_key) == "train" for r in rows)


def test_missing_data_dir_fails_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(datasets.DataMissingError, match="ROUTEGRAPH_DATA_DIR"):
        datasets.resolve_data_dir(tmp_path / "absent")


def test_the_shipped_data_is_found_without_any_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    root = datasets.resolve_data_dir()
    assert root == Path(datasets.__file__).resolve().parents[2] / "benchmarks/data/routellm"
    assert (root / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert len(datasets.load_gsm8k()) == 1319
    assert len({r.group for r in datasets.load_mmlu()}) == 57


def test_data_dir_env_var_overrides_the_shipped_copy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(datasets.DataMissingError, match=str(tmp_path)):
        datasets.resolve_data_dir()
