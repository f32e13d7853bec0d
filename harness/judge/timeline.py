"""The drill's one append-only timeline, and its hash.

Every step of a drill is a :class:`TimelineEvent`: the drill starting, the steady state being
verified, a fault injected, an alert firing, a kill switch engaged, a runbook step done. Times
come from the injected (virtual) clock as unix seconds, never from the wall clock, so two runs
of the same scenario, seed and commit give the same events and the same :meth:`Timeline.sha256`.

Event kinds are ``<subject>.<past participle>``. The drill loop and the judge agree on these
``data`` keys (extra keys are welcome):

==========================  ==============================================================
kind                        data
==========================  ==============================================================
``fault.injected``          ``kind``, ``rule_id``, ``params``, ``match``
``fault.healed``            ``kind``, ``rule_id``
``defect.activated``        ``defect``
``alert.fired``             ``name``, ``severity``, ``alert_seq`` (line in alerts.jsonl)
``incident.detected``       ``signal`` (the alert or rule that detected it)
``control.changed``         ``control``, ``scope``, ``value``, ``control_seq``
``kill_switch.engaged``     ``scope``, ``control_seq``
``kill_switch.released``    ``scope``, ``control_seq``
``runbook_step.started``    ``step`` (e.g. ``RB-05.1``), ``index`` (1-based), ``action``,
                            ``deadline_s`` (seconds after detection)
``runbook_step.completed``  ``step``, ``index``, ``postcondition``, ``postcondition_met``
``runbook_step.missed``     ``step``, ``index``, ``reason``
``verification.passed``     ``check``
``verification.failed``     ``check``, ``reason``
``job.submitted``           ``job_id``, ``kind``, ``client_id``, ``platform``
``job.approved``            ``job_id``
==========================  ==============================================================
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..errors import BadInputError
from .rows import Json, JsonObject

__all__ = [
    "ACTORS",
    "Timeline",
    "TimelineError",
    "TimelineEvent",
    "canonical_json",
    "format_offset",
]

#: who acts in a drill; ``ops-lead (auto)`` is the automated Ops Lead, ``ops-lead`` a person
ACTORS: tuple[str, ...] = (
    "drill",
    "platform",
    "monitoring",
    "ops-lead (auto)",
    "ops-lead",
    "fake",
    "human",
)

_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class TimelineError(BadInputError):
    """An event that cannot go on the timeline; the message shows the offending value."""


def _check_atoms(value: object, path: str) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TimelineError(f"data{path}: {value!r} is not a finite number")
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_atoms(v, f"{path}[{i}]")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TimelineError(f"data{path}: key {k!r} is not a string")
            _check_atoms(v, f"{path}.{k}")
        return
    raise TimelineError(
        f"data{path}: {value!r} ({type(value).__name__}) is not a JSON atom, list or object"
    )


def _plain(value: object) -> Json:
    """``value`` (checked by :func:`_check_atoms`) as plain JSON: mappings become dicts, tuples lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float):
        return value
    raise TimelineError(f"{value!r} ({type(value).__name__}) is not a JSON atom, list or object")


