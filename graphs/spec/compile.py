"""`compile_spec`: a validated spec as a LangGraph graph factory with its input contract."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send
from pydantic import BaseModel

from graphs.spec.environment import SpecEnvironment
from graphs.spec.errors import SpecInputInvalid, pointer
from graphs.spec.expressions import ExpressionEvalError
from graphs.spec.model import (
    DEFAULT_MAX_STEPS,
    CascadeNode,
    DebateNode,
    LlmNode,
    MapNode,
    RouterNode,
    SpeculativeNode,
    SubgraphNode,
    ToolNode,
)
from graphs.spec.runners import RunnerFactory, SpecRunError, target_label
from graphs.spec.state import (
    RESET,
    initial_state,
    input_model,
    map_channel,
    output_of,
    state_schema,
    validate_input,
)
from graphs.spec.validate import ValidatedSpec
from nodes.context import NodeCalls, RunContext
from nodes.patterns.participants import decision

NodeFunction = Callable[..., Any]
SPEC_END = "END"
LEDGER_NODE_CHARS = 100  # model_calls.node and run_events.node are VARCHAR(100)


@dataclass
class CompiledSpec:
    """Everything the service needs to list, validate input for, build and run a spec."""

    validated: ValidatedSpec
    env: SpecEnvironment
    ledger_prefix: str = ""  # "outer/" for the nodes of a subgraph, in ledger rows and events
    _subgraphs: dict[tuple[str, int], CompiledSpec] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.validated.spec.name

    @property
    def description(self) -> str:
        return self.validated.spec.description

    @cached_property
    def input_model(self) -> type[BaseModel]:
        return input_model(self.validated.spec)

    @property
    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema(by_alias=True)

    @property
    def recursion_limit(self) -> int:
        return self.validated.spec.limits.max_steps or DEFAULT_MAX_STEPS

    @property
    def budget_usd(self) -> float | None:
        return self.validated.spec.limits.budget_usd

    def ledger_name(self, node: str) -> str:
        """How a node is named in ledger rows and events: `outer/inner` inside a subgraph,
        cut from the left to fit the ledger's node column."""
        full = self.ledger_prefix + node
        if len(full) <= LEDGER_NODE_CHARS:
            return full
        return "..." + full[-(LEDGER_NODE_CHARS - 3) :]

    def validate_input(self, payload: Any) -> dict[str, Any]:
        """The run input with defaults; SpecInputInvalid (loc/msg/type errors) otherwise."""
        return validate_input(self.input_model, payload)

    def initial_state(self, validated_input: dict[str, Any] | BaseModel) -> dict[str, Any]:
        """The state a run starts from (`validate_input`'s result, or an `input_model`
        instance as the worker holds for built-in graphs)."""
        if isinstance(validated_input, BaseModel):
            validated_input = validated_input.model_dump(by_alias=True, mode="json")
        return initial_state(self.validated.spec, validated_input)

    def output_of(self, state: dict[str, Any]) -> dict[str, Any]:
        return output_of(self.validated.spec, state)

    def node_summary(self) -> dict[str, str]:
        """node -> what runs there, e.g. {"judge": "debate: edge, mid -> judge frontier"}."""
        return {name: _summary(node) for name, node in self.validated.spec.nodes.items()}

    def build(
        self, checkpointer: BaseCheckpointSaver[Any] | None
    ) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The LangGraph graph, compiled with `checkpointer` (subgraphs inherit it)."""
        spec = self.validated.spec
        factory = RunnerFactory(self.validated, self.env)
        graph: StateGraph[Any, RunContext, Any, Any] = StateGraph(
            state_schema(spec), context_schema=RunContext
        )
        for name, node in spec.nodes.items():
            where = pointer("nodes", name)
            ledger_name = self.ledger_name(name)
            if isinstance(node, RouterNode):
                targets = tuple(
                    sorted({_target(r.to) for r in node.routes} | {_target(node.default)})
                )
                graph.add_node(name, self._router(where, name, node), destinations=targets)
            elif isinstance(node, MapNode):
                item, join = f"{name}__item", f"{name}__join"
                graph.add_node(name, self._fan_out(where, name, node), destinations=(item, join))
                runner = factory.runner(f"{where}/node", node.node)
                graph.add_node(item, _map_item(runner, name, ledger_name, node))  # type: ignore[call-overload]
                graph.add_node(join, _map_join(name, node))  # type: ignore[call-overload]
                graph.add_edge(item, join)
            elif isinstance(node, SubgraphNode):
                graph.add_node(name, self._subgraph(where, name, node))  # type: ignore[call-overload]
            else:
                graph.add_node(
                    name, _value_node(factory.runner(where, node), ledger_name, node.output)
                )  # type: ignore[call-overload]
        graph.add_edge(START, spec.entry)
        for edge in spec.edges:
            source = edge.from_
            if isinstance(spec.nodes[source], MapNode):
                source = f"{source}__join"  # a map's next node follows its join
            graph.add_edge(source, _target(edge.to))
        return graph.compile(checkpointer=checkpointer)

    def _router(self, where: str, name: str, node: RouterNode) -> NodeFunction:
        routes = [
            (index, self.validated.expressions[f"{where}/routes/{index}/when"], route)
            for index, route in enumerate(node.routes)
        ]
        ledger_name = self.ledger_name(name)

        async def route(state: dict[str, Any], runtime: Runtime[RunContext]) -> Command[Any]:
            for index, expression, spec_route in routes:
                try:
                    holds = bool(expression.evaluate(state))
                except ExpressionEvalError as exc:
                    raise SpecRunError(f"{where}/routes/{index}/when: {exc}") from exc
                if holds:
                    decision(
                        runtime.stream_writer,
                        ledger_name,
                        "route",
                        to=spec_route.to,
                        route=index,
                        when=spec_route.when,
                    )
                    return Command(goto=_target(spec_route.to))
            decision(
                runtime.stream_writer,
                ledger_name,
                "route",
                to=node.default,
                route=None,
                when="default",
            )
            return Command(goto=_target(node.default))

        return route

    def _fan_out(self, where: str, name: str, node: MapNode) -> NodeFunction:
        over = self.validated.expressions[f"{where}/over"]
        ledger_name = self.ledger_name(name)

        async def fan_out(state: dict[str, Any], runtime: Runtime[RunContext]) -> Command[Any]:
            try:
                items = over.evaluate(state)
            except ExpressionEvalError as exc:
                raise SpecRunError(f"{where}/over: {exc}") from exc
            if not isinstance(items, list):
                raise SpecRunError(f"{where}/over: expected a list, got {type(items).__name__}")
            if len(items) > node.max_items:
                raise SpecRunError(
                    f"{where}/over: {len(items)} items is over max_items {node.max_items}"
                )
            decision(runtime.stream_writer, ledger_name, "map_fan_out", items=len(items))
            if not items:
                return Command(goto=f"{name}__join")
            snapshot = {key: value for key, value in state.items() if not key.startswith("__")}
            return Command(
                goto=[
                    Send(
                        f"{name}__item",
                        {"state": snapshot, "item": item, "index": index, "count": len(items)},
                    )
                    for index, item in enumerate(items)
                ]
            )

        return fan_out

    def _subgraph(self, where: str, name: str, node: SubgraphNode) -> NodeFunction:
        key = (node.graph, node.version)
        inputs = {
            k: self.validated.expressions[pointer("nodes", name, "input", k)] for k in node.input
        }
        ledger_name = self.ledger_name(name)
        sub = self._subgraphs.get(key)
        if sub is None:
            sub = CompiledSpec(self.validated.subgraphs[key], self.env, f"{ledger_name}/")
            self._subgraphs[key] = sub
        graph = sub.build(None)  # inside a node it checkpoints under the parent's checkpointer
        output = node.output

        async def run_subgraph(
            state: dict[str, Any], runtime: Runtime[RunContext]
        ) -> dict[str, Any]:
            try:
                payload = {k: expression.evaluate(state) for k, expression in inputs.items()}
                start = sub.initial_state(sub.validate_input(payload))
            except (ExpressionEvalError, SpecInputInvalid) as exc:
                raise SpecRunError(f"{where}/input: {exc}") from exc
            final: dict[str, Any] = {}
            async for mode, chunk in graph.astream(
                start,
                {"recursion_limit": sub.recursion_limit},
                context=runtime.context,
                stream_mode=["custom", "values"],
            ):
                # Its decisions reach the parent run's stream, labelled with the subgraph.
                if mode == "custom" and isinstance(chunk, dict):
                    runtime.stream_writer({**chunk, "subgraph": f"{node.graph} v{node.version}"})
                elif mode == "values" and isinstance(chunk, dict):
                    final = chunk
            assert output is not None
            return {output: sub.output_of(final)}

        return run_subgraph


def _target(name: str) -> str:
    return END if name == SPEC_END else name


def _value_node(runner: Any, ledger_name: str, output: str | None) -> NodeFunction:
    assert output is not None

    async def node(state: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
        calls = NodeCalls(runtime, ledger_name)
        value = await runner(dict(state), calls, runtime.stream_writer, None)
        return {output: value}

    return node


def _map_item(runner: Any, name: str, ledger_name: str, node: MapNode) -> NodeFunction:
    channel = map_channel(name)

    async def item(payload: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
        scope = {**payload["state"], node.as_: payload["item"], "index": payload["index"]}
        calls = NodeCalls(runtime, ledger_name)
        purpose = f"map item {payload['index'] + 1}/{payload['count']}"
        value = await runner(scope, calls, runtime.stream_writer, purpose)
        return {channel: [{"index": payload["index"], "value": value}]}

    return item


def _map_join(name: str, node: MapNode) -> NodeFunction:
    channel = map_channel(name)
    output = node.output
    assert output is not None

    async def join(state: dict[str, Any]) -> dict[str, Any]:
        done = sorted(state.get(channel) or [], key=lambda entry: entry["index"])
        return {output: [entry["value"] for entry in done], channel: {RESET: []}}

    return join


def _summary(node: Any) -> str:
    if isinstance(node, LlmNode):
        return f"llm: {target_label(node)}" + (" (schema)" if node.output_schema else "")
    if isinstance(node, ToolNode):
        return f"tool: {node.tool}"
    if isinstance(node, RouterNode):
        return "router"
    if isinstance(node, MapNode):
        return f"map over {node.over}: {_summary(node.node)}"
    if isinstance(node, DebateNode):
        debaters = ", ".join(target_label(d) for d in node.debaters)
        return f"debate: {debaters} -> judge {target_label(node.judge)}"
    if isinstance(node, CascadeNode):
        return f"cascade: {' > '.join(node.tiers)}"
    if isinstance(node, SpeculativeNode):
        return (
            f"speculative: draft {target_label(node.draft)}, verify {target_label(node.verifier)}"
        )
    if isinstance(node, SubgraphNode):
        return f"subgraph: {node.graph} v{node.version}"
    return type(node).__name__


def compile_spec(validated: ValidatedSpec, env: SpecEnvironment) -> CompiledSpec:
    """Wrap a validated spec; nothing is built until `build(checkpointer)` is called."""
    return CompiledSpec(validated, env)
