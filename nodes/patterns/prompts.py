"""The built-in system prompts of the patterns and the messages they send.

Each prompt opens with a `ROLE: x` line (the provider simulator answers by role) and the
messages use `## Heading` sections, so both a real model and the simulator can read them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

DEBATER_PROMPT = """ROLE: debater
You are {name}, one of {count} debaters answering the same question independently.
Show your reasoning step by step, writing each computation as "a op b = c", and end with a
line "#### <final answer>". In later rounds you see the other debaters' last answers:
keep your answer if it holds up, change it if theirs is right."""

JUDGE_PROMPT = """ROLE: judge
You judge a debate between {count} debaters: {names}. Read the question and each
debater's final answer. Pick the debater whose answer is correct and best argued, or
"merge" when the right answer combines several. Reply with only a JSON object:
{{"winner": "<{choices} or merge>", "answer": "<the final answer>",
"reason": "<why, naming the debaters>"}}"""

SOLVER_PROMPT = """ROLE: solver
Answer the question. Show your work, writing each computation as "a op b = c", and end
with a line "#### <final answer>"."""

VERIFIER_PROMPT = """ROLE: verifier
Check a draft answer to the question. Accept it when it is correct and complete; reject it
otherwise. Reply with only a JSON object:
{"verdict": "accept" or "reject", "reason": "<what you checked and what is wrong, if anything>"}"""

FIXER_PROMPT = """ROLE: fixer
A verifier rejected the draft answer below. Write the correct, complete answer. Show your
work as "a op b = c" steps and end with a line "#### <final answer>"."""

EXTRACTOR_PROMPT = """ROLE: extractor
Reply with only a JSON object that validates against this JSON Schema:
{schema}"""


def with_instructions(role_prompt: str, instructions: str | None) -> str:
    """The role prompt first (it names the role), the author's own instructions after."""
    return f"{role_prompt}\n\n{instructions}" if instructions else role_prompt


def sections(*parts: tuple[str, str]) -> str:
    """`## Heading` blocks, e.g. sections(("Question", q), ("Draft answer", d))."""
    return "\n\n".join(f"## {heading}\n{body.strip()}" for heading, body in parts)


def extractor_prompt(schema: dict[str, Any]) -> str:
    return EXTRACTOR_PROMPT.format(schema=json.dumps(schema, sort_keys=True))


def judge_prompt(names: Sequence[str]) -> str:
    choices = " | ".join(names)
    return JUDGE_PROMPT.format(count=len(names), names=", ".join(names), choices=choices)
