"""The request journal: every request a fake received, with retry evidence and the fault applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

__all__ = ["Journal", "JournalEntry"]


class JournalEntry(NamedTuple):
    """One request as the fake saw it. Authorization headers are never stored."""

    seq: int
    t: float
    fake: str
    method: str
    path: str
    route: str
    status: int
    account_id: str | None
    request_id: str
    #: the SDK's ``x-stainless-retry-count`` (0 on first try), when it sends one
    retry_count: int | None
    idempotency_key: str | None
    #: id of the fault rule applied to this request, if any
    fault_id: str | None
    fault_kind: str | None
    user_agent: str | None
    #: when the request arrived (``t`` is when it was answered): a judge asking what the
    #: platform knew when it sent a request reads this, not ``t``
    started: float | None = None
    #: the request's W3C ``traceparent`` header, when it sent one
    traceparent: str | None = None
    #: which of its account's access tokens the request carried (0 the roster's, then one more
    #: per refresh); None for an API key or a token the fake does not know. Never the token.
    token_gen: int | None = None
    #: when a refresh had replaced that token with a newer one, as of the request's arrival
    #: (None: it was the account's newest)
    token_replaced_at: float | None = None
    #: the API's own code of an error answer (status >= 400), as its wire spells it: X's problem
    #: type (``invalid-request``) or a short name of its 403 (``duplicate``), Graph's
    #: ``code/subcode`` (``100/33``), LinkedIn's ``code`` or ``serviceErrorCode``, an OAuth
    #: ``error``, a provider's error type. Never the message (it may echo what was sent).
    error: str | None = None
    #: the ``seq`` of the last entry journaled when this request arrived: the requests answered
    #: before it was sent (a request whose ``after_seq`` is below a 429's ``seq`` was on its way
    #: before that 429 was answered, however the clock read)
    after_seq: int | None = None
    #: which page of a paged read the request asked for: the value of its paging parameter
    #: (X's ``pagination_token``, Graph's ``after``, LinkedIn's ``start``), None for a first
    #: page asked for without one and for every request that is not a GET
    page: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict."""
        return self._asdict()


class Journal:
    """Append-only, bounded by ``max_entries`` (oldest dropped, count kept)."""

    def __init__(self, max_entries: int = 2_000_000) -> None:
        #: plain tuples in JournalEntry's field order minus ``seq`` (derived from the position):
        #: exact tuples of atoms leave the GC's tracked set after a collection, NamedTuple
        #: instances do not
        self._entries: list[tuple[Any, ...]] = []
        self._max = max_entries
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest entry (0 before the first)."""
        return self.dropped + len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return map(JournalEntry._make, self._with_seq(0))

    def _with_seq(self, start: int) -> Iterator[tuple[Any, ...]]:
        """Stored rows from index ``start`` with their ``seq`` put back in front."""
        base = self.dropped + 1
        return ((base + i, *e) for i, e in enumerate(self._entries[start:], start))

    def record(self, **fields: Any) -> JournalEntry:
        """Append an entry; ``seq`` is assigned here."""
        entry = JournalEntry(seq=len(self._entries) + self.dropped + 1, **fields)
        # stored without seq: it is always dropped + position + 1, so it is put back on read
        self._entries.append(tuple(entry)[1:])
        if len(self._entries) > self._max:
            cut = len(self._entries) - self._max
            del self._entries[:cut]
            self.dropped += cut
        return entry

    def entries(self, *, fake: str | None = None, since_seq: int = 0) -> list[JournalEntry]:
        """Entries with ``seq`` > ``since_seq``, optionally of one fake."""
        start = max(0, since_seq - self.dropped)
        return [
            JournalEntry._make(e)
            for e in self._with_seq(start)
            if e[0] > since_seq and (fake is None or e[2] == fake)
        ]

    def clear(self) -> None:
        """Forget every entry."""
        self._entries = []
        self.dropped = 0
