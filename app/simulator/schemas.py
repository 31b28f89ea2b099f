"""The slice of the OpenAI chat request the simulator understands; the rest is ignored.

Messages stay plain dicts so the request log and the responder see them exactly as sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """A validated `POST /v1/chat/completions` body."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field(min_length=1)
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    n: int = Field(default=1, ge=1, le=8, description="choices (non-streaming only)")
    stop: str | list[str] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)

    @field_validator("messages")
    @classmethod
    def _check_messages(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(messages):
            role = message.get("role")
            if role not in MESSAGE_ROLES:
                raise ValueError(f"messages[{index}].role must be one of {sorted(MESSAGE_ROLES)}")
            content = message.get("content")
            if content is not None and not isinstance(content, str | list):
                raise ValueError(f"messages[{index}].content must be a string or a list of parts")
        return messages

    @field_validator("tools")
    @classmethod
    def _check_tools(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for index, tool in enumerate(tools or []):
            function = tool.get("function")
            if tool.get("type") != "function" or not isinstance(function, dict):
                raise ValueError(f"tools[{index}] must be {{'type': 'function', 'function': ...}}")
            if not isinstance(function.get("name"), str) or not function["name"]:
                raise ValueError(f"tools[{index}].function.name is required")
        return tools

    @property
    def output_limit(self) -> int | None:
        """The caller's cap on completion tokens, under either of its names."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    @property
    def wants_json(self) -> bool:
        kind = (self.response_format or {}).get("type")
        return kind in ("json_object", "json_schema")

    def json_schema(self) -> dict[str, Any] | None:
        """The schema of a `json_schema` response format, if that is what was asked for."""
        response_format = self.response_format or {}
        if response_format.get("type") != "json_schema":
            return None
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else {"type": "object"}

    def stop_list(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.tools or []]


def normalize_model_name(name: str) -> str:
    """LiteLLM strips `openai/`; a client that does not still reaches the same model."""
    return name.removeprefix("openai/")
