"""The credential keyring: resolves ``credentialRef`` per client, refreshes tokens, guards tenancy.

Secrets live only here (and are registered with the audit scrubber the moment they are seen).
Before any side effect the tenancy guard checks that the job's account belongs to the job's
client, that the credential handed out is the one recorded for that account and, on X, that
the token's identity (``GET /2/users/me``, cached per credential ref) is that account's user id.
X refresh tokens are single-use, so refreshes of one account are serialised by a per-account
lock and a worker that lost the race reuses the winner's fresh token. A platform that refuses
even a freshly refreshed token is retried later (:data:`AUTH_RETRY_S`), not given up on.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from .audit import Scrubber
from .defects import Defects
from .errors import AuthFailed, Blocked, Deferred, EgressRefused, RateLimited, Retryable
from .lanes.base import Credential
from .settings import AccountSettings, CredentialSecret, Settings

__all__ = ["AUTH_RETRY_S", "TOKEN_HOLD_DEFAULT_S", "Keyring", "TenancyMismatch"]

#: how long the token endpoint is left alone after a 429 that names no reset
TOKEN_HOLD_DEFAULT_S = 60.0
#: how long a job waits before retrying when the platform refused a token it was just refreshed
#: to (the refresh succeeded, so the account's grant is alive: the platform's auth is flapping)
AUTH_RETRY_S = 60.0


class TenancyMismatch(Blocked):
    """The credential or account of a job does not belong to the job's tenant (RB-01)."""

    def __init__(self, error: str) -> None:
        super().__init__(error, reason="tenancy")


@dataclass
class _Slot:
    access_token: str
    refresh_token: str | None
    expires_at: float | None
    generation: int = 0
    #: (access, refresh, expiry) as of each generation: what a worker's copy resolved then holds
    by_gen: dict[int, tuple[str, str | None, float | None]] = field(default_factory=dict)
    #: the generation whose access token the platform refused (a 401): not sent again
    refused_gen: int | None = None


