"""The X fake's test kit: a world with only the X fake, a manual clock, and the problem bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import fakes
from fakes.core import ManualClock, World
from fakes.core.roster import Account
from fakes.x import create

API = "https://api.x.com"
ADMIN = "http://fakes/_fake"
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}
TOO_MANY = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}


class Env:
    """A world with only the X fake, a manual clock and a client on the real hostname."""

    def __init__(self, clock: ManualClock, fw: fakes.FakeWorld, client: httpx.AsyncClient) -> None:
        self.clock, self.fw, self.client = clock, fw, client
        self.world = fw.world
        self.acme, self.northwind = self.world.roster.accounts("x")[:2]
        self.tokens = {a.id: a.credential.access_token for a in (self.acme, self.northwind)}
        self.refresh_tokens = {
            a.id: str(a.credential.refresh_token) for a in (self.acme, self.northwind)
        }

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    def h(self, acc: Account | None = None) -> dict[str, str]:
        return self.auth(self.tokens[(acc or self.acme).id])

    async def renew(self, acc: Account | None = None) -> None:
        """Refresh an account's tokens (after the clock jumped past their two hours)."""
        aid = (acc or self.acme).id
        r = await self.refresh(self.refresh_tokens[aid])
        assert r.status_code == 200, r.text
        self.tokens[aid], self.refresh_tokens[aid] = (
            r.json()["access_token"],
            r.json()["refresh_token"],
        )

    async def post(self, text: str, acc: Account | None = None, **body: Any) -> httpx.Response:
        return await self.client.post(
            f"{API}/2/tweets", json={"text": text, **body}, headers=self.h(acc)
        )

    async def fault(self, kind: str, **spec: Any) -> str:
        r = await self.client.post(f"{ADMIN}/faults", json={"kind": kind, **spec})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def hits(self, kind: str) -> int:
        r = await self.client.get(f"{ADMIN}/faults")
        return sum(f["hits"] for f in r.json()["faults"] if f["kind"] == kind)

    async def refresh(self, refresh_token: str, client_id: str = "vibedrill-app") -> httpx.Response:
        return await self.client.post(
            f"{API}/2/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
            },
        )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock()
    fw = fakes.FakeWorld(World(now=clock, seed=3), only=["x"])
    async with fw.client() as client:
        yield Env(clock, fw, client)


def custom(**options: Any) -> tuple[ManualClock, World, httpx.AsyncClient]:
    """The X fake alone with non-default options."""
    clock = ManualClock()
    world = World(now=clock, seed=3)
    svc = create(world, **options)
    world.faults.routes["x"] = tuple(svc.route_names)
    return (
        clock,
        world,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=svc.asgi()), base_url=API),
    )
