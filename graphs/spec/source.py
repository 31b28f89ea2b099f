"""Reading spec text (YAML or JSON) safely, and mapping JSON pointers back to source lines."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Literal

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from graphs.spec.errors import SpecError, SpecInvalid, pointer, split_pointer

MAX_SPEC_BYTES = 256 * 1024
MAX_NESTING = 40  # containers inside containers; a spec needs far fewer


class _SpecSyntaxError(Exception):
    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader without aliases (no billion laughs), duplicate keys or implicit dates,
    and with a nesting limit enforced while composing (PyYAML's composer recurses)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise _SpecSyntaxError(
                "YAML aliases (*name) are not allowed in specs",
                event.start_mark.line + 1,
                event.start_mark.column + 1,
            )
        self._depth += 1
        if self._depth > MAX_NESTING:
            mark = self.peek_event().start_mark
            raise _SpecSyntaxError(
                f"nested deeper than {MAX_NESTING} levels", mark.line + 1, mark.column + 1
            )
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key, str):
                raise _SpecSyntaxError(
                    f"mapping key {key!r} is not a string (quote it: YAML reads on/off/yes/no "
                    "as booleans and digits as numbers)",
                    *where,
                )
            if key in seen:
                raise _SpecSyntaxError(f"duplicate key {key!r}", *where)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_document(text: str) -> Any:
    loader = _SpecLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def _json_document(text: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise _SpecSyntaxError(f"duplicate key {key!r}")
            result[key] = value
        return result

    def no_constants(name: str) -> Any:
        raise _SpecSyntaxError(f"{name} is not a JSON number")

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise _SpecSyntaxError(f"JSON syntax error: {exc.msg}", exc.lineno, exc.colno) from exc


def check_json_values(document: Any) -> list[SpecError]:
    """Only JSON values, nested at most MAX_NESTING deep (walked without recursion)."""
    errors: list[SpecError] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack and len(errors) < 20:
        value, path = stack.pop()
        if len(path) > MAX_NESTING:
            errors.append(SpecError(pointer(*path), f"nested deeper than {MAX_NESTING} levels"))
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    errors.append(SpecError(pointer(*path), f"key {key!r} is not a string"))
                    continue
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            errors.append(SpecError(pointer(*path), f"{value} is not a JSON number"))
        elif value is not None and not isinstance(value, str | int | float | bool):
            kind = type(value).__name__
            errors.append(SpecError(pointer(*path), f"a {kind} is not a JSON value"))
    return errors


def detect_format(text: str) -> Literal["json", "yaml"]:
    """JSON when the text starts with `{`, else YAML (which JSON documents also are)."""
    return "json" if text.lstrip().startswith("{") else "yaml"


def parse_spec_text(text: str, fmt: Literal["json", "yaml"] | None = None) -> dict[str, Any]:
    """The spec document in `text`; SpecInvalid (with line and column) when it cannot be read."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_SPEC_BYTES:
        raise SpecInvalid([SpecError("", f"spec is {size} bytes; the limit is {MAX_SPEC_BYTES}")])
    fmt = fmt or detect_format(text)
    try:
        document = _json_document(text) if fmt == "json" else _yaml_document(text)
    except _SpecSyntaxError as exc:
        raise SpecInvalid([SpecError("", exc.message, exc.line, exc.column)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise SpecInvalid([SpecError("", f"YAML syntax error: {problem}", line, column)]) from None
    except yaml.YAMLError as exc:  # e.g. a reader error: a control character in the text
        raise SpecInvalid([SpecError("", f"YAML error: {exc}")]) from None
    except RecursionError:
        raise SpecInvalid([SpecError("", f"nested deeper than {MAX_NESTING} levels")]) from None
    if not isinstance(document, dict):
        found = "nothing" if document is None else f"a {type(document).__name__}"
        raise SpecInvalid([SpecError("", f"a spec is a mapping of fields; found {found}")])
    errors = check_json_values(document)
    if errors:
        raise SpecInvalid(errors)
    return document


def _compose(text: str) -> Node | None:
    loader = _SpecLoader(text)
    try:
        return loader.get_single_node()  # type: ignore[no-any-return]
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def pointer_to_line(text: str, json_pointer: str) -> int | None:
    """The 1-based line of `json_pointer` in YAML or JSON source (the nearest existing
    ancestor's line when the pointer names something missing); None if unreadable."""
    try:
        node = _compose(text)
    except (yaml.YAMLError, _SpecSyntaxError, RecursionError):
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1
    for token in split_pointer(json_pointer):
        if isinstance(node, MappingNode):
            match = next(
                (
                    (key, value)
                    for key, value in node.value
                    if isinstance(key, ScalarNode) and key.value == token
                ),
                None,
            )
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif (
            isinstance(node, SequenceNode)
            and token.isascii()
            and token.isdigit()
            and int(token) < len(node.value)
        ):
            node = node.value[int(token)]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def format_errors_against_source(
    text: str, errors: Sequence[dict[str, Any]], filename: str = "spec"
) -> str:
    """`file:line: /pointer: message` plus the source line, one block per error."""
    lines = text.splitlines()
    blocks = []
    for error in errors:
        where = error.get("pointer") or ""
        line = error.get("line") or pointer_to_line(text, where)
        head = f"{filename}:{line}:" if line else f"{filename}:"
        block = f"{head} {where + ': ' if where else ''}{error.get('message', '')}"
        if line and 0 < line <= len(lines):
            block += f"\n  {line:>4} | {lines[line - 1]}"
            if error.get("column"):
                block += "\n       | " + " " * (int(error["column"]) - 1) + "^"
        blocks.append(block)
    return "\n".join(blocks)
