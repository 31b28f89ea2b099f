"""Everyday chat: greetings, short facts, short lists and rewriting, told apart by rule.

None of the recorded datasets the classifier learned from (GSM8K, MMLU, MT-Bench) holds
such requests, so its topic model calls them out of distribution; yet they are what most
people send first and the cheapest tier answers them well. A short request counts as
everyday chat when it opens like one (a greeting, "what is the capital of", "name three",
"rewrite this", "translate") and shows nothing of a harder task: no code, no arithmetic,
no answer options, no numbers beyond a count.
"""

from __future__ import annotations

from app.routing.features import to_ascii

MAX_WORDS = 40  # longer requests are not everyday chat, whatever they open with


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_GREETINGS = _words(
    "hi hello hey hiya howdy thanks thank cheers good morning afternoon evening bye goodbye "
    "ok okay great nice cool"
)
_OPENINGS: tuple[str, ...] = (
    # short facts
    "what is the capital",
    "what's the capital",
    "who is",
    "who was",
    "who wrote",
    "who painted",
    "who invented",
    "when is",
    "when was",
    "when did",
    "where is",
    "where was",
    "what is a",
    "what is an",
    "what is the",
    "what does",
    "what colour",
    "what color",
    "how do you say",
    "how do you spell",
    "define",
    "what time zone",
    "what language",
    # lists
    "name",
    "list",
    "give me",
    "suggest",
    "recommend",
    "tell me",
    # rewriting
    "rewrite",
    "rephrase",
    "paraphrase",
    "translate",
    "fix the grammar",
    "correct the grammar",
    "correct this",
    "fix this sentence",
    "make this",
    "make it",
    "shorten",
    "summarize this sentence",
    "summarise this sentence",
    "how are you",
)
# Signs of a task that is not everyday chat, whatever the opening says.
_HARD_WORDS = _words(
    "code function python javascript sql regex algorithm program script compile debug "
    "calculate compute solve equation derivative integral prove theorem probability json "
    "yaml csv schema api class method explain describe elaborate differences analyze "
    "analyse essay story poem"
)
_HARD_CHARS = frozenset("=+*/^{}<>$%`;\\|")


def is_everyday_chat(text: str) -> bool:
    """True for short everyday requests the edge tier answers well (see the module doc)."""
    plain = to_ascii(text).strip()
    if not plain or "\n" in plain or plain.count("?") > 1:
        return False
    words = plain.lower().replace("?", " ").replace("!", " ").replace(",", " ").split()
    words = [w.strip(".:;'\"()") for w in words]
    if not words or len(words) > MAX_WORDS:
        return False
    if _HARD_CHARS.intersection(plain) or _HARD_WORDS.intersection(words):
        return False
    if sum(any(ch.isdigit() for ch in w) for w in words) > 1:
        return False  # "name 3 colours" is a count; more numbers look like arithmetic
    if words[0] in _GREETINGS:
        return True
    lowered = " ".join(words)
    return any(lowered.startswith(opening) for opening in _OPENINGS)