def canonical_json(value: Json) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def format_offset(seconds: float | None) -> str:
    """Render an offset from the drill's start: 1205 → ``T+20m05s``, 3725 → ``T+1h02m05s``, 41 → ``T+41s``."""
    if seconds is None:
        return "T+?"
    sign = "-" if seconds < 0 else "+"
    total = round(abs(seconds))
    h, rem = divmod(total, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"T{sign}{h}h{m:02d}m{sec:02d}s"
    if m:
        return f"T{sign}{m}m{sec:02d}s"
    return f"T{sign}{sec}s"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One thing that happened in a drill, at virtual time ``t`` (unix seconds)."""

    seq: int
    t: float
    kind: str
    actor: str
    summary: str
    data: Mapping[str, Json] = field(default_factory=dict, hash=False)
    #: where to look: a file relative to the report folder plus an anchor, e.g. ``evidence/ledger.jsonl#L12``
    evidence: str | None = None

    def __post_init__(self) -> None:
        if not _KIND.match(self.kind):
            raise TimelineError(
                f"kind {self.kind!r} is not '<subject>.<past participle>' (e.g. 'kill_switch.engaged')"
            )
        if (
            not isinstance(self.t, int | float)
            or isinstance(self.t, bool)
            or not math.isfinite(self.t)
        ):
            raise TimelineError(f"t {self.t!r} of {self.kind} is not a finite unix time")
        if not self.actor:
            raise TimelineError(f"actor of {self.kind} is empty; use one of {ACTORS}")
        _check_atoms(self.data, "")
        object.__setattr__(self, "t", float(self.t))
        object.__setattr__(self, "data", _plain(self.data))

    def to_json(self) -> JsonObject:
        """The event as a JSON-ready dict (the canonical form hashed by the timeline)."""
        return {
            "seq": self.seq,
            "t": round(self.t, 6),
            "kind": self.kind,
            "actor": self.actor,
            "summary": self.summary,
            "data": _plain(self.data),
            "evidence": self.evidence,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Json]) -> TimelineEvent:
        """Rebuild an event from :meth:`to_json` output."""
        seq, t, data, evidence = obj.get("seq"), obj.get("t"), obj.get("data"), obj.get("evidence")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise TimelineError(f"event seq {seq!r} is not an integer")
        if not isinstance(t, int | float) or isinstance(t, bool):
            raise TimelineError(f"t {t!r} of event {seq} is not a unix time")
        if data is not None and not isinstance(data, dict):
            raise TimelineError(f"data {data!r} of event {seq} is not a JSON object")
        if evidence is not None and not isinstance(evidence, str):
            raise TimelineError(f"evidence {evidence!r} of event {seq} is not a string")
        return cls(
            seq=seq,
            t=float(t),
            kind=str(obj.get("kind")),
            actor=str(obj.get("actor")),
            summary=str(obj.get("summary", "")),
            data=dict(data or {}),
            evidence=evidence,
        )


class Timeline:
    """An append-only list of :class:`TimelineEvent`; ``seq`` is assigned on append (1-based)."""

    def __init__(self, events: Iterable[TimelineEvent | Mapping[str, Json]] = ()) -> None:
        self._events: list[TimelineEvent] = []
        for e in events:
            ev = e if isinstance(e, TimelineEvent) else TimelineEvent.from_json(e)
            if ev.seq != len(self._events) + 1:
                raise TimelineError(
                    f"event seq {ev.seq} out of order; expected {len(self._events) + 1}"
                )
            self._events.append(ev)

    def append(
        self,
        t: float,
        kind: str,
        actor: str,
        summary: str,
        data: Mapping[str, Json] | None = None,
        evidence: str | None = None,
    ) -> TimelineEvent:
        """Add an event at the end and return it."""
        ev = TimelineEvent(
            seq=len(self._events) + 1,
            t=t,
            kind=kind,
            actor=actor,
            summary=summary,
            data=dict(data or {}),
            evidence=evidence,
        )
        self._events.append(ev)
        return ev

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[TimelineEvent]:
        return iter(self._events)

    def __getitem__(self, i: int) -> TimelineEvent:
        return self._events[i]

    @property
    def events(self) -> tuple[TimelineEvent, ...]:
        """Every event in append order."""
        return tuple(self._events)

    def of_kind(self, *kinds: str) -> list[TimelineEvent]:
        """Events whose kind is one of ``kinds`` (a trailing ``.*`` matches a subject)."""
        exact = {k for k in kinds if not k.endswith(".*")}
        prefixes = tuple(k[:-1] for k in kinds if k.endswith(".*"))
        return [
            e for e in self._events if e.kind in exact or (prefixes and e.kind.startswith(prefixes))
        ]

    def first(self, *kinds: str) -> TimelineEvent | None:
        """The earliest event (by time, then seq) of one of ``kinds``, or None."""
        found = self.of_kind(*kinds)
        return min(found, key=lambda e: (e.t, e.seq)) if found else None

    def ordered(self) -> list[TimelineEvent]:
        """Events sorted by time, then seq (append order breaks ties)."""
        return sorted(self._events, key=lambda e: (e.t, e.seq))

    def to_json(self) -> list[JsonObject]:
        """Every event as a JSON-ready dict."""
        return [e.to_json() for e in self._events]

    def to_jsonl(self) -> str:
        """One canonical JSON object per line (line N is the event with seq N)."""
        return "".join(canonical_json(e) + "\n" for e in self.to_json())

    @classmethod
    def from_jsonl(cls, text: str) -> Timeline:
        """Rebuild a timeline from :meth:`to_jsonl` output."""
        return cls(json.loads(line) for line in text.split("\n") if line.strip())

    def sha256(self) -> str:
        """A hash of the canonical JSON of every event: identical drills give identical hashes."""
        h = hashlib.sha256()
        for e in self._events:
            h.update(canonical_json(e.to_json()).encode())
            h.update(b"\n")
        return h.hexdigest()
