"""The API lane's shared machinery: authenticated requests, timeouts, refresh on 401, and the
mapping of transport failures onto retryable, ambiguous and blocking errors.

Per-platform wire formats live in :mod:`sandbox.lanes.x`, :mod:`sandbox.lanes.instagram` and
:mod:`sandbox.lanes.linkedin`. A mutating request whose response never arrived (timeout, dropped
connection) is :class:`~sandbox.errors.Ambiguous`: it may have taken effect, so a retry must
check the platform first.

On X a 401 is answered by refreshing the token (one refresh per account at a time, see
:meth:`~sandbox.keyring.Keyring.refresh`) and resending once; a resend that is refused again
although the refresh succeeded is :class:`~sandbox.errors.Retryable` after
:data:`~sandbox.keyring.AUTH_RETRY_S` (the grant is alive, the platform's auth is flapping), not
a failure of the account's credentials.

A 429 on a read (lookups, inbox polls) holds that route for that account until its Retry-After
elapsed: until then the lane refuses the read itself with :class:`~sandbox.errors.RateLimited`
instead of asking again (side effects are held by the :class:`~sandbox.pacing.Pacer`).
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from ..defects import Defects
from ..errors import (
    Ambiguous,
    AuthFailed,
    Blocked,
    EgressRefused,
    Fatal,
    JobInterrupt,
    RateLimited,
    Retryable,
)
from ..keyring import AUTH_RETRY_S, Keyring
from ..pacing import Pacer
from ..settings import Settings
from ..telemetry import Telemetry
from .base import Credential, Lookup, SideEffectScope

__all__ = ["DEFAULT_READ_HOLD_S", "ApiLane", "LaneDeps"]

#: how long a read route is held after a 429 that names no Retry-After
DEFAULT_READ_HOLD_S = 60.0
#: a path segment that names one object (a long numeric id, a URN): ``{id}`` in route keys
_ID_SEGMENT = re.compile(r"\d{4,}|^urn", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def _route_of(url: str) -> str:
    """:meth:`ApiLane.route_of`, computed once per URL (reads poll the same few URLs)."""
    path = httpx.URL(url).path
    return "/".join("{id}" if _ID_SEGMENT.search(seg) else seg for seg in path.split("/"))


@dataclass
class LaneDeps:
    """What an API lane needs from the platform."""

    http: httpx.AsyncClient
    settings: Settings
    keyring: Keyring
    pacer: Pacer
    telemetry: Telemetry
    now: Callable[[], float]
    defects: Defects
    rng: random.Random


class ApiLane:
    """Base of the per-platform API lanes."""

    name = "api"
    platform = ""
    #: the platform refuses identical text as a duplicate (so a re-post after an ambiguous
    #: attempt cannot double-post)
    dedupes_identical_text = False

    def __init__(self, deps: LaneDeps) -> None:
        self.d = deps
        self.http = deps.http
        self.base = deps.settings.base_urls.of(self.platform)
        #: requests still running after their caller gave up (a server keeps processing them)
        self._orphans: set[asyncio.Future[httpx.Response]] = set()
        #: (account id, method, route) → until when reads of it are held after a 429
        self._read_holds: dict[tuple[str, str, str], float] = {}
        self._read_locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        #: told after every new read hold (the platform's storage keeps them across a restart)
        self.on_hold: list[Callable[[], None]] = []

    def read_holds(self) -> list[tuple[str, str, str, float]]:
        """Every read hold: (account id, method, route, until when)."""
        return [(*key, until) for key, until in self._read_holds.items()]

    def restore_read_holds(self, holds: Iterable[tuple[str, str, str, float]]) -> None:
        """Put back read holds a platform kept across a restart (the later of two wins)."""
        for acc, method, route, until in holds:
            key = (acc, method, route)
            if until > self._read_holds.get(key, 0.0):
                self._read_holds[key] = float(until)

    async def aclose(self) -> None:
        """Cancel requests still running after a timeout (no task is left behind)."""
        for f in list(self._orphans):
            f.cancel()
        await asyncio.gather(*self._orphans, return_exceptions=True)
        self._orphans.clear()

    # overridables ---------------------------------------------------------------------------
    def _auth_headers(self, cred: Credential) -> dict[str, str]:
        return {"authorization": f"Bearer {cred.access_token}"}

    def _observe(self, r: httpx.Response, cred: Credential) -> None:
        """Adapt pacing to the platform's rate-limit / usage headers (per platform)."""

    def _is_auth_failure(self, r: httpx.Response) -> bool:
        return r.status_code == 401

    def error_for(self, r: httpx.Response, *, mutating: bool) -> JobInterrupt:
        """The interrupt for a non-success response (platforms refine this)."""
        s = r.status_code
        label = f"{self.platform}.http_{s}: {_phrase(s)}"
        if s == 401:
            return AuthFailed(f"{self.platform}.unauthorized: 401")
        if s == 429:
            return RateLimited(
                f"{self.platform}.rate_limited: 429 Too Many Requests", self.retry_after(r)
            )
        if s >= 500:
            # a 503 may say how long it will last (Retry-After): the retry waits at least that
            wait = self.outage_retry_after(r)
            return (
                Ambiguous(label, wait, outage=True)
                if mutating
                else Retryable(label, wait, outage=True)
            )
        return Fatal(label)

    @staticmethod
    def outage_retry_after(r: httpx.Response) -> float | None:
        """The Retry-After (seconds) of a 5xx answer, if it names one: the service says how long
        it will be down (RFC 9110 §10.2.3); a platform's rate-limit headers do not apply."""
        ra = r.headers.get("retry-after")
        if ra is None:
            return None
        try:
            return max(0.0, float(ra))
        except ValueError:
            return None

    def is_throttled(self, r: httpx.Response) -> bool:
        """Whether the platform throttles this request (a 429 by default)."""
        return r.status_code == 429

    def retry_after(self, r: httpx.Response) -> float | None:
        """Seconds to wait according to the response's headers (Retry-After by default)."""
        ra = r.headers.get("retry-after")
        if ra is not None:
            try:
                return max(0.0, float(ra))
            except ValueError:
                return None
        return None

    # read holds -----------------------------------------------------------------------------
    @staticmethod
    def route_of(url: str) -> str:
        """The route of a URL: its path with object ids replaced (``/2/tweets/{id}``)."""
        return _route_of(url)

    def _hold_read(self, account_id: str, method: str, url: str, r: httpx.Response) -> None:
        if self.d.defects.on("retry_after_ignored"):
            return
        wait = self.retry_after(r)
        until = self.d.now() + (DEFAULT_READ_HOLD_S if wait is None else wait)
        key = (account_id, method, self.route_of(url))
        if until > self._read_holds.get(key, 0.0):
            self._read_holds[key] = until
            for fn in self.on_hold:
                fn()

    def refused_lookup(self, r: httpx.Response, error: str) -> Lookup:
        """A lookup the platform answered with ``r`` (not 2xx): refused (429) or failed."""
        if self.is_throttled(r):
            wait = self.retry_after(r)
            return Lookup(
                None, error=error, retry_after=DEFAULT_READ_HOLD_S if wait is None else wait
            )
        return Lookup(None, error=error)

    @staticmethod
    def failed_lookup(e: Retryable) -> Lookup:
        """A lookup that raised: refused for now — a local hold, a 429, a freshly refreshed token
        rejected — (wait ``retry_after``), or a transport error."""
        if isinstance(e, RateLimited):
            return Lookup(None, error=e.error, retry_after=e.retry_after or DEFAULT_READ_HOLD_S)
        if e.retry_after is not None:
            return Lookup(None, error=e.error, retry_after=e.retry_after)
        return Lookup(None, error=e.error)

    # requests -------------------------------------------------------------------------------
    async def send(
        self,
        method: str,
        path_or_url: str,
        cred: Credential,
        scope: SideEffectScope,
        *,
        action: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[httpx.Response, Credential]:
        """One request; refreshes and resends once on an auth failure. ``action`` marks it mutating."""
        mutating = action is not None
        url = path_or_url if path_or_url.startswith("http") else f"{self.base}{path_or_url}"
        if mutating:
            return await self._send(method, url, cred, scope, action, json, params, data, headers)
        # one read of a route per account at a time: a 429 is seen before the next one is sent
        key = (cred.account.account_id, method, self.route_of(url))
        lock = self._read_locks.get(key)
        if lock is None:
            lock = self._read_locks[key] = asyncio.Lock()
        async with lock:
            held = self._read_holds.get(key, 0.0) - self.d.now()
            if held > 0:
                raise RateLimited(
                    f"{self.platform}.rate_limited: {method} {key[2]} held for {held:g}s more "
                    "(Retry-After of an earlier 429)",
                    held,
                )
            return await self._send(method, url, cred, scope, action, json, params, data, headers)

    async def _send(
        self,
        method: str,
        url: str,
        cred: Credential,
        scope: SideEffectScope,
        action: str | None,
        json: Any,
        params: dict[str, Any] | None,
        data: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> tuple[httpx.Response, Credential]:
        mutating = action is not None
        account_id = cred.account.account_id
        cred = self.d.keyring.newest(cred)
        if cred.platform == "x" and self.d.keyring.refused(cred):
            # refused while this request waited (pacing, a read lock): refreshed first — a
            # refresh that cannot be had (X's token endpoint down) ends it here, unsent
            cred = await self.d.keyring.refresh(cred)
        for attempt in range(2):
            if attempt and mutating:
                scope.check(action)  # type: ignore[arg-type]
            h = {**scope.headers(), **self._auth_headers(cred), **(headers or {})}
            # shielded: a request we stop waiting for still reaches the server, as on a network
            fut = asyncio.ensure_future(
                self.http.request(method, url, json=json, params=params, data=data, headers=h)
            )
            self._orphans.add(fut)
            fut.add_done_callback(self._forget)
            try:
                async with asyncio.timeout(self.d.settings.request_timeout_s):
                    r = await asyncio.shield(fut)
            except EgressRefused as e:
                raise Blocked(str(e), reason="egress") from None
            except TimeoutError:
                msg = f"{self.platform}.timeout: no response within {self.d.settings.request_timeout_s:g}s"
                raise _outage(msg, mutating) from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                msg = f"{self.platform}.connect_failed: {type(e).__name__}"
                raise Retryable(msg, outage=True) from None
            except httpx.HTTPError as e:
                msg = f"{self.platform}.transport: {type(e).__name__}"
                raise _outage(msg, mutating) from None
            self._observe(r, cred)
            if self.is_throttled(r):
                self.d.telemetry.rate_limit_hits.labels(self.platform).inc()
                self.d.telemetry.mark(f"rate_limited:{self.platform}")
                if not mutating:
                    self._hold_read(account_id, method, url, r)
            if self._is_auth_failure(r):
                self.d.telemetry.auth_failures.labels(self.platform).inc()
                self.d.telemetry.mark(f"auth_failed:{self.platform}")
                if attempt == 0 and cred.platform == "x":
                    self.d.keyring.note_refused(cred)
                    cred = await self.d.keyring.refresh(cred)
                    continue
                if attempt == 1:
                    raise Retryable(
                        f"{self.platform}.unauthorized: 401 again with the token just refreshed "
                        f"for {account_id}; retrying in {AUTH_RETRY_S:g}s",
                        AUTH_RETRY_S,
                    )
            return r, cred
        return r, cred

    def _forget(self, fut: asyncio.Future[httpx.Response]) -> None:
        """A request is done: drop it from the orphans, and take its failure if nobody waited for
        it (a request the lane stopped waiting for still ends — a read timeout later — and
        asyncio would print that unretrieved error as a traceback on stderr)."""
        self._orphans.discard(fut)
        if not fut.cancelled():
            fut.exception()

    def json_of(self, r: httpx.Response, *, mutating: bool) -> Any:
        """The response's JSON; a body that does not parse is ambiguous for a mutating request."""
        try:
            return r.json()
        except ValueError:
            msg = f"{self.platform}.malformed_body: HTTP {r.status_code} body is not JSON"
            raise _outage(msg, mutating) from None

    def inbox_unread(self, r: httpx.Response) -> None:
        """A read of an inbox the poll goes on without (the DMs beside the comments) failed:
        it counts towards the platform's ``inbox_unreadable`` alert like a failed poll of the
        comments (throttles and refused tokens are counted by :meth:`send` already), so a DM
        inbox that cannot be read for minutes pages someone instead of looking empty."""
        if r.status_code != 200 and not self.is_throttled(r) and not self._is_auth_failure(r):
            self.d.telemetry.mark(f"engagement_poll_failed:{self.platform}")


def _outage(msg: str, mutating: bool) -> Retryable:
    """A failure of the platform or the network: ambiguous when the request changes something."""
    return Ambiguous(msg, outage=True) if mutating else Retryable(msg, outage=True)


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
