"""Benchmark the drills: wall time of the full API-lane suite and each drill's speed-up.

Runs every API-lane scenario of ``scenarios/`` once on the healthy platform, in-process on
virtual time, one after another in this process — what ``vibedrill run --all`` does — into a
temporary reports folder (each drill still judges and writes its full report). For each drill:
wall seconds, CPU seconds of this process, simulated seconds, and the speed-up (simulated
seconds per wall second; per CPU second beside it, since wall time on a shared machine also
measures the neighbours). Targets: the full suite within 60 s of wall time, median speed-up at
least 500x real time.

Writes ``reports/bench/drills.json`` (or ``--out``) and prints a summary; ``--check`` exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUITE_TARGET_S = 60.0
SPEEDUP_TARGET = 500.0


def run(reports_dir: Path) -> dict[str, Any]:
    """Run the suite once; return the measurements."""
    from harness.drill.run import DrillOptions, commit_of, run_drill
    from harness.scenario import load_scenario

    scenarios = [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    scenarios = [s for s in scenarios if s.lane == "api"]
    rows = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for s in scenarios:
        w, c = time.perf_counter(), time.process_time()
        r = run_drill(s, DrillOptions(reports_dir=reports_dir, commit=commit_of(ROOT)))
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        rows.append(
            {
                "scenario": s.id,
                "verdict": r.verdict,
                "simulated_s": round(r.simulated_s, 3),
                "wall_s": round(wall, 4),
                "cpu_s": round(cpu, 4),
                "speedup_wall": round(r.simulated_s / wall, 1) if wall else None,
                "speedup_cpu": round(r.simulated_s / cpu, 1) if cpu else None,
            }
        )
    suite_wall, suite_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    median = statistics.median(r["speedup_wall"] for r in rows)
    return {
        "suite": {
            "scenarios": len(rows),
            "wall_s": round(suite_wall, 3),
            "cpu_s": round(suite_cpu, 3),
            "simulated_s": round(sum(r["simulated_s"] for r in rows), 1),
            "held": sum(r["verdict"] == "held" for r in rows),
        },
        "median_speedup_wall": median,
        "median_speedup_cpu": statistics.median(r["speedup_cpu"] for r in rows),
        "targets": {
            "suite_wall_s_max": SUITE_TARGET_S,
            "median_speedup_min": SPEEDUP_TARGET,
            "suite_met": suite_wall <= SUITE_TARGET_S,
            "speedup_met": median >= SPEEDUP_TARGET,
        },
        "per_scenario": rows,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
    }


def main() -> int:
    """Command line: ``python bench/bench_drills.py [--out FILE] [--check]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "drills.json")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vibedrill-bench-") as tmp:
        result = run(Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    s, t = result["suite"], result["targets"]
    print(f"drills: {s['scenarios']} API-lane scenarios, {s['held']} held")
    print(
        f"  full suite: {s['wall_s']:.1f}s wall ({s['cpu_s']:.1f}s CPU) for {s['simulated_s'] / 3600:.1f}h simulated"
        f" — target ≤ {SUITE_TARGET_S:g}s: {'met' if t['suite_met'] else 'MISSED'}"
    )
    print(
        f"  median speed-up: {result['median_speedup_wall']:.0f}x wall ({result['median_speedup_cpu']:.0f}x CPU)"
        f" — target ≥ {SPEEDUP_TARGET:g}x: {'met' if t['speedup_met'] else 'MISSED'}"
    )
    for r in result["per_scenario"]:
        print(
            f"  {r['scenario']:<36} {r['verdict']:<9} {r['simulated_s'] / 60:6.0f} min in {r['wall_s']:5.2f}s  {r['speedup_wall']:>7.0f}x"
        )
    print(f"wrote {args.out}")
    return 1 if args.check and not (t["suite_met"] and t["speedup_met"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
