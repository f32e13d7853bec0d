"""The egress guard: an httpx transport that refuses every URL the settings did not name.

A rehearsal must never touch a real account. Every outbound request of the platform goes
through :class:`EgressGuard`; a request passes only when its (scheme, host, port) is one of the
base URLs' and its path lies under that base URL's path. Anything else is refused before it
leaves, raised as :class:`~sandbox.errors.EgressRefused` (an ``httpx.ConnectError``, so SDK
clients treat it as a connection failure), and reported to ``on_refused`` (audit and alert).

Allowing by origin alone was not enough: served fakes share one host and port with their admin
API, so the platform could read ``/_fake/roster?secrets=1`` or ``POST /_fake/reset``. Paths are
therefore matched by prefix, a ``/_fake`` segment is never allowed, and a path with dot segments
(raw or percent-encoded) is refused rather than normalised, since servers disagree on how.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import unquote

import httpx

from .errors import EgressRefused

__all__ = ["EgressGuard", "origin_of"]


def origin_of(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, with the scheme's default port filled in."""
    u = httpx.URL(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    return u.scheme, u.host, port


def _refusal(url: httpx.URL, allowed: dict[tuple[str, str, int], tuple[str, ...]]) -> str | None:
    """Why a request to ``url`` may not leave, or None when it may."""
    origin = origin_of(url)
    prefixes = allowed.get(origin)
    if prefixes is None:
        return f"{origin[0]}://{origin[1]}:{origin[2]} is not in the platform's settings"
    raw = url.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
    segments = [unquote(seg) for seg in raw.split("/")]
    if any(seg in (".", "..") for seg in segments):
        return f"the path {raw!r} has dot segments"
    if "_fake" in segments:
        return f"the path {raw!r} is the fakes' admin API, never the platform's"
    path = "/".join(segments)
    if not any(p == "" or path == p or path.startswith(p + "/") for p in prefixes):
        return f"the path {raw!r} is under none of {', '.join(sorted(p or '/' for p in prefixes))}"
    return None


class EgressGuard(httpx.AsyncBaseTransport):
    """Wraps a transport; only requests under one of the ``allowed`` base URLs pass."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        allowed: Iterable[str],
        on_refused: Callable[[httpx.Request, str], None] | None = None,
    ) -> None:
        self.inner = inner
        prefixes: dict[tuple[str, str, int], set[str]] = {}
        for u in allowed:
            prefixes.setdefault(origin_of(u), set()).add(httpx.URL(u).path.rstrip("/"))
        self.allowed = {o: tuple(sorted(p)) for o, p in prefixes.items()}
        self.on_refused = on_refused
        self.refused = 0
        #: (scheme, host, port, path) → the refusal (None: allowed), decided once per path:
        #: polling sends the same few paths again and again
        self._decided: dict[tuple[str, str, int | None, bytes], str | None] = {}

    def permits(self, url: str | httpx.URL) -> bool:
        """Whether a request to ``url`` would pass."""
        return self._why(httpx.URL(url)) is None

    def _why(self, url: httpx.URL) -> str | None:
        """:func:`_refusal` of ``url``, which depends on its origin and path only."""
        key = (url.scheme, url.host, url.port, url.raw_path.split(b"?", 1)[0])
        try:
            return self._decided[key]
        except KeyError:
            pass
        why = _refusal(url, self.allowed)
        if len(self._decided) >= 4096:
            del self._decided[next(iter(self._decided))]
        self._decided[key] = why
        return why

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward the request if its origin is allowed; refuse it otherwise."""
        why = self._why(request.url)
        if why is not None:
            self.refused += 1
            shown = sorted(
                f"{s}://{h}:{p}{prefix}" for (s, h, p), ps in self.allowed.items() for prefix in ps
            )
            msg = f"egress refused: {why}; allowed: {', '.join(shown)}"
            if self.on_refused is not None:
                self.on_refused(request, msg)
            raise EgressRefused(msg, request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()
