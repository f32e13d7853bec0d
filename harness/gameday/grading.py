"""Grading a game day: what the people did, measured from the drill's record, against the
automated Ops Lead on the same scenario and seed.

:func:`measures` reads one judged record — the game day's, or the automated Ops Lead's baseline
run in-process beforehand — and returns the same numbers for both: time to acknowledge the page,
to open the right runbook, to contain and to mitigate; each runbook step (done, in order, in time,
postcondition met, by whom); harm from the fakes' ledger before and after containment.
:func:`compare` sets the two side by side with a grade per row; the postmortem's "Rehearsal"
section renders it. Nothing here is hard-coded: a row says "not done" when the record has no
such event.
"""

from __future__ import annotations

from typing import Any

from ..judge.record import SIDE_EFFECT_ACTIONS, DrillRecord
from ..judge.timeline import format_offset
from ..judge.verdict import Verdict
from ..report.evidence import impact

__all__ = ["compare", "measures", "people_of"]


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 1)


def people_of(record: DrillRecord) -> list[str]:
    """Every participant (``Name (Role)``) on the record's timeline, in order of joining."""
    return list(
        dict.fromkeys(
            str(e.data["participant"])
            for e in record.timeline.ordered()
            if e.data.get("participant")
        )
    )


def _harm(record: DrillRecord, verdict: Verdict, contained_t: float | None) -> dict[str, Any]:
    imp = impact(record, verdict)
    harmful_t = [float(record.ledger[i]["t"]) for i in imp.harmful]
    window = record.window()
    exposed_t = [
        float(e["t"])
        for e in record.ledger
        if e.get("action") in SIDE_EFFECT_ACTIONS
        and window is not None
        and window[0] <= float(e["t"]) <= window[1]
    ]

    def split(ts: list[float]) -> dict[str, int | None]:
        if contained_t is None:
            return {"before": None, "after": None, "uncontained": len(ts), "total": len(ts)}
        before = sum(1 for t in ts if t < contained_t)
        return {"before": before, "after": len(ts) - before, "uncontained": 0, "total": len(ts)}

    return {
        "harmful": split(harmful_t),
        "in_incident_window": split(exposed_t),
        "violated": [r.name for r in verdict.violated],
    }


def measures(record: DrillRecord, verdict: Verdict, responder: str) -> dict[str, Any]:
    """The graded numbers of one run; ``responder`` is ``people`` or ``auto``."""
    m = verdict.metrics
    tl = record.timeline
    det = tl.first("incident.detected")
    detected_t = None if det is None else det.t
    start = None if m is None else m.fault_start_t
    if responder == "people":
        ack = tl.first("page.acknowledged")
        right = [e for e in tl.of_kind("runbook.chosen") if e.data.get("right")]
        wrong = [str(e.data.get("runbook")) for e in tl.of_kind("runbook.chosen")]
        wrong = [w for w in dict.fromkeys(wrong) if w != record.runbook]
        ack_t = None if ack is None else ack.t
        ack_by = None if ack is None else ack.actor
        rb_t = right[0].t if right else None
        rb_by = right[0].actor if right else None
        mit = [e for e in tl.of_kind("incident.mitigated") if e.data.get("participant")]
        res = [e for e in tl.of_kind("incident.recovered") if e.data.get("participant")]
        mit_t = mit[0].t if mit else None
        mit_by = mit[0].actor if mit else None
        res_t = res[0].t if res else None
    else:  # the automated Ops Lead acts on the page, with the scenario's runbook, at once
        first = tl.first("runbook_step.started")
        ack_t = rb_t = None if first is None else first.t
        ack_by = rb_by = None if first is None else first.actor
        wrong = []
        mit_t = None if m is None else m.mitigated_t
        mit_by = "the outside world healed" if mit_t is not None else None
        res_t = None if m is None else m.recovered_t
    contained_t = None if m is None else m.contained_t
    contained_by = None
    if contained_t is not None:
        for e in tl.ordered():
            if e.t >= contained_t and e.kind in ("control.changed", "kill_switch.engaged"):
                contained_by = e.actor
                break

    def since(t: float | None, base: float | None) -> float | None:
        return None if t is None or base is None else _r(t - base)

    steps = [
        {
            "step": s.step,
            "action": s.action,
            "done": s.done,
            "in_order": s.in_order,
            "in_time": s.in_time,
            "postcondition_met": s.postcondition_met,
            "ok": s.ok,
            "after_page_s": since(s.completed_t, detected_t),
            "deadline_s": since(s.deadline_t, detected_t),
            "by": _step_actor(record, s.step),
        }
        for s in (m.runbook if m else ())
    ]
    return {
        "responder": responder,
        "detected_offset": None if detected_t is None else format_offset(record.offset(detected_t)),
        "detection_signal": None if m is None else m.detection_signal,
        "time_to_detect_s": None if m is None else _r(m.time_to_detect_s),
        "acknowledge_s": since(ack_t, detected_t),
        "acknowledged_by": ack_by,
        "right_runbook_s": since(rb_t, detected_t),
        "right_runbook_by": rb_by,
        "wrong_runbooks": wrong,
        "contained": contained_t is not None,
        "time_to_contain_s": since(contained_t, start),
        "contained_after_page_s": since(contained_t, detected_t),
        "contained_by": contained_by,
        "time_to_mitigate_s": since(mit_t, start),
        "mitigated_by": mit_by,
        "time_to_resolve_s": since(res_t, start),
        "steps": steps,
        "steps_ok": sum(1 for s in steps if s["ok"]),
        "steps_done": sum(1 for s in steps if s["done"]),
        "harm": _harm(record, verdict, contained_t),
        "verdict": verdict.verdict,
    }


