"""Request bodies of the LangGraph Server API, as `langgraph_sdk` sends them.

Every field LangGraph's server accepts is declared; one routegraph does not implement is
refused with a 422 naming it (`UNSUPPORTED`) rather than silently dropped, and an unknown
field is a 422 too (`extra="forbid"`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.storable import StorableJSON, StorableJSONObject, StorableStr

# A run that names no `durability` checkpoints as LangGraph's server does: each step's
# checkpoint is written while the next step runs (a crash loses at most the step in
# flight, which the next worker runs again; its model calls come from the ledger).
# "sync" writes each checkpoint before the next step starts.
DEFAULT_DURABILITY = "async"

StreamModeName = Literal[
    "values",
    "updates",
    "messages",
    "messages-tuple",
    "custom",
    "debug",
    "events",
    "tasks",
    "checkpoints",
]
MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
IfNotExists = Literal["create", "reject"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssistantCreate(Strict):
    graph_id: StorableStr = Field(max_length=100)
    assistant_id: StorableStr | None = Field(None, max_length=36)
    config: StorableJSONObject | None = None
    context: StorableJSONObject | None = None
    metadata: StorableJSONObject | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    name: StorableStr | None = Field(None, max_length=200)
    description: StorableStr | None = Field(None, max_length=10_000)


class AssistantPatch(Strict):
    graph_id: StorableStr | None = Field(None, max_length=100)
    config: StorableJSONObject | None = None
    context: StorableJSONObject | None = None
    metadata: StorableJSONObject | None = None
    name: StorableStr | None = Field(None, max_length=200)
    description: StorableStr | None = Field(None, max_length=10_000)


class AssistantSearch(Strict):
    metadata: StorableJSONObject | None = None
    graph_id: StorableStr | None = Field(None, max_length=100)
    name: StorableStr | None = Field(None, max_length=200)
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[StorableStr] | None = None


class AssistantVersionsSearch(Strict):
    metadata: StorableJSONObject | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class SetLatest(Strict):
    version: int = Field(ge=1)


class ThreadCreate(Strict):
    thread_id: StorableStr | None = Field(None, max_length=150)
    metadata: StorableJSONObject | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    supersteps: list[Any] | None = None
    ttl: Any = None


class ThreadPatch(Strict):
    metadata: StorableJSONObject | None = None
    ttl: Any = None


class ThreadSearch(Strict):
    metadata: StorableJSONObject | None = None
    values: StorableJSONObject | None = None
    ids: list[StorableStr] | None = None
    status: ThreadStatus | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[StorableStr] | None = None
    extract: StorableJSONObject | None = None


class CheckpointRef(Strict):
    thread_id: StorableStr | None = Field(None, max_length=200)
    checkpoint_ns: StorableStr | None = Field(None, max_length=500)
    checkpoint_id: StorableStr | None = Field(None, max_length=64)
    checkpoint_map: StorableJSONObject | None = None


class ThreadStateUpdate(Strict):
    values: StorableJSON = None
    as_node: StorableStr | None = Field(None, max_length=100)
    checkpoint: CheckpointRef | None = None
    checkpoint_id: StorableStr | None = Field(None, max_length=64)


class ThreadStateQuery(Strict):
    checkpoint: CheckpointRef | None = None
    subgraphs: bool = False


class ThreadHistory(Strict):
    limit: int = Field(10, ge=1, le=1000)
    before: StorableJSON = None
    metadata: StorableJSONObject | None = None
    checkpoint: CheckpointRef | None = None


class Command(Strict):
    resume: StorableJSON = None
    update: StorableJSON = None
    goto: StorableJSON = None


# Fields LangGraph's server takes that routegraph refuses (a 422 names the field).
UNSUPPORTED = ("webhook", "feedback_keys", "langsmith_tracer", "checkpoint_during")


class RunCreate(Strict):
    """`POST /threads/{id}/runs[/stream|/wait]` and the stateless `/runs...`."""

    assistant_id: StorableStr = Field(max_length=100)
    input: StorableJSON = None
    command: Command | None = None
    config: StorableJSONObject | None = None
    context: StorableJSONObject | None = None
    metadata: StorableJSONObject | None = None
    stream_mode: StreamModeName | list[StreamModeName] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[StorableStr] | None = None
    interrupt_after: Literal["*"] | list[StorableStr] | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: StorableStr | None = Field(None, max_length=64)
    multitask_strategy: MultitaskStrategy | None = None
    if_not_exists: IfNotExists | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: float | None = Field(None, ge=0, le=86_400)
    durability: Literal["sync", "async", "exit"] | None = None
    strict_resume: bool | None = None
    webhook: Any = None
    feedback_keys: Any = None
    langsmith_tracer: Any = None
    checkpoint_during: Any = None

    @model_validator(mode="after")
    def _implemented(self) -> RunCreate:
        for name in UNSUPPORTED:
            if getattr(self, name) is not None:
                raise ValueError(f"{name} is not supported by this server")
        if self.strict_resume:
            raise ValueError("strict_resume is not supported by this server")
        if self.input is not None and self.command is not None:
            raise ValueError("give input or command, not both")
        return self

    def stream_modes(self) -> list[str]:
        """The modes asked for, `values` when none (as LangGraph's server does)."""
        modes = self.stream_mode if self.stream_mode is not None else ["values"]
        listed = [modes] if isinstance(modes, str) else list(modes)
        return list(dict.fromkeys(listed))


class CancelMany(Strict):
    thread_id: StorableStr | None = Field(None, max_length=200)
    run_ids: list[StorableStr] | None = None
    status: Literal["pending", "running", "all"] | None = None
