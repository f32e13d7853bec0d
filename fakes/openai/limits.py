"""Rate-limit buckets for the LLM fakes: capacity that drains with use and refills continuously.

OpenAI and Anthropic both describe their limits as buckets replenished continuously over the
window rather than reset at fixed boundaries; ``reset_in`` is therefore the time until the
bucket is full again, which is what ``x-ratelimit-reset-*`` report and why those values count
down between calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Bucket", "Limits", "OrgLimits"]


@dataclass(frozen=True)
class Limits:
    """Per-organisation (per API key) limits of an LLM fake."""

    requests_per_window: int = 10_000
    requests_window_s: float = 60.0
    tokens_per_window: int = 2_000_000
    tokens_window_s: float = 60.0


@dataclass
class Bucket:
    """``limit`` units per ``window_s`` seconds, refilled continuously."""

    limit: int
    window_s: float
    used: float = 0.0
    at: float | None = None

    def _settle(self, now: float) -> None:
        if self.at is not None and now > self.at:
            self.used = max(0.0, self.used - (now - self.at) * self.limit / self.window_s)
        self.at = now if self.at is None else max(self.at, now)

    def can_take(self, now: float, n: float) -> bool:
        """Whether ``n`` units fit now."""
        self._settle(now)
        return self.used + n <= self.limit

    def take(self, now: float, n: float) -> None:
        """Spend ``n`` units (may overdraw: token usage is only known after the call)."""
        self._settle(now)
        self.used += n

    def remaining(self, now: float) -> int:
        """Units left now."""
        self._settle(now)
        return max(0, int(self.limit - self.used))

    def reset_in(self, now: float) -> float:
        """Seconds until the bucket is full again."""
        self._settle(now)
        return self.used * self.window_s / self.limit

    def wait_for(self, now: float, n: float) -> float:
        """Seconds until ``n`` units fit."""
        self._settle(now)
        over = self.used + n - self.limit
        return max(0.0, over * self.window_s / self.limit)


@dataclass
class OrgLimits:
    """The request and token buckets of one organisation."""

    requests: Bucket
    tokens: Bucket = field(default_factory=lambda: Bucket(1, 1.0))

    @classmethod
    def of(cls, limits: Limits) -> OrgLimits:
        """Fresh, full buckets for ``limits``."""
        return cls(
            Bucket(limits.requests_per_window, limits.requests_window_s),
            Bucket(limits.tokens_per_window, limits.tokens_window_s),
        )
