"""The agreement verifier: comparable forms, what counts as agreeing, where it cannot help."""

from __future__ import annotations

from app.routing.agreement import canonical_answer, compare_answers, expected_form
from devtools.routing.datasets import Row

ARC = (
    "Which gas do plants take in for photosynthesis?\nA) oxygen\nB) carbon dioxide\n"
    "C) nitrogen\nD) helium\nPrint only a single choice.\nAnswer:"
)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_two_answers_naming_the_same_option_agree_however_they_say_it() -> None:
    assert expected_form(user(ARC)) == "choice"
    for first, second in (("B", "B\n"), ("(B)", "The answer is B."), ("['B']", "B) carbon")):
        verdict = compare_answers(first, second, user(ARC))
        assert verdict.accepted and verdict.form == "choice", (first, second)
        assert verdict.reason == "both answers give choice 'B'"


def test_different_options_disagree_and_an_answer_without_one_is_not_comparable() -> None:
    verdict = compare_answers("B", "D", user(ARC))
    assert not verdict.accepted and verdict.comparable
    assert verdict.reason == "answers disagree: choice 'B' vs 'D'"
    refusal = compare_answers("B", "I do not know", user(ARC))
    assert not refusal.accepted and not refusal.comparable
    assert refusal.reason == "the second answer has no choice"


def test_final_numbers_agree_across_worked_answers(gsm8k: list[Row]) -> None:
    """Recorded Mixtral and GPT-4 answers to GSM8K: equal final numbers agree, others not."""
    agreed = disagreed = 0
    numeric = [r for r in gsm8k[:80] if expected_form(user(r.prompt)) == "number"]
    assert len(numeric) > 50
    for row in numeric:
        verdict = compare_answers(row.weak_response, row.strong_response, user(row.prompt))
        assert verdict.form == "number"
        if verdict.accepted:
            agreed += 1
            assert verdict.first == canonical_answer(row.strong_response, "number")
        else:
            disagreed += 1
    assert agreed > 20 and disagreed > 5
    assert compare_answers("... #### 1,250", "so 1250.0 in all. #### 1250", user("a 2 b 3?"))


def test_json_fields_compare_by_value_not_by_spelling() -> None:
    fmt = {"type": "json_object"}
    same = compare_answers('{"City": "Paris", "n": 2}', '{"n": 2.0, "city": " paris"}', (), fmt)
    assert same.accepted and same.form == "json"
    other = compare_answers('{"city": "Paris"}', '{"city": "Lyon"}', (), fmt)
    assert not other.accepted and other.comparable


def test_free_text_cannot_be_verified_and_code_rarely_agrees() -> None:
    prose = compare_answers(
        "Photosynthesis turns light into chemical energy in the chloroplasts of plants.",
        "Plants use light to make sugar from carbon dioxide and water.",
    )
    assert not prose.accepted and not prose.comparable and prose.form is None
    assert "free text" in prose.reason
    a = "```python\ndef area(r):\n    return 3.14 * r * r  # circle\n```"
    b = "Here:\n```python\ndef area(r):\n\n    return 3.14  *  r * r\n```"
    c = "```python\nimport math\ndef area(radius):\n    return math.pi * radius ** 2\n```"
    assert compare_answers(a, b).accepted  # the same code, spaced and commented differently
    assert not compare_answers(a, c).accepted  # equivalent code still disagrees
    assert compare_answers("Paris.", "paris").accepted  # a short span
