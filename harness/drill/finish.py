"""The end of a drill: gather the record, judge it, write the report (even after an interrupt)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from fakes.core.roster import Roster, fingerprint

from ..files import atomic_write
from ..judge.judgement import judge
from ..judge.record import DrillRecord, RecordExtra
from ..judge.rows import (
    AccountFacts,
    AlertRow,
    AuditRow,
    ControlChangeRow,
    CredentialFacts,
    FaultRow,
    InboundRow,
    JobRow,
    JournalRow,
    LedgerRow,
    WorkloadRow,
    rows_of,
)
from ..report.writer import write_report
from .browser import LaneHooks
from .options import DrillResult
from .settings import scenario_settings
from .state import DrillState

__all__ = ["SERVED_IN_FLIGHT_REAL_S", "build_record", "finish", "flat_budgets", "skipped"]

#: a drill over HTTP: a request reaching a fake this long (real seconds) after a 429 was already
#: on the wire when the 429 was sent (loopback and a busy event loop: a CI run on two cores saw
#: 117 ms; the allowance grows further with the measured lag, see ``finish``)
SERVED_IN_FLIGHT_REAL_S = 0.1
#: how far two processes' readings of the scaled clock may differ, in real seconds (each reads
#: time.time(), headers carry whole seconds, timers fire late by the scheduler's whim)
SERVED_CLOCK_SKEW_REAL_S = 0.02


async def _collect(e: DrillState) -> dict[str, Any]:
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
    pc = getattr(e, "platform_client", None)
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
            # as the phases ended (running jobs still running), else as the platform has them now
            at_end = getattr(e, "jobs_at_end", None)
            jobs = list(at_end) if at_end is not None else list(await pc.jobs())
            out["jobs"] = [
                {
                    "id": j.id,
                    "state": j.state,
                    "kind": j.spec.kind,
                    "client_id": j.spec.client_id,
                    "platform": j.spec.platform,
                    # when it runs next (a retry after a platform's reset), else as asked
                    "run_at": j.next_run_at if j.next_run_at is not None else j.spec.run_at,
                    "created_at": j.created_at,
                    "updated_at": j.updated_at,
                    "attempts": j.attempts,
                    "last_error": j.last_error,
                    "approved_at": (j.result.get("approved_by") or {}).get("t"),
                    # when a person set it aside for a confirmation (RB-03's mark)
                    "marked_at": (j.result.get("marked_by") or {}).get("t"),
                    # what anyone who may list jobs reads (a secret in it is a leak)
                    "result": j.result,
                }
                for j in jobs
            ]
        controls: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            controls = dict(await pc.controls())
        out["controls_at_end"] = controls
        # the retry policy the platform states (absent from older platforms: not judged then)
        retry = controls.get("retry")
        out["retry_policy"] = dict(retry) if isinstance(retry, dict) else {}
        initial = getattr(e, "initial_budgets", None)
        if initial is not None:
            out["budgets"] = dict(initial)
        elif controls:
            out["budgets"] = flat_budgets(controls.get("budgets") or {})
    with contextlib.suppress(Exception):
        r = await e.admin.get("/faults")
        out["faults"] = r.json()
    out.update(roster=None, ledger=[], journal=[], tokens=[], inbound=[])
    view = getattr(e, "view", None)
    if view is not None:
        try:
            out["roster"] = await view.roster()
            out["ledger"] = await view.ledger()
            out["journal"] = await view.journal()
            out["tokens"] = await view.tokens()
            out["inbound"] = await view.inbound()
        except Exception as ex:  # no ground truth, no verdict: the drill is an error, never held
            out["view_error"] = f"the outside world's ground truth could not be read: {ex}"
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


def build_record(e: DrillState, got: dict[str, Any], error: str | None) -> DrillRecord:
    """The :class:`DrillRecord` of a (possibly unfinished) drill."""
    roster = got.get("roster") or Roster(clients=[])
    accounts: dict[str, AccountFacts] = {
        a.id: {"tenant_id": c.id, "platform": str(a.platform), "handle": a.handle}
        for c in roster.clients
        for a in c.accounts
    }
    credentials: dict[str, CredentialFacts] = {}
    secrets: list[str] = []
    for token, acc in got["tokens"]:
        credentials[fingerprint(token)] = {
            "account_id": acc,
            "tenant_id": accounts.get(acc, {}).get("tenant_id"),
        }
        secrets.append(token)
    ledger = list(got["ledger"])
    journal = list(got["journal"])
    invisible = {
        f"{x['fake']}:{x['resource_id']}"
        for x in ledger
        if "invisible" in str(x.get("detail") or "").split() and x.get("resource_id")
    }
    # an Instagram or LinkedIn comment hangs off a post: one that arrived before its account
    # had posted anything landed on no post, and nobody — the platform least — can read it
    inbound: list[InboundRow] = [
        i
        for i in got["inbound"]
        if not (
            i.get("kind") == "comment"
            and i.get("fake") in ("instagram", "linkedin")
            and i.get("post_id") is None
        )
    ]
    # … and one that arrived before the account's first post lands on that post when it is
    # made (the fakes' rule): nobody could read it before, so it arrives, for the judge, then
    posted = {
        (str(x.get("fake")), str(x.get("resource_id"))): float(x.get("t") or 0.0)
        for x in ledger
        if x.get("action") == "post.created" and x.get("fake") in ("instagram", "linkedin")
    }
    for n, i in enumerate(inbound):
        made = posted.get((str(i.get("fake")), str(i.get("post_id"))))
        if i.get("kind") == "comment" and made is not None and made > float(i.get("t") or 0.0):
            inbound[n] = {**i, "t": made}
    window = e.scenario.fault_window()
    ops = getattr(e, "ops", None)
    det = e.detection
    extra: RecordExtra = {
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
    if e.opts.served or e.opts.time_scale != 1.0:
        # on a wall clock (a platform over HTTP, or in-process on a game day's scaled clock):
        # how long a request may be on the wire, in the world's (scaled) seconds
        # … at least 100 real ms, and twice the worst the machine delayed this drill's own timers:
        # a machine busy enough to delay them delays the platform's and the fakes' as much
        # (in-process, between the pacer letting a post go and its audited attempt, say)
        lag = getattr(e, "lag", None)
        worst = lag.worst_s if lag is not None else 0.0
        extra["in_flight_s"] = max(SERVED_IN_FLIGHT_REAL_S * e.opts.time_scale, 2.0 * worst)
        extra["in_flight_floor_s"] = SERVED_IN_FLIGHT_REAL_S * e.opts.time_scale
        extra["loop_lag_s"] = worst
        # one process reads one clock in-process; over HTTP, two processes' clocks differ
        skew = SERVED_CLOCK_SKEW_REAL_S if e.opts.served else 0.0
        extra["clock_skew_s"] = skew * e.opts.time_scale
        extra["time_scale"] = e.opts.time_scale
    faults = got.get("faults") or {}
    return DrillRecord(
        scenario=e.scenario,
        drill_id=e.drill_id,
        seed=e.seed,
        start_t=e.t0,
        end_t=e.now(),
        timeline=e.timeline,
        commit=e.opts.commit,
        topology="served-platform" if e.opts.served else "in-process",
        mode=e.mode,
        defects=e.defects,
        ledger=rows_of(LedgerRow, ledger),
        journal=rows_of(JournalRow, journal),
        audit=rows_of(AuditRow, got.get("audit")),
        control_changes=rows_of(ControlChangeRow, got.get("control_changes")),
        control_requests=list(getattr(e, "control_requests", None) or []),
        controls_at_start=dict(getattr(e, "controls_at_start", None) or {}),
        controls_at_end=dict(got.get("controls_at_end") or {}),
        alerts=rows_of(AlertRow, got.get("alerts")),
        fault_rules=rows_of(FaultRow, faults.get("faults")),
        fault_history=rows_of(FaultRow, faults.get("history")),
        workload=rows_of(WorkloadRow, e.workload_rows),
        resubmissions=list(getattr(e, "resubmissions", None) or []),
        jobs=rows_of(JobRow, got.get("jobs")),
        metrics_samples=got.get("metrics_samples", []),
        budgets=got.get("budgets", {}),
        retry_policy=got.get("retry_policy", {}),
        accounts=accounts,
        clients={c.id: c.name for c in roster.clients},
        credentials=credentials,
        invisible_resources=frozenset(invisible),
        inbound=inbound,
        given_urls=dict(getattr(e, "given_urls", None) or {}),
        # the settings document a served platform is given is the same (``platform settings``)
        blueprints=tuple(
            scenario_settings(e.scenario, getattr(e, "clients", None) or [])["blueprints"]
        ),
        containment_t=ops.first_containment_t if ops is not None else None,
        fault_window=None if window is None else (e.t0 + window[0], e.t0 + window[1]),
        secrets=tuple(secrets),
        extra=extra,
    )


async def finish(e: DrillState, lane: LaneHooks, error: str | None) -> DrillResult:
    """Judge and write the drill; returns the :class:`DrillResult`."""
    got = await _collect(e)
    if got.get("view_error") and error is None:
        error = str(got["view_error"])
        e.ev("drill.failed", "drill", f"harness error: {error}", {"error": error})
    record = lane.amend(build_record(e, got, error))
    if not e.opts.write:  # judged in memory only (exploration draws): no report folder
        v = judge(record, error=error)
        sha = record.timeline.sha256()
        return DrillResult(
            e.drill_id, e.scenario.id, v.verdict, v.to_json(), None, sha, verdict_obj=v
        )
    out_dir = e.opts.reports_dir / e.drill_id
    lane.write_files(out_dir)
    rep = write_report(record, e.opts.reports_dir, error=error)
    out_dir = Path(rep.dir)
    verdict = rep.verdict
    vj: dict[str, Any] = verdict.to_json()
    replay = {
        "scenario": e.scenario.model_dump(mode="json"),
        "seed": e.seed,
        "defects": list(e.defects),
        "mode": e.mode,
        "commit": e.opts.commit,
        "timeline_sha256": record.timeline.sha256(),
    }
    atomic_write(out_dir / "replay.json", json.dumps(replay, indent=2, sort_keys=True) + "\n")
    return DrillResult(
        drill_id=e.drill_id,
        scenario=e.scenario.id,
        verdict=str(vj.get("verdict")),
        verdict_json=vj,
        report_dir=out_dir,
        timeline_sha256=record.timeline.sha256(),
        simulated_s=e.now() - e.t0,
        interrupted=e.interrupted,
        verdict_obj=verdict,
    )


def skipped(e: DrillState, reason: str) -> DrillResult:
    """A drill that could not run here (a served platform lacks what the scenario needs): never
    judged ``held``; its folder holds a ``verdict.json`` saying ``skipped`` and why."""
    vj: dict[str, Any] = {
        "drill_id": e.drill_id,
        "scenario": e.scenario.id,
        "verdict": "skipped",
        "reason": reason,
        "topology": "served-platform" if e.opts.served else "in-process",
        "invariants": [],
    }
    out_dir: Path | None = None
    if e.opts.write:
        out_dir = e.opts.reports_dir / e.drill_id
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(out_dir / "verdict.json", json.dumps(vj, indent=2, sort_keys=True) + "\n")
    return DrillResult(e.drill_id, e.scenario.id, "skipped", vj, out_dir, "", notes=[reason])