def _step_actor(record: DrillRecord, step: str) -> str | None:
    for e in record.timeline.of_kind("runbook_step.completed"):
        if e.data.get("step") == step:
            return e.actor
    return None


def _time_grade(people: float | None, auto: float | None) -> str:
    if people is None:
        return "not done"
    if auto is None:
        return "done (the automated Ops Lead did not)"
    d = people - auto
    if d <= 0:
        return "as fast as the automated Ops Lead or faster"
    return f"{_dur(d)} slower than the automated Ops Lead"


def _dur(s: float | None) -> str:
    if s is None:
        return "—"
    return format_offset(s)[2:]


def _count(split: dict[str, Any]) -> str:
    if split["before"] is None:
        return f"{split['uncontained']} (never contained)"
    return f"{split['before']} before / {split['after']} after containment"


def compare(people: dict[str, Any], auto: dict[str, Any] | None) -> dict[str, Any]:
    """Rows of (measure, people, automated Ops Lead, grade) and the overall outcome."""
    a = auto or {}
    rows: list[dict[str, str]] = []

    def timed(label: str, key: str, by: str | None = None) -> None:
        pv, av = people.get(key), a.get(key)
        who = f" ({people[by]})" if by and people.get(by) else ""
        rows.append(
            {
                "measure": label,
                "people": (_dur(pv) + who) if pv is not None else "not done",
                "auto": _dur(av) if auto is not None and av is not None else "—",
                "grade": _time_grade(pv, av if auto is not None else None),
            }
        )

    timed("time to acknowledge the page", "acknowledge_s", "acknowledged_by")
    timed("time to open the right runbook", "right_runbook_s", "right_runbook_by")
    if people.get("wrong_runbooks"):
        rows.append(
            {
                "measure": "other runbooks opened",
                "people": ", ".join(people["wrong_runbooks"]),
                "auto": "—",
                "grade": "searching cost time",
            }
        )
    timed("time to contain (from the incident's start)", "time_to_contain_s", "contained_by")
    timed("time to mitigate (from the incident's start)", "time_to_mitigate_s", "mitigated_by")
    n = len(people.get("steps") or [])
    rows.append(
        {
            "measure": "runbook steps done in order, in time, postcondition met",
            "people": f"{people.get('steps_ok', 0)} of {n} ({people.get('steps_done', 0)} done)",
            "auto": f"{a.get('steps_ok', 0)} of {len(a.get('steps') or [])}" if auto else "—",
            "grade": "all" if n and people.get("steps_ok") == n else "missed, late or out of order",
        }
    )

    def loose(split: dict[str, Any]) -> int:
        return int(split["after"] or 0) + int(split["uncontained"])

    ph = people["harm"]["harmful"]
    ah = a["harm"]["harmful"] if auto else None
    if ph["total"] == 0:
        harm_grade = "no harm"
    elif ah is not None and loose(ph) > loose(ah):
        harm_grade = (
            f"{loose(ph)} after containment or uncontained, {loose(ah)} with the automated Ops Lead"
        )
    else:
        harm_grade = f"{loose(ph)} after containment or uncontained"
    rows.append(
        {
            "measure": "harmful side effects (ledger)",
            "people": _count(ph),
            "auto": _count(ah) if ah is not None else "—",
            "grade": harm_grade,
        }
    )
    pw = people["harm"]["in_incident_window"]
    aw = a["harm"]["in_incident_window"] if auto else None
    window_grade = (
        "never contained" if pw["before"] is None else f"{pw['before']} before containment"
    )
    if aw is not None:
        window_grade += f"; {loose(pw) - loose(aw):+d} uncontained vs the automated Ops Lead"
    rows.append(
        {
            "measure": "side effects in the incident window (ledger)",
            "people": _count(pw),
            "auto": _count(aw) if aw is not None else "—",
            "grade": window_grade,
        }
    )
    grade = "contained" if people.get("contained") else "not contained"
    return {"grade": grade, "rows": rows}