class Keyring:
    """credential_ref → secret, with refresh and the tenancy guard."""

    def __init__(
        self,
        settings: Settings,
        secrets: Mapping[str, CredentialSecret],
        *,
        http: httpx.AsyncClient,
        now: Callable[[], float],
        defects: Defects,
        rng: random.Random,
        scrubber: Scrubber,
        on_throttled: Callable[[str], None] | None = None,
        on_unauthorised: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        #: told the platform of every 429 the token and identity endpoints answer (telemetry)
        self.on_throttled = on_throttled or (lambda platform: None)
        #: … and of every 401 the identity endpoint answers (a token refused, as in the lanes)
        self.on_unauthorised = on_unauthorised or (lambda platform: None)
        self.http = http
        self.now = now
        self.defects = defects
        self.rng = rng
        self.scrubber = scrubber
        self._slots: dict[str, _Slot] = {}
        for ref, sec in secrets.items():
            self._slots[ref] = _Slot(
                sec.access_token,
                sec.refresh_token,
                sec.expires_at,
                0,
                {0: (sec.access_token, sec.refresh_token, sec.expires_at)},
            )
            scrubber.register(sec.access_token)
            scrubber.register(sec.refresh_token)
        self._locks: dict[str, asyncio.Lock] = {}
        #: credential ref → until when its token refresh is held (the token endpoint said 429)
        self._token_holds: dict[str, float] = {}
        #: credential ref → until when its identity check is held (``GET /2/users/me`` said 429)
        self._identity_holds: dict[str, float] = {}
        self._identity: dict[str, str] = {}
        self._x_resolutions = 0
        self.refreshes = 0
        self.refresh_failures = 0

    # resolution -----------------------------------------------------------------------------
    def account_for(self, client_id: str, platform: str, account_id: str | None) -> AccountSettings:
        """The account a job means: ``account_id`` if given, else the client's account on ``platform``."""
        if account_id is not None:
            try:
                return self.settings.account(account_id)[1]
            except KeyError as e:
                raise AuthFailed(str(e.args[0])) from None
        client = self.settings.client(client_id)
        acc = client.account(platform)
        if acc is None:
            raise AuthFailed(
                f"client {client_id!r} has no {platform} account; it has {[a.platform for a in client.accounts]}"
            )
        return acc

    def resolve(self, client_id: str, account: AccountSettings) -> Credential:
        """The credential for ``account`` on behalf of ``client_id``."""
        ref = account.credential_ref
        slot = self._slot(ref)
        token, gen = slot.access_token, slot.generation
        if account.platform == "x" and self.defects.on("credential_cross_wire"):
            self._x_resolutions += 1
            if self._x_resolutions % 3 == 0:
                others = [
                    a.credential_ref
                    for c in self.settings.clients
                    for a in c.accounts
                    if a.platform == "x"
                    and c.client_id != client_id
                    and a.credential_ref in self._slots
                ]
                if others:
                    token = self._slots[self.rng.choice(sorted(others))].access_token
        return Credential(
            client_id=client_id,
            account=account,
            credential_ref=ref,
            access_token=token,
            generation=gen,
        )

    def provider_secret(self, provider: str) -> str:
        """The agency's API key at a provider (openai, anthropic, media, toolgate)."""
        for p in self.settings.providers:
            if p.provider == provider:
                return self._slot(p.credential_ref).access_token
        raise KeyError(
            f"no provider account for {provider!r}; known: {sorted(p.provider for p in self.settings.providers)}"
        )

    def _slot(self, ref: str) -> _Slot:
        try:
            return self._slots[ref]
        except KeyError:
            raise AuthFailed(f"credential_ref {ref!r} has no secret in the keyring") from None

    def needs_refresh(self, cred: Credential, margin_s: float = 300.0) -> bool:
        """Whether the credential is known to expire within ``margin_s``, or X refused its
        current token (a refresh that failed, or timed out, left it refused)."""
        slot = self._slot(cred.credential_ref)
        exp = slot.expires_at
        soon = exp is not None and exp - self.now() < margin_s
        return cred.platform == "x" and (soon or self.refused(cred))

    def refused(self, cred: Credential) -> bool:
        """Whether the platform refused the current token of ``cred``'s ref: it is refreshed
        before anything is sent with it again (a request with a token known refused draws
        another 401, and for a side effect spends an attempt on it)."""
        slot = self._slots.get(cred.credential_ref)
        return slot is not None and slot.refused_gen == slot.generation

    def note_refused(self, cred: Credential) -> None:
        """The platform answered a request carrying ``cred``'s token with a 401."""
        slot = self._slots.get(cred.credential_ref)
        if slot is not None and slot.generation == cred.generation:
            slot.refused_gen = cred.generation

    # tenancy --------------------------------------------------------------------------------
    async def check_tenancy(
        self, client_id: str, account: AccountSettings, cred: Credential
    ) -> None:
        """Refuse (``TenancyMismatch``) unless ``cred`` acts as ``account`` of ``client_id``."""
        if self.defects.on("tenancy_guard_off"):
            return
        owner, _ = self.settings.account(account.account_id)
        if owner.client_id != client_id:
            raise TenancyMismatch(
                f"tenancy: account {account.account_id!r} belongs to client {owner.client_id!r}, "
                f"not to the job's client {client_id!r}"
            )
        if (
            cred.credential_ref != account.credential_ref
            or cred.account.account_id != account.account_id
        ):
            raise TenancyMismatch(
                f"tenancy: credential {cred.credential_ref!r} is recorded for {cred.account.account_id!r}, "
                f"not for {account.account_id!r}"
            )
        if account.platform == "x" and self.settings.x_identity_check:
            uid = await self._x_identity(cred)
            if uid is not None and uid != account.platform_user_id:
                raise TenancyMismatch(
                    f"tenancy: the X token for {account.account_id!r} acts as user {uid}, "
                    f"not {account.platform_user_id} ({account.handle})"
                )
            if uid is not None:
                self._identity[cred.credential_ref] = uid

    async def _x_identity(self, cred: Credential) -> str | None:
        cached = self._identity.get(cred.credential_ref)
        if cached is not None:
            return cached
        until = self._identity_holds.get(cred.credential_ref, 0.0)
        if until > self.now():
            # nothing was sent: the job waits out the hold without using up an attempt (one
            # throttled check must not dead-letter every post of the account behind it)
            raise Deferred(
                f"x.identity_rate_limited: identity check for {cred.account.account_id} held for "
                f"{until - self.now():g}s more (Retry-After of an earlier 429)",
                run_at=until,
            )
        url = f"{self.settings.base_urls.of('x')}/2/users/me"
        for attempt in range(2):
            try:
                async with asyncio.timeout(self.settings.request_timeout_s):
                    r = await self.http.get(
                        url, headers={"authorization": f"Bearer {cred.access_token}"}
                    )
            except EgressRefused:
                raise
            except (httpx.HTTPError, TimeoutError) as e:
                raise Retryable(f"x.identity_unverified: {type(e).__name__}", outage=True) from None
            if r.status_code == 401:
                self.on_unauthorised("x")
            if r.status_code == 401 and attempt == 0:
                cred = await self.refresh(cred)
                continue
            if r.status_code == 401:
                raise Retryable(
                    f"x.token_rejected: {cred.account.account_id} still unauthorised with the token "
                    f"just refreshed; retrying in {AUTH_RETRY_S:g}s",
                    AUTH_RETRY_S,
                )
            if r.status_code == 429:
                self.on_throttled("x")
                wait = self._retry_after(r)
                if not self.defects.on("retry_after_ignored"):
                    ref = cred.credential_ref
                    self._identity_holds[ref] = max(
                        self._identity_holds.get(ref, 0.0), self.now() + wait
                    )
                    # the throttle is the check's, not the post's: the job waits it out without
                    # using up an attempt (a long throttle must not dead-letter the account's posts)
                    raise Deferred(
                        f"x.identity_rate_limited: HTTP 429 for {cred.account.account_id}; "
                        f"checking again in {wait:g}s",
                        run_at=self.now() + wait,
                    )
                raise RateLimited(
                    f"x.identity_rate_limited: HTTP 429 for {cred.account.account_id}", wait
                )
            if r.status_code == 404:
                return None  # the platform offers no identity endpoint: rely on the keyring record
            if r.status_code != 200:
                # a 5xx is X being down (the outage window spares the job's attempts); any
                # other answer is a problem of this request, counted as an attempt
                raise Retryable(
                    f"x.identity_unverified: HTTP {r.status_code}", outage=r.status_code >= 500
                )
            return str((r.json().get("data") or {}).get("id", ""))
        raise AssertionError("unreachable: the second answer returns or raises")

    # refresh --------------------------------------------------------------------------------
    def current(self, cred: Credential) -> Credential:
        """``cred`` with the keyring's current token for its ref."""
        slot = self._slot(cred.credential_ref)
        return Credential(
            cred.client_id, cred.account, cred.credential_ref, slot.access_token, slot.generation
        )

    def newest(self, cred: Credential) -> Credential:
        """``cred``, or the keyring's current token for its ref when a refresh replaced the token
        since ``cred`` was resolved (a job that waited — pacing, a throttle — sends the token of
        now, not the one it started with, which may have been refused meanwhile)."""
        slot = self._slots.get(cred.credential_ref)
        if slot is None or slot.generation <= cred.generation:
            return cred
        return self.current(cred)

    async def refresh(self, cred: Credential) -> Credential:
        """Refresh the access token behind ``cred`` (X OAuth 2.0); return the fresh credential.

        Healthy: one refresh per account at a time; a worker whose copy is stale takes the
        token another worker already obtained, without redeeming anything.

        With ``refresh_race`` there is no lock: each worker redeems the refresh token of the copy
        it resolved, so two workers that resolved the same generation spend the same single-use
        refresh token; the second is refused (``invalid_request``) and, saving its copy of the
        credential record to note the failure, writes the spent tokens back over the ones the
        winner stored (a lost update) — every later refresh of the account is refused too.
        """
        if cred.platform != "x":
            raise AuthFailed(
                f"{cred.platform}.token_rejected: {cred.account.account_id} needs re-authentication (no refresh flow)"
            )
        ref = cred.credential_ref
        if self.defects.on("refresh_race"):
            slot = self._slot(ref)
            copy = slot.by_gen.get(cred.generation) or (
                cred.access_token,
                slot.refresh_token,
                slot.expires_at,
            )
            try:
                return await self._redeem(cred, copy[1])
            except AuthFailed:
                self._store(slot, *copy)
                raise
        lock = self._locks.setdefault(ref, asyncio.Lock())
        async with lock:
            slot = self._slot(ref)
            if slot.generation != cred.generation:
                return self.current(cred)
            return await self._redeem(cred, slot.refresh_token)

    def _retry_after(self, r: httpx.Response) -> float:
        """Seconds a 429 (token or identity endpoint) asks for: Retry-After, else the window's reset."""
        h = r.headers
        try:
            if h.get("retry-after") is not None:
                return max(0.0, float(h["retry-after"]))
            if h.get("x-rate-limit-reset", "").isdigit():
                return max(1.0, float(h["x-rate-limit-reset"]) - self.now())
        except ValueError:
            pass
        return TOKEN_HOLD_DEFAULT_S

    async def _redeem(self, cred: Credential, refresh_token: str | None) -> Credential:
        ref = cred.credential_ref
        if not refresh_token:
            self.refresh_failures += 1
            raise AuthFailed(f"x.refresh_failed: {cred.account.account_id} has no refresh token")
        held = self._token_holds.get(ref, 0.0) - self.now()
        if held > 0:
            raise RateLimited(
                f"x.refresh_rate_limited: token refresh for {cred.account.account_id} held for "
                f"{held:g}s more (Retry-After of an earlier 429)",
                held,
            )
        url = f"{self.settings.base_urls.of('x')}/2/oauth2/token"
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.settings.x_oauth_client_id,
        }
        try:
            async with asyncio.timeout(self.settings.request_timeout_s):
                r = await self.http.post(url, data=form)
        except EgressRefused:
            raise
        except (httpx.HTTPError, TimeoutError) as e:
            raise Retryable(f"x.refresh_unreachable: {type(e).__name__}", outage=True) from None
        if r.status_code != 200:
            self.refresh_failures += 1
            try:
                body = r.json()
            except ValueError:
                body = {}
            err = body.get("error") if isinstance(body, dict) else None
            if r.status_code == 429:
                self.on_throttled("x")
                wait = self._retry_after(r)
                if not self.defects.on("retry_after_ignored"):
                    self._token_holds[ref] = max(self._token_holds.get(ref, 0.0), self.now() + wait)
                raise RateLimited(
                    f"x.refresh_rate_limited: HTTP 429 for {cred.account.account_id}", wait
                )
            if r.status_code >= 500:
                # X's token endpoint is down with the rest of X: an outage, not this job's
                # failure (before, a long outage dead-lettered posts in seconds here)
                raise Retryable(f"x.refresh_unavailable: HTTP {r.status_code}", outage=True)
            raise AuthFailed(
                f"x.refresh_failed: HTTP {r.status_code} {err or ''} for {cred.account.account_id}".strip()
            )
        data = r.json()
        slot = self._slot(ref)
        self._store(
            slot,
            str(data["access_token"]),
            data.get("refresh_token") or slot.refresh_token,
            self.now() + float(data["expires_in"]) if data.get("expires_in") else None,
        )
        self.scrubber.register(slot.access_token)
        self.scrubber.register(slot.refresh_token)
        self.refreshes += 1
        return self.current(cred)

    @staticmethod
    def _store(
        slot: _Slot, access_token: str, refresh_token: str | None, expires_at: float | None
    ) -> None:
        """Write a credential record into ``slot`` as its next generation."""
        slot.access_token, slot.refresh_token, slot.expires_at = (
            access_token,
            refresh_token,
            expires_at,
        )
        slot.generation += 1
        slot.by_gen[slot.generation] = (access_token, refresh_token, expires_at)
