"""What a run started through the LangGraph API changes in its execution.

`runs.lg` (written by `app/services/lg_runs.py`) may hold a `command` to resume with, the
stream modes a client asked for (each chunk becomes a `stream` event that the LangGraph
stream endpoints read), `interrupt_before/after`, a checkpoint to start from, the config's
`configurable` values, `durability` and `stream_subgraphs`. A run resumed with a command
names its model calls as the interrupted run did, so the node that re-executes finds the
calls it already paid for in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, Durability, StreamMode

from app.db.events_repo import PendingEvent
from app.services.lg_json import jsonable
from graphs.registry import Compiled

# Checkpoint metadata: the run whose id prefixes the call keys of this chain of runs.
CALL_KEYS_KEY = "routegraph_call_keys"
# LangGraph's own stream modes; the API's `messages-tuple` is LangGraph's `messages`.
NATIVE_MODES = {"values", "updates", "messages", "custom", "debug", "tasks", "checkpoints"}


@dataclass
class LgOptions:
    command: dict[str, Any] | None = None
    has_input: bool = True
    stream_modes: list[str] = field(default_factory=list)
    subgraphs: bool = False
    interrupt_before: Any = None
    interrupt_after: Any = None
    checkpoint_id: str | None = None
    configurable: dict[str, Any] = field(default_factory=dict)
    recursion_limit: int | None = None
    durability: Durability = "sync"
    # multitask `rollback`: the runs cancelled for this one; it starts where they started.
    rollback_runs: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, lg: dict[str, Any]) -> LgOptions:
        return cls(
            command=lg.get("command"),
            has_input=bool(lg.get("has_input", True)),
            stream_modes=list(lg.get("stream_modes") or []),
            subgraphs=bool(lg.get("stream_subgraphs")),
            interrupt_before=lg.get("interrupt_before"),
            interrupt_after=lg.get("interrupt_after"),
            checkpoint_id=lg.get("checkpoint_id"),
            configurable=dict(lg.get("configurable") or {}),
            recursion_limit=lg.get("recursion_limit"),
            durability=cast(Durability, lg.get("durability") or "sync"),
            rollback_runs=list(lg.get("rollback_runs") or []),
        )

    def graph_command(self) -> Command[Any] | None:
        if self.command is None:
            return None
        return Command(
            resume=self.command.get("resume"),
            update=self.command.get("update"),
            goto=self.command.get("goto") or (),
        )

    def native_modes(self) -> list[StreamMode]:
        modes = {"messages" if m == "messages-tuple" else m for m in self.stream_modes}
        return [cast(StreamMode, m) for m in sorted(modes & NATIVE_MODES)]

    def config(self, base: RunnableConfig, *, resuming: bool) -> RunnableConfig:
        """The run's config; a run resumed after a crash continues from its own latest
        checkpoint, not from the one it was asked to start at."""
        configurable = {**self.configurable, **base.get("configurable", {})}
        if self.checkpoint_id and not resuming:
            configurable["checkpoint_id"] = self.checkpoint_id
        config: RunnableConfig = {**base, "configurable": configurable}
        if self.recursion_limit:
            config["recursion_limit"] = self.recursion_limit
        return config

    def astream_kwargs(self) -> dict[str, Any]:
        return {
            "interrupt_before": self.interrupt_before,
            "interrupt_after": self.interrupt_after,
            "subgraphs": self.subgraphs,
            "durability": self.durability,
        }

    def wants(self, mode: str) -> bool:
        asked = "messages-tuple" if mode == "messages" else mode
        return asked in self.stream_modes or mode in self.stream_modes


def stream_event(mode: str, namespace: tuple[str, ...], chunk: Any) -> PendingEvent:
    """One chunk of a LangGraph stream mode, as the API sends it (`event` `mode|ns`)."""
    event = "|".join((mode, *namespace)) if namespace else mode
    data = jsonable(list(chunk) if mode == "messages" else chunk)
    return PendingEvent("stream", payload={"event": event, "data": data})


async def call_key_prefix(compiled: Compiled, config: RunnableConfig, run_id: str) -> str:
    """For a resume: the prefix of the interrupted run's call keys (else this run's id)."""
    snapshot = await compiled.aget_state(config)
    metadata = snapshot.metadata or {}
    prefix = metadata.get(CALL_KEYS_KEY) or metadata.get("routegraph_run_id")
    return str(prefix) if prefix and snapshot.interrupts else run_id


async def rollback_start(compiled: Compiled, config: RunnableConfig, runs: list[str]) -> None:
    """Point `config` at the newest checkpoint no rolled-back run wrote (their writes are
    left behind on a branch of the thread's history); when they wrote every checkpoint of
    the thread, the thread starts empty again."""
    async for snapshot in compiled.aget_state_history(config):
        if (snapshot.metadata or {}).get("routegraph_run_id") not in runs and snapshot.config:
            config["configurable"]["checkpoint_id"] = snapshot.config["configurable"][
                "checkpoint_id"
            ]
            return
    if compiled.checkpointer is not None and not isinstance(compiled.checkpointer, bool):
        await compiled.checkpointer.adelete_thread(config["configurable"]["thread_id"])


def interrupted_event(interrupts: Any) -> PendingEvent:
    """The pause on the run's timeline: the run ends, its thread waits for a resume."""
    return PendingEvent("interrupted", payload={"interrupts": jsonable(interrupts)})
