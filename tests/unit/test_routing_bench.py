"""Benchmark accounting on synthetic outcomes, and one end-to-end run on a tiny data dir."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from app.bench.curves import (
    Outcomes,
    apgr,
    first_reaching,
    oracle_score,
    random_reaching,
    sweep,
    versus_random,
)
from app.bench.routing import run_routing_benchmark
from app.routing.datasets import STRONG_MODEL, WEAK_MODEL


def outcomes() -> Outcomes:
    weak = np.array([1, 0, 0, 1, 0, 1, 1, 0], dtype=float)
    strong = np.array([1, 1, 1, 1, 0, 1, 0, 1], dtype=float)
    return Outcomes(weak, strong, np.full(8, 1.0), np.full(8, 10.0))


def test_sweep_runs_from_always_weak_to_always_strong() -> None:
    o = outcomes()
    curve = sweep(o, np.arange(8, dtype=float))
    assert curve.share[0] == 0 and curve.share[-1] == 1
    assert curve.accuracy[0] == pytest.approx(o.weak_acc)
    assert curve.accuracy[-1] == pytest.approx(o.strong_acc)
    assert curve.cost[0] == pytest.approx(0.1) and curve.cost[-1] == pytest.approx(1.0)
    cascade = sweep(o, np.arange(8, dtype=float), pay_weak_always=True)
    assert cascade.cost[-1] == pytest.approx(1.1)  # the weak call is always paid


def test_ties_are_never_split_by_a_threshold() -> None:
    curve = sweep(outcomes(), np.zeros(8))
    assert list(curve.share) == [0.0, 1.0]


def test_oracle_and_random_baselines() -> None:
    o = outcomes()
    oracle = first_reaching(sweep(o, oracle_score(o)), o.target)
    assert oracle is not None
    assert oracle.share == pytest.approx(3 / 8)  # the three rows only the strong model solves
    rand = random_reaching(o, o.target)
    assert rand.accuracy == pytest.approx(o.target)
    assert rand.share == pytest.approx((o.target - o.weak_acc) / (o.strong_acc - o.weak_acc))
    assert apgr(o, sweep(o, oracle_score(o))) > 0.5
    assert versus_random(o, sweep(o, oracle_score(o))).beats_everywhere


def _write_tiny_data(root: Path) -> None:
    rng = np.random.default_rng(0)
    (root / "gsm8k").mkdir(parents=True)
    with (root / "gsm8k" / "gsm8k_responses.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "prompt",
                WEAK_MODEL,
                STRONG_MODEL,
                f"{WEAK_MODEL}_response",
                f"{STRONG_MODEL}_response",
            ]
        )
        for i in range(60):
            a, b = int(rng.integers(2, 50)), int(rng.integers(2, 50))
            right = bool(rng.random() < 0.6)
            answer = a * b if right else a * b + 1
            writer.writerow(
                [
                    f"Each of {a} boxes holds {b} pens. How many pens are there? (case {i})",
                    right,
                    bool(rng.random() < 0.9),
                    f"{a} * {b} = {answer}\n#### {answer}",
                    f"{a} * {b} = {a * b}\n#### {a * b}",
                ]
            )
    (root / "mmlu").mkdir()
    for subject in ("anatomy", "algebra"):
        with (root / "mmlu" / f"mmlu_{subject}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["prompt", WEAK_MODEL, STRONG_MODEL])
            for i in range(80):
                writer.writerow(
                    [
                        f"Question {i} on {subject}?\nA. one\nB. two\nC. three\nD. four\nAnswer:",
                        bool(rng.random() < 0.65),
                        bool(rng.random() < 0.8),
                    ]
                )
    (root / "mt_bench").mkdir()
    with (
        (root / "mt_bench" / "question.jsonl").open("w") as q,
        (root / "mt_bench" / "judgements.jsonl").open("w") as j,
    ):
        for qid in range(1, 9):
            question = {
                "question_id": qid,
                "category": "writing",
                "turns": [f"Write {qid}", "More"],
            }
            q.write(json.dumps(question) + "\n")
            for model, score in ((WEAK_MODEL, 7), (STRONG_MODEL, 9)):
                for turn in (1, 2):
                    judgement = {"question_id": qid, "model": model, "turn": turn, "score": score}
                    j.write(json.dumps(judgement) + "\n")
    for name in ("gsm8k", "mmlu", "mt_bench"):
        (root / name / "contaminated_prompts.jsonl").write_text(
            json.dumps({"eval_prompt": "Write 1", "train_prompt": "x"}) + "\n"
        )


def test_benchmark_runs_end_to_end_on_a_tiny_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data" / "routellm"
    _write_tiny_data(data)
    out = tmp_path / "out"
    report = run_routing_benchmark(tmp_path / "data", out, Console(file=io.StringIO()))
    assert set(report["scenarios"]) == {"gsm8k_heldout", "mmlu_heldout", "gsm8k_cross"}
    for name in ("routing_report.json", "routing_report.md", "routing_gsm8k_heldout.png"):
        assert (out / name).is_file()
    gsm = report["scenarios"]["gsm8k_heldout"]
    assert gsm["at_95pct_quality"]["always-strong"]["strong_share"] == 1.0
    assert "cascade (rules)" in gsm["at_95pct_quality"]
    assert json.loads((out / "routing_report.json").read_text())["split"]["train_fraction"] == 0.7
