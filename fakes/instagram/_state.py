"""What the Instagram fake remembers: containers, media, replies, messages, windows."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["Container", "IgState", "Media", "Reply", "Sent"]


@dataclass(slots=True)
class Container:
    """A media container on its way from upload to publication."""

    id: str
    account_id: str
    created_at: float
    #: status becomes FINISHED (or ERROR) at this time; inf = stuck IN_PROGRESS
    ready_at: float
    media_type: str
    caption: str
    error: bool = False
    media_id: str | None = None
    #: the image or video URL Instagram was asked to fetch for it
    media_url: str = ""


@dataclass(slots=True)
class Media:
    """A published post."""

    id: str
    account_id: str
    container_id: str
    caption: str
    media_type: str
    created_at: float
    permalink: str
    #: lookups do not find it before this time (``instagram.post_invisible``); inf = never
    visible_from: float = 0.0
    #: its owner deletes it in Instagram's own app at this time (``instagram.post_deleted``)
    deleted_at: float = float("inf")
    #: the account's media list still names it once deleted (``listed``)
    listed_when_deleted: bool = False

    def shown(self, now: float) -> bool:
        """Whether reads find it at ``now``: visible already, and not deleted yet."""
        return self.visible_from <= now < self.deleted_at


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply the account made to an inbound comment."""

    id: str
    account_id: str
    comment_id: str
    media_id: str | None
    text: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Sent:
    """A direct message the account sent (Send API)."""

    id: str
    account_id: str
    to: str
    text: str
    created_at: float


@dataclass
class IgState:
    """Per-world state of the Instagram fake; :meth:`clear` is registered with ``world.on_reset``."""

    containers: dict[str, Container] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)
    replies: dict[str, Reply] = field(default_factory=dict)
    #: account id → publication times, for the moving 24-hour cap
    published: dict[str, list[float]] = field(default_factory=dict)
    #: 'app' → (hour start, calls)
    hours: dict[str, tuple[float, int]] = field(default_factory=dict)
    #: account id → times of its calls in the last hour (a business use case's rolling window)
    calls: dict[str, deque[float]] = field(default_factory=dict)
    #: account id → (throttled until, Graph error code, whether the answer names its regain
    #: time) after ``instagram.rate_limited``
    throttled: dict[str, tuple[float, int, bool]] = field(default_factory=dict)
    #: messages the accounts sent, oldest first
    messages: list[Sent] = field(default_factory=list)
    #: inbound comments the accounts deleted (moderation)
    deleted_comments: set[str] = field(default_factory=set)

    def clear(self) -> None:
        """Forget everything."""
        self.throttled.clear()
        self.messages.clear()
        self.deleted_comments.clear()
        self.containers.clear()
        self.media.clear()
        self.replies.clear()
        self.published.clear()
        self.hours.clear()
        self.calls.clear()

    def tick(self, key: str, now: float) -> tuple[float, int]:
        """Count one call in the hourly window of ``key``; return (window start, calls so far)."""
        start, n = self.hours.get(key, (now, 0))
        if now >= start + 3600:
            start, n = now, 0
        self.hours[key] = (start, n + 1)
        return start, n + 1

    def tick_rolling(self, key: str, now: float) -> deque[float]:
        """Count one call of ``key`` at ``now``; return the times of its calls in the last hour,
        oldest first (this one included)."""
        q = self.calls.setdefault(key, deque())
        while q and q[0] <= now - 3600:
            q.popleft()
        q.append(now)
        return q

    def published_within(self, account_id: str, now: float, window: float) -> int:
        """Publications of an account in the moving window ending now."""
        times = [t for t in self.published.get(account_id, []) if t > now - window]
        self.published[account_id] = times
        return len(times)
