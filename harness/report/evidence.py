"""The evidence bundle (runbooks §3): files under ``evidence/``, anchors into them, the impact.

Everything here renders text in memory from the record and the verdict; :mod:`harness.report.writer`
writes it. Line N of a JSONL file is row N-1 of the matching record list, so anchors such as
``evidence/ledger.jsonl#L12`` computed by the invariants point at the right line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..judge.invariants._facts import facts
from ..judge.record import PROVIDER_FAKES, SIDE_EFFECT_ACTIONS, DrillRecord
from ..judge.rows import AuditRow
from ..judge.secrets import SecretIndex
from ..judge.timeline import TimelineEvent, canonical_json, format_offset
from ..judge.verdict import Verdict

__all__ = [
    "Impact",
    "anchor_of",
    "audit_sample",
    "chart_svg",
    "impact",
    "render_evidence",
    "scrub",
    "utc",
]

_COLORS = {"x": "#1d9bf0", "instagram": "#c13584", "linkedin": "#0a66c2"}


def utc(t: float | None, with_date: bool = False) -> str:
    """Unix seconds as UTC ``HH:MM:SS`` (or ISO 8601 with the date)."""
    if t is None:
        return "—"
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ") if with_date else d.strftime("%H:%M:%S")


def scrub(text: str, secrets: tuple[str, ...] | SecretIndex) -> str:
    """Replace every known secret by ``[redacted fp_…]`` (longest first) and every run of 12
    characters of one (past its public prefix) by ``[redacted part of fp_…]``."""
    index = secrets if isinstance(secrets, SecretIndex) else SecretIndex.of(secrets)
    return index.scrub(text)


def _lines(dumped: Iterable[str]) -> str:
    return "".join(d + "\n" for d in dumped)


def _jsonl(rows: Iterable[Mapping[str, object]]) -> str:
    return "".join(
        json.dumps(r, sort_keys=True, default=str, ensure_ascii=False) + "\n" for r in rows
    )


def anchor_of(record: DrillRecord, ev: TimelineEvent) -> str:
    """The evidence file (and line) that backs a timeline event."""
    if ev.evidence:
        return ev.evidence
    d = ev.data
    if ev.kind.startswith("fault.") and d.get("rule_id") is not None:
        for i, r in enumerate(record.fault_rows()):
            if str(r.get("id")) == str(d["rule_id"]):
                return f"evidence/faults.jsonl#L{i + 1}"
    if ev.kind == "alert.fired" and d.get("alert_seq") is not None:
        for i, a in enumerate(record.alerts):
            if a.get("seq") == d["alert_seq"]:
                return f"evidence/alerts.jsonl#L{i + 1}"
    if d.get("control_seq") is not None:
        for i, c in enumerate(record.control_changes):
            if c.get("seq") == d["control_seq"]:
                return f"evidence/controls.jsonl#L{i + 1}"
    return f"evidence/timeline.jsonl#L{ev.seq}"


@dataclass(frozen=True)
class Impact:
    """Exact counts of harm, computed from the violations that point at ledger lines."""

    harmful: list[int]
    by_platform: dict[str, int]
    by_action: dict[str, int]
    by_client: dict[str, int]
    clients_affected: list[str]
    jobs_by_state: dict[str, int]
    window_effects_by_platform: dict[str, int] = field(default_factory=dict)
    statement: str = ""


def impact(record: DrillRecord, verdict: Verdict) -> Impact:
    """Which side effects did harm (ledger lines named by a violation) and whom they touched."""
    lines: set[int] = set()
    for r in verdict.invariants:
        for v in r.violations:
            if v.evidence and v.evidence.startswith("evidence/ledger.jsonl#L"):
                lines.add(int(v.evidence.rsplit("#L", 1)[1]) - 1)
    harmful = sorted(i for i in lines if 0 <= i < len(record.ledger))
    rows = [record.ledger[i] for i in harmful]
    intents = facts(record).intents
    clients: list[str] = []
    for i in harmful:
        intent = intents.get(i)
        for c in (intent.client_id if intent else None, record.ledger[i].get("tenant_id")):
            if c and c not in clients:
                clients.append(str(c))
    window = record.window()
    in_window = [
        e
        for e in record.ledger
        if e.get("action") in SIDE_EFFECT_ACTIONS
        and window
        and window[0] <= float(e["t"]) <= window[1]
    ]
    by_platform = dict(sorted(Counter(str(e.get("fake")) for e in rows).items()))
    by_action = dict(sorted(Counter(str(e.get("action")) for e in rows).items()))
    by_client = dict(sorted(Counter(str(e.get("tenant_id")) for e in rows).items()))
    jobs = dict(sorted(Counter(str(j.get("state")) for j in record.jobs).items()))
    wplat = dict(sorted(Counter(str(e.get("fake")) for e in in_window).items()))
    if rows:
        names = ", ".join(record.client_name(c) for c in clients)
        plats = ", ".join(f"{p}: {n}" for p, n in by_platform.items())
        broken = ", ".join(r.name for r in verdict.violated) or "none past their limits"
        statement = (
            f"{len(rows)} harmful side effect(s) ({plats}) touching {len(clients)} client(s) ({names}); "
            f"invariants broken: {broken}."
        )
    else:
        statement = f"No harmful side effect: {len(in_window)} side effect(s) in the fault window, all within the invariants."
    return Impact(harmful, by_platform, by_action, by_client, clients, jobs, wplat, statement)


def audit_sample(
    record: DrillRecord, verdict: Verdict | None = None, n: int = 20
) -> list[tuple[int, AuditRow]]:
    """10–20 AuditEvents: outcomes tied to violations first, then an even spread of the rest."""
    outcomes = [(i, a) for i, a in enumerate(record.audit) if a.get("phase") == "outcome"] or list(
        enumerate(record.audit)
    )
    chosen: dict[int, AuditRow] = {}
    flagged = {v.evidence for r in (verdict.invariants if verdict else ()) for v in r.violations}
    for i, a in outcomes:
        if f"evidence/audit.jsonl#L{i + 1}" in flagged and len(chosen) < n // 2:
            chosen[i] = a
    rest = [(i, a) for i, a in outcomes if i not in chosen]
    room = n - len(chosen)
    if rest and room > 0:
        step = max(1, len(rest) // room)
        for i, a in rest[::step][:room]:
            chosen[i] = a
    return sorted(chosen.items())


def side_effects_per_minute(record: DrillRecord) -> dict[str, list[int]]:
    """Side effects per minute of the drill, per platform (index = minute since start)."""
    minutes = max(1, int((record.end_t - record.start_t) // 60) + 1)
    out: dict[str, list[int]] = {}
    for e in record.ledger:
        if e.get("action") not in SIDE_EFFECT_ACTIONS:
            continue
        m = min(minutes - 1, max(0, int((float(e["t"]) - record.start_t) // 60)))
        out.setdefault(str(e.get("fake")), [0] * minutes)[m] += 1
    return dict(sorted(out.items()))


def chart_svg(record: DrillRecord) -> str:
    """An inline SVG: side effects per minute per platform, fault window shaded, control actions marked."""
    series = side_effects_per_minute(record)
    minutes = max(1, int((record.end_t - record.start_t) // 60) + 1)
    w, h, left, bottom, top = 760, 260, 40, 30, 20
    peak = max([1, *(max(v) for v in series.values())])
    sx = (w - left - 10) / minutes
    sy = (h - bottom - top) / peak

    def x(t: float) -> float:
        return left + (t - record.start_t) / 60 * sx

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" aria-label="Side effects per minute per platform">',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>',
    ]
    window = record.window()
    if window:
        parts.append(
            f'<rect x="{x(window[0]):.1f}" y="{top}" width="{max(1.0, x(window[1]) - x(window[0])):.1f}" '
            f'height="{h - bottom - top}" fill="#f5a623" fill-opacity="0.18"><title>fault window '
            f"{format_offset(record.offset(window[0]))}–{format_offset(record.offset(window[1]))}</title></rect>"
        )
    parts.append(
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="#333"/>'
    )
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#333"/>')
    parts.append(f'<text x="4" y="{top + 4}" font-size="10">{peak}/min</text>')
    for m in range(0, minutes + 1, max(1, minutes // 8)):
        parts.append(
            f'<text x="{left + m * sx:.1f}" y="{h - bottom + 14}" font-size="10" text-anchor="middle">T+{m}m</text>'
        )
    for k, (platform, counts) in enumerate(series.items()):
        pts = " ".join(
            f"{left + (m + 0.5) * sx:.1f},{h - bottom - c * sy:.1f}" for m, c in enumerate(counts)
        )
        color = _COLORS.get(platform, "#555")
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"><title>{platform}</title></polyline>'
        )
        parts.append(
            f'<text x="{w - 110}" y="{top + 12 + 12 * k}" font-size="11" fill="{color}">{platform}</text>'
        )
    for c in record.control_changes:
        if c.get("actor") == "drill":
            continue
        cx = x(float(c["t"]))
        label = f"{c.get('control')} {c.get('value')} by {c.get('actor')} at {format_offset(record.offset(float(c['t'])))}"
        parts.append(
            f'<line x1="{cx:.1f}" y1="{top}" x2="{cx:.1f}" y2="{h - bottom}" stroke="#d0021b" '
            f'stroke-dasharray="4 3"><title>{_esc(label)}</title></line>'
        )
    parts.append("</svg>\n")
    return "\n".join(parts)


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _metrics_csv(record: DrillRecord) -> str:
    """One row per metrics sample; labelled names (``a{x="1",y="2"}``) are quoted (RFC 4180)."""
    import csv
    import io

    names = sorted({k for _, m in record.metrics_samples for k in m})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["t_utc", "offset_s", *names])
    for t, m in record.metrics_samples:
        w.writerow(
            [
                utc(t, True),
                f"{t - record.start_t:g}",
                *(f"{m[k]:g}" if k in m else "" for k in names),
            ]
        )
    return buf.getvalue()


def _trace_ids(record: DrillRecord) -> list[str]:
    return list(dict.fromkeys(str(a["trace_id"]) for a in record.audit if a.get("trace_id")))


def _provider_status(record: DrillRecord) -> dict[str, str]:
    if record.provider_status:
        return dict(record.provider_status)
    out = {}
    for r in record.fault_rows():
        fake = str(r.get("kind", "")).split(".")[0]
        if fake in PROVIDER_FAKES:
            out[fake] = f"{r.get('kind')} ({int(r.get('hits') or 0)} responses affected)"
    return out


def bundle(record: DrillRecord, verdict: Verdict) -> dict[str, Any]:
    """bundle.json: incident id, tags, severity, start, detection, impact, provider status."""
    m = verdict.metrics
    window = record.window()
    return {
        "incident_id": record.drill_id,
        "title": record.title,
        "tags": list(record.incident_types),
        "severity": record.severity,
        "runbook": record.runbook,
        "start": utc(window[0] if window else record.start_t, True),
        "detection": {
            "at": utc(m.detected_t, True) if m and m.detected_t else None,
            "source": m.detection_signal if m else None,
            "time_to_detect_s": m.time_to_detect_s if m else None,
            "paged": "monitoring" if m and m.detected_t else None,
        },
        "impact": impact(record, verdict).statement,
        "defects": list(record.defects),
        "faults": [
            {"id": r.get("id"), "kind": r.get("kind"), "hits": r.get("hits")}
            for r in record.fault_rows()
        ],
        "control_changes": len(record.control_changes),
        "provider_status": _provider_status(record),
        "verdict": verdict.verdict,
        "trace_ids": len(_trace_ids(record)),
    }


def render_evidence(record: DrillRecord, verdict: Verdict) -> dict[str, str]:
    """Every evidence file as text, keyed by its path relative to the report folder (unscrubbed)."""
    sample = audit_sample(record, verdict)
    return {
        "evidence/timeline.jsonl": record.timeline.to_jsonl(),
        "evidence/ledger.jsonl": _lines(record.dumped("ledger")),
        "evidence/journal.jsonl": _lines(record.dumped("journal")),
        "evidence/audit.jsonl": _lines(record.dumped("audit")),
        "evidence/audit-sample.jsonl": _jsonl([{"line": i + 1, **a} for i, a in sample]),
        "evidence/controls.jsonl": _lines(record.dumped("control_changes")),
        "evidence/control-requests.jsonl": _jsonl(record.control_requests),
        "evidence/controls-state.json": canonical_json(
            {"start": record.controls_at_start, "end": record.controls_at_end}
        )
        + "\n",
        "evidence/alerts.jsonl": _lines(record.dumped("alerts")),
        "evidence/faults.jsonl": _jsonl(record.fault_rows()),
        "evidence/jobs.jsonl": _lines(record.dumped("jobs")),
        "evidence/workload.jsonl": _jsonl(record.workload),
        "evidence/metrics.csv": _metrics_csv(record),
        "evidence/trace-ids.txt": "".join(t + "\n" for t in _trace_ids(record)),
        "evidence/side-effects-per-minute.svg": chart_svg(record),
        "evidence/bundle.json": canonical_json(bundle(record, verdict)) + "\n",
    }
