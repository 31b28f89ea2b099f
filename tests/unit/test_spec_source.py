"""Reading spec text: safe YAML/JSON, errors with lines, pointers mapped back to lines."""

from __future__ import annotations

import json

import pytest

from graphs.spec import SpecInvalid, format_errors_against_source, parse_spec_text, pointer_to_line
from graphs.spec.source import MAX_NESTING, MAX_SPEC_BYTES

SPEC = """\
name: demo
state:
  question: {type: string}
nodes:
  judge:
    kind: llm
    prompt: "{{ question }}"
  steps:
    - first
    - second
"""


def errors_of(text: str, fmt: str | None = None) -> list[dict[str, object]]:
    with pytest.raises(SpecInvalid) as caught:
        parse_spec_text(text, fmt)  # type: ignore[arg-type]
    return caught.value.errors


def test_yaml_and_json_give_the_same_document() -> None:
    document = parse_spec_text(SPEC)
    assert document["nodes"]["judge"]["prompt"] == "{{ question }}"
    assert parse_spec_text(json.dumps(document)) == document
    assert parse_spec_text(json.dumps(document), "json") == document


def test_a_yaml_syntax_error_names_its_line_and_column() -> None:
    (error,) = errors_of("name: demo\nnodes:\n  a: [1, 2\n")
    assert error["pointer"] == "" and error["line"] == 4
    assert "YAML syntax error" in str(error["message"])


def test_a_json_syntax_error_names_its_line() -> None:
    (error,) = errors_of('{\n  "name": "demo",\n  "nodes": }\n')
    assert error["line"] == 3 and "JSON syntax error" in str(error["message"])


def test_yaml_aliases_are_refused_so_no_billion_laughs() -> None:
    (error,) = errors_of("a: &x [1, 2]\nb: [*x, *x]\n")
    assert "aliases" in str(error["message"]) and error["line"] == 2


def test_duplicate_keys_are_refused_in_yaml_and_json() -> None:
    (error,) = errors_of("name: a\nname: b\n")
    assert error["message"] == "duplicate key 'name'" and error["line"] == 2
    (error,) = errors_of('{"name": "a", "name": "b"}')
    assert error["message"] == "duplicate key 'name'"


def test_yaml_booleans_as_keys_are_explained() -> None:
    (error,) = errors_of("on: 1\n")
    assert "not a string" in str(error["message"]) and "on/off" in str(error["message"])


def test_only_json_values_survive_a_yaml_document() -> None:
    assert parse_spec_text("when: 2024-01-01\n") == {"when": "2024-01-01"}  # no datetime
    (error,) = errors_of("blob: !!binary aGk=\n")
    assert error["pointer"] == "/blob"
    with pytest.raises(SpecInvalid):
        parse_spec_text("x: !!python/object:os.system ls\n")  # SafeLoader refuses
    (error,) = errors_of('{"x": NaN}')
    assert "NaN" in str(error["message"])


def test_specs_over_the_size_limit_are_refused_before_parsing() -> None:
    (error,) = errors_of("a: " + "x" * MAX_SPEC_BYTES)
    assert "limit" in str(error["message"])


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, "a:\n" + "".join(f"{'  ' * i}- \n" for i in range(60)), '{"a":' * 50_000],
)
def test_deep_nesting_is_refused_without_a_recursion_error(text: str) -> None:
    (error,) = errors_of(text)
    assert "nest" in str(error["message"]) or "syntax" in str(error["message"])


def test_the_top_level_must_be_a_mapping() -> None:
    (error,) = errors_of("- a\n- b\n")
    assert error["message"] == "a spec is a mapping of fields; found a list"
    assert errors_of("")[0]["message"] == "a spec is a mapping of fields; found nothing"
    assert MAX_NESTING > 10


def test_pointer_to_line_finds_keys_items_and_the_nearest_ancestor() -> None:
    assert pointer_to_line(SPEC, "/nodes/judge/prompt") == 7
    assert pointer_to_line(SPEC, "/nodes/steps/1") == 10
    assert pointer_to_line(SPEC, "/nodes/judge/output") == 5  # missing: the node's line
    assert pointer_to_line(SPEC, "") == 1
    assert pointer_to_line("a: [", "/a") is None


def test_pointer_to_line_reads_json_sources_too() -> None:
    text = json.dumps(parse_spec_text(SPEC), indent=2)
    line = pointer_to_line(text, "/nodes/judge/prompt")
    assert line is not None and '"prompt"' in text.splitlines()[line - 1]


def test_pointer_tokens_are_unescaped() -> None:
    text = "schema:\n  a/b:\n    c~d: 1\n"
    assert pointer_to_line(text, "/schema/a~1b/c~0d") == 3


def test_errors_are_printed_against_the_file_lines() -> None:
    printed = format_errors_against_source(
        SPEC,
        [
            {
                "pointer": "/nodes/judge/prompt",
                "message": "template variable 'x' is not in the state",
            },
            {"pointer": "", "message": "syntax", "line": 2, "column": 3},
        ],
        filename="demo.yaml",
    )
    lines = printed.splitlines()
    assert lines[0] == "demo.yaml:7: /nodes/judge/prompt: template variable 'x' is not in the state"
    assert lines[1] == '     7 |     prompt: "{{ question }}"'
    assert lines[2] == "demo.yaml:2: syntax"
    assert lines[3] == "     2 | state:"
    assert lines[4].endswith("^") and lines[3][lines[4].index("^")] == "a"  # column 3
