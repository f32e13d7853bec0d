"""The postmortem's lessons: root causes, what went well and poorly, luck, actions, follow-ups.

Each is computed from the drill record and the verdict; :mod:`harness.report.postmortem` puts
them into the eleven sections. The small helpers every section uses live here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from fakes.core.faults import FAULT_KINDS

from ..judge.record import DrillRecord
from ..judge.timeline import format_offset
from ..judge.verdict import Verdict
from ..platform_adapter import defect_summaries
from ..runbooks import Runbook, runbooks

__all__ = [
    "Action",
    "corrective_actions",
    "defect_docs",
    "duration_text",
    "fault_docs",
    "follow_ups",
    "lucky",
    "plural",
    "reproduce_command",
    "root_causes",
    "runbook_of",
    "went_poorly",
    "went_well",
]

_DUE_DAYS = {
    "P0": {"prevent": 7, "detect": 7, "mitigate": 14},
    "P1": {"prevent": 14, "detect": 14, "mitigate": 14},
}
_OWNER = {
    "SAFETY": "Platform on-call",
    "PUBLISH": "Publishing SME",
    "ENGAGE": "Engagement owner",
    "AUTH": "Platform on-call",
    "RATE": "API lane owner",
    "BROWSER": "Browser SME",
    "QUEUE": "Runner owner",
    "TOOLGATE": "Tool gateway owner",
    "PROVIDER": "Provider SME",
    "COST": "Provider SME",
    "DATA": "Data owner",
    "OBS": "SRE",
}


@dataclass(frozen=True, slots=True)
class Action:
    """A corrective action row."""

    action: str
    type: str
    owner: str
    due: str
    status: str = "open"


def plural(n: int, noun: str) -> str:
    """``1 post``, ``3 posts``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def duration_text(seconds: float | None) -> str:
    """``4m05s``, or ``—`` when not measured."""
    return "—" if seconds is None else format_offset(seconds)[2:]


@cache
def fault_docs() -> dict[str, str]:
    """Fault kind → the first line of its docstring (what the outside world sees)."""
    return {k: v.summary() for k, v in FAULT_KINDS.items()}


@cache
def defect_docs() -> dict[str, str]:
    """Platform defect → what is broken, in one sentence."""
    return defect_summaries()


def runbook_of(rb: str) -> Runbook | None:
    """The runbook ``rb`` (``RB-05``), or None when unknown or its file does not load."""
    try:
        return runbooks().get(rb)
    except Exception:  # a broken runbook file must not stop the postmortem
        return None


def reproduce_command(record: DrillRecord) -> str:
    """The command that replays this drill exactly."""
    cmd = f"vibedrill run {record.scenario_id} --seed {record.seed}"
    cmd += "".join(f" --defect {d}" for d in record.defects)
    return cmd + (f" --mode {record.mode}" if record.mode != "auto" else "")


def root_causes(record: DrillRecord, verdict: Verdict) -> dict[str, list[str]]:
    """Root causes: what was injected (faults, defects) and what the platform did wrong."""
    fd, dd = fault_docs(), defect_docs()
    primary = [
        f"Injected defect `{d}`: {dd.get(d, 'a platform bug behind a switch')}"
        for d in record.defects
    ]
    primary += [
        f"Injected fault `{r.get('kind')}` (rule {r.get('id')}, {int(r.get('hits') or 0)} hits): {fd.get(str(r.get('kind')), '')}"
        for r in record.fault_rows()
    ]
    surges: dict[str, int] = {}
    for w in record.workload:
        origin = str(w.get("origin") or "steady")
        if origin != "steady":
            surges[origin] = surges.get(origin, 0) + 1
    primary += [
        f"Injected workload surge `{o}`: {plural(n, 'job')} submitted to the platform as the incident's trigger"
        for o, n in sorted(surges.items())
    ]
    contributing = [f"`{e.name}` missed: {e.detail}" for e in verdict.unmet]
    m = verdict.metrics
    for s in m.runbook if m else ():
        if not s.ok:
            contributing.append(
                f"Runbook step {s.step} ({s.action}) {'was missed' if not s.done else 'was late, out of order or unmet'}"
            )
    if m and m.detected_t is None and (record.fault_rows() or record.defects):
        contributing.append("No detection rule matched the incident")
    accounts = len(record.accounts) or len({e.get("account_id") for e in record.ledger})
    pre = [
        f"{len(record.clients) or '?'} clients, {accounts} accounts, response mode `{record.mode}`, "
        f"{len(record.workload)} jobs submitted, topology {record.topology}"
    ]
    broken = [
        f"`{r.name}` ({r.count} violations, first at {r.first_violation['offset'] if r.first_violation else '?'})"
        for r in verdict.violated
    ]
    held = [f"`{r.name}`" for r in verdict.invariants if r.verdict == "held"]
    na = [f"`{r.name}`" for r in verdict.invariants if r.verdict == "not_applicable"]
    return {
        "primary": primary or ["No fault or defect: a steady-state drill"],
        "contributing": contributing or ["None found in the evidence"],
        "preconditions": pre,
        "broken": broken,
        "held": held,
        "not_applicable": na,
    }


