"""Topic clusters and the out-of-distribution guard, on the shipped data and artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.routing.clusters import (
    UNKNOWN_CLUSTER,
    ClusterConfig,
    TopicClusters,
    default_clusters_path,
    fit_clusters,
)
from devtools.routing import datasets
from devtools.routing.training import shipped_training_rows


@pytest.fixture(scope="module")
def shipped() -> TopicClusters:
    return TopicClusters.load()


def flagged(clusters: TopicClusters, rows: list[datasets.Row]) -> float:
    return sum(not clusters.match(r.prompt).in_distribution for r in rows) / len(rows)


def test_held_out_rows_of_the_training_datasets_are_mostly_in_distribution(
    shipped: TopicClusters,
) -> None:
    assert flagged(shipped, datasets.held_out_rows(datasets.load_gsm8k())) < 0.1
    assert flagged(shipped, datasets.held_out_rows(datasets.load_mmlu())[::4]) < 0.1


@pytest.mark.parametrize(
    "prompt",
    [
        "Write a Python function that merges two sorted lists.",
        "Extract all company names from this text as JSON: Acme Corp and Globex signed a deal.",
        "Translate 'good morning' into French.",
        "hi, thanks!",
        "Summarise these meeting notes in three bullet points: ship Friday, Bob owns QA.",
    ],
)
def test_prompts_unlike_the_training_data_are_flagged_with_a_reason(
    shipped: TopicClusters, prompt: str
) -> None:
    match = shipped.match(prompt)
    assert not match.in_distribution
    assert match.why


def test_another_datasets_rows_are_mostly_out_of_distribution() -> None:
    contaminated = datasets.load_contaminated()
    mmlu_train = datasets.training_rows(datasets.load_mmlu(), contaminated)
    mt_train = datasets.training_rows(datasets.load_mt_bench(), contaminated)
    # The benchmark's cross-dataset prior: all of MMLU's and MT-Bench's training prompts.
    clusters = TopicClusters(fit_clusters([r.prompt for r in mmlu_train + mt_train]))
    assert flagged(clusters, datasets.held_out_rows(datasets.load_gsm8k())) > 0.9
    assert flagged(clusters, datasets.held_out_rows(datasets.load_mmlu())[::4]) < 0.12


def test_a_prompt_with_no_known_word_has_no_cluster(shipped: TopicClusters) -> None:
    match = shipped.match("¿¿ 123 456 ??")
    assert match.cluster == UNKNOWN_CLUSTER and not match.in_distribution


def test_dense_features_passed_in_give_the_same_verdict(shipped: TopicClusters) -> None:
    from app.routing.features import extract

    text = datasets.load_gsm8k()[0].prompt
    assert shipped.match(text, extract(text).dense) == shipped.match(text)


def test_the_cluster_artifact_was_fit_on_exactly_the_training_split() -> None:
    path = default_clusters_path()
    assert path.stat().st_size < 400_000
    model = json.loads(path.read_text())
    assert model["training"]["rows_digest"] == datasets.rows_digest(shipped_training_rows())
    assert model["training"]["split"] == "train"
    assert len(model["names"]) == 64


def test_fitting_is_deterministic() -> None:
    prompts = [r.prompt for r in datasets.load_gsm8k()[:300]]
    config = ClusterConfig(clusters=6)
    first = json.dumps(fit_clusters(prompts, config), sort_keys=True)
    assert first == json.dumps(fit_clusters(prompts, config), sort_keys=True)


def test_missing_artifact_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"python -m devtools\.routing\.training"):
        TopicClusters.load(tmp_path / "nope.json")
