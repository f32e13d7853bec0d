"""The world roster: clients (tenants) → accounts → credentials.

The roster is the fakes' truth about who owns what. A credential is resolved to the account it
belongs to and from there to the tenant that owns the account; the ledger records both, so a
post made with client A's token on client B's behalf is visible as such.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

__all__ = [
    "Account",
    "Client",
    "Credential",
    "Platform",
    "Roster",
    "fingerprint",
]

Platform = Literal["x", "instagram", "linkedin", "openai", "anthropic", "media", "toolgate"]
SOCIAL_PLATFORMS: tuple[str, ...] = ("x", "instagram", "linkedin")
PROVIDER_PLATFORMS: tuple[str, ...] = ("openai", "anthropic", "media", "toolgate")


@functools.lru_cache(maxsize=1024)
def fingerprint(secret: str) -> str:
    """Return a short, stable, non-reversible id of a secret: what logs and ledgers may show.

    Memoised: every accepted request fingerprints its credential for the ledger.
    """
    return "fp_" + hashlib.sha256(secret.encode()).hexdigest()[:12]


class Credential(BaseModel):
    """A credential as issued at the start of the world (the fakes track later rotations)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    access_token: str
    refresh_token: str | None = None
    scopes: tuple[str, ...] = ()
    #: lifetime of an access token in seconds (X: 2 h; Instagram long-lived: 60 days)
    ttl_s: float = 7200.0
    #: when the access token expires, as the secrets view states it (``World.roster_with_secrets``);
    #: accepted when that document is read back, never written (the token store keeps the truth)
    expires_at: float | None = Field(None, exclude=True)


class Account(BaseModel):
    """One account on one platform, owned by one client."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="stable account id, e.g. 'acme-x'")
    platform: Platform
    handle: str
    #: the id the platform itself uses (X user id, IG user id, LinkedIn person URN)
    platform_user_id: str
    credential: Credential


class Client(BaseModel):
    """A tenant of the agency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    accounts: tuple[Account, ...] = ()


_NAMES = (
    ("acme", "Acme Bakery"),
    ("northwind", "Northwind Tools"),
    ("globex", "Globex Fitness"),
    ("initech", "Initech Coffee"),
    ("umbrella", "Umbrella Florists"),
    ("hooli", "Hooli Yoga"),
    ("stark", "Stark Bikes"),
    ("wayne", "Wayne Books"),
)

_SCOPES = {
    "x": ("tweet.read", "tweet.write", "users.read", "offline.access"),
    "instagram": ("instagram_basic", "instagram_content_publish", "instagram_manage_comments"),
    "linkedin": ("w_member_social", "r_member_social"),
    "openai": (),
    "anthropic": (),
    "media": (),
    "toolgate": (),
}
_TTL = {"x": 7200.0, "instagram": 60 * 86400.0, "linkedin": 60 * 86400.0}


