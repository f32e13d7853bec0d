"""Benchmark the served fakes against a bare Starlette route, with wrk as the load generator.

What is measured, all in one run on the same server stack (uvicorn on uvloop + httptools, one
process each, started by ``bench/_fakes_server.py``):

- **bare**: a bare Starlette app whose one route ``POST /bare`` parses the JSON body and answers
  201 with a small JSON document (``--bare``), the reference;
- **x**: the served fakes' ``POST /x/2/tweets`` with a real bearer token from the roster, so
  auth, rate-limit accounting, fault matching, the journal, the ledger and the JSON encoding all
  run (X's limits are raised far above the request count so no 429 happens; every body is unique
  so the duplicate check never refuses one);
- **ledger sweep**: ``POST /x/2/tweets`` on a third server whose ledger is topped up to 0, 10k,
  100k, 300k and 1,000,000 entries between rounds. The ledger is filled *directly*: the server's
  ``POST /bench/prefill?to=N`` calls ``World.record`` (the function every fake records through)
  in a loop, which is what a million POSTs would leave behind minus the journal and X's posts.

The load generator is `wrk <https://github.com/wg/wrk>`_ (``apt-get install -y wrk`` on Debian
or Ubuntu, ``brew install wrk`` on macOS); the bench refuses to run without it, because a
Python client on a 2-core machine is itself the bottleneck and hides the server's cost. Every
server is pinned to one core and wrk to another (``taskset``, when the machine has ≥ 2 cores
and taskset exists; the JSON says whether pinning happened). Rounds interleave bare and x
(ABBA order), each x round starts from a fresh X state and an empty ledger (``POST
/bench/forget?ledger=clear``), and the median over rounds counts.

Writes ``reports/bench/fakes.json`` (or ``--out``); ``--check`` exits 1 when a target is missed:
x rps ≥ 0.5 × bare rps (goal 0.8), x p99 ≤ 3 × bare p99, and at 1M ledger entries rps ≥ 0.8 ×
and p99 ≤ 1.5 × the sweep's smallest-ledger rounds (each size runs ``--sweep-pairs`` pairs of a
sweep round and a control round on the x server, whose ledger starts empty, and is judged
relative to its controls, so a neighbour's load during one size does not pass for a ledger
cost).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from fakes import admin_headers

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "bench" / "_fakes_server.py"
ACCOUNT = "acme-x"
INSTALL_WRK = (
    "install wrk first: `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)"
)
SWEEP = (0, 10_000, 100_000, 300_000, 1_000_000)

#: a wrk script: one POST per call with a unique JSON body; prints the summary as one JSON line
WRK_LUA = r"""
local n = 0
local path = "__PATH__"
local prefix = "__PREFIX__"
local headers = {["Content-Type"] = "application/json"}
local auth = os.getenv("BENCH_AUTHORIZATION")
if auth and auth ~= "" then headers["Authorization"] = auth end

request = function()
  n = n + 1
  return wrk.format("POST", path, headers, '{"text":"bench ' .. prefix .. ' ' .. n .. '"}')
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
"""


@dataclass
class Round:
    """One wrk run against one server."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    #: CPU seconds the server process spent during the round
    server_cpu_s: float
    ledger: int | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_rps(self) -> float:
        """Requests per CPU-second of the server: its cost per request, whatever the neighbours do."""
        return self.requests / self.server_cpu_s if self.server_cpu_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "phase": self.name,
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "cpu_rps": round(self.cpu_rps, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p90_ms": round(self.p90_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "errors": self.errors,
        }
        if self.ledger is not None:
            out["ledger_entries_before"] = self.ledger
        return out


@dataclass
class Cores:
    """Which cores the servers and wrk are pinned to (None: not pinned)."""

    server: str | None
    generator: str | None

    @classmethod
    def pick(cls) -> Cores:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(cpus) < 2 or not shutil.which("taskset"):
            return cls(None, None)
        return cls(str(cpus[0]), str(cpus[1]))

    def prefix(self, core: str | None) -> list[str]:
        return ["taskset", "-c", core] if core is not None else []


