"""Structural validation: the pydantic model's errors as JSON pointers, and what parsed.

Each section (state, every node, every edge...) is kept when it parsed on its own, so the
semantic checks can still run on the valid parts and report all problems in one answer.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from graphs.spec import model as spec_model
from graphs.spec.errors import SpecError, pointer, split_pointer
from graphs.spec.model import (
    NAME_PATTERN,
    NODE_KINDS,
    Edge,
    GraphSpec,
    Limits,
    Node,
    StateField,
)

_NAME = re.compile(NAME_PATTERN)
RESERVED_NAMES = frozenset({"END", "START", "state", "loop"})


@dataclass
class SpecView:
    """The sections that parsed; `spec` is set only when the whole document did."""

    spec: GraphSpec | None = None
    state: dict[str, StateField] | None = None
    input: list[str] | None = None
    output: list[str] | None = None
    entry: str | None = None
    node_names: list[str] = field(default_factory=list)  # every key under /nodes
    nodes: dict[str, Any] = field(default_factory=dict)  # the nodes that parsed
    edges: list[tuple[int, Edge]] = field(default_factory=list)
    limits: Limits | None = None
    complete_graph: bool = False  # every node and edge parsed: graph-wide checks can run


@cache
def _node_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Node)


@cache
def _state_adapter() -> TypeAdapter[dict[str, StateField]]:
    return TypeAdapter(dict[str, StateField])


def _fields_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def loc_to_pointer(document: Any, loc: Sequence[str | int]) -> str:
    """Walk the document along pydantic's `loc`, dropping the union tags pydantic inserts
    (`("nodes", "judge", "llm", "prompt")` -> "/nodes/judge/prompt")."""
    tokens: list[str | int] = []
    value: Any = document
    parent_key: str | int | None = None
    tag_skipped = False
    for part in loc:
        if isinstance(value, dict):
            is_tag = not tag_skipped and (
                value.get("kind") == part or (parent_key == "policy" and value.get("name") == part)
            )
            if is_tag:
                tag_skipped = True  # one tag per union level; the next part is a field
                continue
            tokens.append(part)
            value = value.get(part) if isinstance(part, str) else None
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            tokens.append(part)
            value = value[part]
        else:
            tokens.append(part)
            value = None
        parent_key = part
        tag_skipped = False
    return pointer(*tokens)


def _message(error: dict[str, Any], where: str, value: Any) -> tuple[str, str]:
    """(pointer, message) in the spec author's words; `value` is what `where` points at."""
    kind = error["type"]
    context = error.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(context.get("discriminator", "'kind'")).strip("'")
        subject = "node kind" if discriminator == "kind" else "policy"
        expected = ", ".join(NODE_KINDS) if discriminator == "kind" else "auto, cascade"
        expected = str(context.get("expected_tags") or expected).replace("'", "")
        # A shorthand (`policy: auto`) has no field to point into.
        at = f"{where}/{discriminator}" if isinstance(value, dict) else where
        if kind == "union_tag_not_found":
            return at, f"missing {discriminator!r}: one of {expected}"
        tag = context.get("tag")
        return at, f"unknown {subject} {tag!r}; expected one of: {expected}"
    if kind == "missing":
        return where, "required field is missing"
    if kind == "extra_forbidden":
        name = str(error["loc"][-1]) if error["loc"] else ""
        return where, f"unknown field {name!r}{_suggestion(name)}"
    return where, str(error.get("msg", "invalid value"))


def _suggestion(name: str) -> str:
    """' (did you mean 'prompt'?)' for a misspelt field, from the fields of its model."""
    candidates: list[str] = []
    for model in _spec_models():
        candidates.extend(_fields_of(model))
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


@cache
def _spec_models() -> tuple[type[BaseModel], ...]:
    return tuple(
        value
        for value in vars(spec_model).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    )


