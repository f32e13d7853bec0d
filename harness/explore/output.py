"""What a search leaves behind: the minimal scenario under ``scenarios/found/`` and the summary.

The scenario is a normal file (``vibedrill validate`` accepts it) with a ``description`` saying
what was found, with which seed and defects, and the one command that reproduces it. Under a
defect it carries a ``mutants`` row (that defect must violate that invariant), so the mutation
matrix keeps it. ``reports/explore-<id>/summary.md`` and ``summary.json`` hold the counts: draws,
draws that reached their faults, wasted draws, the violation and its minimal schedule, the
coverage of fault kinds × fakes drawn and the time spent.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from ..errors import DrillError
from ..runbooks import runbooks
from ..scenario import Scenario, load_scenario
from .loop import SearchResult

__all__ = ["found_id", "reproduce_command", "summary_json", "write_found", "write_summary"]


def found_id(res: SearchResult) -> str:
    """``found_<defects or healthy>_<invariant>_s<seed>``: the found scenario's id and file stem."""
    who = "_".join(res.config.defects) or "healthy"
    slug = re.sub(r"[^a-z0-9_]", "_", f"found_{who}_{res.invariant}_s{res.config.seed}".lower())
    return slug


def reproduce_command(path: Path, defects: tuple[str, ...]) -> str:
    """The one command that replays the found scenario."""
    flags = "".join(f" --defect {d}" for d in defects)
    return f"vibedrill run {path.as_posix()}{flags}"


def _yaml_doc(
    res: SearchResult, sid: str, path: Path, healthy_holds: bool | None
) -> dict[str, Any]:
    assert res.minimal is not None and res.minimal_outcome is not None and res.invariant
    cfg = res.config
    s = res.minimal
    detail = res.minimal_outcome.details.get(res.invariant, "")
    faults = ", ".join(f"{f.kind} at {int(f.at // 60)}m" for f in s.faults) or "no fault at all"
    under = (
        f"with the platform defect {', '.join(cfg.defects)}"
        if cfg.defects
        else "on the healthy platform"
    )
    if len(detail) > 240:
        detail = detail[:239] + "…"
    minimal = (
        f"Minimal schedule after shrinking: {faults}; every fault left is needed "
        "(without any one of them the invariant holds)."
        if s.faults
        else "Minimal schedule after shrinking: no fault is needed, the workload alone shows it."
    )
    lines = [
        f"Found by `vibedrill explore` (seed {cfg.seed}, draw {res.found_at} of budget {cfg.budget}) "
        f"{under}: {res.invariant} is violated — {detail}",
        minimal,
        f"Reproduce: {reproduce_command(path, cfg.defects)}",
    ]
    if cfg.defects and healthy_holds is not None:
        lines.append(
            "On the healthy platform the same schedule holds."
            if healthy_holds
            else f"The same schedule also violates {res.invariant} on the healthy platform."
        )
    raw = s.model_dump(mode="json", exclude_defaults=True)
    rb = runbooks()[s.runbook]
    doc: dict[str, Any] = {
        "id": sid,
        "title": f"Explored: {res.invariant} violated"
        + (f" under {', '.join(cfg.defects)}" if cfg.defects else ""),
        "runbook": s.runbook,
        "severity": rb.severity,
        "incident_types": list(s.incident_types),
        "seed": s.seed,
        "description": "\n".join(lines),
    }
    # everything else the draw set, in the scenario's own key order: the world, the workload, the
    # faults and also a watchful alerting (``detection``) or an unavailable control
    # (``runbook_overrides``) — without them the file would not replay what was found
    for key, value in raw.items():
        if key not in doc and key not in ("title", "description", "mutants"):
            doc[key] = value
    doc["response"] = s.response
    if cfg.defects and healthy_holds:
        doc["mutants"] = [{"defect": d, "invariant": res.invariant} for d in cfg.defects]
    return doc


def write_found(
    res: SearchResult, found_dir: Path = Path("scenarios/found"), healthy_holds: bool | None = None
) -> Path:
    """Write the minimal scenario as ``<found_dir>/<id>.yaml``, validated; returns its path."""
    sid = found_id(res)
    path = found_dir / f"{sid}.yaml"
    if path.exists() and res.minimal is not None:
        try:
            same = _replayed(load_scenario(path)) == _replayed(res.minimal)
        except Exception:  # an unreadable file of that name is not ours to keep
            same = True
        if not same:  # another finding of the same invariant and seed (a regression): keep it
            sid = f"{sid}_d{res.found_at}"
            path = found_dir / f"{sid}.yaml"
    doc = _yaml_doc(res, sid, path, healthy_holds)
    found_dir.mkdir(parents=True, exist_ok=True)
    text = "# written by `vibedrill explore`; see the description\n" + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True, width=100
    )
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    written = load_scenario(path)  # what `vibedrill validate` checks; raises ScenarioError if not
    assert res.minimal is not None
    if _replayed(written) != _replayed(res.minimal):
        raise DrillError(f"{path}: the written scenario differs from the one found (a writer bug)")
    return path


