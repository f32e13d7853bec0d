"""``vibedrill load`` without a server: bad usage exits 2 with one clear message and starts
nothing; each load shape asks for the users its name promises (and, in a child process, ticks as
a Locust ``LoadTestShape``); ``load.html`` draws its five charts from a synthetic timeline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from _loadkit import parse_charts
from typer.testing import CliRunner

from harness.cli.main import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run-time", "20m"], "--run-time: 1200s is out of range"),
        (["--run-time", "soon"], "--run-time: 'soon' is not a duration"),
        (["--fault", "x.rate_limted"], "did you mean 'x.rate_limited'"),
        (["--defect", "retry_after_ignord"], "did you mean 'retry_after_ignored'"),
        (["--platform-url", "http://127.0.0.1:1"], "--platform-url and --world go together"),
        (["--workers", "33"], "--workers: 33 is out of range 0..32"),
        (["--workers", "-1"], "--workers: -1 is out of range 0..32"),
        (
            ["--shape", "evening_rsh"],
            "--shape: 'evening_rsh' is not a load shape; did you mean 'evening_rush'?; "
            "valid: steady, ramp, spike, evening_rush",
        ),
        (["--expect-workers", "33"], "--expect-workers: 33 is out of range 0..32"),
        (["--master-port", "5557"], "give --workers N or --expect-workers N as well"),
        (
            ["--expect-workers", "1", "--master-host", "10.1.2.3"],
            "--master-host 10.1.2.3: workers on other machines cannot reach",
        ),
        (["--workers", "1", "--master-port", "70000"], "--master-port: 70000 is out of range"),
        (["--workers", "1", "--expect-workers-timeout", "0s"], "--expect-workers-timeout: 0s"),
    ],
)
def test_bad_usage_exits_2_with_one_clear_message_and_starts_nothing(
    args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["load", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "locust" not in sys.modules and "gevent.monkey" not in sys.modules


# load shapes (--shape) ------------------------------------------------------------------------


def test_each_load_shape_asks_for_the_users_its_name_promises() -> None:
    from harness.load.shapes import SHAPES, shape_plan

    assert list(SHAPES) == ["steady", "ramp", "spike", "evening_rush"]
    ts = [i / 2 for i in range(60)]  # every half second of a 30 s run
    steady = shape_plan("steady", 40, 7.0, 30.0)
    assert {steady.target(t) for t in ts} == {(40, 7.0)}
    ramp = [shape_plan("ramp", 40, 7.0, 30.0).users_at(t) for t in ts]
    assert ramp[0] == 1 and ramp[-1] == 40 and ramp == sorted(ramp)
    spike = shape_plan("spike", 40, 7.0, 30.0)
    assert [spike.users_at(t) for t in (0, 11.9, 12, 17.9, 18, 29)] == [8, 8, 40, 40, 8, 8]
    rush = shape_plan("evening_rush", 100, 7.0, 30.0)
    before = {rush.users_at(t) for t in ts if t < 6}
    after = [rush.users_at(t) for t in ts if t >= 6]
    assert before == {10} and rush.surge_at_s == 6.0
    assert after[0] == 100 and after == sorted(after, reverse=True) and after[-1] < 20
    assert all(u >= 10 for u in after)
    assert rush.target(6.0) == (100, 100.0)  # the surge within a second
    for name in SHAPES:
        plan = shape_plan(name, 100, 7.0, 30.0)
        assert plan.target(30.0) is None and plan.target(29.9) is not None
        curve = plan.curve()
        assert curve[0][0] == 0 and curve[-1][0] == 30.0
        assert max(u for _, u in curve) == 100
    with pytest.raises(ValueError, match="valid: steady, ramp, spike, evening_rush"):
        shape_plan("tsunami", 10, 1.0, 10.0)


@pytest.mark.slow
def test_the_shapes_are_locust_load_test_shapes_ticking_their_plan() -> None:
    # in a child process: importing Locust monkey-patches with gevent
    code = """
import json, time
from locust import LoadTestShape
from harness.load.locust_shapes import SHAPE_CLASSES, make_shape
out = {}
for name, cls in SHAPE_CLASSES.items():
    shape = make_shape(name, 100, 7.0, 30.0)
    assert isinstance(shape, cls) and issubclass(cls, LoadTestShape) and not cls.abstract
    shape.start_time = time.perf_counter() - 6.5
    first = shape.tick()
    shape.start_time = time.perf_counter() - 31.0
    out[name] = [first, shape.tick()]
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["steady"] == [[100, 7.0], None]
    assert got["ramp"] == [[25, 4.0], None]
    assert got["spike"] == [[20, 100.0], None]
    assert got["evening_rush"][0] == [93, 100.0] and got["evening_rush"][1] is None


