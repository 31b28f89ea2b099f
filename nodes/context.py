"""What every node receives at run time through LangGraph's `Runtime.context`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langgraph.config import get_config

from app.gateway.types import CallContext, ModelRequest, RunFence
from app.routing.policy import Policy

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from app.gateway.interface import ModelGateway


@dataclass(frozen=True)
class RunContext:
    """Built by the worker per run; a test or a replay injects its own gateway."""

    gateway: ModelGateway
    run_id: str
    policies: dict[str, Policy] = field(default_factory=dict)
    scope: RunFence | None = None
    graph: str | None = None
    tenant_id: str = "default"
    # The loop the run executes on (synchronous nodes run in threads and call back into it).
    loop: asyncio.AbstractEventLoop | None = None
    # Call keys start with this run id (a resumed run's: the interrupted run's, so the
    # node that runs again finds the calls it already paid for); None: `run_id`.
    call_key_prefix: str | None = None
    # Model calls made so far by each task of this execution (keys: LangGraph task id).
    _calls_per_task: dict[str, int] = field(default_factory=dict, repr=False)

    def policy_for(self, node: str, default: Policy) -> Policy:
        return self.policies.get(node, default)

    def call_context(self, node: str, purpose: str | None = None) -> CallContext:
        """The next call of the current LangGraph task, with its deterministic key."""
        config = get_config()
        prefix = self.call_key_prefix or self.run_id
        key = f"{prefix}:{tape_key(config, node, self._next_index(config))}"
        return CallContext(
            call_key=key,
            run_id=self.run_id,
            node=node,
            purpose=purpose,
            run=self.scope,
            graph=self.graph,
            tenant_id=self.tenant_id,
        )

    def _next_index(self, config: Mapping[str, Any]) -> int:
        task_id = str(config.get("configurable", {}).get("__pregel_task_id", ""))
        if not task_id:
            task_id = repr(_task_position(config))
        index = self._calls_per_task.get(task_id, 0)
        self._calls_per_task[task_id] = index + 1
        return index


def tape_key(config: Mapping[str, Any], node: str, index: int) -> str:
    """The part of a call key that names the call within its run: checkpoint step,
    namespace (node names only), task path, node and call index. It is the same when a
    crashed run resumes from its checkpoint, and in a replay or fork of the run that
    reaches the same step, so the ledger can answer the call from its recording."""
    step, namespace, path = _task_position(config)
    return f"s{step}:{namespace}:{path}:{node}:{index}"


def _task_position(config: Mapping[str, Any]) -> tuple[int, str, str]:
    metadata = config.get("metadata") or {}
    step = int(metadata.get("langgraph_step", 0))
    raw_ns = str(config.get("configurable", {}).get("checkpoint_ns", "") or "")
    # Namespaces look like "parent:<task uuid>|child:<task uuid>": keep the node names only.
    namespace = "/".join(part.split(":", 1)[0] for part in raw_ns.split("|") if part)
    path = metadata.get("langgraph_path") or ()
    return step, namespace, ".".join(str(part) for part in path if part != "__pregel_pull")


class NodeCalls:
    """Deterministic call contexts for one node execution."""

    def __init__(self, runtime: Runtime[RunContext], node: str) -> None:
        self.runtime = runtime
        self.node = node

    @property
    def gateway(self) -> ModelGateway:
        return self.runtime.context.gateway

    def policy(self, default: Policy) -> Policy:
        return self.runtime.context.policy_for(self.node, default)

    def next_context(self, purpose: str | None = None, *, reserve_usd: float = 0.0) -> CallContext:
        """`reserve_usd`: budget the run must keep for the calls it still has to make after
        this one (a call that would leave less is not made: the run ends out of budget)."""
        if self.runtime.execution_info is None:
            raise RuntimeError("nodes that call models must run inside a LangGraph task")
        ctx = self.runtime.context.call_context(self.node, purpose)
        ctx.reserve_usd = reserve_usd
        return ctx

    async def expected_cost_usd(self, tier: str, request: ModelRequest, node: str) -> float:
        """What a later call of `node` on `tier` is expected to cost (the ledger's p90)."""
        return await self.gateway.expected_cost_usd(
            tier, request, graph=self.runtime.context.graph, node=node
        )
