"""Cheap, deterministic features of a request's text, shared by training and live routing.

The hot path avoids regular expressions (slow per character in CPython): one str.translate,
str.split and C-level str.count over a clipped text, so one routing decision costs tens of
microseconds. Training calls the very same `extract`, so live and offline features cannot
diverge.
"""

from __future__ import annotations

import itertools
import math
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

TASK_CLASSES: tuple[str, ...] = ("math", "code", "extraction", "reasoning", "chat", "creative")

_TOKEN_ESTIMATE_RE = re.compile(r"[^\W\d_]+|\d+|\S")  # offline only (cost estimates)
# One str.translate turns text into space-separated word and number-shape tokens: ASCII
# punctuation and whitespace become spaces, digits become "0" (so "1,250" -> "0 000").
# Text is folded to ASCII first (`to_ascii`): CPython's translate is ~50x slower off its
# ASCII fast path.
_TYPOGRAPHY = (
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u2013", "-"),
    ("\u2014", "-"),
    ("\u00a0", " "),
    ("\u00d7", "*"),  # multiplication sign
    ("\u00f7", "/"),  # division sign
)
_TOKEN_TABLE = str.maketrans(
    {
        **{c: " " for c in string.punctuation + string.whitespace},
        **{d: "0" for d in "123456789"},
    }
)
# A second translate keeps only the characters the dense features count, so each count
# runs over a few characters instead of the whole text.
_SPECIALS = "+*/=^<>$%{};?`\n"
_SPECIALS_TABLE = str.maketrans({chr(i): None for i in range(128) if chr(i) not in _SPECIALS})
_MATH_OPERATORS = "+*/=^<>"
_CHOICE_MARKERS = {
    "\nA.": ("\nA.", "\nB.", "\nC.", "\nD."),
    "\nA)": ("\nA)", "\nB)", "\nC)", "\nD)"),
}


# Keyword hits per task class: they drive the rule-based task class and are also dense
# features for the learned heads. Single lowercase words (multi-word cues live in _PHRASES).
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


KEYWORDS: dict[str, frozenset[str]] = {
    "math": _words(
        "calculate compute solve equation sum total average percent percentage probability "
        "integer integers remainder divided multiply fraction area perimeter ratio cost costs "
        "price dollars cents profit earn earns much many per each twice half triangle "
        "derivative integral polynomial prime digits math arithmetic value"
    ),
    "code": _words(
        "code python function program implement algorithm bug debug compile java javascript "
        "html css sql query regex array arrays list string binary tree class method api "
        "script runtime complexity recursion loop variable json parse git docker rust "
        "typescript unittest def return import include const"
    ),
    "extraction": _words(
        "extract extraction identify list table json csv yaml fields entities named parse "
        "format categorize classify label tag rate reviews records fill output structured "
        "schema keys summarize summary"
    ),
    "reasoning": _words(
        "why explain reason reasons reasoning logic logical infer implies therefore statement "
        "statements argument assumption conclude conclusion evaluate compare analyze analyse "
        "relationship true false plan strategy hypothesis evidence principle following"
    ),
    "creative": _words(
        "write story poem poet poems essay blog compose draft imagine creative fiction "
        "fictional character narrative lyrics song slogan headline vivid descriptive "
        "persuasive email letter pretend role persona rewrite tone humorous"
    ),
    "chat": _words(
        "hi hello hey thanks thank please you your me my chat tell advice suggest "
        "recommend help opinion feel think"
    ),
}
_PHRASES: dict[str, tuple[str, ...]] = {
    "math": (
        "how many",
        "how much",
        "how old",
        "how long",
        "how far",
        "how fast",
        "what percentage",
        "in total",
        "find the value",
    ),
    "code": ("write a function", "write a program", "time complexity", "unit test"),
    "extraction": ("in json", "json format", "extract the", "list all", "return the results"),
    "reasoning": (
        "which of the following",
        "step by step",
        "explain why",
        "is it true",
        "does not belong",
        "what could be",
    ),
    "creative": ("short story", "write a poem", "blog post", "act as", "role of"),
    "chat": ("how are you", "what do you think", "can you help"),
}


def _cue_index() -> dict[str, tuple[tuple[str, str | None], ...]]:
    """word -> (class, None) for keywords and (class, phrase) for phrases starting with it.

    One set intersection per request then finds every cue; phrases are only searched for
    when their first word occurs.
    """
    index: dict[str, tuple[tuple[str, str | None], ...]] = {}
    for name, words in KEYWORDS.items():
        for word in words:
            index[word] = (*index.get(word, ()), (name, None))
    for name, phrases in _PHRASES.items():
        for phrase in phrases:
            first = phrase.split()[0]
            index[first] = (*index.get(first, ()), (name, phrase))
    return index


_CUES = _cue_index()
_CUE_WORDS = frozenset(_CUES)

# Long prompts are cut to their head and tail (characters, then n-gram tokens) so the
# decision time stays bounded; MMLU-style prompts put the question and options at the end.
TEXT_HEAD_CHARS = 600
TEXT_TAIL_CHARS = 300
NGRAM_HEAD_TOKENS = 40
NGRAM_TAIL_TOKENS = 24

