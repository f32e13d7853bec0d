"""The drill's postmortem (runbooks §6), every sentence computed from the record and verdict.

:func:`postmortem_context` builds the eleven sections as data; ``templates/postmortem.md.j2``
and ``templates/postmortem.html.j2`` render them. Nothing is boilerplate: a section with
nothing to say says what was measured (e.g. "every runbook step was done in time: 4 of 4").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ..judge.invariants import sentence
from ..judge.record import DrillRecord
from ..judge.timeline import format_offset
from ..judge.verdict import Verdict
from .evidence import anchor_of, audit_sample, chart_svg, impact, utc

__all__ = ["Action", "postmortem_context", "render_html", "render_markdown", "reproduce_command"]

TEMPLATES = Path(__file__).with_name("templates")
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


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _dur(seconds: float | None) -> str:
    return "—" if seconds is None else format_offset(seconds)[2:]


@cache
def _fault_docs() -> dict[str, str]:
    try:
        from fakes.core.faults import FAULT_KINDS
    except ImportError:  # pragma: no cover - the fakes are part of this repo
        return {}
    return {k: v.summary() for k, v in FAULT_KINDS.items()}


@cache
def _defect_docs() -> dict[str, str]:
    from ..platform_adapter import defect_summaries

    return defect_summaries()


def _runbook(rb: str) -> Any:
    try:
        from ..runbooks import runbooks

        return runbooks().get(rb)
    except Exception:  # a broken runbook file must not stop the postmortem
        return None


def reproduce_command(record: DrillRecord) -> str:
    """The command that replays this drill exactly."""
    cmd = f"vibedrill run {record.scenario_id} --seed {record.seed}"
    cmd += "".join(f" --defect {d}" for d in record.defects)
    return cmd + (f" --mode {record.mode}" if record.mode != "auto" else "")


def _containment(record: DrillRecord, verdict: Verdict) -> str:
    m = verdict.metrics
    if m is None or m.contained_t is None:
        return "not contained" if verdict.violated else "no containment needed"
    return "contained" if not m.side_effects_after_containment else "leaked after containment"


def _summary(record: DrillRecord, verdict: Verdict, imp: Any) -> list[str]:
    m = verdict.metrics
    out = []
    faults = record.fault_rows()
    surges: dict[str, int] = {}
    for w in record.workload:
        origin = str(w.get("origin") or "steady")
        if origin != "steady":
            surges[origin] = surges.get(origin, 0) + 1
    if faults or record.defects or surges:
        bits = [
            f"the fakes served `{r.get('kind')}` ({_n(int(r.get('hits') or 0), 'time')})"
            for r in faults
        ]
        bits += [
            f"the workload sent {_n(n, 'job')} of the `{o}` surge"
            for o, n in sorted(surges.items())
        ]
        bits += [f"the platform ran with defect `{d}`" for d in record.defects]
        start = m.fault_start_t if m else None
        out.append(f"From {format_offset(record.offset(start))} {', '.join(bits)}.")
    else:
        out.append(
            "No fault was injected and no defect was active; this drill measured the steady state."
        )
    if imp.harmful:
        first, last = record.ledger[imp.harmful[0]]["t"], record.ledger[imp.harmful[-1]]["t"]
        out.append(
            f"{imp.statement[:-1]}, over {_dur(float(last) - float(first))} "
            f"({format_offset(record.offset(float(first)))}–{format_offset(record.offset(float(last)))})."
        )
    else:
        out.append(imp.statement)
    if m and m.detected_t is not None:
        out.append(
            f"`{m.detection_signal}` detected it at {format_offset(record.offset(m.detected_t))}, "
            f"{_dur(m.time_to_detect_s)} after the fault began."
        )
    elif faults or record.defects:
        out.append("Nothing detected the incident during the drill.")
    if m and m.contained_t is not None:
        after = m.side_effects_after_containment or 0
        lag = (
            ""
            if m.detected_t is None
            else f", {_dur(m.contained_t - m.detected_t)} after detection"
        )
        out.append(
            f"The first containment action came at {format_offset(record.offset(m.contained_t))}{lag}; "
            f"{after} harmful side effect(s) followed it."
        )
    out.append(
        f"Verdict: **{verdict.verdict}** ({len(verdict.violated)} of {len(verdict.invariants)} invariants "
        f"violated, {len(verdict.unmet)} expectation(s) missed)."
    )
    return out


def _impact_rows(record: DrillRecord, verdict: Verdict, imp: Any) -> list[tuple[str, str, str]]:
    m = verdict.metrics
    links = ",".join(f"L{i + 1}" for i in imp.harmful[:6]) + ("…" if len(imp.harmful) > 6 else "")
    plats = sorted({str(e.get("fake")) for e in record.ledger} | set(imp.by_platform))
    per = ", ".join(f"{p}: {imp.by_platform.get(p, 0)}" for p in plats) or "none"
    rows = [
        (
            "harmful side effects",
            f"{len(imp.harmful)} ({per})",
            f"evidence/ledger.jsonl#{links}" if imp.harmful else "evidence/ledger.jsonl",
        )
    ]
    for action, n in imp.by_action.items():
        rows.append((f"harmful `{action}`", str(n), "evidence/ledger.jsonl"))
    names = " → ".join(record.client_name(c) for c in imp.clients_affected) or "none"
    rows.append(
        (
            "clients affected",
            f"{len(imp.clients_affected)} ({names})",
            "evidence/audit-sample.jsonl",
        )
    )
    wp = ", ".join(f"{p}: {n}" for p, n in imp.window_effects_by_platform.items()) or "none"
    rows.append(
        (
            "side effects in the fault window",
            f"{m.side_effects_in_fault_window if m else 0} ({wp})",
            "evidence/ledger.jsonl",
        )
    )
    after = m.side_effects_after_containment if m else None
    rows.append(
        (
            "harmful side effects after containment",
            "n/a (no containment)" if after is None else str(after),
            "evidence/controls.jsonl",
        )
    )
    states = ", ".join(f"{s}: {n}" for s, n in imp.jobs_by_state.items()) or "none reported"
    rows.append(("jobs by final state", f"{len(record.jobs)} ({states})", "evidence/jobs.jsonl"))
    r429 = [j for j in record.journal if j.get("status") == 429]
    if r429:
        rows.append(("429 responses served", str(len(r429)), "evidence/journal.jsonl"))
    spend = sum(float(e.get("cost_usd") or 0) for e in record.ledger)
    if spend:
        rows.append(("provider spend", f"${spend:.2f}", "evidence/ledger.jsonl"))
    return rows


def _business(record: DrillRecord, imp: Any) -> str:
    bad = {s: n for s, n in imp.jobs_by_state.items() if s not in ("succeeded",)}
    late = ", ".join(f"{n} {s}" for s, n in bad.items())
    harm = (
        f"{len(imp.harmful)} harmful side effect(s) reached clients' audiences"
        if imp.harmful
        else "no harmful side effect reached an audience"
    )
    return f"{harm}; {late or 'every job succeeded'} of {len(record.jobs)} jobs."


def _detection(record: DrillRecord, verdict: Verdict) -> list[str]:
    m = verdict.metrics
    out = []
    if m is None or m.detected_t is None:
        out.append("Not detected: no alert fired and no detection rule matched during the drill.")
    else:
        out.append(
            f"Detected by `{m.detection_signal}` at {utc(m.detected_t)} ({format_offset(record.offset(m.detected_t))}); "
            f"time to detect {_dur(m.time_to_detect_s)} from the start of the fault."
        )
    own = [a for a in record.alerts]
    if own:
        names = ", ".join(sorted({str(a.get("name")) for a in own}))
        out.append(
            f"The platform raised {len(own)} alert(s) of its own ({names}); the first at "
            f"{format_offset(record.offset(float(own[0]['t'])))}."
        )
    else:
        out.append("The platform raised no alert of its own.")
    hits = [
        (hit, str(r.get("kind")))
        for r in record.fault_rows()
        if (hit := r.get("first_hit_at")) is not None
    ]
    viol = [(v.t, r.name) for r in verdict.invariants for v in r.violations]
    earliest = min(hits + viol, default=None)
    if earliest and (m is None or m.detected_t is None or earliest[0] < m.detected_t):
        gap = (
            ""
            if m is None or m.detected_t is None
            else f", {_dur(m.detected_t - earliest[0])} before detection"
        )
        what = (
            f"the first `{earliest[1]}` response"
            if earliest in hits
            else f"the first `{earliest[1]}` violation"
        )
        out.append(
            f"Earlier signal: {what} at {format_offset(record.offset(earliest[0]))}{gap}; an alert on it would have caught the incident sooner."
        )
    else:
        out.append(
            "No earlier signal existed in the fakes' evidence: detection came with the first symptom."
        )
    return out


def _timeline_rows(record: DrillRecord, verdict: Verdict, limit: int = 80) -> list[dict[str, str]]:
    rows = []
    for e in record.timeline.ordered():
        if e.kind == "job.submitted":
            continue
        rows.append(
            (
                e.t,
                e.seq,
                {
                    "time": utc(e.t),
                    "offset": format_offset(record.offset(e.t)),
                    "event": e.summary or e.kind,
                    "owner": e.actor,
                    "evidence": anchor_of(record, e),
                },
            )
        )
    for r in verdict.invariants:
        for v in r.violations[:3]:
            rows.append(
                (
                    v.t,
                    10**9,
                    {
                        "time": utc(v.t),
                        "offset": format_offset(record.offset(v.t)),
                        "event": f"{r.name} violated: {sentence([v])}",
                        "owner": "platform",
                        "evidence": v.evidence or "",
                    },
                )
            )
    rows.sort(key=lambda x: (x[0], x[1]))
    out = [r for _, _, r in rows]
    if len(out) > limit:
        head = out[: limit - 10]
        head.append(
            {
                "time": "…",
                "offset": "",
                "event": f"{len(out) - limit} more events",
                "owner": "",
                "evidence": "evidence/timeline.jsonl",
            }
        )
        out = head + out[-9:]
    return out


def _root_causes(record: DrillRecord, verdict: Verdict) -> dict[str, list[str]]:
    fd, dd = _fault_docs(), _defect_docs()
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
        f"Injected workload surge `{o}`: {_n(n, 'job')} submitted to the platform as the incident's trigger"
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


def _went_well(record: DrillRecord, verdict: Verdict) -> list[str]:
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


def _went_poorly(record: DrillRecord, verdict: Verdict) -> list[str]:
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
                f"{_dur(s.completed_t - s.deadline_t)} after its deadline"
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


def _lucky(record: DrillRecord, verdict: Verdict, imp: Any) -> list[str]:
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


def _actions(record: DrillRecord, verdict: Verdict) -> list[Action]:
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
        out.append(
            Action(
                f"Bring {e.name.replace('_', ' ')} within {e.limit:g} (was {e.actual})",
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
    rb = _runbook(record.runbook)
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


def _follow_ups(record: DrillRecord, verdict: Verdict) -> list[str]:
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


def postmortem_context(record: DrillRecord, verdict: Verdict) -> dict[str, Any]:
    """Every section of the postmortem as data."""
    imp = impact(record, verdict)
    sample = audit_sample(record, verdict)
    traces = list(dict.fromkeys(str(a["trace_id"]) for a in record.audit if a.get("trace_id")))
    return {
        "r": record,
        "v": verdict,
        "m": verdict.metrics,
        "impact": imp,
        "date": utc(record.start_t, True),
        "commit": (record.commit or "unknown")[:12],
        "containment": _containment(record, verdict),
        "reproduce": reproduce_command(record),
        "summary": _summary(record, verdict, imp),
        "impact_rows": _impact_rows(record, verdict, imp),
        "business": _business(record, imp),
        "detection": _detection(record, verdict),
        "timeline": _timeline_rows(record, verdict),
        "causes": _root_causes(record, verdict),
        "well": _went_well(record, verdict),
        "poorly": _went_poorly(record, verdict),
        "lucky": _lucky(record, verdict, imp),
        "actions": _actions(record, verdict),
        "follow_ups": _follow_ups(record, verdict),
        "traces": traces,
        "sample_size": len(sample),
        "faults": record.fault_rows(),
        "types": ", ".join(record.incident_types) or "—",
        "defects": ", ".join(record.defects) or "none",
        "offset": lambda t: format_offset(record.offset(t)),
        "shots": _browser_shots(record),
        "key_shots": _key_shots(record),
    }


def _browser_shots(record: DrillRecord) -> list[dict[str, Any]]:
    """The browser lane's evidence (screenshots, DOM snapshots), oldest first, with captions."""
    out = []
    for s in record.extra.get("browser_evidence") or []:
        out.append(
            {
                **s,
                "time": utc(float(s["t"])),
                "offset": format_offset(record.offset(float(s["t"]))),
                "caption": f"{s.get('tag')} — {s.get('action')} on {s.get('platform')} for "
                f"{record.client_name(str(s.get('client_id')))} (UI {s.get('ui_version') or 'v1'})",
            }
        )
    return out


def _key_shots(record: DrillRecord, limit: int = 6) -> list[dict[str, Any]]:
    """The screenshots worth seeing inline: every failure's first (per tag), then a success."""
    shots = _browser_shots(record)
    key: list[dict[str, Any]] = []
    seen: set[str] = set()
    for s in shots:
        tag = str(s.get("tag"))
        if tag not in ("published", "sent", "done") and tag not in seen:
            seen.add(tag)
            key.append(s)
    ok = [s for s in shots if s.get("tag") in ("published", "sent", "done")]
    if ok:
        key.append(ok[0])
        if ok[-1] is not ok[0]:
            key.append(ok[-1])
    return sorted(key[:limit], key=lambda s: float(s["t"]))


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2.html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_markdown(record: DrillRecord, verdict: Verdict) -> str:
    """postmortem.md."""
    return _env().get_template("postmortem.md.j2").render(**postmortem_context(record, verdict))


def render_html(record: DrillRecord, verdict: Verdict) -> str:
    """postmortem.html, with the inline SVG chart (no external scripts or styles)."""
    env = _env()
    env.autoescape = True
    ctx = postmortem_context(record, verdict)
    return env.get_template("postmortem.html.j2").render(**ctx, chart=chart_svg(record))
