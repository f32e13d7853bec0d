"""The token store: access and refresh tokens as the fakes see them over time.

Seeded from the roster; refresh issues a new pair and spends the old refresh token (X's refresh
tokens are single-use, which is what makes two workers refreshing at once a race).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from .clock import Now
from .roster import Roster

__all__ = ["TokenProblem", "TokenState", "TokenStore"]

TokenProblem = Literal["unknown", "expired", "revoked", "scope"]


@dataclass
class TokenState:
    """What the fake knows about one access token."""

    account_id: str
    expires_at: float
    scopes: tuple[str, ...]
    revoked: bool = False
    #: when a refresh issued the account a newer token (the one holding this one knew of it)
    replaced_at: float | None = None
    #: which of the account's access tokens this is: 0 from the roster, then 1, 2, … per refresh
    gen: int = 0


@dataclass
class _Refresh:
    account_id: str
    spent: bool = False
    revoked: bool = False


@dataclass
class TokenStore:
    """Access tokens → account, with expiry on the injected clock; refresh tokens single-use."""

    roster: Roster
    now: Now
    rng: random.Random
    access: dict[str, TokenState] = field(default_factory=dict)
    refresh: dict[str, _Refresh] = field(default_factory=dict)
    refresh_single_use: bool = True

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every rotation and start again from the roster's credentials."""
        self.access.clear()
        self.refresh.clear()
        t = self.now()
        for a in self.roster.accounts():
            c = a.credential
            self.access[c.access_token] = TokenState(a.id, t + c.ttl_s, c.scopes)
            if c.refresh_token:
                self.refresh[c.refresh_token] = _Refresh(a.id)

    def account_of(self, token: str) -> str | None:
        """The account a token was issued to, whatever its state (for fault matching)."""
        st = self.access.get(token)
        return st.account_id if st else None

    def check(self, token: str, scope: str | None = None) -> tuple[str | None, TokenProblem | None]:
        """Return (account_id, problem) for a bearer token; problem is None when it is valid."""
        st = self.access.get(token)
        if st is None:
            return None, "unknown"
        if st.revoked:
            return st.account_id, "revoked"
        if self.now() >= st.expires_at:
            return st.account_id, "expired"
        if scope is not None and st.scopes and scope not in st.scopes:
            return st.account_id, "scope"
        return st.account_id, None

    def seen(self, token: str | None) -> tuple[int | None, float | None]:
        """``(generation, replaced_at)`` of an access token as of now: which of its account's
        tokens it is, and when a refresh replaced it with a newer one; ``(None, None)`` for a
        token the store does not know (an API key, a made-up token). Never the token itself."""
        st = self.access.get(token) if token else None
        return (st.gen, st.replaced_at) if st is not None else (None, None)

    def expire(self, token: str) -> None:
        """Make one access token expired now (an expired token never becomes valid again)."""
        st = self.access.get(token)
        if st is not None:
            st.expires_at = min(st.expires_at, self.now())

    def expire_account(self, account_id: str) -> int:
        """Make every access token of an account expired now; return how many."""
        n = 0
        for st in self.access.values():
            if st.account_id == account_id:
                st.expires_at = min(st.expires_at, self.now())
                n += 1
        return n

    def revoke_account(self, account_id: str, refresh_too: bool = True) -> None:
        """Revoke every token of an account (the user removed the app, changed password …)."""
        for st in self.access.values():
            if st.account_id == account_id:
                st.revoked = True
        if refresh_too:
            for r in self.refresh.values():
                if r.account_id == account_id:
                    r.revoked = True

    def drop_scope(self, account_id: str, scope: str) -> None:
        """Remove one scope from every live token of an account."""
        for st in self.access.values():
            if st.account_id == account_id:
                st.scopes = tuple(s for s in st.scopes if s != scope)

    def redeem(self, refresh_token: str, ttl_s: float, prefix: str) -> tuple[str, str, str] | None:
        """Spend a refresh token; return (account_id, new access, new refresh) or None if invalid."""
        r = self.refresh.get(refresh_token)
        if r is None or r.revoked or (r.spent and self.refresh_single_use):
            return None
        r.spent = True
        acc = self.roster.account(r.account_id)
        t, gen = self.now(), 0
        for st in self.access.values():
            if st.account_id == acc.id:
                gen = max(gen, st.gen + 1)
                if st.replaced_at is None:
                    st.replaced_at = t
        new_access = f"{prefix}at-{self.rng.getrandbits(128):032x}"
        new_refresh = f"{prefix}rt-{self.rng.getrandbits(128):032x}"
        self.access[new_access] = TokenState(
            acc.id, self.now() + ttl_s, acc.credential.scopes, gen=gen
        )
        self.refresh[new_refresh] = _Refresh(acc.id)
        return acc.id, new_access, new_refresh
