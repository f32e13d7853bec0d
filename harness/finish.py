"""The end of a drill: gather the record, judge it, write the report (even after an interrupt)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fakes.core.roster import fingerprint

from .record import DrillRecord

if TYPE_CHECKING:
    from .drill import DrillResult
    from .engine import DrillEngine

__all__ = ["build_record", "finish", "flat_budgets"]


async def _collect(e: DrillEngine) -> dict[str, Any]:
    """Everything the platform and the fakes can tell, tolerating a half-built drill."""
    out: dict[str, Any] = {
        "audit": [],
        "control_changes": [],
        "alerts": [],
        "jobs": [],
        "budgets": {},
        "faults": {},
    }
    det = getattr(e, "detector", None)
    pc = getattr(e, "pc", None)
    if pc is not None and det is not None:
        with contextlib.suppress(Exception):
            await det.poll(e.now())
        out["audit"] = list(det.audit)
        out["alerts"] = list(det.platform_alerts)
        out["metrics_samples"] = list(det.metrics_samples)
    if pc is not None:
        with contextlib.suppress(Exception):
            out["control_changes"] = list(await pc.control_changes(0))
        with contextlib.suppress(Exception):
            out["jobs"] = [
                {
                    "id": j.id,
                    "state": j.state,
                    "kind": j.spec.kind,
                    "client_id": j.spec.client_id,
                    "platform": j.spec.platform,
                    "run_at": j.spec.run_at,
                    "created_at": j.created_at,
                    "updated_at": j.updated_at,
                    "attempts": j.attempts,
                    "last_error": j.last_error,
                    "approved_at": (j.result.get("approved_by") or {}).get("t"),
                }
                for j in await pc.jobs()
            ]
        initial = getattr(e, "initial_budgets", None)
        if initial is not None:
            out["budgets"] = dict(initial)
        else:
            with contextlib.suppress(Exception):
                controls = await pc.controls()
                out["budgets"] = flat_budgets(controls.get("budgets") or {})
    with contextlib.suppress(Exception):
        r = await e.admin.get("/faults")
        out["faults"] = r.json()
    return out


def flat_budgets(budgets: dict[str, Any]) -> dict[str, Any]:
    """The platform's budgets (``{"platform": {...}, "clients": {id: {...}}}``) in the record's
    shape: ``{key: number}`` for platform-wide budgets, ``{key: {client: number}}`` where a client
    has its own (a platform-wide number is kept under ``"*"``)."""
    if "platform" not in budgets and "clients" not in budgets:
        return {k: v for k, v in budgets.items() if v is not None}
    out: dict[str, Any] = {
        k: v for k, v in (budgets.get("platform") or {}).items() if v is not None
    }
    for client, own in sorted((budgets.get("clients") or {}).items()):
        for k, v in (own or {}).items():
            if v is None:
                continue
            cur = out.get(k)
            per = dict(cur) if isinstance(cur, dict) else ({} if cur is None else {"*": cur})
            per[client] = v
            out[k] = per
    return out


def build_record(e: DrillEngine, got: dict[str, Any], error: str | None) -> DrillRecord:
    """The :class:`DrillRecord` of a (possibly unfinished) drill."""
    w = e.world
    roster = w.roster
    accounts = {
        a.id: {"tenant_id": c.id, "platform": a.platform, "handle": a.handle}
        for c in roster.clients
        for a in c.accounts
    }
    credentials: dict[str, dict[str, Any]] = {}
    secrets: list[str] = []
    for token, st in list(w.tokens.access.items()) + list(w.tokens.refresh.items()):
        acc = st.account_id
        credentials[fingerprint(token)] = {
            "account_id": acc,
            "tenant_id": accounts.get(acc, {}).get("tenant_id"),
        }
        secrets.append(token)
    ledger = [x.to_json() if hasattr(x, "to_json") else dict(x._asdict()) for x in w.ledger]
    journal = [
        x.to_json() if hasattr(x, "to_json") else dict(x._asdict()) for x in w.journal.entries()
    ]
    invisible = {
        f"{x['fake']}:{x['resource_id']}"
        for x in ledger
        if x.get("detail") == "invisible" and x.get("resource_id")
    }
    inbound = [
        {
            "id": i.id,
            "fake": i.fake,
            "kind": i.kind,
            "account_id": i.account_id,
            "post_id": i.post_id,
            "author": i.author,
            "t": i.at,
            "echo": i.echo_of,
        }
        for i in w.inbound.items
    ]
    window = e.s.fault_window()
    ops = getattr(e, "ops", None)
    det = e.detection
    extra = {
        "verification": e.verifications,
        "snapshots": e.snapshots,
        "detection": None
        if det is None
        else {
            "t": det.t,
            "rule": det.rule,
            "source": det.source,
            "message": det.message,
            "platforms": list(det.platforms),
            "clients": list(det.clients),
        },
        "runbook_steps": list(ops.done) if ops is not None else [],
        "detection_rules": e.detector.describe() if hasattr(e, "detector") else [],
        "interrupted": e.interrupted,
        "error": error,
        "simulated_s": e.now() - e.t0,
    }
    faults = got.get("faults") or {}
    return DrillRecord(
        scenario=e.s,
        drill_id=e.drill_id,
        seed=e.seed,
        start_t=e.t0,
        end_t=e.now(),
        timeline=e.tl,
        commit=e.opts.commit,
        topology="in-process",
        mode=e.mode,
        defects=e.defects,
        ledger=ledger,
        journal=journal,
        audit=got.get("audit", []),
        control_changes=got.get("control_changes", []),
        alerts=got.get("alerts", []),
        fault_rules=faults.get("faults", []),
        fault_history=faults.get("history", []),
        workload=e.workload_rows,
        jobs=got.get("jobs", []),
        metrics_samples=got.get("metrics_samples", []),
        budgets=got.get("budgets", {}),
        accounts=accounts,
        clients={c.id: c.name for c in roster.clients},
        credentials=credentials,
        invisible_resources=frozenset(invisible),
        inbound=inbound,
        containment_t=ops.first_containment_t if ops is not None else None,
        fault_window=None if window is None else (e.t0 + window[0], e.t0 + window[1]),
        secrets=tuple(secrets),
        extra=extra,
    )


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _fallback_verdict(record: DrillRecord, error: str | None) -> dict[str, Any]:
    """Judge with the invariants directly while the judge module is not available."""
    from .invariants import evaluate

    s = record.scenario
    results = [evaluate(spec, record).to_json() for spec in s.invariants]
    hits: dict[str, int] = {}
    for row in record.fault_rows():
        hits[str(row.get("kind"))] = hits.get(str(row.get("kind")), 0) + int(row.get("hits") or 0)
    reached = [
        {
            "name": c.name,
            "hit": hits.get(c.fault or "", 0) >= c.min_hits,
            "count": hits.get(c.fault or "", 0),
        }
        for c in s.reached_checks
    ]
    det = record.timeline.first("incident.detected")
    start = record.window()
    verdict = "held"
    if error:
        verdict = "error"
    elif any(r["verdict"] == "violated" for r in results):
        verdict = "violated"
    elif not all(r["hit"] for r in reached):
        verdict = "vacuous"
    return {
        "drill_id": record.drill_id,
        "scenario": s.id,
        "runbook": s.runbook,
        "severity": s.severity,
        "seed": record.seed,
        "commit": record.commit,
        "topology": record.topology,
        "mode": record.mode,
        "defects": list(record.defects),
        "verdict": verdict,
        "invariants": results,
        "reached": reached,
        "metrics": {"time_to_detect_s": None if det is None or start is None else det.t - start[0]},
        "timeline_sha256": record.timeline.sha256(),
    }


async def finish(e: DrillEngine, error: str | None) -> DrillResult:
    """Judge and write the drill; returns the :class:`DrillResult`."""
    from .drill import DrillResult

    got = await _collect(e)
    record = e.lane.amend(build_record(e, got, error))
    out_dir = e.opts.reports_dir / e.drill_id
    e.lane.write_files(out_dir)
    try:
        from .report import write_report
    except ImportError:  # before the judging/reporting modules land
        write_report = None  # type: ignore[assignment]
    verdict: Any = None
    if write_report is not None:
        rep = write_report(record, e.opts.reports_dir, error=error)
        out_dir = Path(rep.dir)
        verdict = rep.verdict
        vj: dict[str, Any] = verdict.to_json()
    else:
        vj = _fallback_verdict(record, error)
        _write_atomic(out_dir / "verdict.json", json.dumps(vj, indent=2, sort_keys=True) + "\n")
        _write_atomic(out_dir / "timeline.jsonl", record.timeline.to_jsonl())
    replay = {
        "scenario": e.s.model_dump(mode="json"),
        "seed": e.seed,
        "defects": list(e.defects),
        "mode": e.mode,
        "commit": e.opts.commit,
        "timeline_sha256": record.timeline.sha256(),
    }
    _write_atomic(out_dir / "replay.json", json.dumps(replay, indent=2, sort_keys=True) + "\n")
    return DrillResult(
        drill_id=e.drill_id,
        scenario=e.s.id,
        verdict=str(vj.get("verdict")),
        verdict_json=vj,
        report_dir=out_dir,
        timeline_sha256=record.timeline.sha256(),
        simulated_s=e.now() - e.t0,
        interrupted=e.interrupted,
        verdict_obj=verdict,
    )
