"""The browser rig (fixtures re-exported by conftest): served fakes on 127.0.0.1 and one Chromium per test module."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

import fakes
from fakes import admin_headers
from fakes.core.roster import Roster
from fakes.serve import ServedFakes
from sandbox.alerts import Alerts
from sandbox.audit import Scrubber
from sandbox.defects import Defects
from sandbox.errors import Blocked
from sandbox.lanes.base import Credential
from sandbox.lanes.browser import BrowserLane
from sandbox.lanes.browser_install import BrowserComponent, build_lanes
from sandbox.lanes.browser_settings import BrowserSettings
from sandbox.settings import CredentialSecret, Settings
from sandbox.telemetry import Telemetry


@dataclass
class Served:
    """A served world and the platform's settings and secrets for it."""

    world: fakes.World
    doc: dict[str, Any]
    settings: Settings
    secrets: dict[str, CredentialSecret]

    def cred(self, client_id: str, platform: str) -> Credential:
        c = self.settings.client(client_id)
        acc = c.account(platform)
        assert acc is not None
        return Credential(
            client_id, acc, acc.credential_ref, self.secrets[acc.credential_ref].access_token
        )

    def ledger(self, **kw: Any) -> list[Any]:
        return self.world.ledger.entries(**kw)

    def fault(self, kind: str, **kw: Any) -> str:
        r = httpx.post(
            f"{self.doc['admin']}/faults",
            json={"kind": kind, **kw},
            headers=admin_headers(),
            timeout=10,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def clear_faults(self) -> None:
        httpx.delete(f"{self.doc['admin']}/faults", headers=admin_headers(), timeout=10)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The fakes served on loopback for this module (wall clock)."""
    world = fakes.World(
        roster=Roster.generate(clients=3, platforms=("x", "instagram"), seed=11), seed=11
    )
    with ServedFakes(world=world) as doc:
        roster = httpx.get(f"{doc['admin']}/roster", params={"secrets": 1}, timeout=10).json()
        settings, secrets = Settings.from_world_ready(doc, roster)
        yield Served(world, doc, settings, secrets)


@dataclass
class StubScope:
    """A side-effect scope with a kill switch: records attempts, refuses when killed."""

    killed: bool = False
    log: list[tuple[str, str]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    #: kill the switch right before the n-th check (0 = never)
    kill_at_check: int = 0
    _checks: int = 0

    @asynccontextmanager
    async def side_effect(
        self, action: str, recheck: Callable[[], None] | None = None
    ) -> AsyncIterator[None]:
        self.check(action)
        if recheck is not None:
            recheck()
        self.log.append(("attempt", action))
        try:
            yield
        except Exception as e:
            self.log.append(("failed", f"{action}: {e}"))
            raise
        self.log.append(("sent", action))

    def refused(self, action: str, error: str) -> None:
        self.log.append(("blocked", f"{action}: {error}"))

    def check(self, action: str) -> None:
        self._checks += 1
        if self.kill_at_check and self._checks >= self.kill_at_check:
            self.killed = True
        if self.killed:
            raise Blocked(f"kill_switch: {action} stopped", reason="kill_switch")

    def headers(self) -> dict[str, str]:
        return {}

    def note(self, key: str, value: Any) -> None:
        self.notes[key] = value

    def recall(self, key: str) -> Any:
        return self.notes.get(key)


_n = itertools.count(1)


@dataclass
class LaneRig:
    """Browser lanes (one shared Chromium) over the served fakes, with one set of defects."""

    served: Served
    comp: BrowserComponent
    alerts: Alerts
    telemetry: Telemetry
    artifacts: Path

    def lane(self, platform: str = "x") -> BrowserLane:
        return self.comp.lanes[platform]


def text(tag: str) -> str:
    """Unique post text (X refuses duplicates)."""
    return f"vibedrill browser test {tag} #{next(_n)}"


async def make_rig(served: Served, tmp: Path, defects: tuple[str, ...] = (), **kw: Any) -> LaneRig:
    scrubber = Scrubber()
    for s in served.secrets.values():
        scrubber.register(s.access_token)
        scrubber.register(s.refresh_token)
    alerts, telemetry = Alerts(lambda: 0.0), Telemetry(lambda: 0.0)
    alerts.cooldown_s = 0.0
    bs = BrowserSettings(
        artifacts_dir=tmp / "artifacts", profiles_dir=tmp / "profiles", render_timeout_s=2.5,
        step_timeout_s=0.5, **kw,
    )  # fmt: skip
    comp = build_lanes(
        served.settings, bs, telemetry=telemetry, alerts=alerts, defects=Defects(defects),
        scrubber=scrubber, now=lambda: 0.0,
    )  # fmt: skip
    return LaneRig(served, comp, alerts, telemetry, tmp / "artifacts")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(served: Served, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LaneRig]:
    """Healthy browser lanes; one Chromium for the whole module."""
    r = await make_rig(served, tmp_path_factory.mktemp("browser"))
    yield r
    await r.comp.stop()


@pytest.fixture(autouse=True)
def _no_faults_left(served: Served) -> Iterator[None]:
    served.clear_faults()
    yield
    served.clear_faults()
