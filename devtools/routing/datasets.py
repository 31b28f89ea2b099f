"""Recorded real model outputs (RouteLLM eval data) as rows, and the one train/test split.

Everything that trains or benchmarks the router reads rows through this module, so the
split rule (a salted hash of the normalised prompt) is defined once and cannot drift
between training and evaluation.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG_MODEL = "gpt-4-1106-preview"
DATA_DIR_ENV = "ROUTEGRAPH_DATA_DIR"
SPLIT_SEED = 20240601
TRAIN_FRACTION = 0.7
# MT-Bench has a 1-10 judge score, not correctness: a turn counts as good at >= 8,
# the judge's "good, minor issues" band, applied the same way to both models.
MT_BENCH_GOOD_SCORE = 8.0

Dataset = Literal["gsm8k", "mmlu", "mt_bench"]
Split = Literal["train", "test"]


class DataMissingError(FileNotFoundError):
    """The recorded-output data is not where we looked; the message says where and how to fix."""


@dataclass(frozen=True)
class Row:
    """One prompt with both models' recorded outcome (and responses when the data has them)."""

    dataset: Dataset
    row_id: str
    prompt: str
    weak_good: bool
    strong_good: bool
    split_key: str
    group: str = ""  # MMLU subject or MT-Bench category
    weak_response: str | None = None
    strong_response: str | None = None


def default_data_dir() -> Path:
    """ROUTEGRAPH_DATA_DIR if set, else the copy shipped in `<repo>/benchmarks/data`."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "benchmarks" / "data"


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The folder holding gsm8k/, mmlu/ and mt_bench/ (accepts its parent with routellm/)."""
    base = Path(data_dir) if data_dir is not None else default_data_dir()
    for candidate in (base / "routellm", base):
        if (candidate / "gsm8k" / "gsm8k_responses.csv").is_file():
            return candidate
    raise DataMissingError(
        f"routing data not found under {base} (looked for routellm/gsm8k/gsm8k_responses.csv); "
        f"set {DATA_DIR_ENV} to a folder holding routellm/ or pass --data-dir"
    )


@functools.lru_cache(maxsize=1 << 16)
def normalize_prompt(text: str) -> str:
    """Case-, width- and whitespace-insensitive form, so trivial variants split together."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def split_of(
    split_key: str, *, seed: int = SPLIT_SEED, train_fraction: float = TRAIN_FRACTION
) -> Split:
    """Deterministic split by a salted SHA-256 of the normalised prompt text."""
    digest = hashlib.sha256(f"{seed}:{normalize_prompt(split_key)}".encode()).digest()
    return "train" if int.from_bytes(digest[:8], "big") / 2**64 < train_fraction else "test"


def _flag(value: str, where: str) -> bool:
    if value not in ("True", "False"):
        raise ValueError(f"{where}: expected True/False, got {value!r}")
    return value == "True"


def load_gsm8k(data_dir: str | Path | None = None) -> list[Row]:
    """GSM8K: correctness of both models plus both full responses."""
    path = resolve_data_dir(data_dir) / "gsm8k" / "gsm8k_responses.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    return [
        Row(
            dataset="gsm8k",
            row_id=f"gsm8k:{i}",
            prompt=r["prompt"],
            weak_good=_flag(r[WEAK_MODEL], f"{path}:{i}"),
            strong_good=_flag(r[STRONG_MODEL], f"{path}:{i}"),
            split_key=r["prompt"],
            group="gsm8k",
            weak_response=r[f"{WEAK_MODEL}_response"],
            strong_response=r[f"{STRONG_MODEL}_response"],
        )
        for i, r in enumerate(records)
    ]


def load_mmlu(data_dir: str | Path | None = None) -> list[Row]:
    """MMLU: 57 subject files, correctness only."""
    folder = resolve_data_dir(data_dir) / "mmlu"
    rows: list[Row] = []
    for path in sorted(folder.glob("mmlu_*.csv")):
        subject = path.stem.removeprefix("mmlu_")
        with path.open(encoding="utf-8", newline="") as handle:
            for i, r in enumerate(csv.DictReader(handle)):
                rows.append(
                    Row(
                        dataset="mmlu",
                        row_id=f"mmlu:{subject}:{i}",
                        prompt=r["prompt"],
                        weak_good=_flag(r[WEAK_MODEL], f"{path}:{i}"),
                        strong_good=_flag(r[STRONG_MODEL], f"{path}:{i}"),
                        split_key=r["prompt"],
                        group=subject,
                    )
                )
    if not rows:
        raise DataMissingError(f"no mmlu_*.csv files in {folder}")
    return rows


def load_mt_bench(data_dir: str | Path | None = None) -> list[Row]:
    """MT-Bench: one row per (question, turn); turn 2's prompt carries both user turns.

    Both turns of a question share the first turn as split key, so a question never
    straddles train and test.
    """
    folder = resolve_data_dir(data_dir) / "mt_bench"
    questions: dict[int, dict[str, Any]] = {}
    with (folder / "question.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                q = json.loads(line)
                questions[q["question_id"]] = q
    scores: dict[tuple[int, int], dict[str, float]] = {}
    with (folder / "judgements.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                j = json.loads(line)
                scores.setdefault((j["question_id"], j["turn"]), {})[j["model"]] = float(j["score"])
    rows: list[Row] = []
    for (qid, turn), by_model in sorted(scores.items()):
        if WEAK_MODEL not in by_model or STRONG_MODEL not in by_model:
            continue
        q = questions[qid]
        rows.append(
            Row(
                dataset="mt_bench",
                row_id=f"mt_bench:{qid}:{turn}",
                prompt="\n\n".join(q["turns"][:turn]),
                weak_good=by_model[WEAK_MODEL] >= MT_BENCH_GOOD_SCORE,
                strong_good=by_model[STRONG_MODEL] >= MT_BENCH_GOOD_SCORE,
                split_key=q["turns"][0],
                group=q["category"],
            )
        )
    return rows


def load_contaminated(data_dir: str | Path | None = None) -> set[str]:
    """Normalised eval prompts RouteLLM flags as overlapping router training data."""
    root = resolve_data_dir(data_dir)
    found: set[str] = set()
    for path in sorted(root.glob("*/contaminated_prompts.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    found.add(normalize_prompt(json.loads(line)["eval_prompt"]))
    return found


def load_all(data_dir: str | Path | None = None) -> dict[str, list[Row]]:
    """All three datasets keyed by name."""
    return {
        "gsm8k": load_gsm8k(data_dir),
        "mmlu": load_mmlu(data_dir),
        "mt_bench": load_mt_bench(data_dir),
    }


def is_contaminated(row: Row, contaminated: set[str]) -> bool:
    return normalize_prompt(row.prompt) in contaminated or (
        normalize_prompt(row.split_key) in contaminated
    )


def training_rows(
    rows: Iterable[Row], contaminated: set[str], *, seed: int = SPLIT_SEED
) -> list[Row]:
    """Train-split rows minus contaminated prompts (they never reach a fit)."""
    return [
        r
        for r in rows
        if split_of(r.split_key, seed=seed) == "train" and not is_contaminated(r, contaminated)
    ]


def held_out_rows(rows: Iterable[Row], *, seed: int = SPLIT_SEED) -> list[Row]:
    """Test-split rows (contaminated ones kept; reports count them)."""
    return [r for r in rows if split_of(r.split_key, seed=seed) == "test"]


def rows_digest(rows: Iterable[Row]) -> str:
    """Short fingerprint of a row set, recorded in the artifact to say what it was fit on."""
    joined = "\n".join(sorted(r.row_id for r in rows))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]