def went_well(record: DrillRecord, verdict: Verdict) -> list[str]:
    """What went well: expectations met, invariants that held."""
    out = [f"`{e.name}`: {e.detail}" for e in verdict.expectations if e.met]
    out += [
        f"`{r.name}` held: {r.detail}"
        for r in verdict.invariants
        if r.verdict == "held" and r.checked
    ]
    m = verdict.metrics
    done = [s for s in (m.runbook if m else ()) if s.ok]
    if done:
        out.append(
            f"{len(done)} of {len(m.runbook) if m else 0} runbook steps done in order, in time, postcondition met"
        )
    return out or [
        "Nothing measurable went well: no expectation was met and no invariant held with evidence"
    ]


def went_poorly(record: DrillRecord, verdict: Verdict) -> list[str]:
    """What went poorly: violated invariants, missed expectations."""
    out = [f"`{r.name}` violated: {r.detail}" for r in verdict.violated]
    out += [f"`{e.name}`: {e.detail}" for e in verdict.unmet]
    m = verdict.metrics
    for s in m.runbook if m else ():
        if not s.done:
            out.append(
                f"Runbook step {s.step} ({s.action}) was not done{': ' + s.missed_reason if s.missed_reason else ''}"
            )
        elif not s.in_time and s.deadline_t is not None and s.completed_t is not None:
            out.append(
                f"Runbook step {s.step} ({s.action}) done at {format_offset(record.offset(s.completed_t))}, "
                f"{duration_text(s.completed_t - s.deadline_t)} after its deadline"
            )
        elif not s.in_order:
            out.append(f"Runbook step {s.step} ({s.action}) was done out of order")
        elif not s.postcondition_met:
            out.append(f"Runbook step {s.step}: postcondition '{s.postcondition}' not met")
    out += [
        f"Reached check `{r.name}` never hit: the drill did not bite there" for r in verdict.missed
    ]
    return out or [
        f"Nothing measurable: all {len(verdict.invariants)} invariants held, every expectation and runbook step was met"
    ]


