"""The OpenAI fake's model catalogue and price table (USD), used for ``cost_usd`` in the ledger.

List prices as published by OpenAI in 2025, rounded; they are the fake's own table, not a bill.
A dated snapshot (``gpt-4o-2024-08-06``) is priced as the longest catalogue name it starts with.

| model | input $/1M tokens | output $/1M tokens |
|---|---|---|
| gpt-4o | 2.50 | 10.00 |
| gpt-4o-mini | 0.15 | 0.60 |
| gpt-4.1 | 2.00 | 8.00 |
| gpt-4.1-mini | 0.40 | 1.60 |
| gpt-4.1-nano | 0.10 | 0.40 |
| gpt-5 | 1.25 | 10.00 |
| gpt-5-mini | 0.25 | 2.00 |
| gpt-5-nano | 0.05 | 0.40 |
| gpt-5.1, gpt-5.2, gpt-5.4, gpt-5.5 | 1.25 | 10.00 |
| gpt-5.4-mini | 0.25 | 2.00 |
| gpt-5.4-nano | 0.05 | 0.40 |
| o4-mini | 1.10 | 4.40 |
| gpt-3.5-turbo | 0.50 | 1.50 |
| text-embedding-3-small | 0.02 | — |
| text-embedding-3-large | 0.13 | — |
| text-embedding-ada-002 | 0.10 | — |

Images, USD per image: dall-e-2 0.02, dall-e-3 0.04, gpt-image-1 0.042, gpt-image-1-mini 0.011.
"""

from __future__ import annotations

from typing import TypeVar

from .model import Price

__all__ = ["CHAT_MODELS", "EMBEDDING_MODELS", "IMAGE_MODELS", "resolve"]

T = TypeVar("T")

CHAT_MODELS: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-5.1": Price(1.25, 10.00),
    "gpt-5.2": Price(1.25, 10.00),
    "gpt-5.4": Price(1.25, 10.00),
    "gpt-5.4-mini": Price(0.25, 2.00),
    "gpt-5.4-nano": Price(0.05, 0.40),
    "gpt-5.5": Price(1.25, 10.00),
    "o4-mini": Price(1.10, 4.40),
    "gpt-3.5-turbo": Price(0.50, 1.50),
}

#: model → (default dimensions, price)
EMBEDDING_MODELS: dict[str, tuple[int, Price]] = {
    "text-embedding-3-small": (1536, Price(0.02, 0.0)),
    "text-embedding-3-large": (3072, Price(0.13, 0.0)),
    "text-embedding-ada-002": (1536, Price(0.10, 0.0)),
}

#: model → USD per image
IMAGE_MODELS: dict[str, float] = {
    "dall-e-2": 0.02,
    "dall-e-3": 0.04,
    "gpt-image-1": 0.042,
    "gpt-image-1-mini": 0.011,
}


def resolve(model: str, table: dict[str, T]) -> T | None:
    """The entry for ``model``, or for the longest catalogue name a dated snapshot starts with."""
    if model in table:
        return table[model]
    best = max((name for name in table if model.startswith(name + "-")), key=len, default=None)
    return table[best] if best is not None else None
