"""The declarative graph spec as pydantic models; their JSON Schema is the published format.

Nodes are a mapping `{name: node}` rather than a list: a name is unique by construction
(YAML and JSON duplicates are rejected when the text is read) and every error pointer reads
as the author wrote the spec, e.g. `/nodes/judge/prompt` instead of `/nodes/3/prompt`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

MAX_NODES = 50
MAX_EDGES = 200
MAX_STATE_FIELDS = 100
MAX_DEBATERS = 5
MAX_ROUNDS = 3
MAX_MAP_ITEMS = 100
MAX_STEPS = 1000
MAX_GRAPH_VERSION = 2**31 - 1  # graph_versions.version is a 32-bit integer
DEFAULT_MAX_STEPS = 50
MAX_PROMPT_CHARS = 20_000
MAX_OUTPUT_TOKENS = 16_000
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
GRAPH_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"

FieldType = Literal["string", "number", "integer", "boolean", "object", "array", "any"]
CheckName = Literal["arithmetic", "json", "nonempty"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StateField(_Strict):
    """One key of the graph's state: its JSON type, how writes combine, input constraints."""

    type: FieldType = "any"
    reducer: Literal["overwrite", "append"] = Field(
        "overwrite", description="append: writes extend the list (type must be array)"
    )
    default: JsonValue = Field(
        None, description="initial value; an input field with a default is optional"
    )
    description: str = Field("", max_length=2000)
    items: FieldType | None = Field(None, description="element type of an array")
    enum: list[JsonValue] | None = Field(None, min_length=1, max_length=100)
    min_length: int | None = Field(None, ge=0, le=1_000_000)
    max_length: int | None = Field(None, ge=0, le=1_000_000)
    minimum: float | None = None
    maximum: float | None = None


class AutoPolicy(_Strict):
    """The cheapest tier whose predicted quality clears `threshold`."""

    name: Literal["auto"]
    threshold: float = Field(0.75, ge=0, le=1)
    max_latency_ms: float | None = Field(None, gt=0)


class CascadePolicy(_Strict):
    """Cheapest tier first; a verifier decides whether the next tier is asked."""

    name: Literal["cascade"]
    tiers: list[str] = Field(
        default_factory=lambda: ["edge", "frontier"], min_length=2, max_length=3
    )
    # agreement: a second model (agree_with, default the tier's next model) answers too and
    # the cheap answer is kept only if both give the same option, number or JSON fields.
    # judge: a judge model (judge_with, default the mid tier's first) reads the answer and
    # accepts it or escalates.
    verifier: CheckName | Literal["agreement", "judge"] = "arithmetic"
    agree_with: str | None = Field(None, description='agreement: a model, a tier or "self"')
    # agreement, votes 3: on a disagreement a third model (tiebreak_with, default the cheapest
    # other model below the next tier) answers and the answer two of three share is kept.
    votes: Literal[2, 3] = Field(2, description="agreement: 3 puts a disagreement to a vote")
    tiebreak_with: str | None = Field(None, description="agreement, votes 3: a model or a tier")
    judge_with: str | None = Field(
        None, description="judge: a model or a tier (default the mid tier's first model)"
    )
    min_p_good: float | None = Field(None, ge=0, le=1)


PolicySpec = Annotated[AutoPolicy | CascadePolicy, Field(discriminator="name")]


def _policy_shorthand(value: Any) -> Any:
    """`policy: auto` means `policy: {name: auto}`."""
    return {"name": value} if isinstance(value, str) else value


class Target(_Strict):
    """Which model answers: exactly one of a tier, a catalog model, or a routing policy."""

    tier: str | None = Field(None, description="a catalog tier: its fallback chain")
    model: str | None = Field(None, description="a catalog model, then the rest of its tier")
    policy: PolicySpec | None = Field(None, description='"auto", "cascade" or their options')

    @field_validator("policy", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _policy_shorthand(value)


class Debater(Target):
    name: str | None = Field(
        None, pattern=NAME_PATTERN, description="how the judge calls it; default <tier>_<n>"
    )


class VerifierSpec(Target):
    """A rule-based check (`arithmetic`, `json`, `nonempty`) or a model that verifies."""

    check: CheckName | None = None


class _Node(_Strict):
    description: str = Field("", max_length=2000)


class _Valued(_Node):
    output: str | None = Field(None, description="the state field this node writes")


class _Prompted(_Valued):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="template")
    system: str | None = Field(None, max_length=MAX_PROMPT_CHARS, description="template")
    max_tokens: int = Field(800, ge=1, le=MAX_OUTPUT_TOKENS)


class LlmNode(_Prompted, Target):
    """One routed model call; with `output_schema` its answer must be JSON valid against it."""

    kind: Literal["llm"]
    output_schema: dict[str, JsonValue] | None = None
    temperature: float | None = Field(None, ge=0, le=2)


class ToolNode(_Valued):
    """A registered tool called with templated arguments (no model involved)."""

    kind: Literal["tool"]
    tool: str
    args: dict[str, str] = Field(default_factory=dict, max_length=20, description="templates")
    config: dict[str, JsonValue] = Field(default_factory=dict, description="tool settings")