def lucky(record: DrillRecord, verdict: Verdict, imp: Any) -> list[str]:
    """Where we got lucky: what did not happen, and why that was luck."""
    out = []
    total = len([c for c in record.clients if c != "agency"])
    if imp.harmful and total and len(imp.clients_affected) < total:
        out.append(
            f"Only {len(imp.clients_affected)} of {total} clients were touched by the harmful side effects"
        )
    for r in verdict.invariants:
        if r.verdict == "held" and r.count:
            out.append(
                f"`{r.name}` stayed within its blast-radius limit of {r.max} with {r.count} violation(s)"
            )
    for row in record.fault_rows():
        matched, hits = row.get("matched"), int(row.get("hits") or 0)
        if matched and hits < int(matched):
            out.append(f"`{row.get('kind')}` fired on {hits} of {matched} matching requests")
    series: dict[int, int] = {}
    for e in record.ledger:
        series[int((float(e["t"]) - record.start_t) // 60)] = (
            series.get(int((float(e["t"]) - record.start_t) // 60), 0) + 1
        )
    window = record.window()
    if series and window:
        peak = max(series, key=lambda k: (series[k], -k))
        if not (window[0] - record.start_t) // 60 <= peak <= (window[1] - record.start_t) // 60:
            out.append(
                f"The busiest minute (T+{peak}m, {series[peak]} side effects) fell outside the fault window"
            )
    m = verdict.metrics
    if m and m.detected_t is None and not imp.harmful and window:
        out.append(
            "Nothing detected the incident, and no harm followed only because no invariant was crossed"
        )
    return out or [
        "No luck was involved as far as the evidence shows: every bound was enforced by a control or a guard"
    ]


def corrective_actions(record: DrillRecord, verdict: Verdict) -> list[Action]:
    """Corrective actions (prevent, detect, mitigate) with owners and due dates."""
    day = datetime.fromtimestamp(record.start_t, UTC).date()
    days = _DUE_DAYS.get(record.severity, {"prevent": 14, "detect": 21, "mitigate": 21})

    def due(kind: str) -> str:
        return (day + timedelta(days=days.get(kind, 14))).isoformat()

    owner = _OWNER.get(
        record.incident_types[0] if record.incident_types else "", "Platform on-call"
    )
    out: list[Action] = []
    for r in verdict.violated:
        cause = f" (defect {', '.join(record.defects)})" if record.defects else ""
        out.append(
            Action(
                f"Restore `{r.name}`{cause}: {(r.claim or r.name).rstrip('.')}; add this drill as a regression",
                "prevent",
                owner,
                due("prevent"),
            )
        )
    m = verdict.metrics
    if m and m.detected_t is None and (record.fault_rows() or record.defects):
        out.append(
            Action("Add an alert rule that detects this incident", "detect", "SRE", due("detect"))
        )
    for e in verdict.unmet:
        kind = "detect" if e.name == "time_to_detect" else "mitigate"
        unit = " s" if e.name.startswith("time_to_") else ""
        was = (
            f"was {e.actual:g}{unit}"
            if isinstance(e.actual, (int, float))
            else "never reached in this drill"
        )
        out.append(
            Action(
                f"Bring {e.name.replace('_', ' ')} within {e.limit:g}{unit} ({was})",
                kind,
                "SRE" if kind == "detect" else "Ops",
                due(kind),
            )
        )
    for s in m.runbook if m else ():
        if not s.ok:
            out.append(
                Action(
                    f"Automate or simplify runbook step {s.step} ({s.action})",
                    "mitigate",
                    "Ops",
                    due("mitigate"),
                )
            )
    rb = runbook_of(record.runbook)
    for f in rb.follow_ups if rb is not None else ():
        out.append(
            Action(
                f.title,
                f.type,
                f.owner,
                due(f.type),
                "open" if verdict.verdict != "held" else "rehearsed",
            )
        )
    return out


def follow_ups(record: DrillRecord, verdict: Verdict) -> list[str]:
    """Follow-ups: open questions the drill raised."""
    out = []
    m = verdict.metrics
    bad_steps = [s.step for s in (m.runbook if m else ()) if not s.ok]
    if bad_steps:
        out.append(
            f"Runbook {record.runbook}: revise steps {', '.join(bad_steps)} (missed, late or unmet)"
        )
    if record.defects and verdict.violated:
        out.append(
            f"Regression: `{reproduce_command(record)}` joins the CI gate, expected caught by {', '.join(r.name for r in verdict.violated)}"
        )
    elif verdict.verdict == "held":
        out.append(
            f"Regression: scenario {record.scenario_id} held with seed {record.seed}; keep it in `vibedrill run --all`"
        )
    if m and m.detected_t is None and (record.fault_rows() or record.defects):
        out.append(
            "Monitoring: add the missing detection rule to the scenario's `detection` and to the platform's alerts"
        )
    if verdict.missed:
        out.append(
            f"Scenario: reached checks {', '.join(r.name for r in verdict.missed)} never hit; adjust the fault timeline"
        )
    return out or [
        f"No doc or test change: runbook {record.runbook} was followed in full and every invariant held"
    ]
