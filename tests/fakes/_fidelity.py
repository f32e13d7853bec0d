"""The fidelity suite's shared parts: a served social world on a clock the clients' sleeps move,
and a ``requests`` transport adapter that sends a client's real API hosts to that world.

Third-party clients are used unmodified. They reach the fakes through a transport adapter
mounted on their own ``requests.Session`` (the URL's scheme and host are swapped for the served
world's; path and query are untouched), and their waits are bounded by handing them a ``time``
whose ``sleep`` advances the world's clock instead of blocking: a client that waits 61 s for
``x-rate-limit-reset`` moves the fakes 61 s on, so "succeeds on its first retry" means the fake
really accepted the request at the time the headers named.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import requests
from requests.adapters import HTTPAdapter

from fakes import admin_headers
from fakes.core.clock import DEFAULT_EPOCH
from fakes.core.roster import Roster
from fakes.core.world import World
from fakes.serve import ServedFakes

__all__ = ["ClientClock", "FakeHosts", "SocialWorld", "served_social_world"]

#: the real hosts each third-party client calls → the served fake that answers them
HOST_FAKE = {
    "api.twitter.com": "x",
    "api.x.com": "x",
    "graph.facebook.com": "instagram",
    "graph.instagram.com": "instagram",
    "api.linkedin.com": "linkedin",
    "www.linkedin.com": "linkedin",
}


class ClientClock:
    """The world's clock, and the ``time`` module handed to a client: its sleeps move the world.

    ``slept`` lists every wait a client asked for, so a test can show the wait it chose.
    """

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        self._t = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self._t

    def time(self) -> float:
        """``time.time()`` as the client sees it: the world's now."""
        return self._t

    def monotonic(self) -> float:
        """``time.monotonic()`` on the same clock."""
        return self._t

    def sleep(self, seconds: float) -> None:
        """``time.sleep``: record the wait and move the world forward by it, at once."""
        with self._lock:
            self.slept.append(float(seconds))
            if seconds > 0:
                self._t += float(seconds)

    def advance(self, seconds: float) -> None:
        """Move the world forward (what the test itself waits)."""
        with self._lock:
            self._t += seconds


class FakeHosts(HTTPAdapter):
    """A transport adapter: requests for the real API hosts go to the served fakes.

    ``sent`` counts the requests it carried per real host (the suite's call count).
    """

    sent: ClassVar[dict[str, int]] = {}

    def __init__(self, fakes: dict[str, str]) -> None:
        super().__init__(max_retries=0)
        self._bases = {host: urlsplit(fakes[name]) for host, name in HOST_FAKE.items()}

    def send(self, request: requests.PreparedRequest, *args: Any, **kw: Any) -> requests.Response:
        url = urlsplit(str(request.url))
        base = self._bases.get(url.hostname or "")
        if base is None:
            raise requests.ConnectionError(f"{url.hostname} is not part of the fake world")
        request.url = urlunsplit(
            (base.scheme, base.netloc, base.path.rstrip("/") + url.path, url.query, "")
        )
        request.headers["Host"] = base.netloc
        FakeHosts.sent[url.hostname or ""] = FakeHosts.sent.get(url.hostname or "", 0) + 1
        return super().send(request, *args, **kw)

    def mount_on(self, session: requests.Session) -> requests.Session:
        """Route every real host this adapter knows through it on ``session``."""
        for host in HOST_FAKE:
            session.mount(f"https://{host}/", self)
        return session


@dataclass
class SocialWorld:
    """A served world of the social fakes, its clock, and what tests read back from it."""

    world: World
    clock: ClientClock
    doc: dict[str, Any]
    admin: httpx.Client
    hosts: FakeHosts
    calls: list[tuple[str, bool]] = field(default_factory=list)

    def account(self, account_id: str) -> Any:
        """The roster account (with its credential)."""
        return self.world.roster.account(account_id)

    def fault(self, kind: str, **spec: Any) -> str:
        """Install a fault rule through the admin API; returns its id."""
        r = self.admin.post("/faults", json={"kind": kind, **spec})
        r.raise_for_status()
        return str(r.json()["id"])

    def inbound(self, **item: Any) -> str:
        """Schedule one inbound comment or DM through the admin API; returns its id."""
        r = self.admin.post("/inbound", json=item)
        r.raise_for_status()
        return str(r.json()["ids"][0])

    def ledger(self, fake: str, action: str | None = None) -> list[dict[str, Any]]:
        """Ledger rows of one fake (optionally one action), as the admin API serves them."""
        params = {"fake": fake, **({"action": action} if action else {})}
        r = self.admin.get("/ledger", params=params)
        r.raise_for_status()
        body: Any = r.json()
        rows: list[dict[str, Any]] = body["entries"] if isinstance(body, dict) else body
        return rows

    def journal(self, fake: str) -> list[dict[str, Any]]:
        """Journal rows of one fake, as the admin API serves them."""
        r = self.admin.get("/journal", params={"fake": fake})
        r.raise_for_status()
        body: Any = r.json()
        rows: list[dict[str, Any]] = body["entries"] if isinstance(body, dict) else body
        return rows

    def session(self, session: requests.Session | None = None) -> requests.Session:
        """A ``requests.Session`` (or the client's own) routed to the fakes."""
        return self.hosts.mount_on(session if session is not None else requests.Session())

    def reset(self) -> None:
        """Forget everything the last test did (state, ledger, journal, faults)."""
        self.admin.post("/reset").raise_for_status()
        self.clock.slept.clear()


@contextmanager
def served_social_world(seed: int = 0) -> Iterator[SocialWorld]:
    """Serve the x, instagram and linkedin fakes on 127.0.0.1 on a :class:`ClientClock`."""
    clock = ClientClock()
    world = World(roster=Roster.generate(clients=2, seed=seed), now=clock, seed=seed)
    with (
        ServedFakes(world=world, only=["x", "instagram", "linkedin"]) as doc,
        httpx.Client(base_url=doc["admin"], timeout=10, headers=admin_headers()) as admin,
    ):
        yield SocialWorld(world, clock, doc, admin, FakeHosts(doc["fakes"]))