# load.html -------------------------------------------------------------------------------------


def _synthetic_report() -> dict[str, Any]:
    from harness.load.timeline import load_timeline

    t0 = 1_000.0
    samples = [
        {
            "t": t0 + 1 + i,
            "users": u,
            "requests": 10 * i,
            "failures": 0,
            "intake": 4 * i,
            "p50_ms": 5 + i,
            "p95_ms": 20 + i,
            "p99_ms": 40 + 2 * i,
        }
        for i, u in enumerate([0, 2, 20, 12, 6, 3])
    ]
    journal = [
        {
            "t": t0 + 2.5 + k / 10,
            "status": 429 if k % 3 == 0 else 201,
            "fault_id": "f1" if k % 3 == 0 else None,
        }
        for k in range(30)
    ]
    ledger = [{"t": t0 + 3 + k / 5, "action": "post.created"} for k in range(10)]
    timeline = load_timeline(
        t_start=t0,
        t_heal=t0 + 7,
        t_end=t0 + 12,
        samples=samples,
        queue=[{"t": t0 + i, "depth": float(d)} for i, d in enumerate([0, 1, 5, 9, 4, 2, 0])],
        journal=journal,
        ledger=ledger,
        fault_ids={"f1"},  # type: ignore[arg-type]
        planned=[(0.0, 2), (0.999, 2), (1.0, 20), (6.0, 3)],
        surge_at_s=1.0,
        locust_start=t0 + 1,
    )
    return {
        "id": "load-healthy",
        "verdict": "held",
        "platform": "http://127.0.0.1:1",
        "commit": "abc",
        "defects": [],
        "options": {
            "users": 20,
            "run_time_s": 6.0,
            "shape": "evening_rush",
            "workers": 2,
            "expect_workers": 0,
        },
        "faults": [{"id": "f1", "kind": "x.rate_limited"}],
        "locust": {"total": {"requests": 50, "failures": 0}, "stopped_by": "run_time"},
        "intake": {"p50_ms": 5, "p95_ms": 20, "p99_ms": 40},
        "jobs": {"submitted": 20, "by_state": {"succeeded": 20}},
        "rate_limits": {"served_429": 10, "served_429_by_storm": 10, "early_requests": 0},
        "side_effects": {"total": 10, "per_minute": 50.0},
        "invariants": [{"name": "rate_within_platform_limits", "verdict": "held", "detail": "ok"}],
        "timeline": timeline,
    }


def test_load_html_draws_five_charts_from_the_timeline_with_the_storm_shaded() -> None:
    from harness.load.charts import CHARTS, render_load_html

    rep = _synthetic_report()
    tl = rep["timeline"]
    assert [r["rps"] for r in tl["locust"]] == [0.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    assert [r["users"] for r in tl["locust"]] == [0, 2, 20, 12, 6, 3]
    assert sum(f["served_429"] for f in tl["fakes"]) == 10
    assert sum(f["side_effects"] for f in tl["fakes"]) == 10
    assert tl["storm"] == [0.0, 7.0] and tl["surge_at"] == 2.0 and tl["end"] == 12.0
    page = render_load_html(rep)
    got = parse_charts(page)
    assert list(got.charts) == [f"chart-{c}" for c in CHARTS]
    for cid, chart in got.charts.items():
        assert chart["storm"] and chart["storm"] > 100, cid  # 7 s of 12 shaded
        assert chart["series"], cid
        for name, pts in chart["series"].items():
            assert len(pts) >= 2, (cid, name)
    lat = got.charts["chart-latency"]["series"]
    assert set(lat) == {"p50", "p95", "p99"}
    # p99 above p95 above p50 (SVG y grows downwards) at every sample
    assert all(
        a[1] > b[1] > c[1] for a, b, c in zip(lat["p50"], lat["p95"], lat["p99"], strict=True)
    )
    queue = got.charts["chart-queue"]["series"]["jobs waiting"]
    assert min(p[1] for p in queue) == queue[3][1]  # the deepest queue (9) is the highest point
    # self-contained: no script, no stylesheet or image fetched from anywhere
    assert "script" not in got.tags and "link" not in got.tags and "img" not in got.tags
    assert not re.search(r"(src|href)=\"(https?:)?//|@import|url\(", page)