class Roster(BaseModel):
    """Everything the world knows about tenants and accounts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clients: tuple[Client, ...] = ()
    #: account id → (account, owner): built on first lookup; the roster is frozen, so it stays true
    _index: dict[str, tuple[Account, Client]] | None = PrivateAttr(default=None)
    #: (platform, handle without "@", lowercased) → the first such account: built on first use
    _handles: dict[tuple[str, str], Account] | None = PrivateAttr(default=None)

    def _lookup(self) -> dict[str, tuple[Account, Client]]:
        # read through __pydantic_private__: ``self._index`` goes through pydantic's __getattr__,
        # which costs more than the lookup itself on every request
        private = self.__pydantic_private__
        index: dict[str, tuple[Account, Client]] | None = (
            private.get("_index") if private is not None else None
        )
        if index is None:
            index = self._index = {a.id: (a, c) for c in self.clients for a in c.accounts}
        return index

    @classmethod
    def generate(
        cls,
        clients: int = 3,
        platforms: tuple[str, ...] | list[str] = SOCIAL_PLATFORMS,
        seed: int = 0,
        providers: bool = True,
        ttl_s: Mapping[str, float] | None = None,
    ) -> Roster:
        """Build a roster of ``clients`` tenants with one account per platform, from a seed.

        ``ttl_s``: per platform, how long its accounts' access tokens live from the start
        (otherwise a fresh token's lifetime on that platform).

        Providers (openai, anthropic, media, toolgate) get one agency-wide account owned by the
        pseudo-client ``agency`` when ``providers`` is true.
        """
        if clients < 1 or clients > 64:
            raise ValueError(f"clients must be between 1 and 64, got {clients!r}")
        rng = random.Random(f"roster:{seed}")
        out: list[Client] = []
        for i in range(clients):
            slug, name = _NAMES[i % len(_NAMES)]
            if i >= len(_NAMES):
                slug, name = f"{slug}{i // len(_NAMES) + 1}", f"{name} {i // len(_NAMES) + 1}"
            accounts = []
            for p in platforms:
                accounts.append(
                    Account(
                        id=f"{slug}-{p}",
                        platform=p,  # type: ignore[arg-type]
                        handle=f"@{slug}_{p}",
                        platform_user_id=str(rng.randrange(10**17, 10**18)),
                        credential=Credential(
                            access_token=f"{p}at-{rng.getrandbits(128):032x}",
                            refresh_token=f"{p}rt-{rng.getrandbits(128):032x}",
                            scopes=_SCOPES.get(p, ()),
                            ttl_s=(ttl_s or {}).get(p, _TTL.get(p, 7200.0)),
                        ),
                    )
                )
            out.append(Client(id=slug, name=name, accounts=tuple(accounts)))
        if providers:
            prov = tuple(
                Account(
                    id=f"agency-{p}",
                    platform=p,  # type: ignore[arg-type]
                    handle=f"agency@{p}",
                    platform_user_id=f"org-{rng.getrandbits(48):012x}",
                    credential=Credential(
                        access_token=f"sk-{p}-{rng.getrandbits(160):040x}", ttl_s=10**9
                    ),
                )
                for p in PROVIDER_PLATFORMS
            )
            out.append(Client(id="agency", name="The agency (providers)", accounts=prov))
        return cls(clients=tuple(out))

    def accounts(self, platform: str | None = None) -> list[Account]:
        """All accounts, optionally of one platform."""
        return [a for c in self.clients for a in c.accounts if platform in (None, a.platform)]

    def account(self, account_id: str) -> Account:
        """The account with this id; KeyError naming the known ids otherwise."""
        hit = self._lookup().get(account_id)
        if hit is None:
            raise KeyError(f"no account {account_id!r}; known: {sorted(self._lookup())}")
        return hit[0]

    def owner(self, account_id: str) -> Client:
        """The client (tenant) that owns an account."""
        hit = self._lookup().get(account_id)
        if hit is None:
            raise KeyError(f"no account {account_id!r} in the roster")
        return hit[1]

    def by_handle(self, platform: str, handle: str) -> Account | None:
        """The first account of ``platform`` (in roster order) whose handle is ``handle``,
        compared without case and leading "@"s."""
        private = self.__pydantic_private__
        index: dict[tuple[str, str], Account] | None = (
            private.get("_handles") if private is not None else None
        )
        if index is None:
            index = {}
            for a in self.accounts():
                index.setdefault((a.platform, a.handle.lower().lstrip("@")), a)
            self._handles = index
        return index.get((platform, handle.lower().lstrip("@")))

    def by_platform_user_id(self, platform: str, user_id: str) -> Account | None:
        """The account a platform-side user id belongs to, if any."""
        for a in self.accounts(platform):
            if a.platform_user_id == user_id:
                return a
        return None

    def redacted(self) -> dict[str, object]:
        """The roster as JSON with every secret replaced by its fingerprint."""
        data = self.model_dump(mode="json")
        for c in data["clients"]:
            for a in c["accounts"]:
                cred = a["credential"]
                cred["access_token"] = fingerprint(cred["access_token"])
                if cred.get("refresh_token"):
                    cred["refresh_token"] = fingerprint(cred["refresh_token"])
        return data
