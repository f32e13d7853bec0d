"""The audit log: an append-only record of every side-effect attempt and outcome, cursor-paged.

The audit is the platform's *claim*; the fakes' ledger is the truth it is judged against. No
credential may ever appear in it: every string is scrubbed against the secrets the keyring
registered and against credential-shaped patterns before it is stored.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from .contract import AuditEvent, AuditPage
from .defects import Defects

__all__ = ["REDACTED", "AuditLog", "Scrubber"]

REDACTED = "[redacted]"
_PREFIX = 8

_PATTERNS = re.compile(
    r"(?i)(bearer\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(?:sk|rk|pk)-[A-Za-z0-9_-]{16,}"
    r"|\b[a-z]{1,12}(?:at|rt)-[0-9a-f]{24,}"
    r"|\bEAA[A-Za-z0-9]{20,}"
    r"|(?:access_token|refresh_token|client_secret|api_key|password)[\"']?\s*[=:]\s*[\"']?[^\s\"'&,}]{6,})"
)


class Scrubber:
    """Redacts known secrets and credential-shaped strings from anything bound for evidence."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        #: first 8 characters → the secrets starting with them: ``text()`` looks
        #: up each 8-character window of its input instead of scanning every secret (the keyring
        #: registers every rotated token, so the set grows with the run)
        self._by_prefix: dict[str, list[str]] = {}

    def register(self, secret: str | None) -> None:
        """Remember a secret (the keyring registers every token it holds or receives)."""
        if secret and len(secret) >= 8 and secret not in self._secrets:
            self._secrets.add(secret)
            self._by_prefix.setdefault(secret[:_PREFIX], []).append(secret)

    def text(self, s: str) -> str:
        """``s`` with every secret replaced by ``[redacted]``."""
        index = self._by_prefix
        if index and len(s) >= _PREFIX:
            found = [
                sec
                for i in range(len(s) - _PREFIX + 1)
                for sec in index.get(s[i : i + _PREFIX], ())
            ]
            for sec in sorted(set(found), key=len, reverse=True):
                if sec in s:
                    s = s.replace(sec, REDACTED)
        return _PATTERNS.sub(REDACTED, s)

    def value(self, v: Any) -> Any:
        """A JSON-like value with every string scrubbed."""
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, dict):
            return {str(k): self.value(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self.value(x) for x in v]
        return v


# stored rows are plain tuples in AuditEvent field order minus ``seq`` (the row's position + 1):
# cheap to keep 10^6 of them
_FIELDS = tuple(AuditEvent.model_fields)
_ROW_FIELDS = _FIELDS[1:]
_EVENT_ID, _PROOF, _DETAIL = (_ROW_FIELDS.index(f) for f in ("event_id", "proof", "detail"))


def _intern(s: str | None) -> str | None:
    return sys.intern(s) if type(s) is str else s


#: key tuples shared by every packed dict with the same keys (proofs repeat a few shapes)
_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _pack(d: dict[str, Any]) -> tuple[Any, ...]:
    """A proof/detail dict as ``(keys, *values)``: a flat tuple is a third of a small dict's size."""
    keys = tuple(d)
    shared = _KEYS.get(keys)
    if shared is None:
        shared = keys if len(_KEYS) >= 1024 else _KEYS.setdefault(keys, keys)
    return (shared, *d.values())


def _unpack(packed: tuple[Any, ...] | None) -> dict[str, Any]:
    """The dict :func:`_pack` packed (a fresh ``{}`` for None)."""
    if packed is None:
        return {}
    return dict(zip(packed[0], packed[1:], strict=True))


class AuditLog:
    """Append-only AuditEvents with cursor paging (cursor = last seq seen)."""

    def __init__(
        self,
        now: Callable[[], float],
        defects: Defects | None = None,
        scrubber: Scrubber | None = None,
    ) -> None:
        self.now = now
        self.defects = defects or Defects()
        self.scrubber = scrubber or Scrubber()
        self._rows: list[tuple[Any, ...]] = []
        self._success_outcomes = 0
        #: successful side-effect outcomes the platform meant to audit (audit_gap detection)
        self.intended_outcomes = 0
        self._stored_success = 0
        #: called with every stored event (storage, streaming)
        self.on_append: list[Callable[[AuditEvent], None]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def record(
        self,
        *,
        client_id: str,
        platform: str,
        account_id: str | None,
        action: str,
        phase: str,
        trace_id: str,
        outcome: str | None = None,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        lane: str = "api",
        proof: dict[str, Any] | None = None,
        error: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent | None:
        """Append one event (scrubbed); returns it, or None if the ``audit_dropped`` defect ate it."""
        if phase == "outcome" and outcome == "success":
            self.intended_outcomes += 1
            if self.defects.on("audit_dropped"):
                self._success_outcomes += 1
                if self._success_outcomes % 4 == 0:
                    return None
        sc = self.scrubber
        seq = len(self._rows) + 1
        # compact row: the event id is derived from seq and empty proof/detail are stored as
        # None (both rebuilt in _event); the few distinct tenant/platform/action strings are
        # interned so a hundred thousand rows share them
        row = (
            self.now(),
            None,
            _intern(client_id),
            _intern(platform),
            _intern(account_id),
            _intern(action),
            _intern(phase),
            _intern(outcome),
            job_id,
            idempotency_key,
            _intern(lane),
            trace_id,
            _pack(sc.value(proof)) if proof else None,
            sc.text(error) if error else None,
            _pack(sc.value(detail)) if detail else None,
        )
        self._rows.append(row)
        if phase == "outcome" and outcome == "success":
            self._stored_success += 1
        if self.on_append:
            ev = self._event(seq, row)
            for fn in self.on_append:
                fn(ev)
            return ev
        return self._event(seq, row)

    def restore(self, event: AuditEvent) -> None:
        """Re-append an event loaded from storage (its seq must be the next one)."""
        if event.seq != len(self._rows) + 1:
            raise ValueError(
                f"audit restore out of order: got seq {event.seq}, expected {len(self._rows) + 1}"
            )
        row = [getattr(event, f) for f in _ROW_FIELDS]
        if row[_EVENT_ID] == f"ae-{event.seq:06d}":
            row[_EVENT_ID] = None
        for i in (_PROOF, _DETAIL):
            row[i] = _pack(row[i]) if row[i] else None
        self._rows.append(tuple(row))
        if event.phase == "outcome" and event.outcome == "success":
            self._stored_success += 1
            self.intended_outcomes += 1

    @staticmethod
    def _event(seq: int, row: tuple[Any, ...]) -> AuditEvent:
        d = dict(zip(_ROW_FIELDS, row, strict=True))
        d["seq"] = seq
        if d["event_id"] is None:
            d["event_id"] = f"ae-{seq:06d}"
        d["proof"] = _unpack(d["proof"])
        d["detail"] = _unpack(d["detail"])
        return AuditEvent.model_construct(**d)

    def page(self, cursor: int = 0, limit: int = 500) -> AuditPage:
        """Events with ``seq > cursor``, at most ``limit``; ``next_cursor`` continues."""
        if cursor < 0:
            raise ValueError(f"cursor must be ≥ 0, got {cursor!r}")
        if not 1 <= limit <= 10_000:
            raise ValueError(f"limit must be between 1 and 10000, got {limit!r}")
        rows = self._rows[cursor : cursor + limit]
        return AuditPage.model_construct(
            events=[self._event(cursor + i, r) for i, r in enumerate(rows, 1)],
            next_cursor=cursor + len(rows),
        )

    def events(self) -> list[AuditEvent]:
        """Every event (tests and evidence bundles)."""
        return [self._event(i, r) for i, r in enumerate(self._rows, 1)]

    def gap(self) -> int:
        """Successful outcomes meant to be audited but missing from the log (RB-11's signal)."""
        return self.intended_outcomes - self._stored_success
