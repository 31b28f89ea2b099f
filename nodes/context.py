"""What every node receives at run time through LangGraph's `Runtime.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.gateway.types import CallContext
from app.routing.policy import Policy

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from app.gateway.gateway import Gateway


@dataclass(frozen=True)
class RunContext:
    """Built by the worker per run; a test or a replay injects its own gateway."""

    gateway: Gateway
    run_id: str
    policies: dict[str, Policy] = field(default_factory=dict)

    def policy_for(self, node: str, default: Policy) -> Policy:
        return self.policies.get(node, default)


class NodeCalls:
    """Deterministic call keys for one node execution: (run, task, node, call index).

    LangGraph derives task ids from the checkpoint, so a node re-executed after a crash
    gets the same keys and the gateway finds the calls that were already paid for.
    """

    def __init__(self, runtime: Runtime[RunContext], node: str) -> None:
        self.runtime = runtime
        self.node = node
        self._index = 0

    @property
    def gateway(self) -> Gateway:
        return self.runtime.context.gateway

    def policy(self, default: Policy) -> Policy:
        return self.runtime.context.policy_for(self.node, default)

    def next_context(self) -> CallContext:
        run_id = self.runtime.context.run_id
        info = self.runtime.execution_info
        if info is None:
            raise RuntimeError("nodes that call models must run inside a LangGraph task")
        task_id = info.task_id
        key = f"{run_id}:{task_id}:{self.node}:{self._index}"
        self._index += 1
        return CallContext(call_key=key, run_id=run_id, node=self.node)
