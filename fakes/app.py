"""Compose the fakes: build every fake's app from one World and mount them, plus ``/_fake/``."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import respx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from .core.admin import create_admin_app
from .core.http import FakeService
from .core.world import World
from .routing import FakeWorldTransport

__all__ = ["FAKE_NAMES", "HOSTS", "FakeWorld", "build_services"]

#: fake name → module whose ``create(world) -> FakeService`` builds it
FAKE_MODULES: dict[str, str] = {
    "x": "fakes.x",
    "instagram": "fakes.instagram",
    "linkedin": "fakes.linkedin",
    "openai": "fakes.openai",
    "anthropic": "fakes.anthropic",
    "media": "fakes.media",
    "toolgate": "fakes.toolgate",
    "honeypot": "fakes.honeypot",
}
FAKE_NAMES: tuple[str, ...] = tuple(FAKE_MODULES)

#: real hostnames → fake, for in-process routing
HOSTS: dict[str, str] = {
    "api.x.com": "x",
    "api.twitter.com": "x",
    "graph.facebook.com": "instagram",
    "graph.instagram.com": "instagram",
    "api.linkedin.com": "linkedin",
    "www.linkedin.com": "linkedin",
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "api.media.vibedrill.test": "media",
    "toolgate.vibedrill.test": "toolgate",
    # addresses no platform may reach (server-side request forgery): fakes/honeypot.py
    "169.254.169.254": "honeypot",
    "metadata.google.internal": "honeypot",
    "metadata.vibedrill.test": "honeypot",
}


def build_services(world: World, only: Iterable[str] | None = None) -> dict[str, FakeService]:
    """Build the fakes named in ``only`` (default all) on ``world`` and register their routes."""
    out: dict[str, FakeService] = {}
    for name in only or FAKE_NAMES:
        if name not in FAKE_MODULES:
            raise ValueError(f"{name!r} is not a fake; valid: {', '.join(FAKE_NAMES)}")
        mod = importlib.import_module(FAKE_MODULES[name])
        svc: FakeService = mod.create(world)
        out[name] = svc
        world.faults.routes[name] = tuple(svc.route_names)
    return out


async def _not_found(request: Request, exc: Exception) -> Response:
    """A path no fake and no admin route serves (e.g. one with a control character): JSON 404."""
    return JSONResponse({"error": {"message": f"no route {request.url.path[:200]!r}"}}, 404)


class _FakesApp(Starlette):
    """The served fakes' app: a request under ``/<fake>/`` (or ``/_fake/``) goes straight to its mount.

    Exactly what the router does with ``Mount(f"/{name}", app)`` (same child scope: ``route``,
    ``root_path``, ``app_root_path``, ``path_params``, ``endpoint``; ``app`` and ``router`` as
    the outer app sets them), without the outer app's middleware and a regex match per mount on
    every request. Anything else (lifespan, a root path, a path with a newline, which a mount's
    pattern does not match, an unknown prefix) takes the ordinary route.
    """

    def __init__(self, mounts: list[Mount], **kwargs: Any) -> None:
        super().__init__(routes=mounts, **kwargs)
        self._mounts = {m.path.lstrip("/"): m for m in mounts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            path: str = scope["path"]
            cut = path.find("/", 1)
            mount = self._mounts.get(path[1:cut]) if cut > 0 else None
            if mount is not None and "\n" not in path:
                scope["app"] = self
                scope.setdefault("router", self.router)
                scope["route"] = mount
                scope["path_params"] = dict(scope.get("path_params", {}))
                scope["app_root_path"] = scope.get("app_root_path", "")
                scope["root_path"] = path[:cut]
                scope["endpoint"] = mount.app
                await mount.handle(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class FakeWorld:
    """All fakes of one World, as one ASGI app (``/<fake>/…`` and ``/_fake/…``) and per fake."""

    def __init__(self, world: World, only: Iterable[str] | None = None) -> None:
        self.world = world
        self.services = build_services(world, only)
        self.apps = {name: svc.asgi() for name, svc in self.services.items()}
        self.admin = create_admin_app(world, self.services)
        self.app = _FakesApp(
            [
                Mount("/_fake", app=self.admin),
                *(Mount(f"/{n}", app=a) for n, a in self.apps.items()),
            ],
            lifespan=self._lifespan,
            exception_handlers={404: _not_found},
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeWorld]:
        """Start every fake's background machinery (e.g. the MCP session manager); for in-process use."""
        async with AsyncExitStack() as stack:
            for svc in self.services.values():
                hook = svc.lifespan
                if hook is not None:
                    await stack.enter_async_context(hook())
            yield self

    def _lifespan(self, app: Starlette) -> AbstractAsyncContextManager[None]:
        @asynccontextmanager
        async def cm() -> AsyncIterator[None]:
            async with self.running():
                yield

        return cm()

    def transport(self) -> FakeWorldTransport:
        """An httpx transport routing the real hostnames (and ``http://fakes/<fake>/``) here."""
        return FakeWorldTransport(self.apps, self.app)

    def mock_hosts(self) -> respx.MockRouter:
        """A respx router sending *every* httpx client's traffic for the real hostnames here.

        For code that builds its own ``httpx.AsyncClient()`` and cannot be handed a transport:
        ``with fw.mock_hosts(): …``. Requests to any other host fail (respx refuses unmocked
        requests), so nothing leaks to the real internet. The official SDKs send through
        ``httpx2`` and are not intercepted: drive them against the served fakes instead.
        """
        transport = self.transport()
        router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)

        async def forward(request: httpx.Request) -> httpx.Response:
            response = await transport.handle_async_request(request)
            await response.aread()
            return response

        for host in HOSTS:
            router.route(host=host).mock(side_effect=forward)
        return router

    def client(self, **kw: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` whose traffic goes to this world's fakes, in-process."""
        return httpx.AsyncClient(transport=self.transport(), **kw)
