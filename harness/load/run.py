"""``vibedrill load``: a bounded Locust load test of the platform's rate-limit handling.

The run, in four pieces: :func:`collect` starts the fakes (``vibedrill serve``) and the
platform (``vibedrill platform serve``) as child processes on 127.0.0.1 (free ports) — or uses
a running pair (``--platform-url`` and ``--world``) — installs a 429 storm on the fakes, runs
Locust headless in a child process (:mod:`harness.load.locustfile`: its users submit publish
and reply jobs to the platform's job intake and poll them), heals the storm, lets the platform
drain and pulls the fakes' journal and ledger and the platform's audit; :func:`load_record`
turns that into a :class:`~harness.judge.record.DrillRecord` that names what it is judged by
(the invariants ``rate_within_platform_limits``, ``no_duplicate_side_effects``,
``every_side_effect_audited`` and the reached checks, as a scenario does); :func:`judge_load`
judges it with :func:`harness.judge.judgement.judge`, as every drill is; :func:`load_report` and
:func:`~harness.load.summary.write_load_report` write ``<reports>/load-<defects or
healthy>/load.json``, ``load.md`` and the evidence.

Wall-clock time (``time.time``, ``time.sleep``) is deliberate here: a load test drives real
servers over real sockets, so it is not a virtual-time drill and promises no timeline hash.
Locust never runs in this process: its gevent monkey-patching does not mix with asyncio.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..judge.invariants import InvariantResult, evaluate
from ..judge.judgement import judge
from ..judge.record import SOCIAL_FAKES, DrillRecord, scenario_field, scenario_items
from ..judge.rows import (
    AccountFacts,
    AuditRow,
    FaultRow,
    JobRow,
    JournalRow,
    LedgerRow,
    WorkloadRow,
    rows_of,
)
from ..judge.timeline import Timeline
from ..platform_adapter import PlatformServeUsageError, load_served_world
from .charts import write_load_html
from .options import (
    DEFAULT_FAULT,
    DEFAULT_FAULT_ROUTE,
    INVARIANTS,
    MAX_REQUESTS_CAP,
    MAX_RUN_TIME_S,
    UNSETTLED,
    LoadError,
    LoadOptions,
    LoadResult,
    LoadUsageError,
    fault_spec,
    with_commit,
)
from .servers import Admin, Child, drain, run_locust, sigterm_as_interrupt, start_world, targets_of
from .shapes import shape_plan
from .summary import percentile_row, rate_limits, side_effects, write_load_report
from .timeline import QueueSampler, load_timeline

__all__ = [
    "DEFAULT_FAULT",
    "DEFAULT_FAULT_ROUTE",
    "INVARIANTS",
    "MAX_REQUESTS_CAP",
    "MAX_RUN_TIME_S",
    "Child",
    "Collected",
    "LoadError",
    "LoadJudgement",
    "LoadOptions",
    "LoadResult",
    "LoadUsageError",
    "collect",
    "fault_spec",
    "judge_load",
    "load_record",
    "load_report",
    "run_load",
    "with_commit",
]


@dataclass
class Collected:
    """What one load test gathered from the servers, before it is judged."""

    base: str
    platforms: list[str]
    targets: list[dict[str, str]]
    faults: list[dict[str, Any]]
    fault_ids: list[str]
    roster: dict[str, Any]
    locust: dict[str, Any]
    jobs: list[dict[str, Any]]
    journal: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    #: the storm's rules while installed (their params) and the fakes' rule history (hits)
    installed: list[dict[str, Any]]
    history: list[dict[str, Any]]
    t_start: float
    t_heal: float
    t_end: float
    drained_s: float
    #: the platform's queue depth, sampled once a second from the storm to the end of the drain
    queue: list[dict[str, float]] = field(default_factory=list)


@dataclass
class LoadJudgement:
    """The verdict of a load test: invariants, reached checks, and the 429-adjacent count."""

    verdict: str
    invariants: list[InvariantResult]
    reached: list[dict[str, Any]]
    #: requests already in flight when a 429 was served (not counted as early)
    in_flight: int
    violated: list[str] = field(default_factory=list)


def _storm(opts: LoadOptions) -> list[dict[str, Any]]:
    return list(opts.faults) or [
        fault_spec(DEFAULT_FAULT, retry_after_s=3.0, probability=0.3, route=DEFAULT_FAULT_ROUTE)
    ]


def collect(opts: LoadOptions, note: Callable[[str], None]) -> Collected:
    """Start (or reach) the servers, storm them under Locust traffic, drain, pull the evidence.

    Every child process is stopped and reaped before this returns or raises.
    """
    faults = _storm(opts)
    platforms = sorted({str(f["kind"]).split(".", 1)[0] for f in faults} & set(SOCIAL_FAKES))
    platforms = platforms or ["x"]
    # the temporary folder outlives the children (their logs are in it): it is left last
    with (
        sigterm_as_interrupt(),
        tempfile.TemporaryDirectory(prefix="vibedrill-load-") as tmp_name,
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        if opts.platform_url is None:
            doc, base = start_world(opts, tmp, stack, note)
        else:
            assert opts.world is not None
            try:
                doc = load_served_world(opts.world)
            except PlatformServeUsageError as e:
                raise LoadUsageError(f"--world: {e}") from None
            base = opts.platform_url.rstrip("/")
        api = Admin(str(doc["admin"]), base, opts.admin_token)
        stack.callback(api.close)
        try:
            hw = api.high_water()
            roster = api.get("/roster")
        except httpx.HTTPError as e:
            raise LoadError(f"cannot reach the fakes' admin API at {doc['admin']}: {e}") from None
        targets = targets_of(roster, platforms)
        if not targets:
            raise LoadUsageError(f"the world has no account on {', '.join(platforms)}")
        n_workers = opts.workers + opts.expect_workers
        if n_workers > len(targets):
            raise LoadUsageError(
                f"--workers/--expect-workers: {n_workers} workers for {len(targets)} target "
                f"accounts; each worker acts for its own accounts, so use at most {len(targets)}"
            )
        prefix = f"load-{opts.seed}-{os.urandom(4).hex()}-"
        t_start = time.time()
        fault_ids = api.install(faults)
        stack.callback(api.remove, fault_ids)
        sampler = QueueSampler(base, opts.admin_token).start()
        stack.callback(sampler.stop)
        note(
            f"storm installed: {', '.join(str(f['kind']) for f in faults)}; "
            f"Locust: {opts.users} users ({opts.shape}) for {opts.run_time_s:g}s"
            + (f" on {opts.workers} workers under a master" if opts.workers else "")
            + (f" and {opts.expect_workers} started elsewhere" if opts.expect_workers else "")
        )
        cfg = {
            "host": base,
            "users": opts.users,
            "spawn_rate": opts.spawn_rate,
            "run_time_s": opts.run_time_s,
            "max_requests": opts.max_requests,
            "jobs_per_account": opts.jobs_per_account,
            "seed": opts.seed,
            "targets": targets,
            "reply_platforms": ["x"],
            "wait_s": list(opts.wait_s),
            "key_prefix": prefix,
            "shape": opts.shape,
        }
        locust = run_locust(
            cfg,
            tmp,
            stack,
            opts.workers,
            expect_workers=opts.expect_workers,
            master_host=opts.master_host,
            master_port=opts.bind_port,
            expect_workers_timeout_s=opts.expect_workers_timeout_s,
            note=note,
        )
        t_heal = time.time()
        # the rules' params (Retry-After) are only listed while installed; history keeps hits
        installed = api.get("/faults").get("faults") or []
        api.remove(fault_ids)
        note(
            f"Locust done: {locust['stats']['total']['requests']} requests, "
            f"{len(locust.get('submitted') or [])} jobs; storm healed; draining "
            f"(at most {opts.drain_s:g}s)"
        )
        jobs, drained_s = drain(api, prefix, opts.drain_s)
        journal = [e for e in api.get("/journal").get("entries") or [] if e["seq"] > hw["journal"]]
        ledger = [e for e in api.get("/ledger").get("entries") or [] if e["seq"] > hw["ledger"]]
        audit, _ = api.audit(hw["audit"])
        history = api.get("/faults").get("history") or []
        queue = sampler.stop()
        t_end = time.time()
    return Collected(
        base=base,
        platforms=platforms,
        targets=targets,
        faults=faults,
        fault_ids=fault_ids,
        roster=roster,
        locust=locust,
        jobs=jobs,
        journal=journal,
        ledger=ledger,
        audit=audit,
        installed=installed,
        history=history,
        t_start=t_start,
        t_heal=t_heal,
        t_end=t_end,
        drained_s=drained_s,
        queue=queue,
    )


def load_record(opts: LoadOptions, got: Collected) -> DrillRecord:
    """The drill record of a load test: the same record the in-process drills are judged on."""
    ids = set(got.fault_ids)
    accounts: dict[str, AccountFacts] = {
        a["id"]: {"tenant_id": c["id"], "platform": a["platform"], "handle": a.get("handle")}
        for c in got.roster.get("clients") or []
        for a in c.get("accounts") or []
    }
    workload = [
        {
            "job_id": j["id"],
            "kind": j["spec"]["kind"],
            "client_id": j["spec"]["client_id"],
            "platform": j["spec"].get("platform"),
            "account_id": j["spec"].get("account_id"),
            "idempotency_key": j["spec"].get("idempotency_key"),
            "submitted_at": j["created_at"],
        }
        for j in got.jobs
    ]
    jobs = [
        {
            "id": j["id"],
            "state": j["state"],
            "kind": j["spec"]["kind"],
            "client_id": j["spec"]["client_id"],
            "platform": j["spec"].get("platform"),
            "created_at": j["created_at"],
            "updated_at": j["updated_at"],
            "attempts": j["attempts"],
            "last_error": j["last_error"],
        }
        for j in got.jobs
    ]
    # what the load test is judged by, named as a scenario names it: the invariants (the rate
    # invariant with the in-flight grace), one reached check per storm rule, and the jobs
    invariants = [
        {"name": n, "params": {"in_flight_s": opts.in_flight_s}}
        if n == "rate_within_platform_limits"
        else {"name": n, "params": {}}
        for n in INVARIANTS
    ]
    reached: list[dict[str, Any]] = [
        {"name": f"{f['kind']} fired", "fault": f["kind"], "rule": rid}
        for rid, f in zip(got.fault_ids, got.faults, strict=True)
    ]
    reached.append({"name": "jobs submitted", "probe": "job.submitted"})
    timeline = Timeline()
    for j in sorted(got.jobs, key=lambda j: (float(j["created_at"]), str(j["id"]))):
        sp = j["spec"]
        timeline.append(
            float(j["created_at"]),
            "job.submitted",
            "drill",
            f"job {j['id']} submitted ({sp['kind']})",
            {
                "job_id": j["id"],
                "kind": sp["kind"],
                "client_id": sp["client_id"],
                "platform": sp.get("platform"),
            },
        )
    return DrillRecord(
        scenario={
            "id": opts.report_id,
            "title": "Locust load test of rate-limit handling",
            "runbook": "RB-05",
            "severity": "P2",
            "incident_types": ["RATE"],
            "invariants": invariants,
            "reached": reached,
        },
        drill_id=opts.report_id,
        seed=opts.seed,
        start_t=got.t_start,
        end_t=got.t_end,
        timeline=timeline,
        commit=opts.commit,
        topology="served",
        mode="observe",
        defects=opts.defects,
        ledger=rows_of(LedgerRow, got.ledger),
        journal=rows_of(JournalRow, got.journal),
        audit=rows_of(AuditRow, got.audit),
        fault_rules=rows_of(FaultRow, [r for r in got.installed if r.get("id") in ids]),
        fault_history=rows_of(FaultRow, [h for h in got.history if h.get("id") in ids]),
        workload=rows_of(WorkloadRow, workload),
        jobs=rows_of(JobRow, jobs),
        accounts=accounts,
        clients={c["id"]: c.get("name", c["id"]) for c in got.roster.get("clients") or []},
        fault_window=(got.t_start, got.t_heal),
    )


def judge_load(record: DrillRecord) -> LoadJudgement:
    """Judge the record with :func:`~harness.judge.judgement.judge` (the drills' judge): the
    invariants and reached checks it names (:func:`load_record`), none of the drills' defaults.

    ``violated`` over ``vacuous`` (the storm never fired, or no job was submitted) over ``held``;
    a spec the judge cannot use (a harness error) raises :class:`LoadError`.
    """
    verdict = judge(record, defaults=())
    if verdict.verdict == "error":
        raise LoadError(f"judging the load test failed: {verdict.error}")
    # the 429-adjacent requests the in-flight grace let pass: the strict rule's count minus the
    # judged one's (a measure for the report, not part of the verdict)
    rate = next(r for r in verdict.invariants if r.name == "rate_within_platform_limits")
    strict = evaluate("rate_within_platform_limits", record)
    in_flight = max(0, strict.count - rate.count)
    rules = [scenario_field(c, "rule") for c in scenario_items(record.scenario, "reached")]
    reached: list[dict[str, Any]] = [
        {"name": r.name, "hit": r.hit, "count": r.count}
        | ({} if rule is None else {"fault_id": rule})
        for r, rule in zip(verdict.reached, rules, strict=True)
    ]
    violated = [r.name for r in verdict.violated]
    return LoadJudgement(verdict.verdict, list(verdict.invariants), reached, in_flight, violated)


def load_report(
    opts: LoadOptions, got: Collected, record: DrillRecord, judged: LoadJudgement
) -> dict[str, Any]:
    """``load.json``: options, storm, Locust's numbers, jobs, 429s, side effects, verdict."""
    by_state = dict(sorted(Counter(j["state"] for j in got.jobs).items()))
    stats = got.locust["stats"]
    submitted = list(got.locust.get("submitted") or [])
    rate = rate_limits(record.journal, set(got.fault_ids))
    by_name = {r.name: r for r in judged.invariants}
    rate["early_requests"] = by_name["rate_within_platform_limits"].count
    rate["in_flight_after_429"] = judged.in_flight
    rate["in_flight_s"] = opts.in_flight_s
    plan = shape_plan(opts.shape, opts.users, opts.spawn_rate, opts.run_time_s)
    return {
        "id": opts.report_id,
        "verdict": judged.verdict,
        "violated": judged.violated,
        "commit": opts.commit,
        "topology": "served",
        "platform": got.base,
        "defects": list(opts.defects),
        "options": {
            "users": opts.users,
            "spawn_rate": opts.spawn_rate,
            "run_time_s": opts.run_time_s,
            "max_requests": opts.max_requests,
            "jobs_per_account": opts.jobs_per_account,
            "drain_s": opts.drain_s,
            "seed": opts.seed,
            "workers": opts.workers,
            "expect_workers": opts.expect_workers,
            "shape": opts.shape,
            "platforms": got.platforms,
            "accounts": len(got.targets),
        },
        "faults": [{"id": rid, **f} for rid, f in zip(got.fault_ids, got.faults, strict=True)],
        "window": {
            "start": got.t_start,
            "heal": got.t_heal,
            "end": got.t_end,
            "load_s": round(got.t_heal - got.t_start, 3),
            "drain_s": round(got.drained_s, 3),
        },
        "locust": {
            "total": stats["total"],
            "by_name": stats["by_name"],
            "errors": stats["errors"],
            "stopped_by": got.locust["stopped_by"],
            "wall_s": got.locust["wall_s"],
        },
        "intake": percentile_row(stats["by_name"].get("POST /jobs")),
        "jobs": {
            "submitted": len(got.jobs),
            # accepted by the platform, but Locust stopped before it read the answer
            "answer_cut_off": len({j["id"] for j in got.jobs} - {s["job_id"] for s in submitted}),
            "by_kind": dict(sorted(Counter(j["spec"]["kind"] for j in got.jobs).items())),
            "by_state": by_state,
            "unsettled": sum(v for k, v in by_state.items() if k in UNSETTLED),
        },
        "rate_limits": rate,
        "side_effects": side_effects(record.ledger, got.t_start, got.t_end),
        "invariants": [r.to_json() for r in judged.invariants],
        "reached": judged.reached,
        "counts": {
            "journal": len(got.journal),
            "ledger": len(got.ledger),
            "audit": len(got.audit),
        },
        "timeline": load_timeline(
            t_start=got.t_start,
            t_heal=got.t_heal,
            t_end=got.t_end,
            samples=got.locust.get("samples") or [],
            queue=got.queue,
            journal=record.journal,
            ledger=record.ledger,
            fault_ids=set(got.fault_ids),
            planned=plan.curve(),
            surge_at_s=plan.surge_at_s,
            locust_start=got.locust.get("started_at"),
        ),
    }


def run_load(opts: LoadOptions, note: Callable[[str], None] = print) -> LoadResult:
    """Run the load test; write the report; return the verdict and exit code (0, 1).

    Raises ``LoadUsageError`` (exit 2), ``LoadError`` (exit 3) and ``KeyboardInterrupt``; every
    child process is stopped and reaped before any of them leaves this function.
    """
    opts.check()
    got = collect(opts, note)
    record = load_record(opts, got)
    judged = judge_load(record)
    rep = load_report(opts, got, record, judged)
    out_dir = opts.reports_dir / opts.report_id
    write_load_report(out_dir, rep, record)
    write_load_html(out_dir, rep)
    code = 0 if judged.verdict == "held" else 1
    return LoadResult(judged.verdict, code, rep, out_dir, judged.violated)
