"""What a drill reads of the outside world: the roster, the ledger, the journal, tokens, inbound.

An in-process drill reads the fakes' :class:`~fakes.core.world.World` directly
(:class:`InProcessWorld`); a drill of a platform over HTTP reads the same facts from the served
fakes' admin API (:class:`ServedWorld`, ``/_fake/…``). Both answer in the judge's row shapes, and
a served view counts only what happened since the drill began (the ledger, journal and inbound
sequence numbers it saw at :meth:`WorldView.mark`), so drills in a row against one served world
never judge each other's side effects.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from fakes.core.roster import Roster
from fakes.core.world import World

from ..errors import DrillError
from ..judge.rows import InboundRow, JournalRow, LedgerRow

__all__ = ["InProcessWorld", "ServedWorld", "WorldView"]


class WorldView(Protocol):
    """The outside world's ground truth, as one drill sees it."""

    async def roster(self) -> Roster:
        """The accounts, their tenants and credentials (secrets included)."""
        ...

    async def mark(self) -> None:
        """Remember where the ledger, journal and inbound stand: the drill starts here."""
        ...

    async def ledger(self, since_seq: int | None = None) -> list[LedgerRow]:
        """Side effects after ``since_seq`` (default: since :meth:`mark`)."""
        ...

    async def ledger_seq(self) -> int:
        """The sequence number of the last side effect."""
        ...

    async def journal(self) -> list[JournalRow]:
        """Requests since :meth:`mark`."""
        ...

    async def tokens(self) -> list[tuple[str, str]]:
        """Every credential the fakes know: ``(token, account id)``."""
        ...

    async def inbound(self) -> list[InboundRow]:
        """Inbound comments and DMs since :meth:`mark`, with the post each answers."""
        ...


class InProcessWorld:
    """The view of an in-process :class:`World` (one drill owns the whole world)."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def roster(self) -> Roster:
        return self.world.roster

    async def mark(self) -> None:
        return None

    async def ledger(self, since_seq: int | None = None) -> list[LedgerRow]:
        return [x.to_json() for x in self.world.ledger.entries(since_seq=since_seq or 0)]  # type: ignore[misc]

    async def ledger_seq(self) -> int:
        return len(self.world.ledger)

    async def journal(self) -> list[JournalRow]:
        return [x.to_json() for x in self.world.journal.entries()]  # type: ignore[misc]

    async def tokens(self) -> list[tuple[str, str]]:
        t = self.world.tokens
        return [(k, st.account_id) for k, st in list(t.access.items())] + [
            (k, st.account_id) for k, st in list(t.refresh.items())
        ]

    async def inbound(self) -> list[InboundRow]:
        w = self.world
        return [
            {
                "id": i.id,
                "fake": i.fake,
                "kind": i.kind,
                "account_id": i.account_id,
                "post_id": w.inbound.post_of(i),
                "author": i.author,
                "t": i.at,
                "echo": i.echo_of,
                "text": i.text,
            }
            for i in w.inbound.items
        ]


class ServedWorld:
    """The view of fakes served by ``vibedrill serve``, through their admin API."""

    def __init__(self, admin: httpx.AsyncClient) -> None:
        #: a client whose base URL is the admin API (``…/_fake``)
        self.admin = admin
        self._ledger0 = 0
        self._journal0 = 0
        self._inbound0 = 0

    async def _get(self, path: str, **params: Any) -> Any:
        try:
            r = await self.admin.get(path, params=params)
        except httpx.HTTPError as e:
            raise DrillError(f"the served fakes do not answer GET /_fake{path}: {e}") from None
        if r.status_code != 200:
            raise DrillError(f"GET /_fake{path} answered {r.status_code}: {r.text[:300]}")
        return r.json()

    async def roster(self) -> Roster:
        return Roster.model_validate(await self._get("/roster", secrets="1"))

    async def mark(self) -> None:
        health = await self._get("/health")
        self._ledger0 = int(health["ledger"])
        self._journal0 = int(health["journal_seq"])
        self._inbound0 = int(health["inbound"])

    async def ledger(self, since_seq: int | None = None) -> list[LedgerRow]:
        since = self._ledger0 if since_seq is None else since_seq
        return list((await self._get("/ledger", since=since))["entries"])

    async def ledger_seq(self) -> int:
        return int((await self._get("/health"))["ledger"])

    async def journal(self) -> list[JournalRow]:
        return list((await self._get("/journal", since=self._journal0))["entries"])

    async def tokens(self) -> list[tuple[str, str]]:
        rows = (await self._get("/tokens", secrets="1"))["tokens"]
        return [(str(x["token"]), str(x["account_id"])) for x in rows if "token" in x]

    async def inbound(self) -> list[InboundRow]:
        rows = (await self._get("/inbound", since=self._inbound0))["items"]
        return [
            {
                "id": x["id"],
                "fake": x["fake"],
                "kind": x["kind"],
                "account_id": x["account_id"],
                "post_id": x["post_id"],
                "author": x["author"],
                "t": x["t"],
                "echo": x["echo_of"],
                "text": x.get("text") or "",
            }
            for x in rows
        ]
