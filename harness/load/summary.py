"""The load test's report: ``load.json``, ``load.md`` and the evidence the invariants point at."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..files import atomic_write
from ..judge.record import SIDE_EFFECT_ACTIONS, DrillRecord
from ..judge.rows import JournalRow, LedgerRow

__all__ = ["percentile_row", "rate_limits", "render_markdown", "side_effects", "write_load_report"]


def percentile_row(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """Requests, failures and latency percentiles of one Locust stats entry."""
    e = entry or {}
    return {k: e.get(k) for k in ("requests", "failures", "p50_ms", "p95_ms", "p99_ms", "avg_ms")}


def side_effects(ledger: Sequence[LedgerRow], t0: float, t1: float) -> dict[str, Any]:
    """The side effects on social accounts between ``t0`` and ``t1``: totals and per minute."""
    effects = [e for e in ledger if e.get("action") in SIDE_EFFECT_ACTIONS]
    minutes = max((t1 - t0) / 60.0, 1e-9)
    series: Counter[int] = Counter(int((float(e["t"]) - t0) // 60) for e in effects)
    return {
        "total": len(effects),
        "by_action": dict(sorted(Counter(str(e["action"]) for e in effects).items())),
        "by_fake": dict(sorted(Counter(str(e["fake"]) for e in effects).items())),
        "per_minute": round(len(effects) / minutes, 2),
        "per_minute_series": [series.get(m, 0) for m in range(math.ceil(minutes))],
    }


def rate_limits(journal: Sequence[JournalRow], fault_ids: set[str]) -> dict[str, Any]:
    """The 429s the fakes served, by the storm and by route."""
    served = [j for j in journal if j.get("status") == 429]
    return {
        "requests_to_fakes": len(journal),
        "served_429": len(served),
        "served_429_by_storm": sum(1 for j in served if j.get("fault_id") in fault_ids),
        "served_429_by_route": dict(
            sorted(Counter(f"{j['fake']} {j['route']}" for j in served).items())
        ),
    }


def render_markdown(rep: dict[str, Any]) -> str:
    """``load.md``: the load report for a person."""
    i, j, rl, se = rep["intake"], rep["jobs"], rep["rate_limits"], rep["side_effects"]

    def ms(v: Any) -> str:
        return "-" if v is None else f"{v:g} ms"

    lines = [
        f"# Load test `{rep['id']}`: {rep['verdict']}",
        "",
        f"{rep['options']['users']} Locust users (shape {rep['options'].get('shape', 'steady')}, "
        f"spawn rate {rep['options']['spawn_rate']:g}/s) for "
        f"{rep['options']['run_time_s']:g}s against {rep['platform']}"
        + (f" with defects {', '.join(rep['defects'])}" if rep["defects"] else "")
        + f"; storm: {', '.join(f['kind'] for f in rep['faults']) or 'none'}; "
        f"stopped by {rep['locust']['stopped_by']}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests to the platform (failures) | {rep['locust']['total']['requests']} ({rep['locust']['total']['failures']}) |",
        f"| job intake p50 / p95 / p99 | {ms(i['p50_ms'])} / {ms(i['p95_ms'])} / {ms(i['p99_ms'])} |",
        f"| jobs submitted | {j['submitted']} |",
        f"| jobs by final state | {', '.join(f'{k} {v}' for k, v in j['by_state'].items()) or '-'} |",
        f"| 429s served by the fakes (by the storm) | {rl['served_429']} ({rl['served_429_by_storm']}) |",
        f"| requests sent before Retry-After elapsed | {rl['early_requests']} |",
        f"| requests already in flight when a 429 was served (not counted) | {rl['in_flight_after_429']} |",
        f"| side effects (per minute) | {se['total']} ({se['per_minute']:g}/min) |",
        "",
        "## Invariants",
        "",
    ]
    for inv in rep["invariants"]:
        lines.append(f"- **{inv['name']}** {inv['verdict']}: {inv['detail']}")
    if "timeline" in rep:
        lines += ["", "Charts over time (throughput, 429 rate, latency, queue depth): `load.html`."]
    reached = rep.get("reached") or []
    if reached:
        lines += ["", "## Reached", ""]
        lines += [f"- {r['name']}: {'yes' if r['hit'] else 'NO'} ({r['count']})" for r in reached]
    return "\n".join(lines) + "\n"


def write_load_report(out_dir: Path, rep: dict[str, Any], record: DrillRecord) -> None:
    """Write ``load.json``, ``load.md`` and ``evidence/*.jsonl`` (the anchors' targets)."""
    atomic_write(out_dir / "load.json", json.dumps(rep, indent=2, sort_keys=True) + "\n")
    atomic_write(out_dir / "load.md", render_markdown(rep))
    for name, rows in (
        ("journal", record.journal),
        ("ledger", record.ledger),
        ("audit", record.audit),
        ("jobs", record.jobs),
        ("workload", record.workload),
    ):
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        atomic_write(out_dir / "evidence" / f"{name}.jsonl", text)
