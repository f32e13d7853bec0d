"""The OpenAI fake (chat, responses, images, embeddings, models) and the shared fake LLM."""

from .limits import Limits
from .service import OpenAIFake, create

__all__ = ["Limits", "OpenAIFake", "create"]
