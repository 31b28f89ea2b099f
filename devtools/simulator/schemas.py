"""Model names as the simulator reads them; the request itself is the endpoint's own model
(`app.schemas.openai.ChatCompletionRequest`): one definition of OpenAI's wire format."""

from __future__ import annotations

from app.schemas.openai import ChatCompletionRequest

__all__ = ["ChatCompletionRequest", "normalize_model_name"]


def normalize_model_name(name: str) -> str:
    """LiteLLM strips `openai/`; a client that does not still reaches the same model."""
    return name.removeprefix("openai/")
