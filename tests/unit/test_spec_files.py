"""`check_spec_file`, what `routegraph graphs validate FILE` prints."""

from __future__ import annotations

import json
from pathlib import Path

from app.routing.catalog import load_catalog
from graphs.spec import SpecEnvironment, check_spec_file, parse_spec_text

ENV = SpecEnvironment(load_catalog())
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


def test_a_valid_file_gives_the_validated_spec() -> None:
    validated, report = check_spec_file(EXAMPLES / "debate_judge.yaml", ENV)
    assert validated is not None and validated.spec.name == "debate-judge" and report == ""


def test_errors_are_printed_against_the_yaml_lines(tmp_path: Path) -> None:
    source = (EXAMPLES / "debate_judge.yaml").read_text()
    broken = source.replace("judge: {tier: frontier}", "judge: {tier: fronteir}").replace(
        'prompt: "{{ question }}"', 'prompt: "{{ qestion }}"'
    )
    path = tmp_path / "debate.yaml"
    path.write_text(broken)
    validated, report = check_spec_file(path, ENV)
    assert validated is None
    lines = broken.splitlines()
    prompt_line = next(i for i, line in enumerate(lines, 1) if "qestion" in line)
    tier_line = next(i for i, line in enumerate(lines, 1) if "fronteir" in line)
    assert f"{path}:{prompt_line}: /nodes/debate/prompt: template variable 'qestion'" in report
    assert f"{path}:{tier_line}: /nodes/debate/judge/tier: unknown tier 'fronteir'" in report
    assert f"  {tier_line:>4} |     judge: {{tier: fronteir}}" in report


def test_json_files_and_syntax_errors(tmp_path: Path) -> None:
    document = parse_spec_text((EXAMPLES / "cascade.yaml").read_text())
    document["nodes"]["solve"]["tiers"] = ["edge", "gold"]
    path = tmp_path / "cascade.json"
    path.write_text(json.dumps(document, indent=2))
    _, report = check_spec_file(path, ENV)
    assert "/nodes/solve/tiers/1: unknown tier 'gold'" in report
    assert '|         "gold"' in report
    path.write_text('{"name": "x",\n  "state": }')
    _, report = check_spec_file(path, ENV)
    assert report.startswith(f"{path}:2: JSON syntax error")
    path.write_bytes(b"\xff\xfe")
    assert "not UTF-8" in check_spec_file(path, ENV)[1]
