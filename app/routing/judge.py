"""A judge as a verifier: another model reads the request and a cheap answer and says whether
the answer correctly and completely answers it.

Where an answer cannot be compared (free prose, explanations, code), agreement says nothing;
a judge can still catch an answer that is off-topic, incomplete, ignores the request's
constraints or is plainly wrong. It is a model reading a model, so it misses what it does
not know itself, and it costs a call whose prompt holds the whole answer. Who judges:
`judge_with` (a model or a tier), else `JUDGE_TIER`'s first model other than the one that
answered - able enough to read an answer critically, far cheaper than the frontier. The
verdict is JSON; anything that cannot be read as accept or reject counts as reject.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.routing.catalog import TIER_ORDER, Catalog, ModelSpec, TierName
from app.routing.features import messages_text
from app.routing.verifiers import Verdict

JUDGE = "judge"
JUDGE_TIER: TierName = "mid"
JUDGE_MAX_TOKENS = 200
JUDGE_OUTPUT_TOKENS = 60  # what a verdict with a one-sentence reason takes (cost estimates)
RUBRIC_TOKENS = 150  # the rubric and section headings (cost estimates)
MAX_SECTION_CHARS = 12_000  # a longer request or answer is cut (the judge reads the start)

JUDGE_RUBRIC = """ROLE: verifier
You are a strict judge of another model's draft answer. Accept it only if it answers the
request correctly and completely: every part of the request is addressed, its constraints
(form, length, language, audience) are met, and nothing it states is false. Reject it if
anything is missing, wrong or off-topic, or if you are not sure. Do not rewrite the answer.
Reply with only a JSON object:
{"verdict": "accept" or "reject", "reason": "<one sentence: what you checked, what is wrong>"}"""

_ACCEPT = frozenset({"accept", "accepted", "pass", "passed", "yes", "correct"})
_REJECT = frozenset({"reject", "rejected", "fail", "failed", "no", "incorrect"})
_VERDICT_WORDS = frozenset({"accept", "accepted", "reject", "rejected"})
_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)```", re.DOTALL)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_FIRST_WORD = re.compile(r"^\W*([A-Za-z]+)")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SECTION_CHARS else text[:MAX_SECTION_CHARS] + " [...]"


def judge_messages(
    messages: Sequence[Mapping[str, Any]], answer: str | None
) -> list[dict[str, str]]:
    """The judge's conversation: the rubric, then the request (its instructions, the
    question) and the draft answer as `## Heading` sections."""
    user, system = messages_text(messages)
    parts = []
    if system.strip():
        parts.append(("Instructions", system))
    parts.append(("Question", user))
    parts.append(("Draft answer", answer or "(empty)"))
    body = "\n\n".join(f"## {heading}\n{_cut(text.strip())}" for heading, text in parts)
    return [{"role": "system", "content": JUDGE_RUBRIC}, {"role": "user", "content": body}]


def parse_judgement(text: str | None) -> Verdict:
    """The judge's reply as a verdict: a JSON object's `verdict` (in a code fence or amid
    text too), else a reply opening with the word accept or reject; anything else rejects."""
    raw = (text or "").strip()
    candidates = [raw, *_FENCE.findall(raw)]
    found = _OBJECT.search(raw)
    if found:
        candidates.append(found.group(0))
    for candidate in candidates:
        try:
            parsed = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            return _from_object(parsed, raw)
        break  # JSON, but not an object: no verdict in it
    else:
        return _from_words(raw)
    return Verdict(False, f"unparseable verdict (counts as reject): {_show(raw)}")


def _from_words(raw: str) -> Verdict:
    # Without JSON only the verdict words themselves count ("Yes, but..." is no verdict).
    word = _FIRST_WORD.match(raw)
    if word and word.group(1).lower() in _VERDICT_WORDS:
        accepted = word.group(1).lower().startswith("accept")
        return Verdict(accepted, f"judge {'accepts' if accepted else 'rejects'}: {_show(raw)}")
    return Verdict(False, f"unparseable verdict (counts as reject): {_show(raw)}")


def _from_object(parsed: Mapping[str, Any], raw: str) -> Verdict:
    fields = {str(k).strip().lower(): v for k, v in parsed.items()}
    value = fields.get("verdict")
    verdict = value.strip().lower() if isinstance(value, str) else None
    if isinstance(value, bool):
        verdict = "accept" if value else "reject"
    reason = fields.get("reason")
    why = _show(reason) if isinstance(reason, str) and reason.strip() else "no reason given"
    if verdict in _ACCEPT:
        return Verdict(True, f"judge accepts: {why}")
    if verdict in _REJECT:
        return Verdict(False, f"judge rejects: {why}")
    return Verdict(False, f"unparseable verdict (counts as reject): {_show(raw)}")


def _show(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def judge_model(
    catalog: Catalog,
    answered: ModelSpec,
    judge_with: str | None = None,
    allowed: Callable[[ModelSpec], bool] = lambda _: True,
) -> ModelSpec | None:
    """Who judges `answered`'s answer. A model or tier the policy names is kept (a tier's
    first model other than the one that answered; the provider rules may refuse it); by
    default the first allowed model of `JUDGE_TIER`, then of the tiers above and below it,
    that is not the one that answered. None when no such model exists."""
    if judge_with is not None:
        if judge_with in catalog.models:
            return catalog.model(judge_with)
        chain = catalog.chain(judge_with)  # type: ignore[arg-type]
        return next((m for m in chain if m.name != answered.name), chain[0])
    start = TIER_ORDER.index(JUDGE_TIER)
    order = [*TIER_ORDER[start:], *reversed(TIER_ORDER[:start])]
    for tier in order:
        if tier not in catalog.tiers:
            continue
        for model in catalog.chain(tier):
            if model.name != answered.name and allowed(model):
                return model
    return None


def judge_cost(judge: ModelSpec, prompt_tokens: int, answer_tokens: int) -> float:
    """Expected USD of one judge call on a request of `prompt_tokens` and its answer."""
    return judge.cost_usd(prompt_tokens + answer_tokens + RUBRIC_TOKENS, JUDGE_OUTPUT_TOKENS)


def valid_judge(catalog: Catalog, judge_with: str) -> bool:
    """Whether `judge_with` names a catalog model or tier."""
    return judge_with in catalog.models or judge_with in catalog.tiers