def pydantic_errors(
    document: Any, exc: ValidationError, prefix: Sequence[str | int] = ()
) -> list[SpecError]:
    """A pydantic ValidationError as SpecErrors with pointers into `document`."""
    errors = []
    for error in exc.errors():
        loc = (*prefix, *error["loc"])
        where = loc_to_pointer(document, loc)
        at, message = _message({**error, "loc": loc}, where, _value_at(document, where))
        errors.append(SpecError(at, message))
    return errors


def _value_at(document: Any, where: str) -> Any:
    value = document
    for token in split_pointer(where):
        if isinstance(value, dict):
            value = value.get(token)
        elif (
            isinstance(value, list)
            and token.isascii()
            and token.isdigit()
            and int(token) < len(value)
        ):
            value = value[int(token)]
        else:
            return None
    return value


def _name_errors(document: dict[str, Any]) -> list[SpecError]:
    errors = []
    for section, what in (("nodes", "node"), ("state", "state field")):
        names = document.get(section)
        if not isinstance(names, dict):
            continue
        for name in names:
            if not _NAME.match(name):
                message = (
                    f"{what} name {name!r} must start with a letter and hold only letters, "
                    "digits and _ (at most 64)"
                )
            elif "__" in name:
                message = f"{what} name {name!r} may not contain '__' (reserved)"
            elif name in RESERVED_NAMES:
                message = f"{name!r} is reserved and cannot name a {what}"
            else:
                continue
            errors.append(SpecError(pointer(section, name), message))
    return errors


def _covers(errors: list[SpecError], prefix: str) -> bool:
    return any(e.pointer == prefix or e.pointer.startswith(prefix + "/") for e in errors)


def check_structure(document: dict[str, Any]) -> tuple[SpecView, list[SpecError]]:
    """Validate the document against GraphSpec; return what parsed and every error."""
    errors = _name_errors(document)
    try:
        spec = GraphSpec.model_validate(document)
    except ValidationError as exc:
        errors.extend(pydantic_errors(document, exc))
        return _salvage(document, errors), errors
    view = SpecView(
        spec=spec,
        state=spec.state,
        input=spec.input,
        output=spec.output,
        entry=spec.entry,
        node_names=list(spec.nodes),
        nodes=dict(spec.nodes),
        edges=list(enumerate(spec.edges)),
        limits=spec.limits,
        complete_graph=True,
    )
    return view, errors


def _salvage(document: dict[str, Any], errors: list[SpecError]) -> SpecView:
    view = SpecView()
    state = document.get("state")
    if isinstance(state, dict) and not _covers(errors, "/state"):
        view.state = _try(lambda: _state_adapter().validate_python(state))
    for key in ("input", "output"):
        value = document.get(key)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            setattr(view, key, value)
    entry = document.get("entry")
    view.entry = entry if isinstance(entry, str) else None
    nodes = document.get("nodes")
    nodes_ok = isinstance(nodes, dict)
    if isinstance(nodes, dict):
        view.node_names = [name for name in nodes if isinstance(name, str)]
        for name, raw in nodes.items():
            if _covers(errors, pointer("nodes", name)):
                nodes_ok = False
                continue
            parsed = _try(lambda raw=raw: _node_adapter().validate_python(raw))
            if parsed is None:
                nodes_ok = False
            else:
                view.nodes[name] = parsed
    edges = document.get("edges", [])
    edges_ok = isinstance(edges, list) and not _covers(errors, "/edges")
    if isinstance(edges, list):
        for index, raw in enumerate(edges):
            if _covers(errors, pointer("edges", index)):
                continue
            edge = _try(lambda raw=raw: Edge.model_validate(raw))
            if edge is not None:
                view.edges.append((index, edge))
    limits = document.get("limits", {})
    if not _covers(errors, "/limits"):
        view.limits = _try(lambda: Limits.model_validate(limits))
    view.complete_graph = nodes_ok and edges_ok and view.entry is not None
    return view


def _try(build: Any) -> Any:
    try:
        return build()
    except ValidationError:
        return None
