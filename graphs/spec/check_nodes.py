"""Semantic checks of each node: models, tiers, tools, templates, expressions, schemas."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.routing.catalog import TIER_ORDER
from graphs.spec.environment import SpecEnvironment
from graphs.spec.errors import SpecError, pointer, split_pointer
from graphs.spec.expressions import Expression, ExpressionSyntaxError, parse_expression
from graphs.spec.model import (
    CascadeNode,
    CascadePolicy,
    DebateNode,
    LlmNode,
    MapNode,
    RouterNode,
    SpeculativeNode,
    StateField,
    SubgraphNode,
    Target,
    ToolNode,
    VerifierSpec,
)
from graphs.spec.output_schema import schema_problems
from graphs.spec.structure import pydantic_errors
from graphs.spec.templates import Template, TemplateSyntaxError, parse_template

END = "END"
ValidateSub = Callable[[str, int, str], "tuple[Any, list[SpecError]]"]


def suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def produced_type(node: Any, env: SpecEnvironment) -> str:
    """The JSON type a node writes to its output field."""
    if isinstance(node, LlmNode):
        return "object" if node.output_schema is not None else "string"
    if isinstance(node, ToolNode):
        tool = env.tools.get(node.tool)
        return tool.result_type if tool is not None else "any"
    if isinstance(node, MapNode):
        return "array"
    return "object"  # debate, cascade, speculative and subgraph write a result object


def accepts(field_spec: StateField, produced: str) -> bool:
    if field_spec.type in ("any", produced) or produced == "any":
        return True
    if field_spec.type == "number" and produced == "integer":
        return True
    return field_spec.type == "array" and field_spec.reducer == "append"


@dataclass
class NodeChecker:
    """Checks nodes against the environment and the state; collects parsed templates and
    expressions by pointer so compilation does not parse them again."""

    env: SpecEnvironment
    document: dict[str, Any]
    state: dict[str, StateField] | None
    node_names: list[str]
    validate_subgraph: ValidateSub
    errors: list[SpecError] = field(default_factory=list)
    templates: dict[str, Template] = field(default_factory=dict)
    expressions: dict[str, Expression] = field(default_factory=dict)
    subgraphs: dict[tuple[str, int], Any] = field(default_factory=dict)

    def error(self, where: str, message: str) -> None:
        self.errors.append(SpecError(where, message))

    # building blocks
    def template(self, where: str, source: str | None, scope: set[str] | None) -> None:
        if source is None:
            return
        try:
            parsed = parse_template(source)
        except TemplateSyntaxError as exc:
            self.error(where, f"template syntax error: {exc}")
            return
        self.templates[where] = parsed
        if scope is None:
            return  # the state did not parse: variables cannot be checked
        for name, line, column in parsed.variables:
            if name not in scope:
                at = f"column {column}" if line == 1 else f"line {line}, column {column}"
                self.error(
                    where,
                    f"template variable {name!r} ({at}) is not in the state"
                    f"{suggest(name, scope)}; known: {', '.join(sorted(scope))}",
                )

    def expression(self, where: str, source: str) -> None:
        try:
            parsed = parse_expression(source)
        except ExpressionSyntaxError as exc:
            self.error(where, f"bad expression: {exc}")
            return
        self.expressions[where] = parsed
        if self.state is None:
            return
        for name, column in parsed.references:
            if name not in self.state:
                hint = suggest(name, self.state)
                self.error(where, f"state.{name} (column {column}) is not a state field{hint}")

    def target(self, where: str, target: Target, *, extra: int = 0) -> None:
        chosen = [key for key in ("tier", "model", "policy") if getattr(target, key) is not None]
        if len(chosen) + extra == 0:
            self.error(where, "set one of tier, model or policy")
        elif len(chosen) + extra > 1:
            self.error(where, f"set only one of tier, model or policy (found {', '.join(chosen)})")
        catalog = self.env.catalog
        if target.tier is not None and target.tier not in catalog.tiers:
            self.error(
                f"{where}/tier",
                f"unknown tier {target.tier!r}; known: {', '.join(catalog.tiers)}",
            )
        if target.model is not None and target.model not in catalog.models:
            self.error(
                f"{where}/model",
                f"unknown model {target.model!r}{suggest(target.model, catalog.models)}; "
                f"known: {', '.join(catalog.models)}",
            )
        if isinstance(target.policy, CascadePolicy):
            self.tiers(f"{where}/policy/tiers", target.policy.tiers)
            self.second_models(f"{where}/policy", target.policy)

    def second_models(self, where: str, policy: CascadePolicy) -> None:
        """agree_with / tiebreak_with / judge_with: a catalog model or tier, and only with
        their verifier (a tiebreak also with votes: 3)."""
        catalog = self.env.catalog
        known = f"known: tiers {', '.join(catalog.tiers)}; models {', '.join(catalog.models)}"
        if policy.votes == 3 and policy.verifier != "agreement":
            self.error(f"{where}/votes", "votes needs verifier: agreement")
        if policy.tiebreak_with is not None and policy.votes != 3:
            self.error(f"{where}/tiebreak_with", "tiebreak_with needs votes: 3")
        for name, verifier, extra in (
            ("agree_with", "agreement", ("self",)),
            ("tiebreak_with", "agreement", ()),
            ("judge_with", "judge", ()),
        ):
            value = getattr(policy, name)
            if value is None:
                continue
            if policy.verifier != verifier:
                self.error(f"{where}/{name}", f"{name} needs verifier: {verifier}")
            elif value not in (*catalog.tiers, *catalog.models, *extra):
                hint = suggest(value, [*catalog.tiers, *catalog.models])
                self.error(f"{where}/{name}", f"unknown model or tier {value!r}{hint}; {known}")

    def tiers(self, where: str, tiers: list[str]) -> None:
        known = [tier for tier in TIER_ORDER if tier in self.env.catalog.tiers]
        for index, tier in enumerate(tiers):
            if tier not in known:
                self.error(f"{where}/{index}", f"unknown tier {tier!r}; known: {', '.join(known)}")
        ranks = [known.index(tier) for tier in tiers if tier in known]
        if ranks != sorted(set(ranks)):
            self.error(where, f"list tiers once each, cheapest first ({' < '.join(known)})")

    def output(self, where: str, node: Any, *, inline: bool) -> None:
        name = getattr(node, "output", None)
        if inline:
            if name is not None:
                self.error(f"{where}/output", "a map's inner node writes to the map's output")
            return
        if name is None:
            self.error(where, "set output: the state field this node writes")
            return
        if self.state is None:
            return
        state_field = self.state.get(name)
        if state_field is None:
            self.error(
                f"{where}/output",
                f"unknown state field {name!r}{suggest(name, self.state)}",
            )
            return
        produced = produced_type(node, self.env)
        if not accepts(state_field, produced):
            self.error(
                f"{where}/output",
                f"this node writes {_article(produced)} but state field {name!r} is "
                f"{state_field.type} ({state_field.reducer})",
            )

    def successor(self, where: str, name: str) -> None:
        if name != END and name not in self.node_names:
            self.error(where, f"unknown node {name!r}{suggest(name, self.node_names)} (or END)")

    # nodes
    def check(self, name: str, node: Any) -> None:
        where = pointer("nodes", name)
        scope = None if self.state is None else set(self.state)
        self.check_node(where, node, scope, inline=False)

    def check_node(self, where: str, node: Any, scope: set[str] | None, *, inline: bool) -> None:
        kind_checks: dict[type, Callable[[str, Any, set[str] | None], None]] = {
            LlmNode: self._llm,
            ToolNode: self._tool,
            RouterNode: self._router,
            MapNode: self._map,
            DebateNode: self._debate,
            CascadeNode: self._cascade,
            SpeculativeNode: self._speculative,
            SubgraphNode: self._subgraph,
        }
        kind_checks[type(node)](where, node, scope)
        if not isinstance(node, RouterNode):
            self.output(where, node, inline=inline)

    def _prompts(self, where: str, node: Any, scope: set[str] | None) -> None:
        self.template(f"{where}/prompt", node.prompt, scope)
        self.template(f"{where}/system", node.system, scope)

    def _llm(self, where: str, node: LlmNode, scope: set[str] | None) -> None:
        self._prompts(where, node, scope)
        self.target(where, node)
        if node.output_schema is not None:
            for tokens, message in schema_problems(node.output_schema):
                self.error(pointer(*_tokens(where), "output_schema", *tokens), message)

    def _tool(self, where: str, node: ToolNode, scope: set[str] | None) -> None:
        tool = self.env.tools.get(node.tool)
        if tool is None:
            known = ", ".join(sorted(self.env.tools))
            self.error(
                f"{where}/tool",
                f"unknown tool {node.tool!r}{suggest(node.tool, self.env.tools)}; known: {known}",
            )
            return
        allowed = (*tool.required_args, *tool.optional_args)
        for arg, source in node.args.items():
            if arg not in allowed and not tool.dynamic_args:
                self.error(
                    f"{where}/args/{arg}",
                    f"{tool.name} takes no argument {arg!r}; it takes {', '.join(allowed)}",
                )
            self.template(pointer(*_tokens(where), "args", arg), source, scope)
        for arg in tool.required_args:
            if arg not in node.args:
                self.error(f"{where}/args", f"missing argument {arg!r} of {tool.name}")
        try:
            config = tool.config_model.model_validate(node.config)
        except ValidationError as exc:
            self.errors.extend(pydantic_errors(self.document, exc, (*_tokens(where), "config")))
            return
        for arg, message in tool.check_args(node.args, config):
            self.error(pointer(*_tokens(where), "args", arg), message)
        for path, message in tool.check_config(config):
            self.error(pointer(*_tokens(where), "config", *path), message)

    def _router(self, where: str, node: RouterNode, scope: set[str] | None) -> None:
        for index, route in enumerate(node.routes):
            self.expression(f"{where}/routes/{index}/when", route.when)
            self.successor(f"{where}/routes/{index}/to", route.to)
        self.successor(f"{where}/default", node.default)

    def _map(self, where: str, node: MapNode, scope: set[str] | None) -> None:
        self.expression(f"{where}/over", node.over)
        if self.state is not None and node.as_ in self.state:
            self.error(f"{where}/as", f"{node.as_!r} is a state field; name the element otherwise")
        inner = None if scope is None else {*scope, node.as_, "index"}
        self.check_node(f"{where}/node", node.node, inner, inline=True)

    def _debate(self, where: str, node: DebateNode, scope: set[str] | None) -> None:
        self._prompts(where, node, scope)
        names: dict[str, int] = {}
        for index, debater in enumerate(node.debaters):
            self.target(f"{where}/debaters/{index}", debater)
            if debater.name is not None:
                if debater.name in names:
                    self.error(
                        f"{where}/debaters/{index}/name",
                        f"debater name {debater.name!r} is used twice",
                    )
                names[debater.name] = index
        self.target(f"{where}/judge", node.judge)

    def _cascade(self, where: str, node: CascadeNode, scope: set[str] | None) -> None:
        self._prompts(where, node, scope)
        self.tiers(f"{where}/tiers", node.tiers)
        self._verifier(f"{where}/verifier", node.verifier)

    def _verifier(self, where: str, verifier: VerifierSpec) -> None:
        self.target(where, verifier, extra=int(verifier.check is not None))

    def _speculative(self, where: str, node: SpeculativeNode, scope: set[str] | None) -> None:
        self._prompts(where, node, scope)
        self.target(f"{where}/draft", node.draft)
        self.target(f"{where}/verifier", node.verifier)

    def _subgraph(self, where: str, node: SubgraphNode, scope: set[str] | None) -> None:
        validated, problems = self.validate_subgraph(node.graph, node.version, where)
        for problem in problems:
            self.errors.append(problem)
        for key, source in node.input.items():
            self.expression(pointer(*_tokens(where), "input", key), source)
        if validated is None:
            return
        self.subgraphs[(node.graph, node.version)] = validated
        sub = validated.spec
        for key in node.input:
            if key not in sub.input:
                self.error(
                    pointer(*_tokens(where), "input", key),
                    f"graph {node.graph!r} v{node.version} has no input {key!r}; "
                    f"its input: {', '.join(sub.input) or '(none)'}",
                )
        for key in sub.input:
            if key not in node.input and sub.state[key].default is None:
                self.error(
                    f"{where}/input",
                    f"missing input {key!r} of graph {node.graph!r} v{node.version}",
                )


def _tokens(where: str) -> list[str]:
    return split_pointer(where)


def _article(type_name: str) -> str:
    return f"an {type_name}" if type_name[0] in "aeiou" else f"a {type_name}"
