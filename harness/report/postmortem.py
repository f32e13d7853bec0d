"""The drill's postmortem (runbooks §6), every sentence computed from the record and verdict.

:func:`postmortem_context` builds the eleven sections as data; ``templates/postmortem.md.j2``
and ``templates/postmortem.html.j2`` render them. Nothing is boilerplate: a section with
nothing to say says what was measured (e.g. "every runbook step was done in time: 4 of 4").
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from ..judge.invariants import sentence
from ..judge.record import DrillRecord
from ..judge.timeline import format_offset
from ..judge.verdict import Verdict
from .evidence import anchor_of, audit_sample, chart_svg, impact, utc
from .lessons import (
    Action,
    corrective_actions,
    duration_text,
    follow_ups,
    lucky,
    plural,
    reproduce_command,
    root_causes,
    went_poorly,
    went_well,
)

__all__ = ["Action", "postmortem_context", "render_html", "render_markdown", "reproduce_command"]

TEMPLATES = Path(__file__).with_name("templates")


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
            f"the fakes served `{r.get('kind')}` ({plural(int(r.get('hits') or 0), 'time')})"
            for r in faults
        ]
        bits += [
            f"the workload sent {plural(n, 'job')} of the `{o}` surge"
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
            f"{imp.statement[:-1]}, over {duration_text(float(last) - float(first))} "
            f"({format_offset(record.offset(float(first)))}–{format_offset(record.offset(float(last)))})."
        )
    else:
        out.append(imp.statement)
    if m and m.detected_t is not None:
        out.append(
            f"`{m.detection_signal}` detected it at {format_offset(record.offset(m.detected_t))}, "
            f"{duration_text(m.time_to_detect_s)} after the fault began."
        )
    elif faults or record.defects:
        out.append("Nothing detected the incident during the drill.")
    if m and m.contained_t is not None:
        after = m.side_effects_after_containment or 0
        lag = (
            ""
            if m.detected_t is None
            else f", {duration_text(m.contained_t - m.detected_t)} after detection"
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
            f"time to detect {duration_text(m.time_to_detect_s)} from the start of the fault."
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
            else f", {duration_text(m.detected_t - earliest[0])} before detection"
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
                    # a person's act in a game day is never elided from the table
                    "person": "1" if e.data.get("participant") else "",
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
                        "person": "",
                    },
                )
            )
    rows.sort(key=lambda x: (x[0], x[1]))
    out = [r for _, _, r in rows]
    if len(out) > limit:
        head, tail = out[: limit - 10], out[-9:]
        middle = out[limit - 10 : -9]
        people = [r for r in middle if r["person"]]
        head += people
        head.append(
            {
                "time": "…",
                "offset": "",
                "event": f"{len(middle) - len(people)} more events",
                "owner": "",
                "evidence": "evidence/timeline.jsonl",
                "person": "",
            }
        )
        out = head + tail
    return out


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
        "causes": root_causes(record, verdict),
        "well": went_well(record, verdict),
        "poorly": went_poorly(record, verdict),
        "lucky": lucky(record, verdict, imp),
        "actions": corrective_actions(record, verdict),
        "follow_ups": follow_ups(record, verdict),
        "traces": traces,
        "sample_size": len(sample),
        "faults": record.fault_rows(),
        "types": ", ".join(record.incident_types) or "—",
        "defects": ", ".join(record.defects) or "none",
        "offset": lambda t: format_offset(record.offset(t)),
        "shots": _browser_shots(record),
        "key_shots": _key_shots(record),
        # a game day's grades, people, notes and drafts (harness.gameday), else None
        "rehearsal": record.extra.get("rehearsal"),
    }


def _browser_shots(record: DrillRecord) -> list[dict[str, Any]]:
    """The browser lane's evidence (screenshots, DOM snapshots), oldest first, with captions."""
    out = []
    for s in record.extra.get("browser_evidence") or []:
        t = s.get("t")
        if not isinstance(t, (int, float)):
            continue  # a shot without a time cannot be placed on the timeline
        out.append(
            {
                **s,
                "time": utc(float(t)),
                "offset": format_offset(record.offset(float(t))),
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


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def md_inline(text: str) -> markupsafe.Markup:
    """The inline markdown the summaries use (``**bold**``, ```code```) as escaped HTML."""
    html = str(markupsafe.escape(text))
    html = _CODE.sub(r"<code>\1</code>", html)
    return markupsafe.Markup(_BOLD.sub(r"<strong>\1</strong>", html))


@functools.cache
def _env(autoescape: bool = False) -> jinja2.Environment:
    """The templates' environment (``autoescape``: every template escaped, for HTML).

    Built once per process and kept, so each template is compiled once, not for every report
    (compiling them was a tenth of a short drill's time); rendering does not change it.
    """
    env = _new_env()
    env.filters["md_inline"] = md_inline
    if autoescape:
        env.autoescape = True
    return env


def _new_env() -> jinja2.Environment:
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
    env = _env(autoescape=True)
    ctx = postmortem_context(record, verdict)
    return env.get_template("postmortem.html.j2").render(**ctx, chart=chart_svg(record))
