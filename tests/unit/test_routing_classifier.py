"""The shipped task classifier: artifact, task classes and probabilities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.routing.classifier import Classification, TaskClassifier
from app.routing.features import TASK_CLASSES
from devtools.routing import datasets
from devtools.routing.training import default_artifact_path
from tests.support.routing_data import data_missing


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_artifact_is_small_and_records_its_training_split() -> None:
    path = default_artifact_path()
    assert path.stat().st_size < 1_000_000
    training = json.loads(path.read_text())["training"]
    assert training["split"] == "train"
    assert training["split_seed"] == datasets.SPLIT_SEED
    assert training["train_fraction"] == datasets.TRAIN_FRACTION
    assert set(training["rows_by_dataset"]) == {"gsm8k", "mmlu", "mt_bench"}
    assert len(training["rows_digest"]) == 16


def test_missing_artifact_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"python -m devtools\.routing\.training"):
        TaskClassifier.load(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Write a Python function that returns the longest common subsequence of two "
            "strings. Here is my attempt:\n```python\ndef lcs(a, b):\n    return ''\n```",
            "code",
        ),
        (
            "Tom buys 3 boxes of apples with 12 apples each. He gives away 7 apples and "
            "sells the rest for $2 each. How much money does he make?",
            "math",
        ),
        (
            "Write a short story about a lighthouse keeper who befriends a whale.",
            "creative",
        ),
        (
            "Extract the names of all companies and their CEOs from the following text and "
            "list them: Acme Corp is led by Jane Doe; Globex is run by Hank Scorpio.",
            "extraction",
        ),
        ("hi, thanks for the help earlier!", "chat"),
        (
            "All bloops are razzies and all razzies are lazzies. Is it true that all bloops "
            "are lazzies? Explain why, step by step.",
            "reasoning",
        ),
    ],
)
def test_constructed_prompts_get_sane_task_classes(
    classifier: TaskClassifier, text: str, expected: str
) -> None:
    assert classifier.classify(user(text)).task_class == expected


def test_call_site_hints_steer_the_class(classifier: TaskClassifier) -> None:
    messages = user("Here is the invoice text: ACME, total 120 EUR, due 2024-05-01.")
    assert (
        classifier.classify(messages, response_format={"type": "json_object"}).task_class
        == "extraction"
    )
    assert classifier.classify(user("Go ahead."), node="planner").task_class == "reasoning"


def test_probabilities_are_valid_and_mid_sits_between(classifier: TaskClassifier) -> None:
    result = classifier.classify(
        [
            {"role": "system", "content": "You are a careful assistant."},
            {"role": "user", "content": [{"type": "text", "text": "What is 17 * 23?"}]},
        ]
    )
    assert isinstance(result, Classification)
    assert result.task_class in TASK_CLASSES
    assert set(result.p_good) == {"edge", "mid", "frontier"}
    assert all(0.0 <= p <= 1.0 for p in result.p_good.values())
    low, high = sorted((result.p_good["edge"], result.p_good["frontier"]))
    assert low <= result.p_good["mid"] <= high
    assert result.complexity == pytest.approx(1 - result.p_good["edge"])


def test_empty_request_still_classifies(classifier: TaskClassifier) -> None:
    result = classifier.classify([])
    assert result.task_class == "chat"
    assert 0.0 <= result.p_good["edge"] <= 1.0


def test_frontier_beats_edge_on_average_over_real_prompts(classifier: TaskClassifier) -> None:
    try:
        rows = datasets.load_gsm8k()[:200] + datasets.load_mmlu()[::50]
    except datasets.DataMissingError as exc:
        data_missing(exc)
    results = [classifier.classify(user(r.prompt)) for r in rows]
    edge = sum(r.p_good["edge"] for r in results) / len(results)
    frontier = sum(r.p_good["frontier"] for r in results) / len(results)
    assert frontier > edge
    assert sum(r.task_class == "math" for r in results[:200]) >= 150  # GSM8K is math
