"""Limits of the LinkedIn fake, with documented defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_APP_DAILY", "DEFAULT_MEMBER_DAILY", "ROUTES", "LinkedInOptions"]

ROUTES: tuple[str, ...] = (
    "posts.create",
    "posts.find",
    "posts.get",
    "posts.update",
    "posts.delete",
    "comments.list",
    "comments.create",
    "socialMetadata.batch_get",
    "userinfo.get",
    "oauth.token",
)
#: calls per member per UTC day; routes not listed are not limited
DEFAULT_MEMBER_DAILY: Mapping[str, int] = MappingProxyType(
    {"posts.create": 150, "comments.create": 300}
)
#: calls per app per UTC day (all members together)
DEFAULT_APP_DAILY: Mapping[str, int] = MappingProxyType(
    {"posts.create": 100_000, "comments.create": 100_000}
)


@dataclass(frozen=True)
class LinkedInOptions:
    """How the LinkedIn fake limits things; every field may be overridden on ``create``.

    Defaults: 150 posts and 300 comments per member per UTC day, 100,000 of each per app, API
    versions supported for 12 months, identical commentary from one author refused for 24 h.
    """

    member_daily: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MEMBER_DAILY))
    app_daily: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_APP_DAILY))
    version_support_months: int = 12
    duplicate_window_s: float = 86_400.0

    def __post_init__(self) -> None:
        for name in ("member_daily", "app_daily"):
            limits: Mapping[str, int] = getattr(self, name)
            unknown = sorted(set(limits) - set(ROUTES))
            if unknown:
                raise ValueError(
                    f"LinkedInOptions.{name}: {unknown[0]!r} is not a LinkedIn route; valid: {', '.join(ROUTES)}"
                )
            object.__setattr__(self, name, MappingProxyType(dict(limits)))
        if self.version_support_months < 1:
            raise ValueError(
                f"LinkedInOptions.version_support_months must be at least 1, got {self.version_support_months!r}"
            )

    def with_(self, **overrides: Any) -> LinkedInOptions:
        """A copy with some fields replaced."""
        return replace(self, **overrides)
