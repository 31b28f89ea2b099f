"""The online benchmark: replay learns from bandit feedback; the whole run on a tiny data dir."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from rich.console import Console

from app.routing.catalog import load_catalog
from app.routing.classifier import Classification
from app.routing.clusters import ClusterMatch, TopicClusters
from app.routing.online_config import OnlineConfig
from devtools.bench.online import run_online_benchmark
from devtools.bench.online_replay import ReplaySettings, StreamRow, replay, two_tier_catalog
from devtools.routing.datasets import Row
from tests.support.routing_data import write_tiny_routing_data


def synthetic_stream(n: int = 400) -> list[StreamRow]:
    """The prior rates edge 0.9 everywhere; in cluster 'bad' edge is in fact always wrong."""
    stream = []
    prior = Classification("reasoning", 0.1, {"edge": 0.9, "mid": 0.92, "frontier": 0.95})
    for i in range(n):
        cluster = "bad" if i % 2 else "good"
        row = Row("mmlu", f"r{i}", f"question {i}", cluster == "good", True, f"question {i}")
        stream.append(
            StreamRow(
                row=row,
                classification=prior,
                match=ClusterMatch(cluster, 0.4, 0.5, True),
                prompt_tokens=50,
                weak_cost=0.05,
                strong_cost=1.0,
                verified=False,
            )
        )  # fmt: skip
    return stream


def test_online_replay_learns_where_the_prior_is_wrong_from_served_answers_only() -> None:
    stream = synthetic_stream()
    catalog = two_tier_catalog(load_catalog())
    clusters = TopicClusters.load()
    order = np.random.default_rng(0).permutation(len(stream))
    bad = np.array([stream[i].match.cluster == "bad" for i in order])
    late = np.arange(len(order)) >= len(order) // 2
    # A little exploration: without it, the class-wide failures would keep 'good' off edge.
    config = OnlineConfig(explore_share=0.05)
    prior = replay(stream, order, ReplaySettings("auto", 0.9, False, config), catalog, clusters)
    online = replay(stream, order, ReplaySettings("auto", 0.9, True, config), catalog, clusters)
    assert not prior.strong.any()  # the prior sends everything to edge, forever
    assert online.strong[bad & late].mean() > 0.9  # learned: edge fails in 'bad'
    assert online.strong[~bad & late].mean() < 0.1  # and still serves 'good' on edge
    assert online.correct[late].mean() > prior.correct[late].mean() + 0.4


def test_online_benchmark_runs_end_to_end_on_a_tiny_data_dir(tmp_path: Path) -> None:
    write_tiny_routing_data(tmp_path / "data" / "routellm")
    out = tmp_path / "out"
    report = run_online_benchmark(
        tmp_path / "data", out, Console(file=io.StringIO()), orderings=2, seed=3
    )
    assert set(report["scenarios"]) == {
        "mmlu_auto",
        "gsm8k_cascade",
        "cross_gsm8k_cascade",
        "cross_gsm8k_auto",
        "cross_mmlu_auto",
        "cross_mmlu_auto_refit",
    }
    mmlu = report["scenarios"]["mmlu_auto"]
    assert mmlu["seeds"] == [3, 4]
    assert mmlu["target"]["label"] == "95% of GPT-4's accuracy with <= 35% strong calls"
    assert {"prior only", "online"} <= set(mmlu["sweeps"])
    assert mmlu["baselines_at_95pct"]["always-strong"]["share"] == 1.0
    for name in ("online_report.json", "online_report.md", "online_mmlu_auto.png"):
        assert (out / name).stat().st_size > 0
    saved = json.loads((out / "online_report.json").read_text())
    assert saved["online_config"]["explore_share"] == OnlineConfig().explore_share
    assert any(row["trained_on_it"] is False for row in saved["ood_table"])
    assert "MISSED" in (out / "online_report.md").read_text() or mmlu["target"]["met"]
