"""Topic clusters of prompts and an out-of-distribution test, fitted offline on training prompts.

A prompt becomes a sparse tf-idf vector over the training vocabulary (distinct words, no
numbers); spherical k-means on the training prompts gives the centroids, and the nearest
centroid names the prompt's cluster (the online estimates' finer cell).

Out of distribution means unlike what the offline classifier was trained on, measured two
ways against the same training prompts: the topic (cosine similarity to the nearest
centroid, flagged below the 1st percentile of training prompts) and the form within that
topic (the classifier's standardised dense features - length, numbers, answer options,
code markers... - as a mean squared z-score against the cluster's own per-feature mean and
variance, flagged above the 97th percentile). Word overlap alone cannot tell a GSM8K word
problem from MMLU's maths questions; "maths questions here always came with four options
and ended in 'Answer:'" can. One call costs a feature extraction and two numpy gathers.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from app.routing.features import clip_text, extract, tokenize

ARTIFACT_VERSION = 1
UNKNOWN_CLUSTER = "none"  # prompts with no known word: no cluster, always out of distribution


@dataclass(frozen=True)
class ClusterConfig:
    """Hyper-parameters; the defaults are what the shipped artifact uses."""

    clusters: int = 64  # at most; fewer when there are under min_cluster_size prompts each
    min_cluster_size: int = 40
    max_vocab: int = 3000
    min_df: int = 3
    max_df_share: float = 0.1  # words in more documents than this carry no topic
    iterations: int = 30
    seed: int = 20240601
    top_weights: int = 120  # per centroid, so the committed artifact stays small
    weight_digits: int = 4
    topic_quantile: float = 0.01  # flag prompts less similar than this share of training
    form_quantile: float = 0.97  # flag prompts whose form is more atypical than this share
    form_variance_floor: float = 0.5  # per-feature variance floor (in standardised units)
    max_words: int = 400


class ClusterMatch(NamedTuple):
    """Where a prompt falls: its cluster, how close it is, and whether that is familiar."""

    cluster: str
    similarity: float  # cosine to the nearest centroid (topic)
    atypicality: float  # mean squared z-score of the form features within that cluster
    in_distribution: bool
    why: str = ""  # what made it out of distribution


def prompt_words(text: str, limit: int = 400) -> list[str]:
    """Distinct alphabetic words of 3+ letters, in order of first appearance (clipped text)."""
    seen: dict[str, None] = {}
    for token in tokenize(clip_text(text).lower()):
        if len(token) >= 3 and token.isalpha() and token not in seen:
            seen[token] = None
            if len(seen) >= limit:
                break
    return list(seen)


class TopicClusters:
    """Runtime side: build with `TopicClusters.load()` (the committed artifact) or from a dict."""

    def __init__(self, model: dict[str, Any]) -> None:
        if model.get("version") != ARTIFACT_VERSION:
            raise ValueError(f"cluster model version {model.get('version')!r} not supported")
        vocab: list[str] = model["vocab"]
        self.names: tuple[str, ...] = tuple(model["names"])
        self._index = {word: i for i, word in enumerate(vocab)}
        self._idf = np.array(model["idf"], dtype=float)
        self._centroids = np.zeros((len(vocab), len(self.names)))
        for k, entries in enumerate(model["centroids"]):
            for i, w in entries:
                self._centroids[i, k] = w
        form = model["form"]
        self._form_mean = np.array(form["mean"], dtype=float)
        self._form_scale = np.array(form["scale"], dtype=float)
        self._cluster_mean = np.array(form["cluster_mean"], dtype=float)
        self._cluster_var = np.array(form["cluster_var"], dtype=float)
        ood = model["ood"]
        self.similarity_bar = float(ood["similarity_bar"])
        self.atypicality_bar = float(ood["atypicality_bar"])
        self.max_words = int(model["config"]["max_words"])
        self.training: dict[str, Any] = model.get("training", {})
        self.calibration: dict[str, Any] = ood

    @classmethod
    def load(cls, path: str | Path | None = None) -> TopicClusters:
        """Read the artifact (the committed one by default)."""
        source = Path(path) if path is not None else default_clusters_path()
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"cluster model {source} is missing; run `python -m devtools.routing.training`"
            ) from None
        return cls(data)

    def similarities(self, text: str) -> tuple[np.ndarray, int]:
        """Cosine similarity to every centroid, and how many of the prompt's words are known."""
        hits = [self._index[w] for w in prompt_words(text, self.max_words) if w in self._index]
        if not hits:
            return np.zeros(len(self.names)), 0
        idx = np.array(hits)
        weights = self._idf[idx]
        norm = math.sqrt(float(weights @ weights))
        return (weights / norm) @ self._centroids[idx], len(hits)

    def atypicality(self, text: str, cluster: int, dense: Sequence[float] = ()) -> float:
        """Mean squared z-score of the prompt's form features against one cluster's."""
        features = dense if dense else extract(text).dense
        z = (np.array(features) - self._form_mean) / self._form_scale
        return float(np.mean((z - self._cluster_mean[cluster]) ** 2 / self._cluster_var[cluster]))

    def match(self, text: str, dense: Sequence[float] = ()) -> ClusterMatch:
        """Nearest cluster and the out-of-distribution verdict for one prompt.

        `dense` may pass the text's `features.extract(text).dense` when already computed
        (`Classification.dense`), saving a second extraction.
        """
        sims, known = self.similarities(text)
        if known == 0:
            return ClusterMatch(UNKNOWN_CLUSTER, 0.0, 0.0, False, "no word the training set knows")
        best = int(np.argmax(sims))
        similarity = float(sims[best])
        atypical = self.atypicality(text, best, dense)
        reasons = []
        if similarity < self.similarity_bar:
            reasons.append(f"topic similarity {similarity:.2f} < {self.similarity_bar:.2f}")
        if atypical > self.atypicality_bar:
            reasons.append(
                f"form atypical for its topic ({atypical:.1f} > {self.atypicality_bar:.1f})"
            )
        return ClusterMatch(self.names[best], similarity, atypical, not reasons, "; ".join(reasons))


