"""The Anthropic fake: the Messages API (with SSE) and models — the failover LLM provider."""

from .service import AnthropicFake, create
from .wire import MODELS

__all__ = ["MODELS", "AnthropicFake", "create"]
