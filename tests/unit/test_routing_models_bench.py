"""`bench routing --models` end to end on tiny data: RouterBench skipped (and said so) when
absent, its mixed stream reported against every baseline when present."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from devtools.bench.many_models_report import run_models_benchmark
from devtools.bench.many_models_run import SELECTION_SEEDS
from devtools.bench.routerbench_data import ROUTERBENCH_ENV, ROUTERBENCH_MODELS, ROUTERBENCH_TASKS
from tests.support.routing_data import write_tiny_routing_data

BASELINES = {
    "always-GPT-4",
    "random (GPT-4 w.p. q)",
    "best single model",
    "best model per task (hindsight)",
    "per-row oracle",
}


def write_tiny_routerbench(folder: Path, rows: int = 40) -> None:
    """ARC and MBPP splits in RouterBench's layout: 11 models' correctness, cost, answer."""
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    header = ["sample_id", "prompt", "eval_name", *ROUTERBENCH_MODELS]
    header += [f"{m}|total_cost" for m in ROUTERBENCH_MODELS]
    header += [f"{m}|model_response" for m in ROUTERBENCH_MODELS]
    prices = np.linspace(1e-5, 1e-3, len(ROUTERBENCH_MODELS))
    for task, name in ROUTERBENCH_TASKS.items():
        for split in ("train", "test"):
            with (folder / f"{name}_{split}.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                for i in range(rows):
                    prompt = (
                        f"['Which gas do plants take in? ({i})\\nA) oxygen\\nB) carbon dioxide']"
                        if task == "arc"
                        else f"['Write a function that returns the sum of a list ({i}).']"
                    )
                    right = rng.random(len(ROUTERBENCH_MODELS)) < np.linspace(0.5, 0.9, 11)
                    answers = ["['B']" if r else "['A']" for r in right]
                    writer.writerow(
                        [f"{task}.{i}", prompt, task, *map(float, right), *prices, *answers]
                    )


def run(tmp_path: Path, only: list[str] | None = None) -> tuple[dict, str]:
    write_tiny_routing_data(tmp_path / "data" / "routellm")
    printed = io.StringIO()
    report = run_models_benchmark(
        tmp_path / "data",
        tmp_path / "out",
        Console(file=printed, width=200),
        orderings=2,
        only=only,
    )
    return report, printed.getvalue()


def test_without_routerbench_its_streams_are_skipped_and_the_report_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ROUTERBENCH_ENV, str(tmp_path / "absent"))
    report, printed = run(tmp_path, only=["GSM8K"])
    note = f"RouterBench data not found in {tmp_path / 'absent'}: its ARC/MBPP streams are skipped"
    assert note in printed.replace("\n", "") and note in report["notes"]
    assert [s["stream"] for s in report["streams"]] == ["GSM8K", "GSM8K checked"]
    written = json.loads((tmp_path / "out" / "models_report.json").read_text())
    assert written["notes"][0] == note


def test_the_mixed_stream_is_reported_against_every_baseline_with_its_learning_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tiny_routerbench(tmp_path / "routerbench")
    monkeypatch.setenv(ROUTERBENCH_ENV, str(tmp_path / "routerbench"))
    report, _ = run(tmp_path, only=["ARC+MBPP"])
    (mixed,) = report["streams"]
    assert mixed["stream"] == "ARC+MBPP" and mixed["requests"] == 80 and mixed["seeds"] == [0, 1]
    assert set(mixed["baselines"]) == BASELINES
    assert set(mixed["operating_points"]) == {"95%", "100%"}
    point = mixed["operating_points"]["95%"]
    assert "chosen on train" in " ".join(point) and {"first_fifth", "last_fifth"} <= set(
        point["test"]
    )
    # The setting is the train sweep's cheapest reaching the target (else its most accurate),
    # replayed on orderings other than the reported ones.
    swept = {row["setting"]: row for row in mixed["train_sweep"]}
    chosen = swept[point["setting (chosen on train)"]]
    assert (chosen["relative"], chosen["cost"]) == (
        point["train"]["relative"],
        point["train"]["cost"],
    )
    reaching = [r for r in swept.values() if r["relative"] >= 0.95 - 1e-9]
    if point["train reached target"]:
        assert chosen["cost"] == min(r["cost"] for r in reaching)
    else:
        assert not reaching and chosen["relative"] == max(r["relative"] for r in swept.values())
    assert not set(SELECTION_SEEDS) & set(mixed["seeds"])
    assert len(mixed["targets"]) == 2 and all(
        "of GPT-4's cost" in t["label"] for t in mixed["targets"]
    )


def test_an_unknown_stream_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no stream named ARC-Challenge"):
        run_models_benchmark(tmp_path, tmp_path / "out", orderings=1, only=["ARC-Challenge"])
