"""The recorded-output data ships in benchmarks/data: a test that cannot find it fails."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest

from devtools.routing.datasets import STRONG_MODEL, WEAK_MODEL, DataMissingError


def data_missing(exc: DataMissingError) -> NoReturn:
    pytest.fail(f"the routing data shipped in benchmarks/data/routellm is missing: {exc}")


def write_tiny_routing_data(root: Path) -> None:
    """A few dozen synthetic rows per dataset in the RouteLLM layout (fast end-to-end runs)."""
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
