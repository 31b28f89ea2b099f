"""Offline training of the router heads (numpy logistic regression) and the shipped artifact.

`python -m devtools.routing.training` fits on the train split of GSM8K + MMLU + MT-Bench and writes
`app/routing/router_model.json` and, fitted on the same prompts, the topic clusters and
out-of-distribution bar in `app/routing/router_clusters.json`. The benchmark calls
`train_model` on other row sets (e.g. without GSM8K) so every reported figure comes from a
model that never saw its test rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.routing.clusters import default_clusters_path, fit_clusters, write_clusters
from app.routing.features import (
    DENSE_FEATURES,
    NGRAM_HEAD_TOKENS,
    NGRAM_TAIL_TOKENS,
    extract,
    ngram_keys,
)
from devtools.routing import datasets
from devtools.routing.datasets import Row

ARTIFACT_VERSION = 1
HEADS = ("edge", "frontier")  # edge: weak (Mixtral) answer good; frontier: strong (GPT-4)
# The data has no mid-tier model: mid's p_good is edge + MID_SHARE * (frontier - edge), i.e.
# we assume a mid model closes half of the measured weak-to-strong gap.
MID_SHARE = 0.5


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults are what the shipped artifact uses."""

    min_df: int = 3
    l2_sparse: float = 3e-4
    l2_dense: float = 1e-4
    iterations: int = 200
    learning_rate: float = 0.05
    weight_digits: int = 3
    max_ngrams: int = 16_000  # keeps the committed artifact well under 1 MB


@dataclass
class Design:
    """Training matrix: standardised dense block plus a CSR sparse n-gram block."""

    dense: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    vocab: list[str]

    @property
    def n_rows(self) -> int:
        return int(self.dense.shape[0])

    def matvec(self, w_dense: np.ndarray, w_sparse: np.ndarray) -> np.ndarray:
        """Design @ weights for every row."""
        contrib = self.values * w_sparse[self.indices]
        sparse = np.zeros(self.n_rows)
        nonempty = np.diff(self.indptr) > 0
        sparse[nonempty] = np.add.reduceat(contrib, self.indptr[:-1][nonempty])
        return self.dense @ w_dense + sparse

    def rmatvec(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Design.T @ g split into dense and sparse parts."""
        rows = np.repeat(g, np.diff(self.indptr))
        sparse = np.bincount(self.indices, weights=self.values * rows, minlength=len(self.vocab))
        return self.dense.T @ g, sparse


def build_design(
    texts: Sequence[str], *, vocab: list[str] | None = None, min_df: int = 3
) -> tuple[Design, np.ndarray, np.ndarray]:
    """Featurise texts; returns the design plus the dense mean/std it was standardised with."""
    feats = [extract(t) for t in texts]
    keys = [ngram_keys(f.window) for f in feats]
    if vocab is None:
        df = Counter(k for row_keys in keys for k in set(row_keys))
        vocab = sorted(k for k, n in df.items() if n >= min_df)
    index = {k: i for i, k in enumerate(vocab)}
    raw = np.array([f.dense for f in feats], dtype=float).reshape(len(feats), len(DENSE_FEATURES))
    mean = raw.mean(axis=0) if len(feats) else np.zeros(len(DENSE_FEATURES))
    std = raw.std(axis=0) if len(feats) else np.ones(len(DENSE_FEATURES))
    std[std < 1e-9] = 1.0
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for row_keys in keys:
        scale = 1.0 / np.sqrt(max(len(row_keys), 1))
        hits = [index[k] for k in row_keys if k in index]
        indices.extend(hits)
        values.extend([scale] * len(hits))
        indptr.append(len(indices))
    design = Design(
        dense=(raw - mean) / std,
        indptr=np.array(indptr, dtype=np.int64),
        indices=np.array(indices, dtype=np.int64),
        values=np.array(values, dtype=float),
        vocab=vocab,
    )
    return design, mean, std


def fit_logistic(
    design: Design, y: np.ndarray, weights: np.ndarray, config: TrainConfig
) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted L2 logistic regression by full-batch Adam (deterministic, no sampling)."""
    n_dense = design.dense.shape[1]
    params = [np.zeros(1), np.zeros(n_dense), np.zeros(len(design.vocab))]
    base = float(np.clip(np.average(y, weights=weights), 1e-3, 1 - 1e-3))
    params[0][0] = np.log(base / (1 - base))
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    w_norm = weights / weights.sum()
    for step in range(1, config.iterations + 1):
        z = params[0][0] + design.matvec(params[1], params[2])
        p = 1.0 / (1.0 + np.exp(-z))
        g = (p - y) * w_norm
        g_dense, g_sparse = design.rmatvec(g)
        grads = [
            np.array([g.sum()]),
            g_dense + 2 * config.l2_dense * params[1],
            g_sparse + 2 * config.l2_sparse * params[2],
        ]
        for i, grad in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad * grad
            m_hat = m[i] / (1 - 0.9**step)
            v_hat = v[i] / (1 - 0.999**step)
            params[i] -= config.learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)
    return float(params[0][0]), params[1], params[2]