def default_clusters_path() -> Path:
    return Path(__file__).with_name("router_clusters.json")


class SparseRows(NamedTuple):
    """L2-normalised tf-idf rows in CSR form (prompts have tens of words out of thousands)."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    width: int

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    def times(self, columns: np.ndarray) -> np.ndarray:
        """rows @ columns for a (width x m) matrix, as an (n x m) array."""
        out = np.zeros((self.n, columns.shape[1]), dtype=np.float32)
        nonempty = np.diff(self.indptr) > 0
        weighted = columns.astype(np.float32)[self.indices] * self.values[:, None]
        out[nonempty] = np.add.reduceat(weighted, self.indptr[:-1][nonempty], axis=0)
        return out

    def dense_row(self, row: int) -> np.ndarray:
        vector = np.zeros(self.width)
        span = slice(self.indptr[row], self.indptr[row + 1])
        vector[self.indices[span]] = self.values[span]
        return vector


def _document_vectors(
    docs: Sequence[list[str]], index: dict[str, int], idf: np.ndarray
) -> SparseRows:
    """Binary tf-idf rows over the vocabulary, each scaled to unit length."""
    indptr, indices, values = [0], [], []
    for words in docs:
        cols = sorted({index[w] for w in words if w in index})
        weights = idf[cols]
        norm = float(np.linalg.norm(weights)) or 1.0
        indices.extend(cols)
        values.extend((weights / norm).tolist())
        indptr.append(len(indices))
    return SparseRows(
        np.array(indptr, dtype=np.int64),
        np.array(indices, dtype=np.int64),
        np.array(values, dtype=np.float32),
        len(index),
    )


def _kmeans_pp(x: SparseRows, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding on cosine distance (1 - similarity); returns k dense centroids."""
    live = np.nonzero(np.diff(x.indptr) > 0)[0]
    if len(live) < k:
        raise ValueError(f"only {len(live)} prompts share any vocabulary; cannot fit {k} clusters")
    first = x.dense_row(int(live[rng.integers(len(live))]))
    centers = [first]
    dist = 1.0 - x.times(first[:, None])[:, 0]
    for _ in range(1, k):
        d = np.clip(dist[live], 0.0, None) ** 2
        pick = int(live[rng.choice(len(live), p=d / d.sum())]) if d.sum() > 0 else int(live[0])
        center = x.dense_row(pick)
        centers.append(center)
        dist = np.minimum(dist, 1.0 - x.times(center[:, None])[:, 0])
    return np.array(centers)