class RouteSpec(_Strict):
    when: str = Field(description="expression over state, e.g. state.score >= 0.8")
    to: str


class RouterNode(_Node):
    """Conditional edges: the first route whose `when` holds, else `default`."""

    kind: Literal["router"]
    routes: list[RouteSpec] = Field(min_length=1, max_length=20)
    default: str


class DebateNode(_Prompted):
    """N debaters answer in parallel for K rounds (seeing each other), then a judge decides."""

    kind: Literal["debate"]
    debaters: list[Debater] = Field(min_length=2, max_length=MAX_DEBATERS)
    rounds: int = Field(1, ge=1, le=MAX_ROUNDS)
    judge: Target = Field(default_factory=lambda: Target(tier="frontier"))


class CascadeNode(_Prompted):
    """Each tier in turn until the verifier accepts an answer."""

    kind: Literal["cascade"]
    tiers: list[str] = Field(
        default_factory=lambda: ["edge", "mid", "frontier"], min_length=2, max_length=3
    )
    verifier: VerifierSpec = Field(default_factory=lambda: VerifierSpec(check="arithmetic"))

    @field_validator("verifier", mode="before")
    @classmethod
    def _check_shorthand(cls, value: Any) -> Any:
        return {"check": value} if isinstance(value, str) else value


class SpeculativeNode(_Prompted):
    """A cheap draft; a strong model verifies it and writes a fix only when it rejects it."""

    kind: Literal["speculative"]
    draft: Target = Field(default_factory=lambda: Target(tier="edge"))
    verifier: Target = Field(default_factory=lambda: Target(tier="frontier"))


InlineNode = Annotated[
    LlmNode | ToolNode | CascadeNode | SpeculativeNode, Field(discriminator="kind")
]


class MapNode(_Valued):
    """Runs `node` once per element of a list, in parallel, and collects the results in order."""

    kind: Literal["map"]
    over: str = Field(description="expression giving a list, e.g. state.items")
    as_: str = Field(
        "item", alias="as", pattern=NAME_PATTERN, description="the element's name in templates"
    )
    node: InlineNode
    max_items: int = Field(20, ge=1, le=MAX_MAP_ITEMS)


class SubgraphNode(_Valued):
    """Another registered graph, pinned by version; its output object is written to `output`."""

    kind: Literal["subgraph"]
    graph: str
    version: int = Field(ge=1, le=MAX_GRAPH_VERSION)
    input: dict[str, str] = Field(
        default_factory=dict, max_length=50, description="subgraph input field -> expression"
    )


Node = Annotated[
    LlmNode
    | ToolNode
    | RouterNode
    | MapNode
    | DebateNode
    | CascadeNode
    | SpeculativeNode
    | SubgraphNode,
    Field(discriminator="kind"),
]
NODE_KINDS = ("llm", "tool", "router", "map", "debate", "cascade", "speculative", "subgraph")


class Edge(_Strict):
    from_: str = Field(alias="from")
    to: str = Field(description='a node, or "END"')


class Limits(_Strict):
    max_steps: int | None = Field(
        None, ge=1, le=MAX_STEPS, description=f"graph steps per run (default {DEFAULT_MAX_STEPS})"
    )
    budget_usd: float | None = Field(None, gt=0, le=1000)


class GraphSpec(_Strict):
    """A workflow graph: typed state, input, nodes, edges and limits."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="routegraph graph spec")

    spec_version: Literal[1] = 1
    name: str = Field(pattern=GRAPH_NAME_PATTERN)
    description: str = Field("", max_length=2000)
    state: dict[str, StateField] = Field(min_length=1, max_length=MAX_STATE_FIELDS)
    input: list[str] = Field(max_length=MAX_STATE_FIELDS, description="state fields a run sets")
    output: list[str] | None = Field(
        None, max_length=MAX_STATE_FIELDS, description="state fields a run returns (default all)"
    )
    entry: str
    nodes: dict[str, Node] = Field(min_length=1, max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
    limits: Limits = Field(default_factory=Limits)


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec document (what `GET /v1/graphs/schema` serves)."""
    schema = GraphSpec.model_json_schema(by_alias=True)
    # The shorthands the validators accept (`policy: auto`, `verifier: arithmetic`) are
    # part of the format, so the published schema allows them too.
    for definition in schema["$defs"].values():
        properties = definition.get("properties", {})
        if "policy" in properties:
            properties["policy"] = _or_enum(properties["policy"], ["auto", "cascade"])
    cascade = schema["$defs"]["CascadeNode"]["properties"]
    cascade["verifier"] = _or_enum(cascade["verifier"], ["arithmetic", "json", "nonempty"])
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def _or_enum(property_schema: dict[str, Any], names: list[str]) -> dict[str, Any]:
    keep = {k: v for k, v in property_schema.items() if k in ("default", "description", "title")}
    shape = {k: v for k, v in property_schema.items() if k not in keep}
    return {"anyOf": [shape, {"type": "string", "enum": names}], **keep}
