"""The egress guard: an httpx transport that refuses every host the settings did not name.

A rehearsal must never touch a real account. Every outbound request of the platform goes
through :class:`EgressGuard`; a request to any other (scheme, host, port) is refused before it
leaves, raised as :class:`~sandbox.errors.EgressRefused` (an ``httpx.ConnectError``, so SDK
clients treat it as a connection failure), and reported to ``on_refused`` (audit and alert).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import httpx

from .errors import EgressRefused

__all__ = ["EgressGuard", "origin_of"]


def origin_of(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, with the scheme's default port filled in."""
    u = httpx.URL(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    return u.scheme, u.host, port


class EgressGuard(httpx.AsyncBaseTransport):
    """Wraps a transport; only requests to ``allowed`` origins pass."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        allowed: Iterable[str],
        on_refused: Callable[[httpx.Request, str], None] | None = None,
    ) -> None:
        self.inner = inner
        self.allowed = frozenset(origin_of(u) for u in allowed)
        self.on_refused = on_refused
        self.refused = 0

    def permits(self, url: str | httpx.URL) -> bool:
        """Whether a request to ``url`` would pass."""
        return origin_of(url) in self.allowed

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward the request if its origin is allowed; refuse it otherwise."""
        origin = origin_of(request.url)
        if origin not in self.allowed:
            self.refused += 1
            shown = sorted(f"{s}://{h}:{p}" for s, h, p in self.allowed)
            msg = (
                f"egress refused: {origin[0]}://{origin[1]}:{origin[2]} is not in the platform's "
                f"settings; allowed: {', '.join(shown)}"
            )
            if self.on_refused is not None:
                self.on_refused(request, msg)
            raise EgressRefused(msg, request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()
