"""Checking a spec file for `routegraph graphs validate FILE`: errors against its lines."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from graphs.spec.environment import SpecEnvironment
from graphs.spec.errors import SpecInvalid
from graphs.spec.source import format_errors_against_source, parse_spec_text
from graphs.spec.validate import ValidatedSpec, validate_spec


def _format_of(path: Path) -> Literal["json", "yaml"] | None:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return None  # decided from the text


def check_spec_file(path: Path, env: SpecEnvironment) -> tuple[ValidatedSpec | None, str]:
    """(the validated spec, "") or (None, every error as `file:line: /pointer: message`
    followed by the offending source line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
    try:
        return validate_spec(parse_spec_text(text, _format_of(path)), env), ""
    except SpecInvalid as invalid:
        return None, format_errors_against_source(text, invalid.errors, filename=str(path))
