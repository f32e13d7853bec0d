"""What a game day knows while it runs: who joined, the pages, the live signals, what people did.

:class:`GameDay` sits between the web console (:mod:`harness.gameday.app`) and the drill engine
(:class:`harness.gameday.run.GamedayEngine`). It reads the platform only through the platform
contract the drill uses (audit feed, metrics, controls, alerts via the drill's timeline) and
never the injected faults: those are the facilitator's. Every participant's act lands on the
drill's one timeline with the person and role as the actor (``Alice (Ops Lead)``), and every
control action goes through the same :class:`~sandbox.contract.PlatformClient` with that actor
and the reason typed. Consoles learn of changes through :meth:`GameDay.wait_change` (no timer:
a paused clock fires none).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from sandbox.contract import PlatformClient

from ..errors import BadInputError
from ..judge.timeline import Timeline, TimelineEvent, format_offset
from ..runbooks import ACTIONS, ActionContext, Runbook, Step, check_step, run_action, runbooks
from ..scenario import Scenario


class DrillSide(Protocol):
    """What the game day reads and calls of the running drill (:class:`~.run.GamedayEngine`)."""

    timeline: Timeline
    platform_client: PlatformClient
    admin: httpx.AsyncClient

    async def heal_as(self, kind: str | None, actor: str) -> int: ...

    async def snapshot_as(self, items: list[str], why: str, actor: str) -> None: ...

    async def sync(self) -> None: ...


__all__ = [
    "CONTROL_ACTIONS",
    "ROLES",
    "GameDay",
    "GamedayRefused",
    "Participant",
    "active_steps",
    "step_name",
]

ROLES: tuple[str, ...] = ("Incident Commander", "Ops Lead", "Scribe", "Comms")
#: who may send control actions (the Ops Lead executes, the IC makes the calls)
ACTING_ROLES = frozenset({"Incident Commander", "Ops Lead"})
#: the runbook actions a console button may send (every control of the platform contract and the
#: rehearsal's evidence and heal levers; submitting arbitrary jobs is not a control)
CONTROL_ACTIONS: tuple[str, ...] = tuple(a for a in ACTIONS if a != "jobs.submit")
#: timeline kinds a participant sees (never fault.*, defect.*, workload.*: those are spoilers)
VISIBLE_KINDS = re.compile(
    r"^(alert\.fired|incident\.\w+|page\.\w+|runbook\.\w+|runbook_step\.\w+|action\.\w+|"
    r"control\.changed|kill_switch\.\w+|note\.added|comms\.drafted|hint\.sent|"
    r"participant\.joined|gameday\.\w+|evidence\.captured|verification\.\w+)$"
)
_NAME = re.compile(r"^[\w][\w .'-]{0,39}$")
MAX_TEXT = 2000
#: the window of the live signals' rates (scenario seconds)
SIGNAL_WINDOW_S = 300.0
FEED_LEN = 40


class GamedayRefused(BadInputError):
    """A console request that cannot be done: the message says why (HTTP 4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Participant:
    """Someone who joined: a display name and one of :data:`ROLES`."""

    id: str
    name: str
    role: str
    joined_t: float

    @property
    def actor(self) -> str:
        """How the person appears on the timeline and in the platform's control changes."""
        return f"{self.name} ({self.role})"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "actor": self.actor}


def active_steps(scenario: Scenario, rb: Runbook) -> list[tuple[str, int, Step]]:
    """(phase, 1-based place in the phase, step) of every step of ``rb`` this scenario runs."""
    ov = scenario.runbook_overrides
    browser = "browser" in scenario.world.lanes.values() or scenario.lane == "browser"
    out = []
    for phase, steps in (("immediate", rb.immediate), ("diagnosis", rb.diagnosis), ("fix", rb.fix)):
        for i, s in enumerate(steps, 1):
            if s.id in ov.skip or (s.when == "lane:browser" and not browser):
                continue
            extra = ov.params.get(s.id)
            if extra:
                s = s.model_copy(update={"params": {**s.params, **extra}})
            dl = ov.deadlines.get(s.id)
            if dl is not None:
                s = s.model_copy(update={"deadline": dl})
            out.append((phase, i, s))
    return out


