"""Timings and limits of the Instagram fake, with documented defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["InstagramOptions"]


@dataclass(frozen=True)
class InstagramOptions:
    """How the Instagram fake times and limits things; every field may be overridden on ``create``.

    Defaults: a container finishes processing 10 s after it is created and expires 24 h later if
    unpublished; 50 published posts per account per moving 24 h (Meta's current cap); the usage
    headers reach 100 % at 5,000 calls per hour for the app and 4,800 per hour per account, where
    the fake answers code 4 (app) or 80002 (account) itself; refreshed tokens live 60 days.
    """

    processing_s: float = 10.0
    container_ttl_s: float = 86_400.0
    publish_limit: int = 50
    publish_window_s: float = 86_400.0
    app_calls_per_hour: int = 5_000
    account_calls_per_hour: int = 4_800
    token_ttl_s: float = 60 * 86_400.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if v < 0 or (v == 0 and f.name != "processing_s"):
                raise ValueError(f"InstagramOptions.{f.name} must be positive, got {v!r}")

    def with_(self, **overrides: Any) -> InstagramOptions:
        """A copy with some fields replaced (unknown names raise TypeError naming them)."""
        return replace(self, **overrides)
