"""What a rejected spec or spec input reports: JSON pointers into the document and messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


def escape_token(token: str | int) -> str:
    """One JSON pointer reference token (RFC 6901: `~` -> `~0`, `/` -> `~1`)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    """`pointer("nodes", "judge", "prompt")` -> "/nodes/judge/prompt"."""
    return "".join("/" + escape_token(token) for token in tokens)


def split_pointer(value: str) -> list[str]:
    """The reference tokens of a pointer, unescaped ("" -> [])."""
    if not value:
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in value.split("/")[1:]]


@dataclass(frozen=True)
class SpecError:
    """One problem: where in the spec (a JSON pointer) and what is wrong."""

    pointer: str
    message: str
    line: int | None = None  # only for syntax errors, where no pointer can be given
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"pointer": self.pointer, "message": self.message}
        if self.line is not None:
            body["line"] = self.line
        if self.column is not None:
            body["column"] = self.column
        return body


class SpecInvalid(Exception):
    """The spec was rejected; `errors` lists every problem found, not only the first."""

    def __init__(self, errors: Iterable[SpecError]) -> None:
        unique: list[SpecError] = []
        for error in errors:
            if error not in unique:
                unique.append(error)
        self.spec_errors: tuple[SpecError, ...] = tuple(unique)
        self.errors: list[dict[str, Any]] = [error.to_json() for error in unique]
        first = unique[0] if unique else SpecError("", "invalid spec")
        more = f" (and {len(unique) - 1} more)" if len(unique) > 1 else ""
        super().__init__(f"{first.pointer or '/'}: {first.message}{more}")


class SpecInputInvalid(ValueError):
    """A run's input does not match the spec's input schema (pydantic-style `errors`)."""

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        self.errors: list[dict[str, Any]] = list(errors)
        first = self.errors[0] if self.errors else {"loc": [], "msg": "invalid input"}
        where = ".".join(str(part) for part in first.get("loc", [])) or "input"
        super().__init__(f"{where}: {first.get('msg')}")
