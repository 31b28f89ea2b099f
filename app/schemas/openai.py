"""The OpenAI chat-completions request as routegraph accepts it, plus its `routegraph` field
(the provider simulator reads requests with the same model).

Known fields are validated; unknown ones are ignored (clients send many). Messages stay
plain dicts, passed to the provider as sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Sampling and output fields passed to the provider as given (and part of the cache key).
PASSTHROUGH_FIELDS = (
    "top_p",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "reasoning_effort",
    "user",
)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class RoutegraphOptions(BaseModel):
    """The `routegraph` extension field (`extra_body={"routegraph": {...}}` in the SDK)."""

    model_config = ConfigDict(extra="forbid")

    policy: str | None = Field(
        None, description='"auto", "cascade", a tier or a catalog model; default: `model`'
    )
    threshold: float | None = Field(None, ge=0, le=1, description="auto: quality threshold")
    max_latency_ms: float | None = Field(None, gt=0, description="auto: latency SLO")
    cascade_tiers: list[Literal["edge", "mid", "frontier"]] | None = Field(None, min_length=2)
    verifier: str | None = Field(
        None, description="cascade: arithmetic | json | nonempty | agreement | judge"
    )
    cache: bool = Field(True, description="false: neither read nor write the response cache")
    cache_ttl_s: float | None = Field(None, gt=0, le=30 * 86400)
    thread: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the conversation this request belongs to (A/B experiments split by "
        "thread keep it on one arm); default: its opening messages",
    )


class ChatCompletionRequest(BaseModel):
    """A validated `POST /v1/chat/completions` body."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field(min_length=1, max_length=200)
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=8)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    parallel_tool_calls: bool | None = None
    reasoning_effort: str | None = None
    user: str | None = Field(default=None, max_length=256)
    routegraph: RoutegraphOptions | None = None

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

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, stop: str | list[str] | None) -> str | list[str] | None:
        if isinstance(stop, list) and len(stop) > 4:
            raise ValueError("at most 4 stop sequences")
        return stop

    @property
    def output_limit(self) -> int | None:
        """The cap on completion tokens, under either of its names."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def stop_list(self) -> list[str] | None:
        return [self.stop] if isinstance(self.stop, str) else self.stop

    @property
    def choice_count(self) -> int:
        return self.n or 1

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

    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.tools or []]

    def passthrough(self) -> dict[str, Any]:
        """The sampling fields the client set, as sent."""
        return {
            name: getattr(self, name)
            for name in PASSTHROUGH_FIELDS
            if getattr(self, name) is not None
        }
