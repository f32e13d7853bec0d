"""The ledger: one entry per side effect the outside world accepted — the drill's ground truth.

Entries are stored as plain flat tuples of atoms (str/int/float/None) and wrapped as
:class:`LedgerEntry` only when read. CPython stops tracking exact tuples of atoms in the cyclic
garbage collector (a tuple *subclass* such as a NamedTuple stays tracked), so a ledger of a
million entries does not make every collection walk a million objects (a ledger of dicts pauses
40–110 ms at 50k–150k entries).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, NamedTuple

__all__ = ["ACTIONS", "Ledger", "LedgerEntry", "content_hash"]

#: every side-effect action a fake may record
ACTIONS: tuple[str, ...] = (
    "post.created",
    "post.deleted",
    "post.updated",
    "reply.created",
    "dm.sent",
    "like.created",
    "llm.completion",
    "image.generated",
    "video.generated",
    "tool.called",
)


def content_hash(text: str | bytes | None) -> str | None:
    """A short hash of the content, so duplicates are visible without storing text twice."""
    if text is None:
        return None
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


class LedgerEntry(NamedTuple):
    """One accepted side effect. Secrets never appear: only the credential's fingerprint."""

    seq: int
    t: float
    fake: str
    action: str
    account_id: str | None
    tenant_id: str | None
    credential_fp: str | None
    request_id: str
    resource_id: str | None
    content_hash: str | None
    in_reply_to: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    #: free-form detail as a compact string (e.g. model name, tool name, visibility)
    detail: str | None = None
    #: the route that made it (e.g. 'web' for the browser UI, 'api' otherwise)
    channel: str = "api"
    #: the resource's public address as the platform gives it (a post's permalink), if it has one
    permalink: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict."""
        return self._asdict()


class Ledger:
    """An append-only list of :class:`LedgerEntry`, with cheap filtering."""

    def __init__(self) -> None:
        #: plain tuples in LedgerEntry's field order; see the module docstring for why
        self._entries: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return map(LedgerEntry._make, self._entries)

    def record(self, **fields: Any) -> LedgerEntry:
        """Append an entry; ``seq`` is assigned here. Unknown actions are refused."""
        action = fields.get("action")
        if action not in ACTIONS:
            raise ValueError(f"ledger action {action!r} is not one of {ACTIONS}")
        entry = LedgerEntry(seq=len(self._entries) + 1, **fields)
        self._entries.append(tuple(entry))
        return entry

    def entries(
        self,
        *,
        fake: str | None = None,
        action: str | None = None,
        account_id: str | None = None,
        since_seq: int = 0,
    ) -> list[LedgerEntry]:
        """Entries after ``since_seq`` matching every given filter."""
        out = self._entries[since_seq:] if since_seq else self._entries
        return [
            LedgerEntry._make(e)
            for e in out
            if (fake is None or e[2] == fake)
            and (action is None or e[3] == action)
            and (account_id is None or e[4] == account_id)
        ]

    def clear(self) -> None:
        """Forget every entry (admin reset)."""
        self._entries = []
