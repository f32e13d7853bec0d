"""What a game day knows while it runs: who joined, the pages, the live signals, what people did.

:class:`GameDay` sits between the web console (:mod:`harness.gameday.app`) and the drill engine
(:class:`harness.gameday.run.GamedayEngine`). It reads the platform only through the platform
contract the drill uses (audit feed, metrics, controls, alerts via the drill's timeline) and
never the injected faults: those are the facilitator's. Every participant's act lands on the
drill's one timeline with the person and role as the actor (``Alice (Ops Lead)``), and every
control action goes through the same :class:`~sandbox.contract.PlatformClient` with that actor
and the reason typed. Consoles learn of changes through :meth:`GameDay.wait_change` (no timer:
a paused clock fires none).

Its parts live next to it: :mod:`.participants` (roles and the console's refusals),
:mod:`.steps` (the runbook steps people take) and :mod:`.signals` (the live signals).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from sandbox.contract import PlatformClient

from ..judge.rows import json_object
from ..judge.timeline import Timeline, TimelineEvent, format_offset
from ..runbooks import ActionContext, Runbook, check_step, run_action, runbooks
from ..scenario import Scenario
from .participants import (
    ACTING_ROLES,
    GamedayRefused,
    Participant,
    checked_name,
    checked_text,
)
from .signals import FEED_LEN, LiveSignals
from .steps import CONTROL_ACTIONS, active_steps, place_step, step_data, step_name


class DrillSide(Protocol):
    """What the game day reads and calls of the running drill (:class:`~.run.GamedayEngine`)."""

    timeline: Timeline
    platform_client: PlatformClient
    admin: httpx.AsyncClient

    async def heal_as(self, kind: str | None, actor: str) -> int: ...

    async def snapshot_as(self, items: list[str], why: str, actor: str) -> None: ...

    async def sync(self) -> None: ...


__all__ = ["VISIBLE_KINDS", "DrillSide", "GameDay"]

#: timeline kinds a participant sees (never fault.*, defect.*, workload.*: those are spoilers)
VISIBLE_KINDS = re.compile(
    r"^(alert\.fired|incident\.\w+|page\.\w+|runbook\.\w+|runbook_step\.\w+|action\.\w+|"
    r"control\.changed|kill_switch\.\w+|note\.added|comms\.drafted|hint\.sent|"
    r"participant\.joined|gameday\.\w+|evidence\.captured|verification\.\w+)$"
)


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
    #: what the consoles have read of the platform (feed, windowed samples, audit cursor)
    live: LiveSignals = field(default_factory=LiveSignals)
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
        name = checked_name(name, role)
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
        s = checked_text(text, "note" if kind == "note" else "draft")
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
        why = checked_text(reason, "reason")
        if action not in CONTROL_ACTIONS:
            raise GamedayRefused(
                f"action: {action!r} is not a console control; valid: {', '.join(CONTROL_ACTIONS)}"
            )
        if not isinstance(params, dict):
            raise GamedayRefused(f"params: must be an object, got {type(params).__name__}")
        bad = check_step(action, params)
        if bad:
            raise GamedayRefused(f"params: {bad}")
        placed = place_step(self.scenario, runbook, step, action)
        e = self.engine
        t_start = self.now()
        if placed is not None:
            name, index, st = placed
            base = step_data(name, index, st, p)
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
            base = step_data(name, index, st, p)
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

    # --- facilitator -------------------------------------------------------------------------
    def hint(self, text: Any) -> dict[str, Any]:
        s = checked_text(text, "hint")
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
        self.signals = await self.live.read(
            e.platform_client, now, self.offset, list(self.scenario.world.platforms)
        )
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
                        platforms, clients = det.data.get("platforms"), det.data.get("clients")
                        scope = {
                            "platforms": list(platforms) if isinstance(platforms, list) else [],
                            "clients": list(clients) if isinstance(clients, list) else [],
                        }
                labels = dict(json_object(ev.data.get("labels")))
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
            "feed": list(self.live.feed)[:FEED_LEN],
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
