"""Benchmark accounting on synthetic outcomes, and one end-to-end run on a tiny data dir."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from devtools.bench.curves import (
    Outcomes,
    apgr,
    first_reaching,
    oracle_score,
    random_reaching,
    sweep,
    versus_random,
)
from devtools.bench.routing import run_routing_benchmark
from tests.support.routing_data import write_tiny_routing_data


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


def test_benchmark_runs_end_to_end_on_a_tiny_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data" / "routellm"
    write_tiny_routing_data(data)
    out = tmp_path / "out"
    report = run_routing_benchmark(tmp_path / "data", out, Console(file=io.StringIO()))
    assert set(report["scenarios"]) == {"gsm8k_heldout", "mmlu_heldout", "gsm8k_cross"}
    for name in ("routing_report.json", "routing_report.md", "routing_gsm8k_heldout.png"):
        assert (out / name).is_file()
    gsm = report["scenarios"]["gsm8k_heldout"]
    assert gsm["at_95pct_quality"]["always-strong"]["strong_share"] == 1.0
    assert "cascade (rules)" in gsm["at_95pct_quality"]
    assert json.loads((out / "routing_report.json").read_text())["split"]["train_fraction"] == 0.7
