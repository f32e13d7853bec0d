"""What the X fake remembers: posts, DMs, likes and the rate-limit windows."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Dm", "Tweet", "Window", "XState"]


@dataclass(slots=True)
class Tweet:
    """A post made through the fake (replies included)."""

    id: str
    account_id: str
    author_id: str
    text: str
    created_at: float
    conversation_id: str
    in_reply_to: str | None = None
    in_reply_to_user_id: str | None = None
    #: lookups do not find it before this time (``x.post_invisible``); inf = never
    visible_from: float = 0.0
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Dm:
    """A direct message sent through the fake."""

    id: str
    account_id: str
    sender_id: str
    participant_id: str
    text: str
    created_at: float


@dataclass(slots=True)
class Window:
    """A fixed counting window that starts with its first request."""

    start: float
    length: float
    count: int = 0

    @property
    def reset(self) -> float:
        """When the window ends."""
        return self.start + self.length


@dataclass
class XState:
    """Per-world state of the X fake; :meth:`clear` is registered with ``world.on_reset``."""

    tweets: dict[str, Tweet] = field(default_factory=dict)
    dms: list[Dm] = field(default_factory=list)
    likes: set[tuple[str, str]] = field(default_factory=set)
    #: (key, route) → 15-minute window; key is an account id or ``app:<client id>``
    windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    #: account id (or ``app``) → 24-hour post-creation window
    days: dict[str, Window] = field(default_factory=dict)
    #: (account id, text) → id of the latest post with that text: the duplicate check in O(1)
    by_text: dict[tuple[str, str], str] = field(default_factory=dict)
    #: account id → when its usage cap (``x.usage_capped``) lifts
    capped: dict[str, float] = field(default_factory=dict)
    #: the accounts of ``capped`` whose 429s name no reset (``x.usage_capped`` ``headers: false``)
    capped_bare: set[str] = field(default_factory=set)
    #: (account id, route) → until when a fired ``x.rate_limited`` holds that endpoint
    held: dict[tuple[str, str], float] = field(default_factory=dict)
    #: the holds of ``held`` whose 429s carry no rate-limit header (``headers: false``)
    bare: set[tuple[str, str]] = field(default_factory=set)
    #: user id → handle of every inbound author a listing has shown (user lookups in O(1))
    authors: dict[str, str] = field(default_factory=dict)
    #: the OAuth client id of the app the roster's tokens were issued to: the first that
    #: redeemed a refresh token (X binds a refresh token to the app that obtained it)
    app_client_id: str | None = None

    def clear(self) -> None:
        """Forget everything."""
        self.tweets.clear()
        self.by_text.clear()
        self.dms.clear()
        self.likes.clear()
        self.windows.clear()
        self.days.clear()
        self.capped.clear()
        self.capped_bare.clear()
        self.held.clear()
        self.bare.clear()
        self.authors.clear()
        self.app_client_id = None

    def window(self, key: str, route: str, length: float, now: float) -> Window:
        """The live window of ``key`` on ``route``, starting a new one if the last has ended."""
        w = self.windows.get((key, route))
        if w is None or now >= w.reset:
            w = self.windows[(key, route)] = Window(now, length)
        return w

    def day(self, key: str, now: float) -> Window:
        """The live 24-hour window of ``key``."""
        w = self.days.get(key)
        if w is None or now >= w.reset:
            w = self.days[key] = Window(now, 86_400.0)
        return w