def prune_ngrams(
    vocab: Sequence[str], sparse_w: Sequence[np.ndarray], config: TrainConfig
) -> dict[str, list[float]]:
    """Keep the n-grams with the largest weight in any head, rounded, for a small artifact."""
    strength = np.max(np.abs(np.vstack(sparse_w)), axis=0)
    floor = 0.5 * 10**-config.weight_digits
    keep = [
        i for i in np.argsort(-strength, kind="stable")[: config.max_ngrams] if strength[i] >= floor
    ]
    return {
        vocab[i]: [round(float(w[i]), config.weight_digits) for w in sparse_w] for i in sorted(keep)
    }


def train_model(
    rows: Sequence[Row],
    config: TrainConfig | None = None,
    *,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit both heads on `rows`; returns the artifact as a JSON-ready dict."""
    config = config or TrainConfig()
    if not rows:
        raise ValueError("no training rows")
    design, mean, std = build_design([r.prompt for r in rows], min_df=config.min_df)
    # Plain per-row weights: a validation split of the training rows (not the test split)
    # favoured them over per-dataset balancing.
    weights = np.ones(len(rows))
    labels = {
        "edge": np.array([r.weak_good for r in rows], dtype=float),
        "frontier": np.array([r.strong_good for r in rows], dtype=float),
    }
    biases, dense_w, sparse_w = [], [], []
    for head in HEADS:
        b, wd, ws = fit_logistic(design, labels[head], weights, config)
        biases.append(b)
        dense_w.append(wd / std)  # fold standardisation into the weights
        sparse_w.append(ws)
    biases = [b - float(np.dot(wd, mean)) for b, wd in zip(biases, dense_w, strict=True)]
    ngram = prune_ngrams(design.vocab, sparse_w, config)
    return {
        "version": ARTIFACT_VERSION,
        "heads": list(HEADS),
        "mid_share": MID_SHARE,
        "dense_features": list(DENSE_FEATURES),
        "bias": [round(b, 6) for b in biases],
        "dense_weights": [[round(float(x), 6) for x in wd] for wd in dense_w],
        "ngram_weights": ngram,
        "ngram_window": [NGRAM_HEAD_TOKENS, NGRAM_TAIL_TOKENS],
        "training": {
            **(provenance or {}),
            "rows": len(rows),
            "rows_by_dataset": dict(sorted(Counter(r.dataset for r in rows).items())),
            "rows_digest": datasets.rows_digest(rows),
            "base_rates": {
                head: round(float(np.average(labels[head], weights=weights)), 4) for head in HEADS
            },
            "config": dataclasses.asdict(config),
        },
    }


def shipped_training_rows(data_dir: str | Path | None = None) -> list[Row]:
    """Train split (contaminated prompts removed) of GSM8K + MMLU + MT-Bench."""
    contaminated = datasets.load_contaminated(data_dir)
    rows: list[Row] = []
    for loaded in datasets.load_all(data_dir).values():
        rows.extend(datasets.training_rows(loaded, contaminated))
    return rows


def default_artifact_path() -> Path:
    """The artifact the service ships (`app/routing/router_model.json`)."""
    return Path(__file__).resolve().parents[2] / "app" / "routing" / "router_model.json"


def write_artifact(model: dict[str, Any], path: str | Path) -> Path:
    """Compact JSON (the artifact is committed, so keep it small and stable)."""
    target = Path(path)
    target.write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Train on the shipped split and write the artifact."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help=f"default: ${datasets.DATA_DIR_ENV}")
    parser.add_argument("--out", default=str(default_artifact_path()), help="artifact path")
    parser.add_argument(
        "--clusters-out", default=str(default_clusters_path()), help="cluster artifact path"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        rows = shipped_training_rows(args.data_dir)
    except datasets.DataMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = train_model(
        rows,
        provenance={
            "split": "train",
            "split_seed": datasets.SPLIT_SEED,
            "train_fraction": datasets.TRAIN_FRACTION,
            "split_rule": "sha256(f'{seed}:{normalize_prompt(split_key)}')[:8] / 2**64 < fraction",
            "contaminated_excluded": True,
            "datasets": ["gsm8k", "mmlu", "mt_bench"],
        },
    )
    path = write_artifact(model, args.out)
    print(
        f"trained on {len(rows)} rows in {time.perf_counter() - started:.1f}s; "
        f"{len(model['ngram_weights'])} n-gram weights; wrote {path} "
        f"({path.stat().st_size / 1024:.0f} KiB)"
    )
    started = time.perf_counter()
    clusters = fit_clusters(
        [r.prompt for r in rows],
        provenance={"split": "train", "rows_digest": model["training"]["rows_digest"]},
    )
    cluster_path = write_clusters(clusters, args.clusters_out)
    print(
        f"fitted {len(clusters['names'])} topic clusters in {time.perf_counter() - started:.1f}s; "
        f"OOD bars: similarity {clusters['ood']['similarity_bar']}, form atypicality "
        f"{clusters['ood']['atypicality_bar']}; wrote {cluster_path} "
        f"({cluster_path.stat().st_size / 1024:.0f} KiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
