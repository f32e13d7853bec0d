"""In-process routing: httpx requests for the real hostnames go to the fakes' ASGI apps.

A request to another port of a known host (``https://api.x.com:8443/…``) goes to the honeypot
(``fakes/honeypot.py``): nothing of the platform's world listens there.

No socket is opened. A request for a host that is not part of the fake world fails like a DNS
failure would (``httpx.ConnectError``), naming the host, so nothing leaks to the real internet.
The request's read timeout goes to the fake in the ASGI scope, which gives up for the client when
a fault keeps the answer longer (``httpx.ReadTimeout``; the request runs on, as served).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, MutableMapping
from typing import Any

import httpx
from starlette.types import ASGIApp

from .core.http import CLIENT_READ_TIMEOUT, ClientTimedOut, ConnectionDropped

__all__ = ["FakeWorldTransport"]

_LOOPBACK_ALIASES = ("fakes", "fakes.local", "fakes.vibedrill.test")
#: ports the fakes answer on their real hostnames (explicit or implied by the scheme)
_DEFAULT_PORTS = (80, 443)


class _OneChunk(httpx.AsyncByteStream):
    """A response body collected from the app, handed out in one piece (as httpx's own)."""

    def __init__(self, body: list[bytes]) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"".join(self._body)


class InProcessASGI(httpx.AsyncBaseTransport):
    """Sends a request straight to an ASGI app: what :class:`httpx.ASGITransport` does.

    The same scope, the same ``receive`` messages (the request body's chunks with
    ``more_body``, then an empty last one, then ``http.disconnect`` once the response is
    complete), the same collected response, app exceptions raised; without asking sniffio
    for the async library and building an event per request (every drill request comes here).
    """

    def __init__(self, app: ASGIApp, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        raw_path = url.raw_path
        cut = raw_path.find(b"?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": raw_path if cut < 0 else raw_path[:cut],
            "query_string": url.query,
            "server": (url.host, url.port),
            "client": self.client,
            "root_path": "",
        }
        timeout = request.extensions.get("timeout")
        read = timeout.get("read") if isinstance(timeout, dict) else None
        if read is not None:
            # no socket enforces it here: the fake gives up for the client (fakes/core/http.py)
            scope["extensions"] = {CLIENT_READ_TIMEOUT: read}
        chunks = request.stream.__aiter__()
        request_complete = False
        status_code: int | None = None
        response_headers: Any = None
        body_parts: list[bytes] = []
        response_started = False
        response_complete = False
        #: made only when the app waits for the disconnect before its response is complete
        done: asyncio.Event | None = None
        head = request.method == "HEAD"

        async def receive() -> dict[str, Any]:
            nonlocal request_complete, done
            if request_complete:
                if not response_complete:
                    if done is None:
                        done = asyncio.Event()
                    await done.wait()
                return {"type": "http.disconnect"}
            try:
                body = await chunks.__anext__()
            except StopAsyncIteration:
                request_complete = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": body, "more_body": True}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status_code, response_headers, response_started, response_complete
            kind = message["type"]
            if kind == "http.response.start":
                assert not response_started
                status_code = message["status"]
                response_headers = message.get("headers", [])
                response_started = True
            elif kind == "http.response.body":
                assert not response_complete
                body = message.get("body", b"")
                if body and not head:
                    body_parts.append(body)
                if not message.get("more_body", False):
                    response_complete = True
                    if done is not None:
                        done.set()

        await self.app(scope, receive, send)
        assert response_complete
        assert status_code is not None
        assert response_headers is not None
        return httpx.Response(status_code, headers=response_headers, stream=_OneChunk(body_parts))


class FakeWorldTransport(httpx.AsyncBaseTransport):
    """Routes by host: real API hostnames → that fake; ``fakes``/``fakes.local`` → the mounted app."""

    def __init__(self, apps: Mapping[str, ASGIApp], combined: ASGIApp) -> None:
        from .app import HOSTS

        self._hosts = {
            host: InProcessASGI(apps[name]) for host, name in HOSTS.items() if name in apps
        }
        self._combined = InProcessASGI(combined)
        self._honeypot = InProcessASGI(apps["honeypot"]) if "honeypot" in apps else None

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
        except ClientTimedOut as e:
            raise httpx.ReadTimeout(str(e), request=request) from None
