"""Drill metrics: time to detect, contain, mitigate and recover; blast radius; runbook adherence.

All times come from the record's timeline (virtual clock) and are measured from the start of the
fault window (the first fault injected or defect activated).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from .invariants import InvariantResult
from .record import SIDE_EFFECT_ACTIONS, DrillRecord
from .rows import JsonObject, number

__all__ = ["DrillMetrics", "StepAdherence", "compute_metrics", "runbook_adherence"]


@dataclass(frozen=True, slots=True)
class StepAdherence:
    """How one runbook step went: done, in order, in time, postcondition met."""

    step: str
    index: int
    action: str
    started_t: float | None
    completed_t: float | None
    deadline_t: float | None
    done: bool
    in_time: bool
    in_order: bool
    postcondition: str
    postcondition_met: bool
    missed_reason: str | None = None

    @property
    def ok(self) -> bool:
        """Done, in order, in time and with its postcondition met."""
        return self.done and self.in_time and self.in_order and self.postcondition_met


@dataclass(frozen=True)
class DrillMetrics:
    """The numbers of one drill; ``None`` when the moment never came."""

    fault_start_t: float | None
    fault_end_t: float | None
    detected_t: float | None
    detection_signal: str | None
    contained_t: float | None
    mitigated_t: float | None
    recovered_t: float | None
    time_to_detect_s: float | None
    time_to_contain_s: float | None
    time_to_mitigate_s: float | None
    time_to_recover_s: float | None
    side_effects_total: int
    side_effects_in_fault_window: int
    side_effects_after_containment: int | None
    side_effects_by_platform: dict[str, int] = field(default_factory=dict)
    side_effects_by_action: dict[str, int] = field(default_factory=dict)
    runbook: tuple[StepAdherence, ...] = ()
    runbook_adherence: float | None = None

    def to_json(self) -> JsonObject:
        """The ``metrics`` object of verdict.json (the three DESIGN keys first)."""
        out: JsonObject = {
            "time_to_detect_s": self.time_to_detect_s,
            "time_to_contain_s": self.time_to_contain_s,
            "side_effects_after_containment": self.side_effects_after_containment,
            "time_to_mitigate_s": self.time_to_mitigate_s,
            "time_to_recover_s": self.time_to_recover_s,
            "side_effects_total": self.side_effects_total,
            "side_effects_in_fault_window": self.side_effects_in_fault_window,
            "side_effects_by_platform": dict(self.side_effects_by_platform),
            "detection_signal": self.detection_signal,
            "runbook_adherence": self.runbook_adherence,
            "runbook_steps": [asdict(s) for s in self.runbook],
        }
        return out

    def value(self, name: str) -> float | int | None:
        """A metric by name, with or without the ``_s`` suffix (for expectations)."""
        for key in (name, f"{name}_s"):
            if hasattr(self, key):
                v = getattr(self, key)
                return v if isinstance(v, int | float) or v is None else None
        raise KeyError(name)


def _since(t: float | None, start: float | None) -> float | None:
    return None if t is None or start is None else round(t - start, 3)


@dataclass
class _StepSeen:
    """What the timeline says about one runbook step so far."""

    index: int
    action: str = ""
    postcondition: str = ""
    started: float | None = None
    deadline_t: float | None = None
    completed: float | None = None
    met: bool | None = None
    missed: str | None = None


def runbook_adherence(record: DrillRecord, detected_t: float | None) -> list[StepAdherence]:
    """Each runbook step from the ``runbook_step.*`` events, judged against its deadline."""
    steps: dict[str, _StepSeen] = {}
    for e in record.timeline.of_kind(
        "runbook_step.started", "runbook_step.completed", "runbook_step.missed"
    ):
        name = str(e.data.get("step") or e.data.get("action") or e.summary)
        s = steps.setdefault(name, _StepSeen(int(number(e.data.get("index") or len(steps) + 1))))
        s.action = s.action or str(e.data.get("action") or "")
        if e.data.get("postcondition"):
            s.postcondition = str(e.data["postcondition"])
        if e.kind == "runbook_step.started":
            if s.started is None:
                s.started = e.t
            if e.data.get("deadline_t") is not None:
                s.deadline_t = number(e.data["deadline_t"])
            elif e.data.get("deadline_s") is not None:
                base = detected_t if detected_t is not None else e.t
                s.deadline_t = base + number(e.data["deadline_s"])
        elif e.kind == "runbook_step.completed":
            if s.completed is None:
                s.completed = e.t
            s.met = bool(e.data.get("postcondition_met", True))
        else:
            s.missed = str(e.data.get("reason") or "missed")
    done_order = sorted((s.completed, s.index) for s in steps.values() if s.completed is not None)
    out = []
    for name, s in sorted(steps.items(), key=lambda kv: kv[1].index):
        completed = s.completed
        in_order = completed is None or all(
            idx <= s.index for t, idx in done_order if t < completed
        )
        deadline = s.deadline_t
        out.append(
            StepAdherence(
                step=name,
                index=s.index,
                action=s.action,
                started_t=s.started,
                completed_t=completed,
                deadline_t=deadline,
                done=completed is not None,
                in_time=completed is not None and (deadline is None or completed <= deadline),
                in_order=in_order,
                postcondition=s.postcondition,
                postcondition_met=s.met if s.met is not None else completed is not None,
                missed_reason=s.missed,
            )
        )
    return out


def compute_metrics(record: DrillRecord, results: Iterable[InvariantResult] = ()) -> DrillMetrics:
    """Compute every drill metric from the record (and the invariant results, for blast radius)."""
    tl = record.timeline
    window = record.window()
    start = window[0] if window else None
    det = tl.first("incident.detected")
    if det is None:
        alerts = [e for e in tl.of_kind("alert.fired") if start is None or e.t >= start]
        det = min(alerts, key=lambda e: (e.t, e.seq)) if alerts else None
    detected_t = det.t if det else None
    signal = None
    if det is not None:
        signal = str(det.data.get("signal") or det.data.get("name") or det.summary)
    contained_t = record.first_containment_t()
    mit = tl.first("incident.mitigated") or tl.first("fault.healed")
    mitigated_t = mit.t if mit else None
    rec_events = [
        e
        for e in tl.of_kind("incident.recovered", "verification.passed")
        if mitigated_t is None or e.t >= mitigated_t
    ]
    recovered_t = min(e.t for e in rec_events) if rec_events and mitigated_t is not None else None
    effects = [
        (i, e) for i, e in enumerate(record.ledger) if e.get("action") in SIDE_EFFECT_ACTIONS
    ]
    in_window = [
        (i, e) for i, e in effects if window is not None and window[0] <= float(e["t"]) <= window[1]
    ]
    after: int | None = None
    if contained_t is not None:
        harmful = {v.evidence or v.ref for r in results for v in r.violations if v.t >= contained_t}
        after = len(harmful)
    steps = runbook_adherence(record, detected_t)
    return DrillMetrics(
        fault_start_t=start,
        fault_end_t=window[1] if window else None,
        detected_t=detected_t,
        detection_signal=signal,
        contained_t=contained_t,
        mitigated_t=mitigated_t,
        recovered_t=recovered_t,
        time_to_detect_s=_since(detected_t, start),
        time_to_contain_s=_since(contained_t, start),
        time_to_mitigate_s=_since(mitigated_t, start),
        time_to_recover_s=_since(recovered_t, start),
        side_effects_total=len(effects),
        side_effects_in_fault_window=len(in_window),
        side_effects_after_containment=after,
        side_effects_by_platform=dict(
            sorted(Counter(str(e.get("fake")) for _, e in effects).items())
        ),
        side_effects_by_action=dict(
            sorted(Counter(str(e.get("action")) for _, e in effects).items())
        ),
        runbook=tuple(steps),
        runbook_adherence=round(sum(s.ok for s in steps) / len(steps), 3) if steps else None,
    )