def start_server(
    ready: Path, cores: Cores, *, bare: bool = False, prefill: int = 0
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, str(SERVER), "--ready-file", str(ready), "--prefill", str(prefill)]
    if bare:
        cmd.append("--bare")
    return subprocess.Popen([*cores.prefix(cores.server), *cmd], env=env, stderr=subprocess.PIPE)


def wait_ready(
    proc: subprocess.Popen[bytes], ready: Path, timeout: float = 120.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            return dict(json.loads(ready.read_text()))
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"bench: a server exited with {proc.returncode}:\n{err}")
        time.sleep(0.05)
    raise SystemExit(f"bench: a server did not write {ready} within {timeout:.0f} s")


class Wrk:
    """Runs wrk with the bench's script; one thread, ``connections`` keep-alive connections."""

    def __init__(self, exe: str, tmp: Path, cores: Cores, connections: int, seconds: int) -> None:
        self.exe, self.tmp, self.cores = exe, tmp, cores
        self.connections, self.seconds = connections, seconds
        self.runs = 0

    def run(self, name: str, url: str, path: str, authorization: str | None, pid: int) -> Round:
        self.runs += 1
        server = psutil.Process(pid)
        script = self.tmp / f"round{self.runs}.lua"
        lua = WRK_LUA.replace("__PATH__", path).replace("__PREFIX__", f"r{self.runs}")
        script.write_text(lua)
        # the token goes through the environment, not argv or the script left on disk
        env = {**os.environ, "BENCH_AUTHORIZATION": authorization or ""}
        cmd = [
            *self.cores.prefix(self.cores.generator),
            self.exe,
            "-t1",
            f"-c{self.connections}",
            f"-d{self.seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
        cpu0 = sum(server.cpu_times()[:2])
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=self.seconds + 60
        )
        cpu = sum(server.cpu_times()[:2]) - cpu0
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
        if done.returncode != 0 or line is None:
            raise SystemExit(
                f"bench: wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        s = json.loads(line.removeprefix("BENCH_JSON "))
        errors = sum(
            s[k]
            for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
        )
        return Round(
            name,
            s["requests"],
            s["duration_us"] / 1e6,
            s["p50_us"] / 1000,
            s["p90_us"] / 1000,
            s["p99_us"] / 1000,
            s["max_us"] / 1000,
            errors,
            cpu,
        )


def bearer(admin: httpx.Client) -> str:
    roster = admin.get("/_fake/roster", params={"secrets": "1"}).raise_for_status().json()
    token = next(
        acc["credential"]["access_token"]
        for c in roster["clients"]
        for acc in c["accounts"]
        if acc["id"] == ACCOUNT
    )
    return f"Bearer {token}"


def verdict(name: str, value: float, op: str, target: float, detail: str) -> dict[str, Any]:
    passed = value >= target if op == ">=" else value <= target
    return {
        "name": name,
        "value": round(value, 4),
        "target": f"{op} {target}",
        "pass": passed,
        "detail": detail,
    }


def med(rounds: list[Round], attr: str) -> float:
    return float(statistics.median(float(getattr(r, attr)) for r in rounds))


def bench(args: argparse.Namespace, exe: str, tmp: Path) -> dict[str, Any]:
    load_start = os.getloadavg()
    cores = Cores.pick()
    wrk = Wrk(exe, tmp, cores, args.connections, args.seconds)
    names = {"bare": dict(bare=True), "x": {}, "sweep": {}}
    procs = {n: start_server(tmp / f"{n}.json", cores, **kw) for n, kw in names.items()}  # type: ignore[arg-type]
    clients: list[httpx.Client] = []
    try:
        infos = {n: wait_ready(p, tmp / f"{n}.json") for n, p in procs.items()}
        x_admin = httpx.Client(base_url=infos["x"]["base"], headers=admin_headers(), timeout=600)
        sweep_admin = httpx.Client(
            base_url=infos["sweep"]["base"], headers=admin_headers(), timeout=600
        )
        clients += [x_admin, sweep_admin]
        x_auth, sweep_auth = bearer(x_admin), bearer(sweep_admin)

        def bare_round(name: str = "bare") -> Round:
            return wrk.run(name, infos["bare"]["base"], "/bare", None, infos["bare"]["pid"])

        def x_round(name: str = "x") -> Round:
            x_admin.post("/bench/forget", params={"ledger": "clear"}).raise_for_status()
            return wrk.run(name, infos["x"]["base"], "/x/2/tweets", x_auth, infos["x"]["pid"])

        # warm-up (imports, caches, the first connections); not counted
        wrk.seconds, full = min(2, args.seconds), args.seconds
        bare_round("warmup")
        x_round("warmup")
        wrk.seconds = full

        runs: dict[str, list[Round]] = {"bare": [], "x": []}
        for i in range(args.rounds):
            order = ("bare", "x") if i % 2 == 0 else ("x", "bare")  # ABBA
            for name in order:
                runs[name].append(bare_round() if name == "bare" else x_round())

        sweep: list[list[Round]] = []
        controls: list[list[Round]] = []
        fills: list[dict[str, Any]] = []
        wrk.seconds = min(2, args.seconds)
        sweep_admin.post("/bench/forget").raise_for_status()
        sweep_pid = infos["sweep"]["pid"]
        wrk.run("warmup", infos["sweep"]["base"], "/x/2/tweets", sweep_auth, sweep_pid)
        wrk.seconds = full
        for size in args.sweep:
            fill = sweep_admin.post("/bench/prefill", params={"to": size}).raise_for_status().json()
            fills.append({"to": size, **fill})
            sweep.append([])
            controls.append([])
            # each size: sweep/control pairs in ABBA order against the x server (its ledger
            # emptied first), so the machine's drift falls on both and each size is judged
            # relative to its own controls
            for j in range(args.sweep_pairs):
                for which in ("sweep", "control") if j % 2 == 0 else ("control", "sweep"):
                    if which == "control":
                        controls[-1].append(x_round("x_sweep_control"))
                        continue
                    sweep_admin.post("/bench/forget").raise_for_status()
                    before = sweep_admin.get("/_fake/health").json()["ledger"]
                    r = wrk.run(
                        f"x_ledger_{size}",
                        infos["sweep"]["base"],
                        "/x/2/tweets",
                        sweep_auth,
                        sweep_pid,
                    )
                    r.ledger = before
                    sweep[-1].append(r)
        ledger_end = sweep_admin.get("/_fake/health").json()["ledger"]
    finally:
        for c in clients:
            c.close()
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    bare_rounds = runs["bare"]
    bare_rps, x_rps = med(bare_rounds, "rps"), med(runs["x"], "rps")
    bare_p99, x_p99 = med(bare_rounds, "p99_ms"), med(runs["x"], "p99_ms")
    rps = [med(rs, "rps") for rs in sweep]
    p99 = [med(rs, "p99_ms") for rs in sweep]
    ctl_rps = [med(cs, "rps") for cs in controls]
    ctl_p99 = [med(cs, "p99_ms") for cs in controls]
    rel = [a / b for a, b in zip(rps, ctl_rps, strict=True)]
    rel_p99 = [a / b for a, b in zip(p99, ctl_p99, strict=True)]
    sizes = [min(r.ledger or 0 for r in rs) for rs in sweep]
    all_rounds = [
        *runs["bare"],
        *runs["x"],
        *(r for rs in sweep for r in rs),
        *(r for cs in controls for r in cs),
    ]
    errors = sum(r.errors for r in all_rounds)
    targets = [
        verdict(
            "x_vs_bare_rps_ratio",
            x_rps / bare_rps,
            ">=",
            0.5,
            f"{x_rps:.0f} vs {bare_rps:.0f} req/s (goal 0.8)",
        ),
        verdict(
            "x_vs_bare_p99_ratio", x_p99 / bare_p99, "<=", 3.0, f"{x_p99:.2f} vs {bare_p99:.2f} ms"
        ),
        verdict(
            "sweep_rps_ratio_largest_vs_smallest",
            rel[-1] / rel[0],
            ">=",
            0.8,
            f"{rps[-1]:.0f} req/s from {sizes[-1]:,} entries vs {rps[0]:.0f} from "
            f"{sizes[0]:,}, each relative to its control rounds on a fresh-ledger server "
            f"({ctl_rps[-1]:.0f} and {ctl_rps[0]:.0f} req/s)",
        ),
        verdict(
            "sweep_p99_ratio_largest_vs_smallest",
            rel_p99[-1] / rel_p99[0],
            "<=",
            1.5,
            f"{p99[-1]:.2f} ms from {sizes[-1]:,} entries vs {p99[0]:.2f} from "
            f"{sizes[0]:,}, each relative to its control rounds ({ctl_p99[-1]:.2f} "
            f"and {ctl_p99[0]:.2f} ms)",
        ),
    ]
    # the same targets on requests per server CPU-second: what the server costs, which a busy
    # machine does not move; reported beside the wall-clock targets, not instead of them
    cpu_bare, cpu_x = med(bare_rounds, "cpu_rps"), med(runs["x"], "cpu_rps")
    cpu_sweep = [
        med(rs, "cpu_rps") / med(cs, "cpu_rps") for rs, cs in zip(sweep, controls, strict=True)
    ]
    cpu_checks = [
        verdict(
            "cpu_x_vs_bare_ratio",
            cpu_x / cpu_bare,
            ">=",
            0.5,
            f"{cpu_x:.0f} vs {cpu_bare:.0f} req per server CPU-second (goal 0.8)",
        ),
        verdict(
            "cpu_sweep_ratio_largest_vs_smallest",
            cpu_sweep[-1] / cpu_sweep[0],
            ">=",
            0.8,
            f"req per server CPU-second at {sizes[-1]:,} vs {sizes[0]:,} entries, each "
            "relative to its control rounds",
        ),
    ]
    ncpu = os.cpu_count() or 1
    worst = max(load_start[0], os.getloadavg()[0])
    busy = (
        f"load average {worst:.1f} on {ncpu} cores: other processes shared the cores during "
        "the run, so wall-clock rps and p99 mostly measure them; the per-CPU-second numbers "
        "do not depend on them"
        if worst > ncpu
        else None
    )
    return {
        "bench": "fakes",
        "generator": {
            "tool": "wrk",
            "path": exe,
            "version": subprocess.run([exe, "-v"], capture_output=True, text=True).stdout.strip()
            or subprocess.run([exe, "-v"], capture_output=True, text=True).stderr.strip(),
            "threads": 1,
            "connections": args.connections,
            "seconds_per_round": args.seconds,
        },
        "pinning": {
            "server_core": cores.server,
            "generator_core": cores.generator,
            "note": "each server process pinned to server_core, wrk to generator_core (taskset)"
            if cores.server is not None
            else "not pinned (fewer than 2 cores or no taskset)",
        },
        "servers": {
            n: {k: infos[n][k] for k in ("loop", "http", "fakes") if k in infos[n]} for n in infos
        },
        "python": platform.python_version(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_at_start": [round(x, 2) for x in load_start],
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
            "busy": busy,
        },
        "config": {"rounds": args.rounds, "order": "ABBA (bare, x / x, bare)", "account": ACCOUNT},
        "results": {
            "bare_rps": round(bare_rps, 1),
            "x_rps": round(x_rps, 1),
            "x_vs_bare_rps": round(x_rps / bare_rps, 3),
            "bare_cpu_rps": round(med(bare_rounds, "cpu_rps"), 1),
            "x_cpu_rps": round(med(runs["x"], "cpu_rps"), 1),
            "x_vs_bare_cpu_rps": round(med(runs["x"], "cpu_rps") / med(bare_rounds, "cpu_rps"), 3),
            "cpu_rps_note": "requests per CPU-second of the server process (psutil): the "
            "server's cost per request, robust to neighbours' load; reported beside the "
            "wall-clock rps the targets judge",
            "bare_p50_ms": round(med(bare_rounds, "p50_ms"), 3),
            "bare_p99_ms": round(bare_p99, 3),
            "x_p50_ms": round(med(runs["x"], "p50_ms"), 3),
            "x_p99_ms": round(x_p99, 3),
            "x_vs_bare_p99": round(x_p99 / bare_p99, 3),
            "ledger_sweep": [
                {
                    "ledger_entries": sizes[i],
                    "rps": round(rps[i], 1),
                    "p50_ms": round(med(sweep[i], "p50_ms"), 3),
                    "p99_ms": round(p99[i], 3),
                    "cpu_rps": round(med(sweep[i], "cpu_rps"), 1),
                    "control_rps": round(ctl_rps[i], 1),
                    "control_p99_ms": round(ctl_p99[i], 3),
                    "control_cpu_rps": round(med(controls[i], "cpu_rps"), 1),
                    "rps_vs_control": round(rel[i], 3),
                }
                for i in range(len(sweep))
            ],
            "ledger_fill": {
                "how": "POST /bench/prefill?to=N on the sweep server: World.record('x', "
                "'post.created', …) in a loop, the call every fake records through (no HTTP "
                "per entry); the sweep's own POSTs add to it",
                "fills": fills,
                "entries_at_end": ledger_end,
            },
            "errors": errors,
            "rounds": [r.to_json() for r in all_rounds],
        },
        "targets": targets,
        "cpu_checks": cpu_checks,
        "passed": all(t["pass"] for t in targets) and errors == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "fakes.json")
    parser.add_argument("--seconds", type=int, default=8, help="seconds per wrk round")
    parser.add_argument("--connections", type=int, default=32, help="wrk keep-alive connections")
    parser.add_argument(
        "--rounds", type=int, default=4, help="interleaved rounds per server; the median counts"
    )
    parser.add_argument(
        "--sweep",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(SWEEP),
        help="ledger sizes of the sweep, comma-separated (default %(default)s)",
    )
    parser.add_argument(
        "--sweep-pairs",
        type=int,
        default=2,
        help="sweep/control round pairs per ledger size; the median counts",
    )
    parser.add_argument("--wrk", default=shutil.which("wrk"), help="the wrk executable")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if not args.wrk:
        print(f"bench: wrk not found on PATH; {INSTALL_WRK}", file=sys.stderr)
        return 2
    if len(args.sweep) < 2 or args.sweep != sorted(args.sweep):
        print(f"bench: --sweep needs ≥ 2 ascending sizes, got {args.sweep}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = bench(args, args.wrk, Path(tmp))
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    r = report["results"]
    print(
        f"bench fakes ({report['wall_seconds']} s; wrk -t1 -c{args.connections} -d{args.seconds}s, "
        f"{args.rounds} interleaved rounds, pinning {report['pinning']['server_core']}/"
        f"{report['pinning']['generator_core']})"
    )
    print(
        f"  bare {r['bare_rps']:.0f} req/s p50 {r['bare_p50_ms']:.2f} p99 {r['bare_p99_ms']:.2f} ms"
        f" | x {r['x_rps']:.0f} req/s p50 {r['x_p50_ms']:.2f} p99 {r['x_p99_ms']:.2f} ms"
        f" | ratio {r['x_vs_bare_rps']:.2f}"
    )
    print(
        f"  per server CPU-second: bare {r['bare_cpu_rps']:.0f} | x {r['x_cpu_rps']:.0f}"
        f" | ratio {r['x_vs_bare_cpu_rps']:.2f}"
    )
    for s in r["ledger_sweep"]:
        print(
            f"  ledger {s['ledger_entries']:>9,}: {s['rps']:.0f} req/s p50 {s['p50_ms']:.2f} p99 {s['p99_ms']:.2f} ms"
            f" (control {s['control_rps']:.0f} req/s, p99 {s['control_p99_ms']:.2f} ms;"
            f" per CPU-second {s['cpu_rps']:.0f} vs control {s['control_cpu_rps']:.0f})"
        )
    if report["machine"]["busy"]:
        print(f"  WARNING {report['machine']['busy']}")
    for t in report["cpu_checks"]:
        print(
            f"  ({'pass' if t['pass'] else 'miss'} {t['name']} = {t['value']}, target {t['target']}; {t['detail']})"
        )
    for t in report["targets"]:
        print(
            f"  {'PASS' if t['pass'] else 'FAIL'} {t['name']} = {t['value']} (target {t['target']}; {t['detail']})"
        )
    if r["errors"]:
        print(f"  FAIL {r['errors']} requests failed (non-2xx, socket errors or timeouts)")
    print(f"  -> {args.out}")
    return 1 if args.check and not report["passed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
