"""Limits and lifetimes of the X fake, with documented defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_LIMITS", "ROUTES", "XOptions"]

#: every route name of the X fake (fault rules match these)
ROUTES: tuple[str, ...] = (
    "tweets.create",
    "tweets.get",
    "tweets.lookup",
    "tweets.delete",
    "oauth2.token",
    "users.me",
    "users.mentions",
    "dm_events.list",
    "dm_events.with",
    "dm.send",
    "likes.create",
    "tweets.search",
    "users.get",
    "users.by_username",
    "users.tweets",
)

#: requests per user per 15-minute window, close to X's documented Pro-tier limits; the token
#: endpoint is counted per OAuth client id
DEFAULT_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "tweets.create": 200,
        "tweets.get": 900,
        "tweets.lookup": 900,
        "tweets.delete": 50,
        "oauth2.token": 300,
        "users.me": 75,
        "users.mentions": 300,
        "dm_events.list": 300,
        "dm_events.with": 300,
        "dm.send": 200,
        "likes.create": 50,
        "tweets.search": 300,
        "users.get": 900,
        "users.by_username": 900,
        "users.tweets": 900,
    }
)


@dataclass(frozen=True)
class XOptions:
    """How the X fake limits and times things; every field may be overridden on ``create``.

    Defaults: 15-minute windows per user per endpoint (:data:`DEFAULT_LIMITS`), post creation
    capped at 100 per user and 1,667 per app per 24 hours (X's Basic tier), 2-hour access
    tokens, and identical text from the same account refused as duplicate for 24 hours.
    """

    window_s: float = 900.0
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    user_24h_limit: int = 100
    app_24h_limit: int = 1667
    access_ttl_s: float = 7200.0
    duplicate_window_s: float = 86_400.0
    max_lookup_ids: int = 100

    def __post_init__(self) -> None:
        unknown = sorted(set(self.limits) - set(ROUTES))
        if unknown:
            raise ValueError(
                f"XOptions.limits: {unknown[0]!r} is not an X route; valid: {', '.join(ROUTES)}"
            )
        merged = {**DEFAULT_LIMITS, **self.limits}
        bad = {k: v for k, v in merged.items() if not isinstance(v, int) or v < 1}
        if bad:
            raise ValueError(f"XOptions.limits: limits must be positive integers, got {bad!r}")
        object.__setattr__(self, "limits", MappingProxyType(merged))
        for name in (
            "window_s",
            "user_24h_limit",
            "app_24h_limit",
            "access_ttl_s",
            "max_lookup_ids",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"XOptions.{name} must be positive, got {getattr(self, name)!r}")

    def with_(self, **overrides: Any) -> XOptions:
        """A copy with some fields replaced (unknown names raise TypeError naming them)."""
        return replace(self, **overrides)
