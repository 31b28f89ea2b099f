"""The task classifier: task class, complexity and per-tier p(good) for one request.

The learned part (two logistic heads over `features.extract`) is loaded once from the
committed `router_model.json`; the task class is rule-based from keyword hits and call-site
hints, because the recorded data has no task-class labels worth learning from.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.routing.everyday import is_everyday_chat
from app.routing.features import (
    DENSE_FEATURES,
    TASK_CLASSES,
    Features,
    clip_text,
    extract,
    keyword_hits,
    messages_text,
    tokenize,
)

ARTIFACT_VERSION = 1
_CODE_MARKERS = DENSE_FEATURES.index("log_code_markers")
_EQUALS = DENSE_FEATURES.index("log_equals")
_NUMBER_DENSITY = DENSE_FEATURES.index("number_density")
_NUMBERS = DENSE_FEATURES.index("log_numbers")
_CHOICES = DENSE_FEATURES.index("choices")
# Below this total keyword evidence a request is plain chat.
_MIN_CLASS_EVIDENCE = 1.0
# Call-site hints: substrings of the graph node name and the class they vote for.
_NODE_HINTS: tuple[tuple[str, str], ...] = (
    ("extract", "extraction"),
    ("parse", "extraction"),
    ("classif", "extraction"),
    ("tool", "extraction"),
    ("code", "code"),
    ("math", "math"),
    ("calc", "math"),
    ("plan", "reasoning"),
    ("judge", "reasoning"),
    ("review", "reasoning"),
    ("critic", "reasoning"),
    ("write", "creative"),
    ("draft", "creative"),
    ("story", "creative"),
    ("chat", "chat"),
    ("reply", "chat"),
)


@dataclass(frozen=True)
class Classification:
    """What the router needs to pick a tier: a task class and per-tier p(good enough).

    p_good["edge"] is the learned probability that the weak recorded model (Mixtral, priced
    as edge) answers well; p_good["frontier"] is a second head for the strong model
    (GPT-4). No mid-tier model was recorded, so p_good["mid"] is interpolated:
    edge + mid_share * (frontier - edge), mid_share = 0.5 from the artifact. complexity
    is 1 - p_good["edge"]: how likely the cheapest tier is to fall short.
    """

    task_class: str
    complexity: float
    p_good: Mapping[str, float]
    dense: tuple[float, ...] = ()  # the text's dense features (the OOD test reuses them)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def task_class_of(
    features: Features,
    system_hits: Mapping[str, float] | None = None,
    *,
    node: str | None = None,
    has_tools: bool = False,
    response_format: Mapping[str, Any] | None = None,
) -> str:
    """Highest-evidence class from keyword hits, structure and call-site hints; else chat."""
    dense = features.dense
    score = dict(features.hits)
    if system_hits:
        for name, value in system_hits.items():
            score[name] += 0.5 * value
    score["code"] += 3.0 * dense[_CODE_MARKERS]
    score["math"] += 2.0 * dense[_EQUALS] + 4.0 * dense[_NUMBER_DENSITY] + 0.5 * dense[_NUMBERS]
    score["reasoning"] += 0.5 * dense[_CHOICES]
    score["chat"] *= 0.5  # chat words are everywhere; they only win when nothing else does
    if response_format and response_format.get("type") in ("json_object", "json_schema"):
        score["extraction"] += 3.0
    if has_tools:
        score["extraction"] += 2.0
    if node:
        lowered = node.lower()
        for needle, name in _NODE_HINTS:
            if needle in lowered:
                score[name] += 3.0
    best = max(TASK_CLASSES, key=lambda name: score[name])
    return best if score[best] >= _MIN_CLASS_EVIDENCE else "chat"


def _node_hint(node: str | None) -> bool:
    lowered = (node or "").lower()
    return any(needle in lowered for needle, name in _NODE_HINTS if name != "chat")


class TaskClassifier:
    """Scores requests with the committed artifact; build with `TaskClassifier.load()`."""

    def __init__(self, model: Mapping[str, Any]) -> None:
        if model.get("version") != ARTIFACT_VERSION:
            raise ValueError(f"router model version {model.get('version')!r} not supported")
        if tuple(model["dense_features"]) != DENSE_FEATURES:
            raise ValueError("router model was trained on a different dense feature set")
        self.heads: tuple[str, ...] = tuple(model["heads"])
        if self.heads != ("edge", "frontier"):
            raise ValueError(f"router model heads {self.heads} are not (edge, frontier)")
        self.mid_share = float(model["mid_share"])
        self._bias = tuple(float(b) for b in model["bias"])
        self._dense = tuple(tuple(float(x) for x in row) for row in model["dense_weights"])
        # One complex number per n-gram (real: edge, imag: frontier) so both heads are
        # summed in one C-level pass; bigrams are keyed by token pairs so no strings are
        # built per request.
        self._unigrams: dict[str, complex] = {}
        self._bigrams: dict[tuple[str, str], complex] = {}
        for key, (w_edge, w_front) in model["ngram_weights"].items():
            first, _, second = key.partition(" ")
            if second:
                self._bigrams[(first, second)] = complex(w_edge, w_front)
            else:
                self._unigrams[first] = complex(w_edge, w_front)
        self.training: Mapping[str, Any] = model.get("training", {})

    @classmethod
    def load(cls, path: str | Path | None = None) -> TaskClassifier:
        """Read the artifact (the committed one by default)."""
        source = Path(path) if path is not None else Path(__file__).with_name("router_model.json")
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"router model {source} is missing; run `python -m devtools.routing.training`"
            ) from None
        return cls(data)

    def logits(self, features: Features) -> tuple[float, float]:
        """Raw (edge, frontier) logits of one featurised text."""
        window = features.window
        z_edge = self._bias[0] + sum(map(operator.mul, self._dense[0], features.dense))
        z_front = self._bias[1] + sum(map(operator.mul, self._dense[1], features.dense))
        if window:
            zero = itertools.repeat(0j)
            acc = sum(map(self._unigrams.get, window, zero)) + sum(
                map(self._bigrams.get, itertools.pairwise(window), zero)
            )
            acc /= math.sqrt(features.n_keys)
            z_edge += acc.real
            z_front += acc.imag
        return z_edge, z_front

    def score_text(self, text: str) -> tuple[float, float]:
        """(p edge good, p frontier good) for a bare prompt; used by the offline benchmark."""
        z_edge, z_front = self.logits(extract(text))
        return _sigmoid(z_edge), _sigmoid(z_front)

    def classify(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        node: str | None = None,
        has_tools: bool = False,
        response_format: Mapping[str, Any] | None = None,
    ) -> Classification:
        """Classify one chat request (user turns drive the scores; system text hints the class)."""
        user, system = messages_text(messages)
        features = extract(user or system)
        system_hits = None
        if system and user:
            lowered = clip_text(system).lower()
            system_hits = keyword_hits(lowered, tokenize(lowered))
        z_edge, z_front = self.logits(features)
        p_edge, p_front = _sigmoid(z_edge), _sigmoid(z_front)
        p_mid = p_edge + self.mid_share * (p_front - p_edge)
        # Everyday chat is told by rule (no recorded data has it); tools, a JSON answer or
        # a node named for a task still say what the call is for.
        everyday = (
            not has_tools
            and not response_format
            and not _node_hint(node)
            and is_everyday_chat(user or system)
        )
        return Classification(
            task_class="chat"
            if everyday
            else task_class_of(
                features,
                system_hits,
                node=node,
                has_tools=has_tools,
                response_format=response_format,
            ),
            complexity=1.0 - p_edge,
            p_good={"edge": p_edge, "mid": p_mid, "frontier": p_front},
            dense=features.dense,
        )
