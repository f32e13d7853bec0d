"""Browser sessions of a fake's web UI: one HttpOnly cookie per login, bound to one account.

A session remembers the account and the credential it logged in with (so side effects made
through the UI are written to the ledger with the same credential fingerprint as the API's). The
cookie value is random from a seeded RNG (a drill replays) and is never rendered into a page.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["WebSession", "WebSessions"]


@dataclass
class WebSession:
    """One logged-in browser."""

    account_id: str
    #: the secret the session logged in with; used for the ledger's fingerprint, never shown
    credential: str = field(repr=False)
    created_at: float
    expired: bool = False


@dataclass
class WebSessions:
    """Session cookie value → session, for one fake."""

    fake: str
    seed: int = 0
    sessions: dict[str, WebSession] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"web-sessions:{self.fake}:{self.seed}")

    @property
    def cookie_name(self) -> str:
        """The cookie this fake's UI sets, e.g. ``x_session``."""
        return f"{self.fake}_session"

    def open(self, account_id: str, credential: str, now: float) -> str:
        """Start a session; return the cookie value."""
        value = f"{self.fake[:2]}s-{self._rng.getrandbits(160):040x}"
        self.sessions[value] = WebSession(account_id, credential, now)
        return value

    def get(self, value: str | None) -> WebSession | None:
        """The live session of a cookie value, or None (unknown, logged out or expired)."""
        if not value:
            return None
        s = self.sessions.get(value)
        return None if s is None or s.expired else s

    def expire(self, value: str) -> None:
        """End a session as the platform does when it logs a browser out."""
        s = self.sessions.get(value)
        if s is not None:
            s.expired = True

    def clear(self) -> None:
        """Forget every session (world reset)."""
        self.sessions.clear()
