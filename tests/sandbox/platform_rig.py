"""The platform test rig: a fake world and a platform on one virtual-time loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import fakes
from fakes.core.roster import Roster
from harness.clock import run_virtual
from sandbox import Platform, Settings

T = TypeVar("T")


@dataclass
class Rig:
    """A fake world and a platform wired to it."""

    fw: fakes.FakeWorld
    platform: Platform

    @property
    def world(self) -> fakes.World:
        return self.fw.world

    @property
    def client(self) -> Any:
        return self.platform.client

    def ledger(self, action: str | None = None, fake: str | None = None) -> list[Any]:
        return self.world.ledger.entries(action=action, fake=fake)

    def audit(self, **match: Any) -> list[Any]:
        return [
            e
            for e in self.platform.audit.events()
            if all(getattr(e, k) == v for k, v in match.items())
        ]

    async def settle(self, within: float = 6 * 3600) -> None:
        """Wait (virtual time) until no job is waiting or running."""
        p = self.platform
        deadline = p.now() + within
        while p.now() < deadline:
            busy = any(
                j.state in ("queued", "scheduled", "retry_wait", "running") for j in p.jobs.all()
            )
            if not busy:
                return
            await asyncio.sleep(5)
        raise AssertionError(f"jobs still busy after {within}s: {p.jobs.counts}")


@asynccontextmanager
async def rig(
    *,
    clients: int = 3,
    seed: int = 7,
    defects: Iterable[str] = (),
    platforms: tuple[str, ...] = ("x", "instagram", "linkedin"),
    **overrides: Any,
) -> AsyncIterator[Rig]:
    """A world of ``clients`` tenants and a started platform on the running (virtual) loop."""
    loop = asyncio.get_running_loop()
    world = fakes.World(
        roster=Roster.generate(clients=clients, platforms=platforms, seed=seed),
        now=loop.time,
        seed=seed,
    )
    fw = fakes.FakeWorld(world)
    settings, secrets = Settings.from_roster(world.roster_with_secrets(), **overrides)
    platform = Platform(
        settings, secrets, transport=fw.transport(), now=loop.time, seed=seed, defects=defects
    )
    async with fw.running():
        await platform.start()
        try:
            yield Rig(fw, platform)
        finally:
            await platform.stop()


def virtual(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine function on a fresh virtual-time loop."""
    return run_virtual(fn)
