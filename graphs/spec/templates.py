"""A tiny sandboxed template engine for prompts: `{{ field.sub | join(", ") }}`, for, if.

Templates are parsed when a spec is validated, so an unknown variable or filter is
reported with its position before anything runs. Rendering reads plain JSON values only
(dict keys and list indices, never attributes of Python objects), runs no code, and the
output and loop iterations are bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from graphs.spec.template_filters import FILTERS, to_text

MAX_TEMPLATE_CHARS = 20_000
MAX_RENDERED_CHARS = 100_000
MAX_LOOP_ITERATIONS = 10_000
MAX_BLOCK_DEPTH = 8

_TAG = re.compile(r"\{\{|\{%|\{#")
_INNER_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<string>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>[.|()\[\],])"
)
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


class TemplateSyntaxError(ValueError):
    """The template cannot be parsed; `line` and `column` are 1-based, within the template."""

    def __init__(self, message: str, source: str, offset: int) -> None:
        self.line = source.count("\n", 0, offset) + 1
        self.column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        self.message = message
        where = (
            f"column {self.column}" if self.line == 1 else f"line {self.line}, column {self.column}"
        )
        super().__init__(f"{message} ({where})")


class TemplateRenderError(ValueError):
    """Rendering hit a bound (output size, loop iterations) or a filter got the wrong value."""


@dataclass(frozen=True)
class Path:
    """`root.key[0].other`: dict keys and list indices, resolved over JSON values only."""

    root: str
    keys: tuple[str | int, ...]
    offset: int

    def resolve(self, scope: dict[str, Any]) -> Any:
        value = scope.get(self.root)
        for key in self.keys:
            if isinstance(value, dict) and isinstance(key, str):
                value = value.get(key)
            elif isinstance(value, list) and isinstance(key, int):
                value = value[key] if -len(value) <= key < len(value) else None
            else:
                return None
        return value


@dataclass(frozen=True)
class Pipeline:
    value: Path | None
    literal: Any
    filters: tuple[tuple[str, tuple[Any, ...]], ...]

    def evaluate(self, scope: dict[str, Any]) -> Any:
        value = self.value.resolve(scope) if self.value is not None else self.literal
        for name, args in self.filters:
            value = FILTERS[name][0](value, *args)
        return value


@dataclass
class _Block:
    kind: str  # root | for | if
    nodes: list[Any] = field(default_factory=list)
    otherwise: list[Any] | None = None  # an if's else branch, once {% else %} was seen
    variable: str = ""
    path: Path | None = None
    negated: bool = False
    offset: int = 0

    def target(self) -> list[Any]:
        """Where parsed nodes go now: the else branch after {% else %}."""
        return self.otherwise if self.otherwise is not None else self.nodes


class _Renderer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.iterations = 0

    def emit(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_RENDERED_CHARS:
            raise TemplateRenderError(f"rendered text longer than {MAX_RENDERED_CHARS} characters")
        self.parts.append(text)

    def render(self, nodes: list[Any], scope: dict[str, Any]) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.emit(node)
            elif isinstance(node, Pipeline):
                try:
                    text = to_text(node.evaluate(scope))
                except (TypeError, ValueError, OverflowError) as exc:
                    raise TemplateRenderError(f"filter failed: {exc}") from exc
                self.emit(text)
            elif node.kind == "for":
                self.loop(node, scope)
            elif node.kind == "if":
                assert node.path is not None
                truth = bool(node.path.resolve(scope)) != node.negated
                self.render(node.nodes if truth else (node.otherwise or []), scope)

    def loop(self, block: _Block, scope: dict[str, Any]) -> None:
        assert block.path is not None
        items = block.path.resolve(scope)
        if isinstance(items, dict):
            items = list(items)
        if not isinstance(items, list):
            return
        for index, item in enumerate(items):
            self.iterations += 1
            if self.iterations > MAX_LOOP_ITERATIONS:
                raise TemplateRenderError(f"more than {MAX_LOOP_ITERATIONS} loop iterations")
            loop = {"index": index + 1, "first": index == 0, "last": index == len(items) - 1}
            self.render(block.nodes, {**scope, block.variable: item, "loop": loop})


class Template:
    """A parsed template; `variables` are the names it reads from the scope it renders in."""

    def __init__(self, source: str) -> None:
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateSyntaxError(
                f"template longer than {MAX_TEMPLATE_CHARS} characters", source, 0
            )
        self.source = source
        self.variables: list[tuple[str, int, int]] = []  # (name, line, column)
        self._nodes = self._parse()

    def render(self, scope: dict[str, Any]) -> str:
        renderer = _Renderer()
        renderer.render(self._nodes, scope)
        return "".join(renderer.parts)

    # parsing
    def _parse(self) -> list[Any]:
        source = self.source
        stack = [_Block("root")]
        bound: list[str] = []
        position = 0
        while position < len(source):
            match = _TAG.search(source, position)
            if match is None:
                stack[-1].target().append(source[position:])
                break
            if match.start() > position:
                stack[-1].target().append(source[position : match.start()])
            opener = match.group()
            closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[opener]
            end = source.find(closer, match.end())
            if end < 0:
                raise TemplateSyntaxError(
                    f"{opener} is never closed by {closer}", source, match.start()
                )
            inner_start = match.end()
            inner = source[inner_start:end]
            if opener == "{{":
                stack[-1].target().append(self._pipeline(inner, inner_start, bound))
            elif opener == "{%":
                self._statement(inner, inner_start, stack, bound)
            position = end + len(closer)
        if len(stack) > 1:
            open_block = stack[-1]
            raise TemplateSyntaxError(
                f"{{% {open_block.kind} %}} is never closed by {{% end{open_block.kind} %}}",
                source,
                open_block.offset,
            )
        return stack[0].nodes

    def _tokens(self, inner: str, offset: int) -> list[tuple[str, str, int]]:
        tokens = []
        position = 0
        while position < len(inner):
            match = _INNER_TOKEN.match(inner, position)
            if match is None:
                raise TemplateSyntaxError(
                    f"unexpected character {inner[position]!r}", self.source, offset + position
                )
            kind = match.lastgroup or "op"
            if kind != "space":
                tokens.append((kind, match.group(), offset + position))
            position = match.end()
        return tokens

    def _fail(self, message: str, offset: int) -> TemplateSyntaxError:
        return TemplateSyntaxError(message, self.source, offset)

    def _path(
        self, tokens: list[tuple[str, str, int]], index: int, bound: list[str]
    ) -> tuple[Path, int]:
        kind, text, offset = tokens[index]
        if kind != "name" or text in _CONSTANTS:
            raise self._fail(f"expected a variable name, found {text!r}", offset)
        keys: list[str | int] = []
        index += 1
        while index < len(tokens) and tokens[index][1] in (".", "["):
            opener = tokens[index][1]
            if index + 1 >= len(tokens):
                raise self._fail(f"expected a key after {opener!r}", tokens[index][2])
            key_kind, key_text, key_offset = tokens[index + 1]
            if opener == "." and key_kind == "name":
                keys.append(key_text)
            elif (
                key_kind == "number"
                and key_text.lstrip("-").isascii()
                and key_text.lstrip("-").isdigit()
            ):
                keys.append(int(key_text))
            elif opener == "[" and key_kind == "string":
                keys.append(self._unquote(key_text, key_offset))
            else:
                raise self._fail(f"expected a key, found {key_text!r}", key_offset)
            index += 2
            if opener == "[":
                if index >= len(tokens) or tokens[index][1] != "]":
                    raise self._fail("expected ']'", tokens[index - 1][2])
                index += 1
        if text not in bound:
            line = self.source.count("\n", 0, offset) + 1
            column = offset - (self.source.rfind("\n", 0, offset) + 1) + 1
            self.variables.append((text, line, column))
        return Path(text, tuple(keys), offset), index

    def _pipeline(self, inner: str, offset: int, bound: list[str]) -> Pipeline:
        tokens = self._tokens(inner, offset)
        if not tokens:
            raise self._fail("empty {{ }}", offset)
        kind, text, _ = tokens[0]
        value: Path | None = None
        literal: Any = None
        if kind in ("string", "number") or text in _CONSTANTS:
            literal = self._literal(tokens[0])
            index = 1
        else:
            value, index = self._path(tokens, 0, bound)
        filters: list[tuple[str, tuple[Any, ...]]] = []
        while index < len(tokens):
            if tokens[index][1] != "|" or index + 1 >= len(tokens):
                raise self._fail(f"unexpected {tokens[index][1]!r}", tokens[index][2])
            name_kind, name, name_offset = tokens[index + 1]
            if name_kind != "name" or name not in FILTERS:
                known = ", ".join(sorted(FILTERS))
                raise self._fail(f"unknown filter {name!r} (known: {known})", name_offset)
            index += 2
            args: list[Any] = []
            if index < len(tokens) and tokens[index][1] == "(":
                index += 1
                while index < len(tokens) and tokens[index][1] != ")":
                    if tokens[index][1] == ",":
                        index += 1
                        continue
                    if (
                        tokens[index][0] not in ("string", "number")
                        and tokens[index][1] not in _CONSTANTS
                    ):
                        raise self._fail("filter arguments must be literals", tokens[index][2])
                    args.append(self._literal(tokens[index]))
                    index += 1
                if index >= len(tokens):
                    raise self._fail("expected ')'", name_offset)
                index += 1
            if len(args) > FILTERS[name][1]:
                raise self._fail(
                    f"{name} takes at most {FILTERS[name][1]} argument(s)", name_offset
                )
            filters.append((name, tuple(args)))
        return Pipeline(value, literal, tuple(filters))

    def _statement(self, inner: str, offset: int, stack: list[_Block], bound: list[str]) -> None:
        tokens = self._tokens(inner, offset)
        if not tokens:
            raise self._fail("empty {% %}", offset)
        keyword = tokens[0][1]
        if keyword == "for":
            if len(tokens) < 4 or tokens[1][0] != "name" or tokens[2][1] != "in":
                raise self._fail("expected {% for name in variable %}", offset)
            path, end = self._path(tokens, 3, bound)
            if end != len(tokens):
                raise self._fail(f"unexpected {tokens[end][1]!r}", tokens[end][2])
            block = _Block("for", variable=tokens[1][1], path=path, offset=offset)
            self._open(block, stack)
            bound.extend([block.variable, "loop"])
        elif keyword == "if":
            negated = len(tokens) > 1 and tokens[1][1] == "not"
            start = 2 if negated else 1
            if start >= len(tokens):
                raise self._fail("expected {% if variable %}", offset)
            path, end = self._path(tokens, start, bound)
            if end != len(tokens):
                raise self._fail(f"unexpected {tokens[end][1]!r}", tokens[end][2])
            self._open(_Block("if", path=path, negated=negated, offset=offset), stack)
        elif keyword == "else" and len(tokens) == 1:
            if stack[-1].kind != "if" or stack[-1].otherwise is not None:
                raise self._fail("{% else %} outside an {% if %}", offset)
            stack[-1].otherwise = []
        elif keyword in ("endfor", "endif") and len(tokens) == 1:
            kind = keyword[3:]
            if stack[-1].kind != kind:
                raise self._fail(f"{{% {keyword} %}} without an open {{% {kind} %}}", offset)
            block = stack.pop()
            if kind == "for":
                del bound[-2:]
            stack[-1].target().append(block)
        else:
            raise self._fail(
                f"unknown statement {keyword!r} (use for, if, else, endfor, endif)", offset
            )

    def _literal(self, token: tuple[str, str, int]) -> Any:
        kind, text, offset = token
        if kind == "string":
            return self._unquote(text, offset)
        if kind == "number":
            return float(text) if "." in text else int(text)
        return _CONSTANTS[text]

    def _unquote(self, text: str, offset: int) -> str:
        body, out, index = text[1:-1], [], 0
        while index < len(body):
            if body[index] == "\\":
                escaped = body[index + 1]
                if escaped not in _ESCAPES:
                    raise self._fail(f"unknown escape \\{escaped}", offset + index + 1)
                out.append(_ESCAPES[escaped])
                index += 2
            else:
                out.append(body[index])
                index += 1
        return "".join(out)

    def _open(self, block: _Block, stack: list[_Block]) -> None:
        if len(stack) > MAX_BLOCK_DEPTH:
            raise self._fail(f"blocks nested deeper than {MAX_BLOCK_DEPTH}", block.offset)
        stack.append(block)  # added to its parent when closed


def parse_template(source: str) -> Template:
    """Parse a template; TemplateSyntaxError says where and what is wrong."""
    return Template(source)
