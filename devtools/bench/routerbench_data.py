"""Recorded answers of many models as replayable streams: RouterBench (ARC, MBPP) and RouteLLM.

RouterBench's files (11 models' real answers, correctness and cost per prompt) are read
from `../shared/data/routerbench` (or ROUTEGRAPH_ROUTERBENCH_DIR) and never copied into
the repository; when they are absent the benchmark skips them and says so. RouteLLM's
GSM8K and MMLU (two models) come from the data shipped in benchmarks/data, split by
`devtools.routing.datasets`.
"""

from __future__ import annotations

import ast
import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from devtools.bench.costs import TierPricing, row_costs
from devtools.routing import datasets

ROUTERBENCH_ENV = "ROUTEGRAPH_ROUTERBENCH_DIR"
STRONG = "gpt-4-1106-preview"
ROUTERBENCH_MODELS: tuple[str, ...] = (
    "gpt-4-1106-preview",
    "gpt-3.5-turbo-1106",
    "claude-v2",
    "claude-v1",
    "claude-instant-v1",
    "mistralai/mixtral-8x7b-chat",
    "zero-one-ai/Yi-34B-Chat",
    "meta/llama-2-70b-chat",
    "meta/code-llama-instruct-34b-chat",
    "WizardLM/WizardLM-13B-V1.2",
    "mistralai/mistral-7b-chat",
)
ROUTERBENCH_TASKS = {"arc": "arc_challenge", "mbpp": "mbpp"}


@dataclass(frozen=True)
class Stream:
    """Prompts with every model's recorded correctness, cost and answer, in file order."""

    name: str
    models: tuple[str, ...]
    strong: str  # the reference model ("always-GPT-4")
    prompts: list[str]
    tasks: list[str]  # which task each prompt is from (ARC, MBPP, GSM8K...)
    correct: np.ndarray  # rows x models, 0/1
    cost: np.ndarray  # rows x models, USD
    answers: list[list[str | None]]  # rows x models (None: not recorded)

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def strong_index(self) -> int:
        return self.models.index(self.strong)

    def concat(self, other: Stream, name: str) -> Stream:
        assert self.models == other.models
        return Stream(
            name,
            self.models,
            self.strong,
            self.prompts + other.prompts,
            self.tasks + other.tasks,
            np.vstack([self.correct, other.correct]),
            np.vstack([self.cost, other.cost]),
            self.answers + other.answers,
        )


def default_routerbench_dir() -> Path:
    """ROUTEGRAPH_ROUTERBENCH_DIR, else the shared data next to the repository."""
    env = os.environ.get(ROUTERBENCH_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "routerbench"


def _first(cell: str) -> str:
    """RouterBench stores prompts and answers as a printed one-element Python list."""
    text = cell.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        if isinstance(value, list) and value:
            return str(value[0])
    return text


def load_routerbench(task: str, split: str, folder: Path | None = None) -> Stream | None:
    """One RouterBench task split as a stream; None when its file is absent."""
    path = (folder or default_routerbench_dir()) / f"{ROUTERBENCH_TASKS[task]}_{split}.csv"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    correct = np.array(
        [[float(r[m] or 0.0) for m in ROUTERBENCH_MODELS] for r in records], dtype=float
    )
    cost = np.array(
        [[float(r[f"{m}|total_cost"] or 0.0) for m in ROUTERBENCH_MODELS] for r in records]
    )
    return Stream(
        name=f"{task.upper()} {split}",
        models=ROUTERBENCH_MODELS,
        strong=STRONG,
        prompts=[_first(r["prompt"]) for r in records],
        tasks=[task.upper()] * len(records),
        correct=correct,
        cost=cost,
        answers=[[_first(r[f"{m}|model_response"]) for m in ROUTERBENCH_MODELS] for r in records],
    )


def load_routellm(name: str, split: str, data_dir: str | Path | None = None) -> Stream:
    """GSM8K or MMLU (Mixtral and GPT-4) from the shipped RouteLLM data, one split."""
    loader = {"gsm8k": datasets.load_gsm8k, "mmlu": datasets.load_mmlu}[name]
    rows = loader(data_dir)
    if split == "test":
        rows = datasets.held_out_rows(rows)
    else:
        contaminated = datasets.load_contaminated(data_dir)
        rows = datasets.training_rows(rows, contaminated)
    weak_cost, strong_cost = row_costs(rows, TierPricing.from_catalog())
    return Stream(
        name=f"{name.upper() if name == 'mmlu' else 'GSM8K'} {split}",
        models=(datasets.WEAK_MODEL, datasets.STRONG_MODEL),
        strong=datasets.STRONG_MODEL,
        prompts=[r.prompt for r in rows],
        tasks=[name.upper()] * len(rows),
        correct=np.array([[r.weak_good, r.strong_good] for r in rows], dtype=float),
        cost=np.column_stack([weak_cost, strong_cost]),
        answers=[[r.weak_response, r.strong_response] for r in rows],
    )


def mean_prices(streams: Sequence[Stream]) -> dict[str, float]:
    """Each model's mean cost per request over `streams` (train splits): its price list."""
    models = streams[0].models
    total = np.vstack([s.cost for s in streams])
    return {m: float(total[:, i].mean()) for i, m in enumerate(models)}
