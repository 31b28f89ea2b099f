"""Graphs: the ones this service can run, and declarative specs pushed as new versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from starlette.convertors import Convertor, register_url_convertor

from app.api.deps import get_services
from app.api.json_route import ProblemRoute
from app.api.problems import problem_responses
from app.api.tenant import TenantDep
from app.schemas.graphs import GraphDetail, GraphVersionOut, PushedGraph, SpecCheck
from app.schemas.runs import GraphOut
from app.schemas.storable import StorableJSONObject, StorableStr
from app.services.container import Services
from app.services.errors import GraphVersionNotFound, UnknownGraph
from app.services.graph_registry import ResolvedGraph
from graphs.spec import spec_json_schema


class _GraphName(Convertor[str]):
    """A graph name in a path: anything but the sub-resources `validate` and `schema`, so
    `/v1/graphs/validate` is only the validate route (and its `Allow` says so)."""

    regex = "(?!(?:validate|schema)$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("graph_name", _GraphName())
router = APIRouter(prefix="/v1/graphs", tags=["graphs"], route_class=ProblemRoute)
ServicesDep = Annotated[Services, Depends(get_services)]
GraphName = Annotated[StorableStr, Path(max_length=100, description="the graph's name")]
SpecBody = Annotated[
    StorableJSONObject,
    "a graph spec document: its JSON Schema is at GET /v1/graphs/schema",
]


def _graph_out(graph: ResolvedGraph) -> GraphOut:
    return GraphOut(
        name=graph.name,
        version=graph.version,
        source=graph.definition.source,
        description=graph.definition.description,
        input_schema=graph.definition.input_schema,
        nodes=graph.definition.nodes,
    )


@router.get("", response_model=list[GraphOut])
async def list_graphs(services: ServicesDep, tenant: TenantDep) -> list[GraphOut]:
    """Graphs this service can run: those whose code it loads, and this tenant's specs,
    each at its latest version."""
    graphs = services.registry.loaded() + await services.registry.spec_graphs(tenant)
    return [_graph_out(graph) for graph in sorted(graphs, key=lambda g: g.name)]


@router.get("/schema", response_model=dict[str, Any])
async def graph_spec_schema() -> dict[str, Any]:
    """The JSON Schema of a declarative graph spec (what `POST /v1/graphs` takes)."""
    return spec_json_schema()


@router.post(
    "",
    status_code=201,
    response_model=PushedGraph,
    responses={
        200: {"model": PushedGraph, "description": "The same spec is already this version"},
        **problem_responses(409),
    },
)
async def push_graph(
    spec: SpecBody, response: Response, services: ServicesDep, tenant: TenantDep
) -> PushedGraph:
    """Store a spec as the next immutable version of its graph (201); the same spec as the
    latest version is that version (200). Every problem in the spec is a 422 whose
    `errors` carry the JSON pointer of each."""
    pushed = await services.registry.specs.push(tenant, spec, services.registry.loaded_names())
    response.headers["Location"] = f"/v1/graphs/{pushed.row.name}/versions/{pushed.row.version}"
    if not pushed.created:
        response.status_code = 200
    return PushedGraph(
        name=pushed.row.name,
        version=pushed.row.version,
        created=pushed.created,
        description=pushed.compiled.description,
        input_schema=pushed.compiled.input_schema,
        nodes=pushed.compiled.node_summary(),
    )


@router.post("/validate", response_model=SpecCheck)
async def validate_graph(spec: SpecBody, services: ServicesDep, tenant: TenantDep) -> SpecCheck:
    """Validate and compile a spec without storing it (422 with every problem if wrong)."""
    compiled = await services.registry.specs.compile(tenant, spec)
    return SpecCheck(
        valid=True,
        name=compiled.name,
        input_schema=compiled.input_schema,
        nodes=compiled.node_summary(),
    )


@router.get("/{name:graph_name}", response_model=GraphDetail, responses=problem_responses(404))
async def get_graph(name: GraphName, services: ServicesDep, tenant: TenantDep) -> GraphDetail:
    """A graph with the list of its versions."""
    latest = await services.registry.resolve(name, tenant_id=tenant)
    owner = latest.tenant_id
    rows = await services.registry.versions(name, owner)
    return GraphDetail(
        **_graph_out(latest).model_dump(),
        versions=[GraphVersionOut.from_row(row) for row in rows],
    )


@router.get(
    "/{name:graph_name}/versions/{version}",
    response_model=GraphVersionOut,
    responses=problem_responses(404),
)
async def get_graph_version(
    name: GraphName,
    version: Annotated[int, Path(ge=1, le=999_999_999)],
    services: ServicesDep,
    tenant: TenantDep,
) -> GraphVersionOut:
    """One stored version: for a spec, the document exactly as pushed."""
    owner = "" if name in services.registry.loaded_names() else tenant
    row = await services.registry.stored_version(name, version, owner)
    if row is None:
        if owner == "" or await services.registry.has_spec(name, tenant):
            raise GraphVersionNotFound(f"graph {name!r} has no version {version}")
        raise UnknownGraph(f"no graph named {name!r}")
    return GraphVersionOut.from_row(row, with_document=True)
