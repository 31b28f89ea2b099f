"""Prompt templates: variables, filters, loops, positions of errors, bounded rendering."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.spec.templates import (
    MAX_LOOP_ITERATIONS,
    MAX_RENDERED_CHARS,
    TemplateRenderError,
    TemplateSyntaxError,
    parse_template,
)

SCOPE = {
    "question": "Why?",
    "tags": ["a", "b", 3],
    "verdict": {"winner": "mid_2", "scores": [0.2, 0.9]},
    "answers": [{"name": "edge_1", "text": "hello world"}, {"name": "mid_2", "text": "x"}],
    "empty": [],
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Q: {{ question }}", "Q: Why?"),
        ("{{ verdict.winner }} {{ verdict.scores[1] }} {{ verdict.scores.0 }}", "mid_2 0.9 0.2"),
        ('{{ tags | join("; ") }}', "a; b; 3"),
        ("{{ verdict | json }}", '{"winner": "mid_2", "scores": [0.2, 0.9]}'),
        ("{{ tags }}", '["a", "b", 3]'),
        ("[{{ missing }}]", "[]"),
        ('{{ missing.deep | default("n/a") }}', "n/a"),
        ("{{ question | upper | lower }}", "why?"),
        ("{{ answers | length }}", "2"),
        ("{{ answers[0].text | truncate(5) }}", "hello..."),
        ('{{ "{{" }} literal', "{{ literal"),
        ("{% for a in answers %}{{ loop.index }}.{{ a.name }} {% endfor %}", "1.edge_1 2.mid_2 "),
        ("{% if empty %}yes{% else %}no{% endif %}", "no"),
        ("{% if not empty %}none{% endif %}", "none"),
        ("{# a comment #}x", "x"),
    ],
)
def test_templates_render_plain_json_values(source: str, expected: str) -> None:
    assert parse_template(source).render(SCOPE) == expected


def test_variables_are_the_free_names_with_their_position() -> None:
    template = parse_template(
        "Q: {{ question }}\n{% for a in answers %}{{ a.name }}{{ other }}{% endfor %}"
    )
    assert template.variables == [("question", 1, 7), ("answers", 2, 13), ("other", 2, 38)]


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        ("{{ }}", "empty {{ }}", 1, 3),
        ("Hi {{ name | shout }}", "unknown filter 'shout'", 1, 14),
        ("line\n  {{ name", "{{ is never closed", 2, 3),
        ("{% for x in items %}", "never closed by {% endfor %}", 1, 3),
        ("{% endif %}", "without an open {% if %}", 1, 3),
        ("{% while x %}", "unknown statement 'while'", 1, 3),
        ("{{ a.b. }}", "expected a key after '.'", 1, 7),
        ("{{ a | join(x) }}", "filter arguments must be literals", 1, 13),
        ("{{ a b }}", "unexpected 'b'", 1, 6),
    ],
)
def test_syntax_errors_say_where(source: str, message: str, line: int, column: int) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        parse_template(source)
    assert message in caught.value.message
    assert (caught.value.line, caught.value.column) == (line, column)


def test_python_attributes_are_not_reachable() -> None:
    # `.name` reads a dict key, never an attribute: no way to reach Python internals.
    template = parse_template("[{{ question.__class__ }}][{{ tags.__len__ }}][{{ verdict.keys }}]")
    assert template.render(SCOPE) == "[][][]"


def test_rendering_is_bounded() -> None:
    loops = parse_template("{% for a in xs %}{% for b in xs %}.{% endfor %}{% endfor %}")
    with pytest.raises(TemplateRenderError, match=f"more than {MAX_LOOP_ITERATIONS}"):
        loops.render({"xs": list(range(200))})
    big = parse_template("{% for a in xs %}{{ y }}{% endfor %}")
    with pytest.raises(TemplateRenderError, match=f"longer than {MAX_RENDERED_CHARS}"):
        big.render({"xs": list(range(200)), "y": "z" * 1000})


@settings(max_examples=300, deadline=500)
@given(st.text(alphabet="{}%#|.()[]\"' abx_019\n", max_size=80))
def test_any_text_parses_or_fails_with_a_syntax_error(source: str) -> None:
    try:
        template = parse_template(source)
    except TemplateSyntaxError:
        return
    with contextlib.suppress(TemplateRenderError):
        template.render(SCOPE)