def step_name(rb: Runbook, phase: str, i: int) -> str:
    """The step's name on the timeline, as the automated Ops Lead writes it (``RB-01.immediate.1``)."""
    return f"{rb.id}.{phase}.{i}"


def _families(snapshot: dict[str, float]) -> dict[str, dict[str, float]]:
    """``name{a="x"}`` samples → family → label text → value (``""`` for the unlabelled total)."""
    out: dict[str, dict[str, float]] = {}
    for key, v in snapshot.items():
        name, _, rest = key.partition("{")
        name = name.removesuffix("_total")  # a Prometheus counter's samples
        labels = rest.rstrip("}")
        out.setdefault(name, {})[labels] = float(v)
    return out


def _label(labels: str, key: str) -> str | None:
    m = re.search(rf'{key}="([^"]*)"', labels)
    return m.group(1) if m else None


def _per(fam: dict[str, float], key: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for labels, v in fam.items():
        lab = _label(labels, key)
        if lab is not None:
            out[lab] = out.get(lab, 0.0) + v
    return out


@dataclass
class _Sample:
    t: float
    fams: dict[str, dict[str, float]]


@dataclass
class GameDay:
    """The shared state of one game day (see the module doc)."""

    scenario: Scenario
    #: secret of the facilitator's console (in its URL)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    engine: DrillSide | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    #: lobby → running ⇄ paused → ending → done
    status: str = "lobby"
    #: the automated Ops Lead's result on the same scenario and seed (grades), before the game day
    baseline: dict[str, Any] | None = None
    #: the report when done: folder, verdict, grades
    outcome: dict[str, Any] | None = None
    hints: list[dict[str, Any]] = field(default_factory=list)
    chosen: dict[str, str] = field(default_factory=dict)
    #: control actions people sent (each with who, when, the reason and the result)
    actions: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)
    feed: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=FEED_LEN))
    #: control of the clock (set by the runner): pause, resume, fast-forward to the end
    clock: dict[str, Callable[[], None]] = field(default_factory=dict)
    #: the scenario time and scale (set by the runner)
    scale: float = 4.0
    version: int = 0
    #: the console is closing: live streams end
    closing: bool = False
    _changed: asyncio.Event | None = None
    _closed: asyncio.Event | None = None
    _seen_seq: int = 0
    _audit_cursor: int = 0
    _samples: list[_Sample] = field(default_factory=list)
    _recent: deque[Any] = field(default_factory=deque)

    # --- change notification -----------------------------------------------------------------
    def bump(self) -> None:
        """Something changed: wake every console's stream."""
        self.version += 1
        if self._changed is not None:
            self._changed.set()

    async def wait_change(self, seen: int) -> int:
        """Wait (no timer) until :attr:`version` differs from ``seen``; return it."""
        while self.version == seen:
            if self._changed is None or self._changed.is_set():
                self._changed = asyncio.Event()
            await self._changed.wait()
        return self.version

    @property
    def closed(self) -> asyncio.Event:
        """Set when the facilitator closes the finished game day's console."""
        if self._closed is None:
            self._closed = asyncio.Event()
        return self._closed

    # --- time --------------------------------------------------------------------------------
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def ready(self) -> bool:
        """Whether the drill's platform is up (signals can be read)."""
        return self.engine is not None and hasattr(self.engine, "detector")

    def offset(self, t: float) -> str:
        t0 = getattr(self.engine, "t0", None)
        return format_offset(None if t0 is None else t - t0)

    @property
    def runbook(self) -> Runbook:
        """The scenario's runbook (ground truth: the right one)."""
        return runbooks()[self.scenario.runbook]

    @property
    def detected_t(self) -> float | None:
        det = getattr(self.engine, "detection", None)
        return None if det is None else float(det.t)

    # --- people ------------------------------------------------------------------------------
    def join(self, name: str, role: str) -> Participant:
        name = " ".join(str(name).split())
        if not _NAME.match(name):
            raise GamedayRefused(
                f"name: {name!r} must be 1-40 letters, digits, spaces or . ' - (starting with a letter or digit)"
            )
        if role not in ROLES:
            raise GamedayRefused(f"role: {role!r} is not a role; valid: {', '.join(ROLES)}")
        if any(p.name == name and p.role == role for p in self.participants.values()):
            raise GamedayRefused(f"{name} ({role}) has already joined", 409)
        p = Participant(secrets.token_urlsafe(18), name, role, self.now())
        self.participants[p.id] = p
        self.event("participant.joined", p.actor, f"{p.actor} joined", {"participant": p.actor})
        return p

    def who(self, pid: str | None) -> Participant:
        p = self.participants.get(pid or "")
        if p is None:
            raise GamedayRefused("join the game day first (name and role)", 401)
        return p

    def event(
        self, kind: str, actor: str, summary: str, data: dict[str, Any] | None = None
    ) -> TimelineEvent | None:
        ev = None
        if self.engine is not None:
            ev = self.engine.timeline.append(self.now(), kind, actor, summary, data or {})
        self.bump()
        return ev

    def _live(self) -> None:
        if self.status in ("ending", "done"):
            raise GamedayRefused("the game day has ended", 409)
        if self.status == "lobby":
            raise GamedayRefused("the game day has not started yet", 409)
        if not self.ready:
            raise GamedayRefused("the platform is still starting", 409)

    def _text(self, text: Any, what: str) -> str:
        s = str(text or "").strip()
        if not s:
            raise GamedayRefused(f"{what}: give some text")
        if len(s) > MAX_TEXT:
            raise GamedayRefused(f"{what}: {len(s)} characters, at most {MAX_TEXT}")
        return s

    def acknowledge(self, p: Participant, page_id: int) -> dict[str, Any]:
        self._live()
        page = next((x for x in self.pages if x["id"] == page_id), None)
        if page is None:
            raise GamedayRefused(
                f"page {page_id}: no such page; pages: {[x['id'] for x in self.pages]}", 404
            )
        if page["acked_by"] is not None:
            raise GamedayRefused(f"page {page_id} was acknowledged by {page['acked_by']}", 409)
        page["acked_by"], page["acked_t"] = p.actor, self.now()
        self.event(
            "page.acknowledged",
            p.actor,
            f"{p.actor} acknowledged the page {page['title']}",
            {"page": page_id, "alert": page["title"], "participant": p.actor},
        )
        return page

    def choose(self, p: Participant, rb_id: str) -> dict[str, Any]:
        self._live()
        lib = runbooks()
        if rb_id not in lib:
            raise GamedayRefused(
                f"runbook: {rb_id!r} is not a runbook; valid: {', '.join(lib)}", 404
            )
        if self.chosen.get(p.id) == rb_id:
            return {"runbook": rb_id}
        self.chosen[p.id] = rb_id
        self.event(
            "runbook.chosen",
            p.actor,
            f"{p.actor} opened runbook {rb_id} ({lib[rb_id].title})",
            {"runbook": rb_id, "right": rb_id == self.scenario.runbook, "participant": p.actor},
        )
        return {"runbook": rb_id}

    def note(self, p: Participant, text: Any, kind: str) -> dict[str, Any]:
        self._live()
        if kind == "note" and p.role not in ("Scribe", "Incident Commander"):
            raise GamedayRefused("notes are the Scribe's (or the Incident Commander's)", 403)
        if kind == "comms" and p.role not in ("Comms", "Incident Commander"):
            raise GamedayRefused("comms drafts are the Comms lead's (or the IC's)", 403)
        s = self._text(text, "note" if kind == "note" else "draft")
        ev_kind, label = (
            ("note.added", "note") if kind == "note" else ("comms.drafted", "comms draft")
        )
        self.event(ev_kind, p.actor, f"{label}: {s}", {"text": s, "participant": p.actor})
        return {"ok": True}

    def declare(self, p: Participant, status: str) -> dict[str, Any]:
        self._live()
        if p.role != "Incident Commander":
            raise GamedayRefused("only the Incident Commander declares the incident's state", 403)
        if status not in ("mitigated", "resolved"):
            raise GamedayRefused(f"status: {status!r} is not one of mitigated, resolved")
        if status in self.declared:
            raise GamedayRefused(f"already declared {status} by {self.declared[status]['by']}", 409)
        if status == "resolved" and "mitigated" not in self.declared:
            raise GamedayRefused("declare it mitigated before resolved", 409)
        self.declared[status] = {"t": self.now(), "by": p.actor}
        kind = "incident.mitigated" if status == "mitigated" else "incident.recovered"
        self.event(
            kind,
            p.actor,
            f"{p.actor} declared the incident {status}",
            {"declared": status, "participant": p.actor},
        )
        return {"declared": status}

    async def act(
        self,
        p: Participant,
        action: str,
        params: dict[str, Any],
        reason: Any,
        runbook: str | None = None,
        step: str | None = None,
    ) -> dict[str, Any]:
        """Send one control action through the platform contract as ``p``, with a reason."""
        self._live()
        assert self.engine is not None
        if p.role not in ACTING_ROLES:
            raise GamedayRefused(
                f"{p.role}s do not pull controls; the Ops Lead or the Incident Commander does", 403
            )
        why = self._text(reason, "reason")
        if action not in CONTROL_ACTIONS:
            raise GamedayRefused(
                f"action: {action!r} is not a console control; valid: {', '.join(CONTROL_ACTIONS)}"
            )
        if not isinstance(params, dict):
            raise GamedayRefused(f"params: must be an object, got {type(params).__name__}")
        bad = check_step(action, params)
        if bad:
            raise GamedayRefused(f"params: {bad}")
        placed = self._place(runbook, step, action)
        e = self.engine
        t_start = self.now()
        if placed is not None:
            name, index, st = placed
            base = self._step_data(name, index, st, p)
            e.timeline.append(
                t_start,
                "runbook_step.started",
                p.actor,
                f"{p.actor}: {name} {st.action}: {st.text or st.id}",
                {**base, "postcondition_met": None},
            )
        ctx = ActionContext(
            e.platform_client,
            actor=p.actor,
            reason=why,
            heal=lambda kind: e.heal_as(kind, p.actor),
            snapshot=lambda items, w: e.snapshot_as(items, w, p.actor),
        )
        error: str | None = None
        result: dict[str, Any] = {}
        try:
            result = await run_action(action, ctx, **params)
        except Exception as ex:  # a refused control is the person's finding, not a crash
            error = f"{type(ex).__name__}: {ex}"
        t = self.now()
        rec = {
            "t": t,
            "offset": self.offset(t),
            "by": p.actor,
            "action": action,
            "params": params,
            "reason": why,
            "runbook": runbook,
            "step": step,
            "ok": error is None,
            "error": error,
        }
        self.actions.append(rec)
        label = ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "global"
        if placed is not None:
            name, index, st = placed
            base = self._step_data(name, index, st, p)
            dl = self.detected_t
            in_time = st.deadline is None or dl is None or t <= dl + st.deadline
            if error is None:
                e.timeline.append(
                    t,
                    "runbook_step.completed",
                    p.actor,
                    f"{name} done by {p.actor}{'' if in_time else ' (late)'}: {why}",
                    {**base, "postcondition_met": True, "in_time": in_time, "reason": why},
                )
            else:
                e.timeline.append(
                    t,
                    "runbook_step.missed",
                    p.actor,
                    f"{name} failed for {p.actor}: {error}",
                    {**base, "postcondition_met": False, "in_time": in_time, "reason": error},
                )
        else:
            e.timeline.append(
                t,
                "action.taken" if error is None else "action.refused",
                p.actor,
                f"{p.actor}: {action} ({label}): {why}"
                + ("" if error is None else f" — refused: {error}"),
                {
                    "action": action,
                    "params": params,
                    "reason": why,
                    "runbook": runbook,
                    "step": step,
                    "error": error,
                    "participant": p.actor,
                },
            )
        await e.sync()
        await self.sample()
        if error is not None:
            raise GamedayRefused(f"{action} was refused: {error}", 422)
        return {"ok": True, "result": result, "offset": rec["offset"]}

    def _step_data(self, name: str, index: int, st: Step, p: Participant) -> dict[str, Any]:
        from ..drill.respond import postcondition_of

        phase = name.split(".")[1]
        return {
            "step": name,
            "id": st.id,
            "index": index,
            "phase": phase,
            "action": st.action,
            "deadline_s": st.deadline,
            "postcondition": postcondition_of(st),
            "participant": p.actor,
        }

    def _place(
        self, runbook: str | None, step: str | None, action: str
    ) -> tuple[str, int, Step] | None:
        """The right runbook's step this action is (name, place, step), or None."""
        if runbook is None or step is None:
            return None
        lib = runbooks()
        if runbook not in lib:
            raise GamedayRefused(f"runbook: {runbook!r} is not a runbook; valid: {', '.join(lib)}")
        rb = lib[runbook]
        if step not in rb.step_ids():
            raise GamedayRefused(
                f"step: {step!r} is not a step of {runbook}; valid: {', '.join(rb.step_ids())}"
            )
        if rb.step(step).action != action:
            raise GamedayRefused(f"step {runbook} {step} is {rb.step(step).action}, not {action}")
        if runbook != self.scenario.runbook:
            return None  # a wrong runbook's step: an action on the timeline, not adherence
        for index, (phase, i, st) in enumerate(active_steps(self.scenario, rb), 1):
            if st.id == step:
                return step_name(rb, phase, i), index, st
        return None

    # --- facilitator -------------------------------------------------------------------------
    def hint(self, text: Any) -> dict[str, Any]:
        s = self._text(text, "hint")
        h = {"t": self.now(), "text": s}
        self.hints.append(h)
        self.event("hint.sent", "facilitator", f"hint: {s}", {"text": s})
        return h

    async def inject(
        self, kind: str, params: dict[str, Any], duration_s: float, probability: float
    ) -> dict[str, Any]:
        """Inject an extra fault from the catalogue (for ``duration_s`` scenario seconds)."""
        from fakes.core.faults import FAULT_KINDS, did_you_mean

        self._live()
        assert self.engine is not None
        if kind not in FAULT_KINDS:
            raise GamedayRefused(
                f"kind: {kind!r} is not a fault kind{did_you_mean(kind, FAULT_KINDS)}; "
                f"valid: {', '.join(sorted(FAULT_KINDS))}"
            )
        if not 0 < duration_s <= 24 * 3600:
            raise GamedayRefused(f"duration_s: {duration_s!r} must be in (0, 86400]")
        if not 0 < probability <= 1:
            raise GamedayRefused(f"probability: {probability!r} must be in (0, 1]")
        now = self.now()
        spec = {
            "kind": kind,
            "params": params,
            "probability": probability,
            "match": {},
            "end": now + duration_s,
        }
        r = await self.engine.admin.post("/faults", json=spec)
        if r.status_code != 201:
            raise GamedayRefused(f"the fakes refused {kind}: {r.text[:300]}", 422)
        rid = str(r.json()["id"])
        self.event(
            "fault.injected",
            "facilitator",
            f"facilitator injected {kind} for {format_offset(duration_s)[2:]}",
            {"kind": kind, "rule_id": rid, "params": params, "match": {}, "extra": True},
        )
        return {"rule_id": rid}

    def control(self, what: str) -> dict[str, Any]:
        """start, pause, resume or end (fast-forward the rest of the scenario)."""
        if what == "close":
            if self.status != "done":
                raise GamedayRefused("close the console once the game day is done", 409)
            self.closed.set()
            return {"status": self.status}
        allowed = {
            "start": ("lobby",),
            "pause": ("running",),
            "resume": ("paused",),
            "end": ("lobby", "running", "paused"),
        }
        if what not in allowed:
            raise GamedayRefused(f"{what!r} is not one of {', '.join(allowed)}", 404)
        if self.status not in allowed[what]:
            raise GamedayRefused(f"cannot {what} a game day that is {self.status}", 409)
        actor = "facilitator"
        if what in ("start", "resume"):
            self.clock["resume"]()
            self.status = "running"
            kind = "gameday.started" if what == "start" else "gameday.resumed"
            self.event(kind, actor, f"the facilitator {what}ed the game day")
        elif what == "pause":
            self.clock["pause"]()
            self.status = "paused"
            self.event("gameday.paused", actor, "the facilitator paused the game day")
        else:
            self.clock["resume"]()
            self.clock["end"]()
            self.status = "ending"
            self.event(
                "gameday.ended",
                actor,
                "the facilitator ended the game day; the rest of the scenario runs fast-forwarded",
            )
        return {"status": self.status}

    # --- live signals ------------------------------------------------------------------------
    async def sample(self) -> None:
        """Read the platform's telemetry once (audit feed, metrics, controls) and new pages."""
        if not self.ready:
            return
        e = self.engine
        assert e is not None
        now = self.now()
        self._scan_timeline()
        pc = e.platform_client
        while True:
            page = await pc.audit(self._audit_cursor, 500)
            for ev in page.events:
                if ev.phase == "outcome" or ev.error:
                    row = {
                        "t": ev.t,
                        "offset": self.offset(ev.t),
                        "client": ev.client_id,
                        "platform": ev.platform,
                        "action": ev.action,
                        "outcome": ev.outcome or ev.phase,
                        "error": ev.error,
                        "lane": ev.lane,
                    }
                    self.feed.appendleft(row)
                    self._recent.append(row)
            moved = page.next_cursor != self._audit_cursor
            self._audit_cursor = page.next_cursor
            if not page.events or not moved:
                break
        while self._recent and self._recent[0]["t"] < now - SIGNAL_WINDOW_S:
            self._recent.popleft()
        fams = _families(dict(await pc.metrics()))
        self._samples.append(_Sample(now, fams))
        while len(self._samples) > 2 and self._samples[1].t <= now - SIGNAL_WINDOW_S:
            self._samples.pop(0)
        controls = await pc.controls()
        self.signals = self._signals(now, fams, controls)
        self.bump()

    def _scan_timeline(self) -> None:
        assert self.engine is not None
        tl = self.engine.timeline
        for ev in tl.events[self._seen_seq :]:
            self._seen_seq = ev.seq
            if ev.kind == "alert.fired":
                scope = {}
                if ev.actor == "monitoring":
                    det = tl.first("incident.detected")
                    if det is not None:
                        scope = {
                            "platforms": list(det.data.get("platforms") or []),
                            "clients": list(det.data.get("clients") or []),
                        }
                labels = dict(ev.data.get("labels") or {})
                if not scope and labels:
                    scope = {
                        "platforms": [labels["platform"]] if "platform" in labels else [],
                        "clients": [labels["client_id"]] if "client_id" in labels else [],
                    }
                self.pages.append(
                    {
                        "id": ev.seq,
                        "t": ev.t,
                        "offset": self.offset(ev.t),
                        "title": str(ev.data.get("name") or ev.kind),
                        "message": ev.summary,
                        "severity": str(ev.data.get("severity") or "page"),
                        "source": ev.actor,
                        "scope": scope,
                        "acked_by": None,
                        "acked_t": None,
                    }
                )

    def _signals(
        self, now: float, fams: dict[str, dict[str, float]], controls: dict[str, Any]
    ) -> dict[str, Any]:
        old = self._samples[0].fams if self._samples else fams

        def delta(name: str, key: str) -> dict[str, float]:
            cur, was = _per(fams.get(name, {}), key), _per(old.get(name, {}), key)
            return {k: round(v - was.get(k, 0.0), 3) for k, v in cur.items()}

        plats = list(self.scenario.world.platforms)
        outcomes: dict[str, dict[str, int]] = {p: {} for p in plats}
        for row in self._recent:
            d = outcomes.setdefault(str(row["platform"]), {})
            d[str(row["outcome"])] = d.get(str(row["outcome"]), 0) + 1
        r429 = delta("rate_limit_hits", "platform")
        att, ok = delta("publish_attempts", "platform"), delta("publish_success", "platform")
        fail = delta("publish_failures", "platform")
        per_platform = []
        for p in sorted(set(plats) | set(att) | set(fail)):
            o = outcomes.get(p, {})
            per_platform.append(
                {
                    "platform": p,
                    "publish_attempts": att.get(p, 0.0),
                    "publish_success": ok.get(p, 0.0),
                    "publish_failures": fail.get(p, 0.0),
                    "rate_limited_429": r429.get(p, 0.0),
                    "outcomes": o,
                }
            )
        depth = _per(fams.get("queue_depth", {}), "job_class")
        age = _per(fams.get("queue_oldest_age_s", {}), "job_class")
        spend = sum(v for k, v in fams.get("spend_usd", {}).items() if k)
        spend_5m = sum(delta("spend_usd", "client_id").values())
        return {
            "t": now,
            "offset": self.offset(now),
            "window_s": SIGNAL_WINDOW_S,
            "platforms": per_platform,
            "queues": [
                {"job_class": c, "depth": depth.get(c, 0.0), "oldest_age_s": age.get(c, 0.0)}
                for c in sorted(set(depth) | set(age))
            ],
            "spend_usd": round(spend, 4),
            "spend_usd_window": round(spend_5m, 4),
            "blocked": {
                k: v for k, v in _per(fams.get("side_effects_blocked", {}), "reason").items() if v
            },
            "controls": _controls_view(controls),
        }

    # --- what each console shows --------------------------------------------------------------
    def timeline_rows(self, spoilers: bool, limit: int = 60) -> list[dict[str, Any]]:
        if self.engine is None:
            return []
        rows = []
        for ev in self.engine.timeline.ordered():
            if ev.kind == "job.submitted":
                continue
            if not spoilers and not VISIBLE_KINDS.match(ev.kind):
                continue
            if not spoilers and ev.kind == "fault.injected":
                continue
            rows.append(
                {
                    "seq": ev.seq,
                    "offset": self.offset(ev.t),
                    "kind": ev.kind,
                    "actor": ev.actor,
                    "summary": ev.summary,
                }
            )
        return rows[-limit:]

    def view(self, p: Participant | None = None, spoilers: bool = False) -> dict[str, Any]:
        """The JSON a console renders (``spoilers`` for the facilitator's)."""
        e = self.engine
        now = self.now()
        t0 = getattr(e, "t0", None)
        if self.ready:
            self._scan_timeline()  # a page shows at the next look, not the next sample
        out: dict[str, Any] = {
            "version": self.version,
            "status": self.status,
            "scenario": {"id": self.scenario.id, "title": self.scenario.title},
            "clock": {
                "offset": self.offset(now) if t0 is not None else "T+0s",
                "elapsed_s": 0.0 if t0 is None else round(now - t0, 1),
                "duration_s": self.scenario.workload.duration,
                "scale": self.scale,
            },
            "me": None if p is None else p.to_json(),
            "participants": [x.to_json() for x in self.participants.values()],
            "pages": self.pages,
            "signals": self.signals,
            "feed": list(self.feed)[:FEED_LEN],
            "timeline": self.timeline_rows(spoilers),
            "hints": self.hints,
            "declared": self.declared,
            "chosen": None if p is None else self.chosen.get(p.id),
            "platforms": list(self.scenario.world.platforms),
            "clients": list(getattr(e, "clients", []) or []),
            "outcome": self.outcome,
        }
        if spoilers:
            out["spoilers"] = self.spoilers()
            out["actions"] = self.actions
        return out

    def spoilers(self) -> dict[str, Any]:
        s = self.scenario
        rb = self.runbook
        return {
            "description": s.description,
            "runbook": f"{rb.id} {rb.title}",
            "severity": s.severity,
            "faults": [
                {
                    "kind": f.kind,
                    "at": format_offset(f.at),
                    "duration": None if f.duration is None else format_offset(f.duration)[2:],
                    "params": f.params,
                }
                for f in s.faults
            ],
            "surges": [
                {"job": x.job, "at": format_offset(x.at), "duration": format_offset(x.duration)[2:]}
                for x in s.workload.surges
            ],
            "defects": list(getattr(self.engine, "defects", ()) or ()),
            "steps": [
                {
                    "name": step_name(rb, ph, i),
                    "action": st.action,
                    "params": st.params,
                    "deadline_s": st.deadline,
                    "text": st.text,
                }
                for ph, i, st in active_steps(s, rb)
            ],
            "baseline": self.baseline,
        }


def _controls_view(controls: dict[str, Any]) -> dict[str, Any]:
    """The platform's controls as shown on the console: kill switches, modes, paused queues,
    lanes, trigger lock (what a person has to see to know what is engaged)."""
    tl = controls.get("trigger_lock") or {}
    return {
        "kill_switches": [
            ", ".join(f"{k}={v}" for k, v in sorted(ks.items())) or "global"
            for ks in controls.get("kill_switches") or []
        ],
        "modes": [
            f"{m.get('mode')} ({', '.join(f'{k}={v}' for k, v in sorted(m.items()) if k != 'mode') or 'all'})"
            for m in controls.get("modes") or []
        ],
        "paused_queues": list(controls.get("paused") or []),
        "lanes": dict(controls.get("lanes") or {}),
        "read_only_lanes": [
            f"{x.get('platform')}/{x.get('lane')}" for x in controls.get("read_only_lanes") or []
        ],
        "trigger_lock": bool(tl.get("global")) or list(tl.get("clients") or []),
    }


Responder = Callable[[], Awaitable[None]]
