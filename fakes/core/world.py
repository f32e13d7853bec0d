"""The World: one outside world's shared state — roster, tokens, ledger, journal, faults, inbound.

Every fake app is built from a World by a factory; two Worlds never share state. Time comes from
the injected ``now`` and randomness from ``rng`` (seeded), so an in-process drill replays.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import Now, wall_clock
from .faults import FaultEngine
from .inbound import Inbound
from .journal import Journal
from .ledger import Ledger, LedgerEntry, content_hash
from .roster import Roster, fingerprint
from .tokens import TokenStore

__all__ = ["ID_AS_HANDLE_MARK", "PLACEHOLDER_MARK", "World"]


#: a template field left unfilled in a text: ``{`` an identifier ``}``
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
#: the ``detail`` token of a ledger entry whose text carries one
PLACEHOLDER_MARK = "placeholder"
#: a platform's id where a person's handle belongs: ``@`` a LinkedIn member URN or a long number
#: (X and Instagram user ids run to 10–19 digits; no handle of the fakes is one)
_ID_AS_HANDLE = re.compile(r"(?<![\w@])@(?:urn:li:[a-zA-Z]+:\S+|\d{8,})")
#: the ``detail`` token of a ledger entry whose text addresses one
ID_AS_HANDLE_MARK = "id_as_handle"
#: the ledger actions whose content is a text people read
_TEXT_ACTIONS = frozenset({"post.created", "post.updated", "reply.created", "dm.sent"})


@dataclass
class World:
    """Shared state of the fakes; build one per drill (or per served process)."""

    roster: Roster = field(default_factory=Roster.generate)
    now: Now = wall_clock
    seed: int = 0
    #: optional bearer token required on the admin API (served on a non-loopback host)
    admin_token: str | None = None
    #: ``Host`` names the served admin API answers to; None in-process (no socket, no checks)
    admin_hosts: frozenset[str] | None = None
    #: how fakes wait (latency, hangs): the running loop's sleep, virtual in drills
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: served on a socket: a request whose client hangs up is still carried out, as a real API
    #: does (in-process, the client's timeout never cancels the fake)
    served: bool = False
    rng: random.Random = field(init=False)
    tokens: TokenStore = field(init=False)
    ledger: Ledger = field(default_factory=Ledger)
    journal: Journal = field(default_factory=Journal)
    faults: FaultEngine = field(init=False)
    inbound: Inbound = field(init=False)
    #: per-fake reset hooks, registered by the factories
    _reset_hooks: list[Callable[[], None]] = field(default_factory=list)
    _counters: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"world:{self.seed}")
        self.tokens = TokenStore(self.roster, self.now, random.Random(f"tokens:{self.seed}"))
        self.faults = FaultEngine(random.Random(f"faults:{self.seed}"), self.now)
        self.inbound = Inbound(self.now)

    # ids ------------------------------------------------------------------------------------
    def next_id(self, prefix: str) -> int:
        """A per-prefix counter: deterministic ids without wall clock or global randomness."""
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return n

    def request_id(self, fake: str) -> str:
        """A request id in the shape real services use (hex, unique per world)."""
        n = self.next_id("req")
        return f"req_{fake[:3]}{n:010x}"

    # lifecycle ------------------------------------------------------------------------------
    def on_reset(self, hook: Callable[[], None]) -> None:
        """Register a fake's state reset."""
        self._reset_hooks.append(hook)

    def reset(self) -> None:
        """Forget ledger, journal, faults, inbound and every fake's state; keep the roster."""
        self.ledger.clear()
        self.journal.clear()
        self.faults.clear()
        self.faults.history.clear()
        self.inbound.clear()
        self.tokens.reset()
        self._counters.clear()
        for hook in self._reset_hooks:
            hook()

    def roster_with_secrets(self) -> dict[str, Any]:
        """The roster as JSON with its secrets, as a credential store keeps them: each
        credential also states when its access token expires (``expires_at``, unix seconds),
        as the token endpoint's ``expires_in`` told whoever connected the account."""
        data = self.roster.model_dump(mode="json")
        for c in data["clients"]:
            for a in c["accounts"]:
                cred = a["credential"]
                st = self.tokens.access.get(cred["access_token"])
                if st is not None:
                    cred["expires_at"] = st.expires_at
        return data

    def replace_roster(self, roster: Roster) -> None:
        """Swap the roster (admin PUT) and reissue tokens from it."""
        self.roster = roster
        self.tokens.roster = roster
        self.tokens.reset()

    # ledger ---------------------------------------------------------------------------------
    def record(
        self,
        fake: str,
        action: str,
        *,
        account_id: str | None,
        credential: str | None,
        request_id: str,
        resource_id: str | None = None,
        content: str | bytes | None = None,
        **extra: Any,
    ) -> LedgerEntry:
        """Write one side effect to the ledger, resolving the tenant and fingerprinting the secret.

        A text that still carries a template placeholder (``{result}``, ``{author}``) is marked
        ``placeholder`` in the entry's ``detail``: the ledger keeps a hash of the text, not the
        text, and that fact is what a reader of the post would see. One that addresses a
        platform's id as if it were a handle (``@urn:li:person:…``, ``@1789…``) is marked
        ``id_as_handle`` the same way."""
        if action in _TEXT_ACTIONS and isinstance(content, str):
            if "{" in content and _PLACEHOLDER.search(content):
                extra["detail"] = " ".join(filter(None, (extra.get("detail"), PLACEHOLDER_MARK)))
            if "@" in content and _ID_AS_HANDLE.search(content):
                extra["detail"] = " ".join(filter(None, (extra.get("detail"), ID_AS_HANDLE_MARK)))
        tenant = None
        if account_id is not None:
            try:
                tenant = self.roster.owner(account_id).id
            except KeyError:
                tenant = None
        return self.ledger.record(
            t=self.now(),
            fake=fake,
            action=action,
            account_id=account_id,
            tenant_id=tenant,
            # interned: one copy per credential, not per ledger entry
            credential_fp=sys.intern(fingerprint(credential)) if credential else None,
            request_id=request_id,
            resource_id=resource_id,
            content_hash=content_hash(content),
            **extra,
        )