DENSE_FEATURES: tuple[str, ...] = (
    "log_chars",
    "log_tokens",
    "log_numbers",
    "number_density",
    "log_money_percent",
    "log_math_ops",
    "log_equals",
    "log_code_markers",
    "question_marks",
    "log_lines",
    "choices",
    "ends_with_answer",
    "chars_per_token",
    *(f"kw_{name}" for name in TASK_CLASSES),
)


class Features(NamedTuple):
    """Dense numeric features, the n-gram token window and per-class keyword hits.

    A NamedTuple (immutable like a frozen dataclass, but cheaper to build per request).
    """

    dense: tuple[float, ...]
    window: list[str]  # tokens the unigram/bigram weights apply to
    hits: Mapping[str, float]

    @property
    def n_keys(self) -> int:
        """Number of unigram plus bigram keys (the n-gram normaliser)."""
        return max(2 * len(self.window) - 1, 0)


def _part_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI-style content parts
        return "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else str(content)


def messages_text(messages: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """(user text, system text) of a chat request; assistant and tool turns are ignored."""
    user: list[str] = []
    system: list[str] = []
    for message in messages:
        role = message.get("role", "user")
        if role in ("system", "developer"):
            system.append(_part_text(message.get("content")))
        elif role == "user":
            user.append(_part_text(message.get("content")))
    return "\n\n".join(user), "\n\n".join(system)


def estimate_tokens(text: str) -> int:
    """Offline token-count estimate (no tokenizer download), close to BPE counts for English.

    Words count one token per started 6 letters, digit runs one per 3 digits (as cl100k
    chunks numbers), other non-space characters one each.
    """
    total = 0
    for piece in _TOKEN_ESTIMATE_RE.findall(text):
        if piece[0].isdigit():
            total += (len(piece) + 2) // 3
        elif piece[0].isalpha():
            total += (len(piece) + 5) // 6
        else:
            total += 1
    return total


def tokenize(lower: str) -> list[str]:
    """Words and number shapes of lowercased text (punctuation dropped, digits -> '0')."""
    return to_ascii(lower).translate(_TOKEN_TABLE).split()


def to_ascii(text: str) -> str:
    """ASCII fold: typographic quotes, dashes and x/÷ signs mapped, accents stripped.

    Other scripts drop out; the training data is English, so their n-grams would carry no
    learned weight anyway, and every later str method stays on its ASCII fast path.
    """
    if text.isascii():
        return text
    for fancy, plain in _TYPOGRAPHY:
        if fancy in text:
            text = text.replace(fancy, plain)
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def ngram_window(tokens: list[str]) -> list[str]:
    """Head and tail of the token stream, the part n-gram weights see."""
    if len(tokens) > NGRAM_HEAD_TOKENS + NGRAM_TAIL_TOKENS:
        return tokens[:NGRAM_HEAD_TOKENS] + tokens[-NGRAM_TAIL_TOKENS:]
    return tokens


def ngram_keys(window: list[str]) -> list[str]:
    """String keys ("word", "word word") of a window, as stored in the artifact."""
    return [*window, *map(" ".join, itertools.pairwise(window))]


def keyword_hits(lower: str, tokens: list[str]) -> dict[str, float]:
    """Per task class: distinct keyword hits in `tokens` plus phrase hits in `lower` (x2)."""
    hits = dict.fromkeys(TASK_CLASSES, 0.0)
    for word in set(tokens) & _CUE_WORDS:  # set & frozenset iterates the smaller side
        for name, phrase in _CUES[word]:
            if phrase is None:
                hits[name] += 1.0
            elif phrase in lower:
                hits[name] += 2.0
    return hits


def clip_text(text: str) -> str:
    """Head and tail of a long text: what every feature except the length looks at."""
    if len(text) <= TEXT_HEAD_CHARS + TEXT_TAIL_CHARS:
        return text
    return f"{text[:TEXT_HEAD_CHARS]}\n{text[-TEXT_TAIL_CHARS:]}"


def extract(text: str) -> Features:
    """All features of one request text."""
    clipped = to_ascii(clip_text(text))
    lower = clipped.lower()
    normalized = " " + lower.translate(_TOKEN_TABLE)
    tokens = normalized.split()
    window = ngram_window(tokens)
    n_tokens = len(tokens)
    n_numbers = normalized.count(" 0")  # number tokens start with "0" after a space
    hits = keyword_hits(lower, window)
    specials = clipped.translate(_SPECIALS_TABLE)
    count = specials.count
    choices = 0
    for first, markers in _CHOICE_MARKERS.items():
        if first in clipped:
            choices += sum(map(clipped.count, markers))
    dense = (
        math.log1p(len(text)),
        math.log1p(n_tokens),
        math.log1p(n_numbers),
        n_numbers / (n_tokens + 1),
        math.log1p(count("$") + count("%")),
        math.log1p(sum(map(count, _MATH_OPERATORS))),
        math.log1p(count("=")),
        math.log1p(count("{") + count(";") + count("```")),
        float(min(count("?"), 5)),
        math.log1p(count("\n")),
        float(min(choices, 6)),
        1.0 if lower.rstrip().endswith("answer:") else 0.0,
        len(clipped) / (n_tokens + 1),
        *[math.log1p(hits[name]) for name in TASK_CLASSES],
    )
    return Features(dense=dense, window=window, hits=hits)
