"""What a tool a graph spec can call looks like: settings, arguments, and an async run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
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

    def check_args(self, args: Mapping[str, str], config: BaseModel) -> list[tuple[str, str]]:
        """Problems visible before running, as (argument, message); arguments are templates."""
        return []

    def check_config(self, config: BaseModel) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems with a valid `config` that running would hit, as (path in it, message)."""
        return []

    @abstractmethod
    async def run(self, args: Mapping[str, str], config: BaseModel) -> Any:
        """The tool's JSON result; ToolError when it cannot give one."""