def spherical_kmeans(
    x: SparseRows, k: int, iterations: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (k x width, unit length) and each row's cluster; deterministic per seed."""
    rng = np.random.default_rng(seed)
    centroids = _kmeans_pp(x, k, rng)
    assign = np.zeros(x.n, dtype=int)
    row_of_entry = np.repeat(np.arange(x.n), np.diff(x.indptr))
    for step in range(iterations):
        sims = x.times(centroids.T)
        previous, assign = assign, np.argmax(sims, axis=1)
        if step and np.array_equal(previous, assign):
            break  # converged: the centroids would not move
        flat = assign[row_of_entry] * x.width + x.indices
        sums = np.bincount(flat, weights=x.values, minlength=k * x.width).reshape(k, x.width)
        norms = np.linalg.norm(sums, axis=1)
        for c in np.nonzero(norms == 0)[0]:  # re-seed an empty cluster on the worst-fitting row
            centroids[c] = x.dense_row(int(np.argmin(np.max(sims, axis=1))))
        live = norms > 0
        centroids[live] = sums[live] / norms[live, None]
    return centroids, assign


def fit_clusters(
    texts: Sequence[str],
    config: ClusterConfig | None = None,
    *,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit vocabulary, idf, centroids and the OOD threshold on `texts`; a JSON-ready dict."""
    config = config or ClusterConfig()
    if len(texts) < 4:
        raise ValueError(f"need at least 4 prompts to fit clusters, got {len(texts)}")
    k = max(2, min(config.clusters, len(texts) // config.min_cluster_size))
    docs = [prompt_words(t, config.max_words) for t in texts]
    df = Counter(w for words in docs for w in words)
    ceiling = config.max_df_share * len(docs)
    eligible = [w for w, n in df.items() if config.min_df <= n <= ceiling]
    known = set(eligible)
    if sum(not known.isdisjoint(words) for words in docs) < k:
        # Tiny or uniform corpora: every word is common; cluster on them rather than nothing.
        eligible = [w for w, n in df.items() if n >= min(config.min_df, len(docs))]
    vocab = sorted(sorted(eligible, key=lambda w: (-df[w], w))[: config.max_vocab])
    index = {w: i for i, w in enumerate(vocab)}
    idf = np.array([math.log((1 + len(docs)) / (1 + df[w])) + 1.0 for w in vocab])
    idf = np.round(idf, config.weight_digits)
    x = _document_vectors(docs, index, idf)
    centroids, assign = spherical_kmeans(x, k, config.iterations, config.seed)
    sizes = np.bincount(assign, minlength=k)
    # Name clusters by size (largest first) so names do not depend on seeding order.
    order = sorted(range(k), key=lambda c: (-int(sizes[c]), c))
    pruned: list[list[list[float]]] = []
    names: list[str] = []
    for rank, c in enumerate(order):
        top = np.argsort(-centroids[c], kind="stable")[: config.top_weights]
        top = top[centroids[c][top] > 0]
        weights = centroids[c][top] / (np.linalg.norm(centroids[c][top]) or 1.0)
        entries = sorted(zip(top.tolist(), weights.tolist(), strict=True))
        pruned.append([[i, round(w, config.weight_digits)] for i, w in entries])
        label = "-".join(vocab[i] for i in top[:3])
        names.append(f"c{rank:02d}:{label}")
    form = _form_model(texts, assign, sizes, order, config)
    model: dict[str, Any] = {
        "version": ARTIFACT_VERSION,
        "names": names,
        "vocab": vocab,
        "idf": [float(v) for v in idf],
        "centroids": pruned,
        "form": form,
        "ood": {"similarity_bar": -1.0, "atypicality_bar": float("inf")},
        "config": asdict(config),
    }
    runtime = TopicClusters(model)
    matches = [runtime.match(t) for t in texts]
    sims = np.array([m.similarity for m in matches])
    atyp = np.array([m.atypicality for m in matches])
    digits = config.weight_digits
    model["ood"] = {
        "similarity_bar": round(float(np.quantile(sims, config.topic_quantile)), digits),
        "atypicality_bar": round(float(np.quantile(atyp, config.form_quantile)), digits),
        "rule": (
            "out of distribution when the cosine similarity to the nearest topic centroid is "
            f"below the {config.topic_quantile:.0%} quantile of training prompts, or the form "
            "features' mean squared z-score against that cluster is above the "
            f"{config.form_quantile:.0%} quantile"
        ),
        "training_quantiles": {
            "similarity": _quantiles(sims, (0.01, 0.05, 0.5)),
            "atypicality": _quantiles(atyp, (0.5, 0.9, 0.97, 0.99)),
        },
    }
    model["training"] = {
        **(provenance or {}),
        "prompts": len(texts),
        "cluster_sizes": [int(sizes[c]) for c in order],
    }
    return model


def _quantiles(values: np.ndarray, qs: Sequence[float]) -> dict[str, float]:
    return {f"q{round(q * 100):02d}": round(float(np.quantile(values, q)), 4) for q in qs}


def _form_model(
    texts: Sequence[str],
    assign: np.ndarray,
    sizes: np.ndarray,
    order: Sequence[int],
    config: ClusterConfig,
) -> dict[str, list[Any]]:
    """Standardisation of the dense features, then each cluster's per-feature mean and variance."""
    dense = np.array([extract(t).dense for t in texts])
    mean = dense.mean(axis=0)
    scale = dense.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = (dense - mean) / scale
    digits = config.weight_digits
    cluster_mean, cluster_var = [], []
    for c in order:
        members = z[assign == c] if sizes[c] > 1 else z
        cluster_mean.append([round(float(v), digits) for v in members.mean(axis=0)])
        var = members.var(axis=0) + config.form_variance_floor
        cluster_var.append([round(float(v), digits) for v in var])
    return {
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "cluster_mean": cluster_mean,
        "cluster_var": cluster_var,
    }


def write_clusters(model: dict[str, Any], path: str | Path) -> Path:
    """Compact, stable JSON (the artifact is committed)."""
    target = Path(path)
    target.write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n")
    return target