def _replayed(s: Scenario) -> dict[str, Any]:
    """What decides a drill's run: the scenario without its names, story and mutant list."""
    skip = {"id", "title", "description", "mutants", "severity"}
    return {k: v for k, v in s.model_dump(mode="json").items() if k not in skip}


def summary_json(res: SearchResult, found: Path | None, search_id: str) -> dict[str, Any]:
    """The search as JSON (``summary.json``)."""
    cfg = res.config
    out: dict[str, Any] = {
        "id": search_id,
        "seed": cfg.seed,
        "budget": cfg.budget,
        "time_limit_s": cfg.time_s,
        "workers": cfg.workers,
        "defects": list(cfg.defects),
        "space": cfg.space.describe(),
        "draws": res.draws,
        "reached": res.reached,
        "wasted_vacuous": res.vacuous,
        "errors": res.errors,
        "drills_total": res.drills,
        "drill_cpu_s": round(res.drill_cpu_s, 2),
        "drills_per_cpu_s": round(res.drills / res.drill_cpu_s, 3) if res.drill_cpu_s else None,
        "wall_s": round(res.wall_s, 2),
        "healthy_violations": res.healthy_violations,
        "coverage": dict(sorted(res.coverage.items())),
        "violation": None,
    }
    if res.minimal is not None and res.minimal_outcome is not None:
        out["violation"] = {
            "invariant": res.invariant,
            "found_at_draw": res.found_at,
            "detail": res.minimal_outcome.details.get(str(res.invariant), ""),
            "shrink_drills": res.shrink_drills,
            "faults_first": len(res.first.faults) if res.first else None,
            "faults_minimal": len(res.minimal.faults),
            "minimal": res.minimal.model_dump(mode="json", exclude_defaults=True),
            "without_each_fault": res.without,
            "scenario": found.as_posix() if found else None,
            "reproduce": reproduce_command(found, cfg.defects) if found else None,
        }
    return out


def write_summary(
    res: SearchResult, reports_dir: Path, found: Path | None, search_id: str | None = None
) -> Path:
    """Write ``reports_dir/explore-<id>/summary.{md,json}``; returns the folder."""
    sid = search_id or (
        f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-s{res.config.seed}"
        + "".join(f"-{d.replace('_', '-')}" for d in res.config.defects)
    )
    folder = reports_dir / f"explore-{sid}"
    folder.mkdir(parents=True, exist_ok=True)
    doc = summary_json(res, found, sid)
    (folder / "summary.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (folder / "summary.md").write_text(_markdown(doc), encoding="utf-8")
    return folder


def _markdown(doc: dict[str, Any]) -> str:
    v = doc["violation"]
    lines = [
        f"# vibedrill explore {doc['id']}",
        "",
        f"Seed {doc['seed']}, budget {doc['budget']} drills, {doc['workers']} worker(s), defects: "
        f"{', '.join(doc['defects']) or 'none (healthy platform)'}.",
        "",
        "| draws | reached their faults | wasted (faults never fired) | harness errors "
        "| drills in all | drill CPU | drills per CPU-second | wall |",
        "|---|---|---|---|---|---|---|---|",
        f"| {doc['draws']} | {doc['reached']} | {doc['wasted_vacuous']} | {len(doc['errors'])} "
        f"| {doc['drills_total']} | {doc['drill_cpu_s']}s | {doc['drills_per_cpu_s']} | {doc['wall_s']}s |",
        "",
    ]
    if v is None:
        lines += ["**No violation found** within the budget.", ""]
    else:
        lines += [
            f"**Violation: `{v['invariant']}`** at draw {v['found_at_draw']}: {v['detail']}",
            "",
            f"Shrunk in {v['shrink_drills']} drills from {v['faults_first']} to "
            f"{v['faults_minimal']} fault(s). Without each remaining fault: "
            + (
                ", ".join(
                    f"{w['kind']} → {'still violated' if w['violated_without'] else 'holds'}"
                    for w in v["without_each_fault"]
                )
                or "—"
            )
            + ".",
            "",
            f"Scenario: `{v['scenario']}`. Reproduce: `{v['reproduce']}`",
            "",
        ]
    if doc.get("healthy_violations"):
        seen = ", ".join(f"{k} ({n} draws)" for k, n in sorted(doc["healthy_violations"].items()))
        lines += [
            f"Violated on the healthy platform too, so not blamed on the defect: {seen}.",
            "",
        ]
    lines += [
        "## Coverage (fault kind @ fake: drawn / fired)",
        "",
        "| fault | drawn | fired |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {c['drawn']} | {c['fired']} |" for k, c in doc["coverage"].items()]
    return "\n".join(lines) + "\n"
