"""Benchmark the browser lane: wall time of each browser flow, browser start included.

Each flow starts served fakes and a fresh Chromium (cold: the launch is part of the time), runs
one browser-lane scenario against the fakes' web UI and stops everything. Target: ≤ 30 s each.
Writes ``reports/bench/browser.json`` (or ``--out``); ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browser_rig import Served, StubScope, make_rig  # noqa: E402

import fakes  # noqa: E402
from fakes.core.roster import Roster  # noqa: E402
from fakes.serve import ServedFakes  # noqa: E402
from sandbox.errors import Ambiguous, Blocked  # noqa: E402
from sandbox.settings import Settings  # noqa: E402

TARGET_S = 30.0
#: a whole browser drill, Chromium start included
DRILL_TARGET_S = 30.0


@asynccontextmanager
async def world(tmp: Path, defects: tuple[str, ...] = ()) -> Any:
    w = fakes.World(roster=Roster.generate(clients=3, platforms=("x", "instagram"), seed=5), seed=5)
    with ServedFakes(world=w) as doc:
        async with httpx.AsyncClient() as http:
            roster = (await http.get(f"{doc['admin']}/roster", params={"secrets": 1})).json()
        settings, secrets = Settings.from_world_ready(doc, roster)
        served = Served(w, doc, settings, secrets)
        rig = await make_rig(served, tmp, defects)
        try:
            yield served, rig
        finally:
            await rig.comp.stop()


async def publish_x(tmp: Path) -> None:
    async with world(tmp) as (s, rig):
        await rig.lane("x").publish(s.cred("acme", "x"), "bench publish", StubScope())


async def publish_instagram(tmp: Path) -> None:
    async with world(tmp) as (s, rig):
        await rig.lane("instagram").publish(s.cred("acme", "instagram"), "bench share", StubScope())


async def rb06_drift_miss(tmp: Path) -> None:
    async with world(tmp) as (s, rig):
        s.fault("web.selector_drift", match={"fake": "x"})
        try:
            await rig.lane("x").publish(s.cred("acme", "x"), "bench drift", StubScope())
        except Blocked:
            return
        raise AssertionError("the drift should have blocked the publish")


async def rb06_drift_fallback(tmp: Path) -> None:
    async with world(tmp) as (s, rig):
        s.fault("web.selector_drift", params={"reword_labels": False}, match={"fake": "x"})
        await rig.lane("x").publish(s.cred("acme", "x"), "bench fallback", StubScope())


async def rb06_brittle_selectors(tmp: Path) -> None:
    async with world(tmp, ("brittle_selectors",)) as (s, rig):
        cred = s.cred("acme", "x")
        await rig.lane("x").publish(cred, "bench brittle 1", StubScope())
        s.fault("web.selector_drift", params={"reword_labels": False}, match={"fake": "x"})
        try:
            await rig.lane("x").publish(cred, "bench brittle 2", StubScope())
        except Ambiguous:
            return
        raise AssertionError("brittle selectors should have clicked the decoy")


async def rb05_captcha_and_block(tmp: Path) -> None:
    async with world(tmp) as (s, rig):
        s.fault("web.captcha", match={"fake": "x"})
        try:
            await rig.lane("x").publish(s.cred("acme", "x"), "bench captcha", StubScope())
        except Blocked:
            return
        raise AssertionError("the captcha should have halted the lane")


async def rb01_profile_mixup(tmp: Path) -> None:
    async with world(tmp, ("browser_profile_mixup",)) as (s, rig):
        await rig.lane("x").publish(s.cred("acme", "x"), "bench own", StubScope())
        await rig.lane("x").publish(s.cred("globex", "x"), "bench mixed", StubScope())


FLOWS: dict[str, Callable[[Path], Awaitable[None]]] = {
    "publish_x": publish_x,
    "publish_instagram": publish_instagram,
    "rb06_drift_miss": rb06_drift_miss,
    "rb06_drift_fallback": rb06_drift_fallback,
    "rb06_brittle_selectors": rb06_brittle_selectors,
    "rb05_captcha": rb05_captcha_and_block,
    "rb01_profile_mixup": rb01_profile_mixup,
}


def main() -> int:
    """Run every flow once, cold, and write the report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "browser.json")
    ap.add_argument("--check", action="store_true", help="exit 1 when a flow misses its target")
    args = ap.parse_args()
    results = []
    for name, flow in FLOWS.items():
        with tempfile.TemporaryDirectory(prefix=f"vd-bench-{name}-") as tmp:
            t0 = time.perf_counter()
            error = None
            try:
                asyncio.run(flow(Path(tmp)))
            except Exception as e:
                error = f"{type(e).__name__}: {e}"
            wall = time.perf_counter() - t0
        results.append(
            {
                "flow": name,
                "wall_s": round(wall, 3),
                "target_s": TARGET_S,
                "ok": error is None and wall <= TARGET_S,
                "error": error,
            }
        )
        print(f"{name:28s} {wall:6.2f} s  {'ok' if results[-1]['ok'] else 'MISSED ' + str(error)}")
    drills = bench_drills()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "bench": "browser",
                "includes_browser_start": True,
                "flows": results,
                "drills": drills,
            },
            indent=2,
        )
    )
    every = results + drills
    return 1 if args.check and not all(r["ok"] for r in every) else 0


def bench_drills() -> list[dict[str, object]]:
    """Each browser scenario as a whole drill (Chromium start included), healthy and with its mutants."""
    from harness.drill.browser import is_browser_scenario
    from harness.drill.run import DrillOptions, run_drill
    from harness.scenario import load_scenario

    out: list[dict[str, object]] = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        s = load_scenario(path)
        if not is_browser_scenario(s):
            continue
        for defect in (None, *(m.defect for m in s.mutants)):
            with tempfile.TemporaryDirectory(prefix=f"vd-bench-{s.id}-") as tmp:
                t0 = time.perf_counter()
                r = run_drill(
                    s, DrillOptions(defects=(defect,) if defect else (), reports_dir=Path(tmp))
                )
                wall = time.perf_counter() - t0
            out.append(
                {
                    "drill": s.id,
                    "defect": defect,
                    "verdict": r.verdict,
                    "wall_s": round(wall, 3),
                    "target_s": DRILL_TARGET_S,
                    "ok": wall <= DRILL_TARGET_S,
                }
            )
            label = f"{s.id}{' +' + defect if defect else ''}"
            print(f"{label:52s} {wall:6.2f} s  {r.verdict}")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
