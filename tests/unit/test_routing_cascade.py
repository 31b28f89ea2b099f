"""The GSM8K cascade's answer check."""

from __future__ import annotations

import pytest

from app.routing.answer_check import _evaluate, check_answer, unused_quantities

PROMPT = "Sam has 12 apples and buys 3 bags with 4 apples each. How many apples does he have?"
CONSISTENT = "He buys 3 * 4 = <<3*4=12>>12 apples.\nIn total he has 12 + 12 = 24 apples.\n#### 24"
INCONSISTENT = "He buys 3 * 4 = <<3*4=12>>12 apples.\nIn total he has 12 + 12 = 26 apples.\n#### 26"


def test_consistent_worked_answer_passes() -> None:
    check = check_answer(CONSISTENT, PROMPT)
    assert check.final_answer == 24
    assert check.equations_checked >= 2  # the <<...>> annotation and the plain-text steps
    assert check.equations_wrong == 0
    assert check.passed


def test_inconsistent_arithmetic_fails() -> None:
    check = check_answer(INCONSISTENT, PROMPT)
    assert check.equations_wrong == 1
    assert not check.passed


@pytest.mark.parametrize(
    "response",
    [
        "He has 12 + 12 = 24 apples in total.",  # no final answer line
        "Each bag holds 4 apples, so 3 * 4 = 12 and 12 + 12 = 24, #### 24.5",  # not whole
        "3 * 4 = 12, 12 + 12 = 24. However, we round to 25.\n#### 25",  # hedged
    ],
)
def test_format_and_confidence_failures(response: str) -> None:
    assert not check_answer(response, PROMPT).passed


def test_an_ignored_quantity_fails_the_check() -> None:
    prompt = "Sam has 10 apples and buys 3 bags with 4 apples each. How many apples now?"
    skipped = "He buys 3 * 4 = 12 apples.\n#### 12"
    assert unused_quantities(prompt, skipped) == 1
    assert not check_answer(skipped, prompt).passed
    assert check_answer("3 * 4 = 12 and 10 + 12 = 22.\n#### 22", prompt).passed
    assert unused_quantities("A 25% tip on 80 dollars", "0.25 * 80 = 20") == 0


def test_arithmetic_evaluator_respects_precedence_and_refuses_code() -> None:
    assert _evaluate("2 + 3 * 4") == 14
    assert _evaluate("(2 + 3) x 4") == 20
    assert _evaluate("1,200 / 4 - -3") == 303
    assert _evaluate("__import__('os')") is None
    assert _evaluate("5 / 0") is None
