"""What a tool a graph spec can call looks like: settings, arguments, and an async run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ToolError(RuntimeError):
    """The tool could not produce a result (bad arguments, refused URL, timeout...)."""


class NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpecTool(ABC):
    """A tool node calls `run` with its rendered arguments and validated `config`."""

    name: ClassVar[str]
    description: ClassVar[str]
    required_args: ClassVar[tuple[str, ...]] = ()
    optional_args: ClassVar[tuple[str, ...]] = ()
    config_model: ClassVar[type[BaseModel]] = NoConfig
    result_type: ClassVar[str] = "any"  # the JSON type `run` returns, checked against state
    # The arguments depend on the config (an MCP tool's input schema): `check_args` checks them.
    dynamic_args: ClassVar[bool] = False

    def check_args(self, args: Mapping[str, str], config: BaseModel) -> list[tuple[str, str]]:
        """Problems visible before running, as (argument, message); arguments are templates."""
        return []

    def check_config(self, config: BaseModel) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems with a valid `config` that running would hit, as (path in it, message)."""
        return []

    @abstractmethod
    async def run(self, args: Mapping[str, str], config: BaseModel) -> Any:
        """The tool's JSON result; ToolError when it cannot give one."""

    async def run_in(self, args: Mapping[str, str], config: BaseModel, call: ToolCall) -> Any:
        """`run` for a node of a run: tools that need the run (its tenant, a recording of
        their results for replays) override this."""
        return await self.run(args, config)


@dataclass(frozen=True)
class ToolCall:
    """Where a tool node's call is made: the run's tenant, the call's deterministic key,
    the recorded results a replay answers from (None when the run is live), the node's
    event stream."""

    tenant_id: str
    node: str
    key: str
    recorded: Mapping[str, Any] | None
    emit: Callable[[dict[str, Any]], None]
