"""Benchmark the served fakes: X fake throughput vs a bare endpoint, fault-rule and ledger costs.

Starts two server processes of ``bench/_fakes_server.py`` (the served fakes plus a bare
Starlette JSON endpoint, uvicorn on 127.0.0.1): *A* with an empty ledger and *B* with 1,000,000
ledger entries appended before it listens. An async httpx client with keep-alive and a few
concurrent connections sends a bounded number of requests per phase:

- ``POST /x/2/tweets`` with a real bearer token from the roster (auth, rate-limit accounting and
  the ledger all run) vs ``POST /bare`` on A: target ratio ≥ 0.6;
- the same on A with 100 installed fault rules that match none of the requests: target ≤ 10%
  slower;
- p99 latency of ``POST /x/2/tweets`` on B (1M entries) vs A (empty): target ≤ 1.5×.

Throughput is judged on the server's own CPU time (requests per CPU-second of the server
process, read with psutil), because wall-clock req/s on a shared machine mostly measures the
neighbours; wall-clock req/s is reported beside it. Phases alternate A/B and ABBA over a few
rounds, each X phase starts from a fresh X state (``POST /bench/forget``, which keeps the
ledger), and the median round counts. Writes ``reports/bench/fakes.json`` (or ``--out``) and
prints a summary; ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from fakes import admin_headers

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "bench" / "_fakes_server.py"
ACCOUNT = "acme-x"


@dataclass
class Phase:
    """One bounded load run against one server."""

    name: str
    requests: int
    seconds: float
    server_cpu_s: float
    latencies_ms: list[float]
    errors: int

    @property
    def rps(self) -> float:
        """Wall-clock requests per second."""
        return self.requests / self.seconds

    @property
    def cpu_rps(self) -> float:
        """Requests per CPU-second of the server process: its capacity, whatever the neighbours do."""
        return self.requests / self.server_cpu_s

    def p(self, q: float) -> float:
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.name,
            "rps": round(self.rps, 1),
            "cpu_rps": round(self.cpu_rps, 1),
            "p50_ms": round(self.p(0.5), 3),
            "p99_ms": round(self.p(0.99), 3),
            "errors": self.errors,
        }


@dataclass
class Server:
    """A bench server process and a client to it."""

    proc: subprocess.Popen[bytes]
    info: dict[str, Any]
    ps: psutil.Process
    client: httpx.AsyncClient | None = None
    auth: dict[str, str] | None = None

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)


def start_server(ready: Path, prefill: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, str(SERVER), "--ready-file", str(ready), "--prefill", str(prefill)]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)


def wait_ready(
    proc: subprocess.Popen[bytes], ready: Path, timeout: float = 120.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            return dict(json.loads(ready.read_text()))
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"bench: a fakes server exited with {proc.returncode}:\n{err}")
        time.sleep(0.05)
    raise SystemExit(f"bench: a fakes server did not write {ready} within {timeout:.0f} s")


async def load(
    server: Server,
    name: str,
    path: str,
    n: int,
    concurrency: int,
    headers: dict[str, str] | None,
    seq: Any,
) -> Phase:
    """Send ``n`` POSTs over ``concurrency`` keep-alive connections; time each, and the server's CPU."""
    assert server.client is not None
    client = server.client
    latencies: list[float] = []
    errors = 0
    todo = iter(range(n))

    async def worker() -> None:
        nonlocal errors
        for _ in todo:
            body = {"text": f"bench post {next(seq)}"}  # unique, so never a duplicate
            t0 = time.perf_counter()
            r = await client.post(path, json=body, headers=headers)
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 201:
                errors += 1
                if errors == 1:
                    print(
                        f"bench: {name}: unexpected {r.status_code}: {r.text[:300]}",
                        file=sys.stderr,
                    )

    cpu0, start = server.cpu(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Phase(name, n, time.perf_counter() - start, server.cpu() - cpu0, latencies, errors)


def non_matching_rules(n: int) -> list[dict[str, Any]]:
    """Fault rules the X fake consults on every tweet create, none of which match the bench's requests."""
    kinds = [
        "http.latency",
        "http.outage",
        "http.reset",
        "x.rate_limited",
        "x.action_blocked",
        "x.duplicate_rejected",
        "x.post_invisible",
        "x.scope_revoked",
    ]
    return [{"kind": kinds[i % len(kinds)], "match": {"account": "northwind-x"}} for i in range(n)]


def verdict(name: str, value: float, op: str, target: float, detail: str) -> dict[str, Any]:
    passed = value >= target if op == ">=" else value <= target
    return {
        "name": name,
        "value": round(value, 4),
        "target": f"{op} {target}",
        "pass": passed,
        "detail": detail,
    }


async def run(a: Server, b: Server, n: int, concurrency: int, rounds: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    seq = iter(range(10**9))
    for s in (a, b):
        s.client = httpx.AsyncClient(
            base_url=s.info["base"], limits=limits, timeout=60, headers=admin_headers()
        )
        roster = (await s.client.get("/_fake/roster", params={"secrets": "1"})).json()
        token = next(
            acc["credential"]["access_token"]
            for c in roster["clients"]
            for acc in c["accounts"]
            if acc["id"] == ACCOUNT
        )
        s.auth = {"authorization": f"Bearer {token}"}
    try:

        async def x(s: Server, name: str) -> Phase:
            assert s.client is not None
            (await s.client.post("/bench/forget")).raise_for_status()
            return await load(s, name, "/x/2/tweets", n, concurrency, s.auth, seq)

        async def bare(s: Server, name: str) -> Phase:
            return await load(s, name, "/bare", n, concurrency, None, seq)

        async def ruled(s: Server, name: str) -> Phase:
            assert s.client is not None
            r = await s.client.post("/_fake/faults", json=non_matching_rules(100))
            assert r.status_code == 201, r.text
            phase = await x(s, name)
            assert (
                sum(f["hits"] for f in (await s.client.get("/_fake/faults")).json()["faults"]) == 0
            )
            await s.client.delete("/_fake/faults")
            return phase

        for s in (a, b):
            await bare(s, "warmup")
            await x(s, "warmup")
        runs: dict[str, list[Phase]] = {"bare": [], "x": [], "x_100_rules": [], "x_1m_ledger": []}
        for i in range(rounds):
            # ABBA orders, so a drift in the machine's load falls on both sides of each ratio
            order = (
                ["bare", "x", "x_100_rules", "x_1m_ledger"]
                if i % 2 == 0
                else ["x_1m_ledger", "x_100_rules", "x", "bare"]
            )
            for name in order:
                phase = {
                    "bare": lambda: bare(a, "bare"),
                    "x": lambda: x(a, "x"),
                    "x_100_rules": lambda: ruled(a, "x_100_rules"),
                    "x_1m_ledger": lambda: x(b, "x_1m_ledger"),
                }[name]
                runs[name].append(await phase())
        ledgers = [
            (await s.client.get("/_fake/health")).json()["ledger"] for s in (a, b) if s.client
        ]
    finally:
        for s in (a, b):
            if s.client is not None:
                await s.client.aclose()

    def med(name: str, f: Callable[[Phase], float]) -> float:
        return statistics.median(f(p) for p in runs[name])

    bare_cpu, x_cpu, ruled_cpu = (
        med("bare", lambda p: p.cpu_rps),
        med("x", lambda p: p.cpu_rps),
        med("x_100_rules", lambda p: p.cpu_rps),
    )
    p99_empty, p99_full = med("x", lambda p: p.p(0.99)), med("x_1m_ledger", lambda p: p.p(0.99))
    all_runs = [p for ps in runs.values() for p in ps]
    errors = sum(p.errors for p in all_runs)
    targets = [
        verdict(
            "x_vs_bare_throughput_ratio",
            x_cpu / bare_cpu,
            ">=",
            0.6,
            f"{x_cpu:.0f} vs {bare_cpu:.0f} req per server CPU-second (wall: {med('x', lambda p: p.rps):.0f} vs {med('bare', lambda p: p.rps):.0f} req/s)",
        ),
        verdict(
            "throughput_drop_with_100_non_matching_rules",
            1 - ruled_cpu / x_cpu,
            "<=",
            0.10,
            f"{ruled_cpu:.0f} vs {x_cpu:.0f} req per server CPU-second (wall: {med('x_100_rules', lambda p: p.rps):.0f} vs {med('x', lambda p: p.rps):.0f} req/s)",
        ),
        verdict(
            "p99_ratio_1m_ledger_vs_empty",
            p99_full / p99_empty,
            "<=",
            1.5,
            f"{p99_full:.2f} vs {p99_empty:.2f} ms",
        ),
    ]
    return {
        "bench": "fakes",
        "python": platform.python_version(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg": os.getloadavg(),
        },
        "config": {
            "requests_per_phase": n,
            "concurrency": concurrency,
            "rounds": rounds,
            "account": ACCOUNT,
        },
        "results": {
            "bare_cpu_rps": round(bare_cpu, 1),
            "x_cpu_rps": round(x_cpu, 1),
            "x_100_rules_cpu_rps": round(ruled_cpu, 1),
            "bare_rps": round(med("bare", lambda p: p.rps), 1),
            "x_rps": round(med("x", lambda p: p.rps), 1),
            "x_100_rules_rps": round(med("x_100_rules", lambda p: p.rps), 1),
            "x_1m_ledger_rps": round(med("x_1m_ledger", lambda p: p.rps), 1),
            "x_p50_ms_empty_ledger": round(med("x", lambda p: p.p(0.5)), 3),
            "x_p99_ms_empty_ledger": round(p99_empty, 3),
            "x_p50_ms_1m_ledger": round(med("x_1m_ledger", lambda p: p.p(0.5)), 3),
            "x_p99_ms_1m_ledger": round(p99_full, 3),
            "ledger_entries_at_end": {"empty": ledgers[0], "prefilled": ledgers[1]},
            "errors": errors,
            "phases": [p.to_json() for p in all_runs],
        },
        "targets": targets,
        "passed": all(t["pass"] for t in targets) and errors == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "fakes.json")
    parser.add_argument("--requests", type=int, default=1500, help="requests per phase")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="concurrent keep-alive connections"
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds of alternating phases; the median counts"
    )
    parser.add_argument(
        "--prefill", type=int, default=1_000_000, help="ledger entries on the second server"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        procs = [
            start_server(Path(tmp) / "a.json", 0),
            start_server(Path(tmp) / "b.json", args.prefill),
        ]
        try:
            infos = [
                wait_ready(p, Path(tmp) / f"{n}.json") for p, n in zip(procs, "ab", strict=True)
            ]
            a, b = (Server(p, i, psutil.Process(p.pid)) for p, i in zip(procs, infos, strict=True))
            report = asyncio.run(run(a, b, args.requests, args.concurrency, args.rounds))
            report["served_fakes"] = infos[0]["fakes"]
            report["results"]["prefill_seconds"] = infos[1]["prefill_seconds"]
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    r = report["results"]
    print(
        f"bench fakes ({report['wall_seconds']} s; {args.requests} req x {args.rounds} rounds per phase, {args.concurrency} connections)"
    )
    print(
        f"  req per server CPU-second: bare {r['bare_cpu_rps']:.0f} | x {r['x_cpu_rps']:.0f} | x + 100 rules {r['x_100_rules_cpu_rps']:.0f}"
    )
    print(
        f"  wall req/s:                bare {r['bare_rps']:.0f} | x {r['x_rps']:.0f} | x + 100 rules {r['x_100_rules_rps']:.0f} | x at 1M {r['x_1m_ledger_rps']:.0f}"
    )
    print(
        f"  x p99: {r['x_p99_ms_empty_ledger']:.2f} ms empty ledger | {r['x_p99_ms_1m_ledger']:.2f} ms at {r['ledger_entries_at_end']['prefilled']:,} entries"
    )
    for t in report["targets"]:
        print(
            f"  {'PASS' if t['pass'] else 'FAIL'} {t['name']} = {t['value']} (target {t['target']}; {t['detail']})"
        )
    if r["errors"]:
        print(f"  FAIL {r['errors']} requests got an unexpected status")
    print(f"  -> {args.out}")
    return 1 if args.check and not report["passed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
