"""How the workload reaches the platform: on time, in order in-process, concurrently over HTTP.

A platform over HTTP costs a round trip per job; a surge of 3,000 jobs an hour at a time scale of
120 must still arrive as a surge (a serial loop fell minutes behind and the backlog never formed,
so ``fifo_queue`` went uncaught over HTTP). These run on the virtual clock: a submission's
round trip is a virtual sleep, so the numbers are exact.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from harness.clock import run_virtual
from harness.drill.workload import Plan, WorkItem, plan_workload, run_jobs
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ["acme", "northwind", "globex"]
ACCOUNTS = {(c, p): f"{c}-{p}" for c in CLIENTS for p in ("x", "linkedin")}


class SlowPlatform:
    """Answers each submission after ``rtt`` seconds, counting how many are open at once."""

    def __init__(self, rtt: float, fail_at: int | None = None) -> None:
        self.rtt, self.fail_at = rtt, fail_at
        self.open = self.most_open = 0
        self.done: list[tuple[float, str]] = []

    async def submit(self, spec: Any) -> Any:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            if self.fail_at is not None and len(self.done) == self.fail_at:
                raise RuntimeError("platform said 500")
            await asyncio.sleep(self.rtt)
            self.done.append((asyncio.get_running_loop().time(), str(spec.idempotency_key)))
            return spec
        finally:
            self.open -= 1


def _surge_plan() -> Plan:
    s = load_scenario(ROOT / "scenarios/rb07_queue_backlog.yaml")
    return plan_workload(s, 8, CLIENTS, ACCOUNTS)


def _lag(plan: Plan, pf: SlowPlatform, t0: float) -> float:
    """How far behind its planned time the latest job was answered."""
    planned = {j.spec.idempotency_key: t0 + j.at for j in plan.jobs}
    return max(t - planned[k] for t, k in pf.done)


@pytest.mark.parametrize("in_flight", [1, 16])
def test_every_job_is_submitted_once_and_never_early(in_flight: int) -> None:
    plan = _surge_plan()
    seen: list[tuple[float, WorkItem]] = []

    async def main() -> SlowPlatform:
        pf = SlowPlatform(rtt=0.0)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        n = await run_jobs(
            plan,
            pf,  # type: ignore[arg-type]
            t0,
            loop.time,
            lambda item, job: seen.append((loop.time() - t0, item)),
            in_flight=in_flight,
        )
        assert n == len(plan.jobs)
        return pf

    pf = run_virtual(main)
    assert sorted(k for _, k in pf.done) == sorted(str(j.spec.idempotency_key) for j in plan.jobs)
    assert all(t >= item.at - 1e-6 for t, item in seen)
    assert len(seen) == len(plan.jobs)


def test_one_by_one_a_round_trip_per_job_falls_behind_a_surge_and_in_flight_keeps_up() -> None:
    plan = _surge_plan()
    assert sum(1 for j in plan.jobs if j.origin != "steady") > 500  # the surge is the point

    def lag(in_flight: int) -> tuple[float, int]:
        async def main() -> tuple[float, int]:
            # 3 s of scenario time per round trip: 25 ms at a time scale of 120 on a busy machine
            pf = SlowPlatform(rtt=3.0)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await run_jobs(plan, pf, t0, loop.time, in_flight=in_flight)  # type: ignore[arg-type]
            return _lag(plan, pf, t0), pf.most_open

        return run_virtual(main)

    serial_lag, serial_open = lag(1)
    wide_lag, wide_open = lag(16)
    assert serial_open == 1
    assert serial_lag > 600  # many minutes of scenario time behind: the backlog forms late or never
    assert 1 < wide_open <= 16
    assert wide_lag < 5


def test_a_failed_submission_stops_the_workload_and_leaves_nothing_running() -> None:
    plan = _surge_plan()

    async def main() -> SlowPlatform:
        pf = SlowPlatform(rtt=0.6, fail_at=40)
        loop = asyncio.get_running_loop()
        with pytest.raises(RuntimeError, match="platform said 500"):
            await run_jobs(plan, pf, loop.time(), loop.time, in_flight=16)  # type: ignore[arg-type]
        await asyncio.sleep(5)
        assert pf.open == 0
        return pf

    pf = run_virtual(main)
    assert 40 <= len(pf.done) < len(plan.jobs)


def test_a_content_calendar_submits_posts_ahead_with_their_run_at() -> None:
    s = load_scenario(ROOT / "scenarios/rb02_publish_outage.yaml")
    assert s.workload.schedule_ahead == 600.0
    plan = plan_workload(s, 2, CLIENTS, ACCOUNTS)
    posts = [j for j in plan.jobs if j.spec.kind == "publish"]
    assert posts and all(j.due is not None and j.at == max(0.0, j.due - 600.0) for j in posts)

    async def main() -> list[Any]:
        got: list[Any] = []

        class Keep:
            async def submit(self, spec: Any) -> Any:
                got.append((asyncio.get_running_loop().time(), spec))
                return spec

        loop = asyncio.get_running_loop()
        await run_jobs(Plan(posts[:5], []), Keep(), loop.time(), loop.time)  # type: ignore[arg-type]
        return got

    got = run_virtual(main)
    t0 = got[0][0] - posts[0].at
    for (t, spec), item in zip(got, posts[:5], strict=True):
        assert spec.run_at == pytest.approx(t0 + item.due)
        assert t == pytest.approx(t0 + item.at)
