"""In-process routing: httpx requests for the real hostnames go to the fakes' ASGI apps.

A request to another port of a known host (``https://api.x.com:8443/…``) goes to the honeypot
(``fakes/honeypot.py``): nothing of the platform's world listens there.

No socket is opened. A request for a host that is not part of the fake world fails like a DNS
failure would (``httpx.ConnectError``), naming the host, so nothing leaks to the real internet.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from starlette.types import ASGIApp

from .core.http import ConnectionDropped

__all__ = ["FakeWorldTransport"]

_LOOPBACK_ALIASES = ("fakes", "fakes.local", "fakes.vibedrill.test")
#: ports the fakes answer on their real hostnames (explicit or implied by the scheme)
_DEFAULT_PORTS = (80, 443)


class FakeWorldTransport(httpx.AsyncBaseTransport):
    """Routes by host: real API hostnames → that fake; ``fakes``/``fakes.local`` → the mounted app."""

    def __init__(self, apps: Mapping[str, ASGIApp], combined: ASGIApp) -> None:
        from .app import HOSTS

        self._hosts = {
            host: httpx.ASGITransport(app=apps[name])
            for host, name in HOSTS.items()
            if name in apps
        }
        self._combined = httpx.ASGITransport(app=combined)
        self._honeypot = httpx.ASGITransport(app=apps["honeypot"]) if "honeypot" in apps else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port
        if host in _LOOPBACK_ALIASES:
            transport = self._combined
        elif port is not None and port not in _DEFAULT_PORTS and self._honeypot is not None:
            # the fakes answer their hosts' standard ports only; whatever listens on another
            # port of the same host is not part of the platform's world: the honeypot
            transport = self._honeypot
        else:
            t = self._hosts.get(host)
            if t is None:
                raise httpx.ConnectError(
                    f"vibedrill: host {host!r} is not part of the fake world; known hosts: {sorted(self._hosts)}",
                    request=request,
                )
            transport = t
        try:
            return await transport.handle_async_request(request)
        except ConnectionDropped as e:
            raise httpx.RemoteProtocolError(str(e), request=request) from None
