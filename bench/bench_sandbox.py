"""Benchmark the sandbox platform in-process: publish jobs per second and peak RSS for 100,000 jobs.

A world of ``--clients`` tenants (64, the roster's maximum: 192 social accounts on x, instagram
and linkedin) and a healthy platform run on one virtual-time loop (``harness.clock``), the
platform reaching the fakes through their in-process transport. ``--jobs`` publish jobs (each:
tenancy guard, post, wait, look the post up until visible, audit the attempt and the outcome)
are spread over simulated days so that no account or app goes over the fakes' *default* daily
caps — X 100 posts per user and 1,667 per app per 24 h, Instagram 50 per account per moving
24 h, LinkedIn 150 per member per UTC day — instead of turning the run into a retry tail: each
account gets ``--per-day`` posts per UTC day (24 by default: 64 × 24 = 1,536 X posts a day,
under the app cap), at even intervals, an even mix of the three platforms. A feeder submits
each day's jobs at that day's midnight with ``run_at`` times across the day; the run ends when
every job is terminal. The fakes keep their default options; the one platform setting the bench
changes is the engagement poll loop, which it turns off (see ``config.engagement_polling``).

Each measurement runs in a fresh subprocess (``--worker``), so its peak RSS
(``ru_maxrss``) is its own: one with the world and platform started and no job (the baseline)
and one with ``--jobs`` jobs (its rate is also reported per tenth of the jobs finished, which
shows whether a job gets dearer as the run grows), plus, with ``--scaling-jobs``, a smaller run
to compare the rate against. The main run is also checked for correctness: every job terminal
(and succeeded), one ledger post per succeeded job on the job's own account, one success audit
event per ledger side effect.

Throughput is jobs per CPU-second of the worker: the worker is single-threaded and never waits
for real time (virtual clock, in-process transport), so that is its wall rate on a core of its
own; wall-clock jobs/s is reported beside it, because on a shared machine it mostly measures the
neighbours (``machine.load_avg``). Writes ``reports/bench/sandbox.json`` (or ``--out``) and
prints a summary; ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DAY = 86_400.0
PLATFORMS = ("x", "instagram", "linkedin")
#: the fakes' default post caps the schedule stays under (documented in the report)
DEFAULT_CAPS = {
    "x": "100 posts per user and 1,667 per app per 24 h (XOptions defaults)",
    "instagram": "50 posts per account per moving 24 h (InstagramOptions.publish_limit)",
    "linkedin": "150 posts per member per UTC day (LinkedInOptions.member_daily)",
}
TARGET_JOBS_PER_S = 300.0
TARGET_RSS_MB = 500.0


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the worker: one measurement in its own process -------------------------------------------
async def workload(jobs: int, clients: int, per_day: int, seed: int) -> dict[str, Any]:
    """Run ``jobs`` publish jobs against a fresh world; numbers and correctness counts."""
    import fakes
    from fakes.core.roster import Roster
    from sandbox import Platform, Settings
    from sandbox.contract import JobSpec
    from sandbox.jobs import TERMINAL_STATES

    loop = asyncio.get_running_loop()
    t_setup = time.perf_counter()
    world = fakes.World(
        roster=Roster.generate(clients=clients, platforms=PLATFORMS, seed=seed),
        now=loop.time,
        seed=seed,
    )
    fw = fakes.FakeWorld(world)
    settings, secrets = Settings.from_roster(world.roster_with_secrets())
    p = Platform(settings, secrets, transport=fw.transport(), now=loop.time, seed=seed)
    # publish-only workload: the engagement engine's 30 s poll reads every account's inbox (on
    # Instagram up to 26 calls per account), which is not what is measured here
    p.components["sandbox.engagement"].poll_interval_s = 0
    accounts = [(c.client_id, a.platform) for c in settings.clients for a in c.accounts]
    intended: dict[tuple[str, str], str] = {
        (c.client_id, a.platform): a.account_id for c in settings.clients for a in c.accounts
    }
    per_day_all = per_day * len(accounts)
    days = -(-jobs // per_day_all) if jobs else 0
    start = (loop.time() // DAY + 1) * DAY  # the next UTC midnight: LinkedIn counts UTC days
    setup_s = time.perf_counter() - t_setup

    async def feed() -> None:
        n = 0
        for d in range(days):
            await asyncio.sleep(max(0.0, start + d * DAY - loop.time()))
            # slot k of the day at 00:05 + k × (23 h / per_day); accounts interleaved in each slot
            step = (DAY - 3600) / per_day
            for k in range(per_day):
                for client_id, plat in accounts:
                    if n >= jobs:
                        return
                    run_at = start + d * DAY + 300 + k * step
                    text = f"{client_id} on {plat}: day {d} post {k} (#{n})"
                    p.submit(
                        JobSpec(
                            kind="publish",
                            client_id=client_id,
                            platform=plat,
                            payload={"text": text},
                            run_at=run_at,
                        )
                    )
                    n += 1

    async with fw.running():
        wall0, cpu0, vt0 = time.perf_counter(), time.process_time(), loop.time()
        await p.start()
        feeder = asyncio.create_task(feed())
        # CPU time at each tenth of the jobs finished: the rate per tranche shows whether a
        # job gets dearer as the run (store, audit, ledger) grows
        tenth, marks = max(1, jobs // 10), [(0, 0.0)]
        while True:
            await asyncio.sleep(60)
            busy = sum(v for k, v in p.jobs.counts.items() if k not in TERMINAL_STATES)
            done = len(p.jobs) - busy
            if done >= marks[-1][0] + tenth:
                marks.append((done, time.process_time() - cpu0))
            if feeder.done() and not busy:
                break
        await feeder
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        simulated_days = (loop.time() - vt0) / DAY
        peak_run = rss_mb()
        out: dict[str, Any] = {
            "jobs": jobs,
            "setup_seconds": round(setup_s, 2),
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "jobs_per_wall_second": round(jobs / wall, 1) if jobs else None,
            "jobs_per_cpu_second": round(jobs / cpu, 1) if jobs else None,
            "cpu_share": round(cpu / wall, 3),
            "schedule_days": days,
            "simulated_days": round(simulated_days, 2),
            "peak_rss_mb": round(peak_run, 1),
            "jobs_per_cpu_second_by_tranche": [
                {"jobs_done": b, "rate": round((b - a) / (tb - ta), 1)}
                for (a, ta), (b, tb) in pairwise(marks)
                if tb > ta
            ],
        }
        out["counts"] = check(p, world, intended) if jobs else {}
        out["peak_rss_mb_after_checks"] = round(rss_mb(), 1)
        await p.stop()
    return out


def check(p: Any, world: Any, intended: dict[tuple[str, str], str]) -> dict[str, Any]:
    """Correctness of a finished run: states, ledger vs jobs, audit vs ledger (counts)."""
    from sandbox.jobs import TERMINAL_STATES

    states = Counter(j.state for j in p.jobs.all())
    succeeded = [j for j in p.jobs.all() if j.state == "succeeded"]
    ledger_actions = Counter(e.action for e in world.ledger)
    posts = {
        (e.fake, e.resource_id): e.account_id for e in world.ledger if e.action == "post.created"
    }
    wrong_account = sum(
        1
        for j in succeeded
        if posts.get((j.spec.platform, j.result.get("resource_id")))
        != intended[(j.spec.client_id, j.spec.platform)]
    )
    audit_success: Counter[str] = Counter()
    audit_phases: Counter[str] = Counter()
    success_keys: Counter[tuple[str, str]] = Counter()
    cursor = 0
    while True:  # paged, so the check does not hold every event as a model at once
        page = p.audit.page(cursor, 10_000)
        if not page.events:
            break
        cursor = page.next_cursor
        for e in page.events:
            audit_phases[f"{e.phase}:{e.outcome}" if e.outcome else e.phase] += 1
            if e.phase == "outcome" and e.outcome == "success":
                audit_success[e.action] += 1
                success_keys[(e.platform, str(e.proof.get("resource_id")))] += 1
    side_effects = len(world.ledger)  # every ledger entry is a side effect in the fakes
    ledger_posts_with_one_success = sum(1 for k in posts if success_keys.get(k) == 1)
    non_terminal = sum(n for s, n in states.items() if s not in TERMINAL_STATES)
    snap = p.telemetry.snapshot()
    return {
        "job_states": dict(sorted(states.items())),
        "jobs_terminal": sum(states.values()) - non_terminal,
        "jobs_non_terminal": non_terminal,
        "jobs_succeeded": len(succeeded),
        "jobs_verified": sum(1 for j in succeeded if j.result.get("verified")),
        "jobs_retried": sum(1 for j in p.jobs.all() if j.attempts > 1),
        "ledger_actions": dict(sorted(ledger_actions.items())),
        "ledger_posts": len(posts),
        "ledger_posts_by_platform": dict(sorted(Counter(f for f, _ in posts).items())),
        "ledger_side_effects": side_effects,
        "posts_on_wrong_account": wrong_account,
        "audit_events": len(p.audit),
        "audit_events_by_phase": dict(sorted(audit_phases.items())),
        "audit_success_events": sum(audit_success.values()),
        "audit_success_by_action": dict(sorted(audit_success.items())),
        "ledger_posts_with_exactly_one_success_event": ledger_posts_with_one_success,
        "audit_gap": p.audit.gap(),
        "rate_limit_hits": snap.get("rate_limit_hits_total", 0.0),
        "dead_letters": snap.get("dead_letters_total", 0.0),
        "alerts_fired": sorted({a.name for a in p.alerts.fired}),
    }


def worker(args: argparse.Namespace) -> int:
    from harness.clock import run_virtual

    res = run_virtual(lambda: workload(args.jobs, args.clients, args.per_day, args.seed))
    res["peak_rss_mb_process"] = round(rss_mb(), 1)
    print(json.dumps(res))
    return 0


# --- the parent: subprocesses, targets, report ------------------------------------------------
def measure(jobs: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its JSON."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--jobs",
        str(jobs),
        "--clients",
        str(args.clients),
        "--per-day",
        str(args.per_day),
        "--seed",
        str(args.seed),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"bench sandbox: the {jobs}-job worker exited with {proc.returncode}:\n{proc.stderr[-4000:]}"
        )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def verdict(name: str, value: float, op: str, target: float, detail: str) -> dict[str, Any]:
    passed = value >= target if op == ">=" else value <= target
    return {
        "name": name,
        "value": round(value, 4),
        "target": f"{op} {target}",
        "pass": passed,
        "detail": detail,
    }


def correctness(run: dict[str, Any]) -> dict[str, bool]:
    c = run["counts"]
    return {
        "every_job_terminal": c["jobs_non_terminal"] == 0 and c["jobs_terminal"] == run["jobs"],
        "every_job_succeeded_and_verified": c["jobs_succeeded"]
        == run["jobs"]
        == c["jobs_verified"],
        "ledger_posts_equal_jobs_succeeded": c["ledger_posts"] == c["jobs_succeeded"],
        "audit_success_events_equal_ledger_side_effects": c["audit_success_events"]
        == c["ledger_side_effects"],
        "one_success_event_per_ledger_post": c["ledger_posts_with_exactly_one_success_event"]
        == c["ledger_posts"],
        "every_post_on_the_intended_account": c["posts_on_wrong_account"] == 0,
        "no_audit_gap": c["audit_gap"] == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "sandbox.json")
    parser.add_argument("--jobs", type=int, default=100_000, help="publish jobs in the main run")
    parser.add_argument(
        "--scaling-jobs",
        type=int,
        default=0,
        help="jobs in an extra, smaller run whose rate the main run is compared with (0: none)",
    )
    parser.add_argument("--clients", type=int, default=64, help="tenants (1-64), 3 accounts each")
    parser.add_argument(
        "--per-day", type=int, default=24, help="posts per account per UTC day (under the caps)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.per_day > 24:
        # X: 64 users x per_day must stay under the app's 1,667 posts per 24 h
        print(
            f"bench sandbox: --per-day {args.per_day} x {args.clients} X users may pass X's app cap",
            file=sys.stderr,
        )

    started = time.perf_counter()
    baseline = measure(0, args)
    small = measure(args.scaling_jobs, args) if args.scaling_jobs else None
    run = measure(args.jobs, args)
    ok = correctness(run)
    targets = [
        verdict(
            "publish_jobs_per_second",
            run["jobs_per_cpu_second"],
            ">=",
            TARGET_JOBS_PER_S,
            f"{args.jobs:,} jobs in {run['cpu_seconds']} CPU-s of a single-threaded worker "
            f"(wall: {run['wall_seconds']} s, {run['jobs_per_wall_second']} jobs/s at "
            f"{run['cpu_share']:.0%} of a core)",
        ),
        verdict(
            "peak_rss_mb_100k_jobs" if args.jobs == 100_000 else f"peak_rss_mb_{args.jobs}_jobs",
            run["peak_rss_mb"],
            "<=",
            TARGET_RSS_MB,
            f"ru_maxrss of a fresh worker after {args.jobs:,} jobs (baseline with no job: "
            f"{baseline['peak_rss_mb']} MB; after the correctness checks: "
            f"{run['peak_rss_mb_after_checks']} MB)",
        ),
    ]
    results: dict[str, Any] = {
        "jobs_per_cpu_second": run["jobs_per_cpu_second"],
        "jobs_per_wall_second": run["jobs_per_wall_second"],
        "peak_rss_mb": run["peak_rss_mb"],
        "baseline_rss_mb": baseline["peak_rss_mb"],
        "run": run,
        "baseline": baseline,
    }
    if small is not None:
        results["scaling"] = {
            "small_jobs": small["jobs"],
            "small_jobs_per_cpu_second": small["jobs_per_cpu_second"],
            "small_peak_rss_mb": small["peak_rss_mb"],
            "rate_ratio_main_vs_small": round(
                run["jobs_per_cpu_second"] / small["jobs_per_cpu_second"], 3
            ),
            "small_correct": all(correctness(small).values()),
        }
    report: dict[str, Any] = {
        "bench": "sandbox",
        "python": platform.python_version(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg": os.getloadavg(),
        },
        "config": {
            "jobs": args.jobs,
            "clients": args.clients,
            "accounts": args.clients * len(PLATFORMS),
            "platforms": list(PLATFORMS),
            "posts_per_account_per_day": args.per_day,
            "mix": "even: every account gets the same number of posts per day",
            "schedule": "each day's jobs submitted at UTC midnight, run_at evenly from 00:05 to 23:05",
            "fakes_caps": "fakes' default options, none raised; the schedule stays under them",
            "default_caps": DEFAULT_CAPS,
            "engagement_polling": "off (poll_interval_s = 0): publish-only workload",
            "platform_settings": "Settings.from_roster defaults (runner_concurrency 16, verification "
            "2 s delay then lookups 10 s apart, retry policy 4 attempts)",
            "clock": "harness.clock.run_virtual (virtual time), in-process fakes transport",
            "seed": args.seed,
            "measurement": "each run in a fresh subprocess; peak RSS = ru_maxrss (RUSAGE_SELF)",
        },
        "results": results,
        "correctness": ok,
        "targets": targets,
        "passed": all(t["pass"] for t in targets) and all(ok.values()),
    }
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    c = run["counts"]
    print(
        f"bench sandbox ({report['wall_seconds']} s; {args.jobs:,} publish jobs, "
        f"{args.clients * len(PLATFORMS)} accounts, {run['simulated_days']} simulated days)"
    )
    print(
        f"  jobs/s: {run['jobs_per_cpu_second']:.0f} per CPU-second | {run['jobs_per_wall_second']:.0f} "
        f"per wall second ({run['cpu_share']:.0%} of a core; load avg {os.getloadavg()[0]:.1f})"
    )
    if small is not None:
        print(
            f"  at {small['jobs']:,} jobs: {small['jobs_per_cpu_second']:.0f} per CPU-second "
            f"(ratio {results['scaling']['rate_ratio_main_vs_small']})"
        )
    print(f"  peak RSS: {run['peak_rss_mb']:.0f} MB ({baseline['peak_rss_mb']:.0f} MB with no job)")
    print(
        f"  jobs: {c['job_states']} | ledger posts {c['ledger_posts']:,} | "
        f"audit success events {c['audit_success_events']:,} of {c['ledger_side_effects']:,} "
        f"ledger side effects | wrong account {c['posts_on_wrong_account']}"
    )
    for name, good in ok.items():
        if not good:
            print(f"  FAIL {name}")
    for t in report["targets"]:
        print(
            f"  {'PASS' if t['pass'] else 'FAIL'} {t['name']} = {t['value']} "
            f"(target {t['target']}; {t['detail']})"
        )
    print(f"  -> {args.out}")
    return 1 if args.check and not report["passed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
