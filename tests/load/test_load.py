"""``vibedrill load``: a short Locust run on the healthy platform holds, one with
``retry_after_ignored`` is caught, bad usage is refused; no process is left behind.

The served runs (healthy and defect, each with one Locust process and with Locust's master and
2 workers; the healthy ones with the ``spike`` and ``evening_rush`` load shapes) go in parallel
child processes (Locust monkey-patches with gevent, which must not happen in the pytest
process), once per module; Ctrl-C on a distributed run stops every process; a master waiting for
a worker started separately (``vibedrill load-worker``) runs with it. ``load.html`` is parsed and
opened in Chromium.
"""

from __future__ import annotations

import html.parser
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.judge.invariants import evaluate
from harness.judge.record import DrillRecord

RUN = ["--users", "5", "--spawn-rate", "5", "--run-time", "8s", "--drain", "30s"]
CLI = [sys.executable, "-c", "from harness.cli import main; main()", "load"]


@dataclass
class Run:
    """One finished ``vibedrill load`` child: exit code, output, the report and its folder."""

    code: int
    out: str
    report: dict[str, Any]
    folder: Path


#: every process of this module's runs inherits this environment variable
MARK = f"VIBEDRILL_LOAD_TEST={uuid.uuid4().hex}".encode()


def _leftovers() -> set[int]:
    """Pids of living processes that this module's ``vibedrill load`` runs started."""
    out: set[int] = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            env = (d / "environ").read_bytes().split(b"\0")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and MARK in env:
            out.add(int(d.name))
    return out


#: the runs of this module, all started at once: one Locust process, and a master with 2 workers
RUNS: dict[str, list[str]] = {
    "healthy": ["--shape", "spike", "--users", "10", "--fault-probability", "0.5"],
    "defect": ["--defect", "retry_after_ignored"],
    "healthy_w2": [
        *("--workers", "2", "--shape", "evening_rush", "--users", "20"),
        *("--fault-probability", "0.5"),
    ],
    "defect_w2": ["--workers", "2", "--defect", "retry_after_ignored"],
}


def _run_all(base: Path, names: list[str]) -> dict[str, Run]:
    procs = {
        name: subprocess.Popen(
            [*CLI, *RUN, "--reports-dir", str(base / name), *RUNS[name]],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **dict([MARK.decode().split("=", 1)])},
        )
        for name in names
    }
    out: dict[str, Run] = {}
    try:
        for name, p in procs.items():
            text, _ = p.communicate(timeout=180)
            folder = next((base / name).glob("load-*"), base / name / "missing")
            report_file = folder / "load.json"
            report = json.loads(report_file.read_text()) if report_file.is_file() else {}
            out[name] = Run(p.returncode, text, report, folder)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    return out


@pytest.fixture(scope="module")
def all_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The healthy and the ``retry_after_ignored`` runs side by side, in one Locust process,
    then on Locust's master and 2 workers (two at a time: four stacks at once overload 2 cores)."""
    base = tmp_path_factory.mktemp("load")
    return {
        **_run_all(base, ["healthy", "defect"]),
        **_run_all(base, ["healthy_w2", "defect_w2"]),
    }


@pytest.fixture(scope="module")
def runs(all_runs: dict[str, Run]) -> dict[str, Run]:
    """The runs with one Locust process."""
    return {"healthy": all_runs["healthy"], "defect": all_runs["defect"]}


@pytest.fixture(scope="module")
def worker_runs(all_runs: dict[str, Run]) -> dict[str, Run]:
    """The same runs on Locust's master and 2 workers."""
    return {"healthy": all_runs["healthy_w2"], "defect": all_runs["defect_w2"]}


@pytest.mark.slow
@pytest.mark.served
def test_a_short_run_on_the_healthy_platform_holds_with_no_early_request(
    runs: dict[str, Run],
) -> None:
    r = runs["healthy"]
    assert r.code == 0, r.out
    rep = r.report
    assert rep["id"] == "load-healthy" and rep["verdict"] == "held"
    assert rep["rate_limits"]["early_requests"] == 0
    assert rep["rate_limits"]["served_429_by_storm"] > 0, "the storm never bit"
    assert rep["locust"]["total"]["requests"] > 0 and rep["locust"]["total"]["failures"] == 0
    assert rep["intake"]["requests"] > 0 and rep["intake"]["p95_ms"] is not None
    assert rep["jobs"]["submitted"] > 0 and rep["jobs"]["unsettled"] == 0
    assert rep["side_effects"]["total"] > 0 and rep["side_effects"]["per_minute"] > 0
    assert {i["name"]: i["verdict"] for i in rep["invariants"]} == {
        "rate_within_platform_limits": "held",
        "no_duplicate_side_effects": "held",
        "every_side_effect_audited": "held",
    }
    assert (r.folder / "load.md").read_text().startswith("# Load test `load-healthy`: held")
    assert (r.folder / "evidence" / "journal.jsonl").is_file()


@pytest.mark.slow
@pytest.mark.served
def test_a_run_with_retry_after_ignored_is_violated_naming_the_rate_invariant(
    runs: dict[str, Run],
) -> None:
    r = runs["defect"]
    assert r.code == 1, r.out
    assert "rate_within_platform_limits" in r.out
    assert r.report["verdict"] == "violated"
    assert "rate_within_platform_limits" in r.report["violated"]
    assert r.report["rate_limits"]["early_requests"] > 0
    assert r.report["defects"] == ["retry_after_ignored"]


@pytest.mark.slow
@pytest.mark.served
def test_no_server_or_locust_process_outlives_a_run(all_runs: dict[str, Run]) -> None:
    assert all_runs and not _leftovers()
    for r in all_runs.values():
        assert "fakes on http://127.0.0.1:" in r.out and "platform on http://127.0.0.1:" in r.out


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


def _journal(*rows: tuple[float, int]) -> list[dict[str, Any]]:
    return [
        {
            "seq": i,
            "t": t,
            "fake": "x",
            "route": "tweets.create",
            "account_id": "acme-x",
            "status": status,
            "request_id": f"r{i}",
            "fault_id": "f1" if status == 429 else None,
        }
        for i, (t, status) in enumerate(rows, 1)
    ]


def test_a_request_already_in_flight_when_a_429_is_served_is_not_counted_early() -> None:
    rule = {"id": "f1", "kind": "x.rate_limited", "params": {"retry_after_s": 3.0}, "hits": 1}
    record = DrillRecord(
        scenario={"id": "load"},
        drill_id="load",
        seed=0,
        start_t=0.0,
        end_t=10.0,
        journal=_journal((1.0, 429), (1.05, 201), (2.0, 201), (4.5, 201)),
        fault_rules=[rule],
    )
    strict = evaluate("rate_within_platform_limits", record)
    assert strict.verdict == "violated" and strict.count == 2
    spec = {"name": "rate_within_platform_limits", "params": {"in_flight_s": 0.25}}
    served = evaluate(spec, record)
    assert served.verdict == "violated" and served.count == 1
    assert "r3" in served.detail and "r2" not in served.detail


# Locust's distributed mode (--workers N) -------------------------------------------------------


def _start(args: list[str], *, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    import signal

    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **dict([MARK.decode().split("=", 1)])},
        # a process started with SIGINT ignored keeps it ignored (a pytest-xdist worker starts
        # its children so): Ctrl-C must still stop the run
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if sigint_ignored
        else None,
    )


@pytest.mark.slow
@pytest.mark.served
def test_two_locust_workers_judge_as_one_process_does(
    runs: dict[str, Run], worker_runs: dict[str, Run]
) -> None:
    for name in ("healthy", "defect"):
        one, many = runs[name], worker_runs[name]
        assert (many.code, many.report.get("verdict"), many.report.get("violated")) == (
            one.code,
            one.report["verdict"],
            one.report["violated"],
        ), many.out
        assert "on 2 workers under a master" in many.out
        assert many.report["options"]["workers"] == 2
    rep = worker_runs["healthy"].report
    assert rep["rate_limits"]["early_requests"] == 0
    assert rep["rate_limits"]["served_429_by_storm"] > 0, "the storm never bit"
    assert rep["locust"]["total"]["requests"] > 0 and rep["locust"]["total"]["failures"] == 0
    assert rep["jobs"]["submitted"] > 0 and rep["jobs"]["unsettled"] == 0
    # both workers' users submitted jobs, each under its own keys, and the master knew them all
    keys = [
        json.loads(line)
        for line in (worker_runs["healthy"].folder / "evidence" / "workload.jsonl")
        .read_text()
        .splitlines()
    ]
    by_worker = {k["idempotency_key"].rsplit("-", 2)[-2] for k in keys if k["idempotency_key"]}
    assert by_worker == {"w0", "w1"}, by_worker
    assert rep["jobs"]["answer_cut_off"] <= 2 * 20  # at most one in flight per user
    assert worker_runs["defect"].report["rate_limits"]["early_requests"] > 0
    assert not _leftovers()


def _marked(word: str) -> list[int]:
    """Living processes of this module's runs whose command line has ``word``."""
    out = []
    for pid in _leftovers():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if word.encode() in cmd:
            out.append(pid)
    return out


@pytest.mark.slow
@pytest.mark.served
def test_ctrl_c_stops_the_master_and_every_worker(tmp_path: Path) -> None:
    import signal
    import time

    p = _start(
        [*RUN[:4], "--run-time", "2m", "--workers", "2", "--reports-dir", str(tmp_path)],
        sigint_ignored=True,
    )
    try:
        deadline = time.monotonic() + 90
        while len(_marked("--worker")) < 2 or not _marked("--master"):
            assert p.poll() is None, p.communicate()[0]
            assert time.monotonic() < deadline, "the master and 2 workers never ran"
            time.sleep(0.2)
        started = _leftovers()
        assert len(started) >= 5  # the CLI, fakes, platform, master, 2 workers
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 3, out
    assert "interrupted; every server and Locust stopped" in out
    assert not _leftovers()


def test_each_worker_gets_its_own_accounts_keys_and_share_of_the_request_cap() -> None:
    from harness.load.locustfile import worker_config

    targets = [{"client_id": f"c{i}", "platform": "x", "account_id": f"a{i}"} for i in range(5)]
    cfg = {"targets": targets, "key_prefix": "load-0-ab-", "max_requests": 101, "users": 5}
    parts = [worker_config(cfg, i, 3) for i in range(3)]
    assert [[t["account_id"] for t in p["targets"]] for p in parts] == [
        ["a0", "a3"],
        ["a1", "a4"],
        ["a2"],
    ]
    assert [p["key_prefix"] for p in parts] == ["load-0-ab-w0-", "load-0-ab-w1-", "load-0-ab-w2-"]
    assert [p["max_requests"] for p in parts] == [34, 34, 33]
    assert sum(p["max_requests"] for p in parts) == cfg["max_requests"]
    assert cfg["targets"] == targets and cfg["key_prefix"] == "load-0-ab-"  # not changed
    with pytest.raises(ValueError, match="worker 5 of 6 has no target account"):
        worker_config(cfg, 5, 6)
    with pytest.raises(ValueError, match="out of range"):
        worker_config(cfg, 3, 3)


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


class _Charts(html.parser.HTMLParser):
    """Each ``<svg class="chart">``: its id, its series' points, its storm rectangle."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, Any]] = {}
        self.current: str | None = None
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "svg" and a.get("class") == "chart":
            self.current = str(a["id"])
            self.charts[self.current] = {"series": {}, "storm": None}
        elif tag == "polyline" and self.current and a.get("class") == "series":
            pts = [tuple(float(v) for v in p.split(",")) for p in str(a["points"]).split()]
            self.charts[self.current]["series"].setdefault(str(a["data-series"]), []).extend(pts)
        elif tag == "rect" and self.current and a.get("class") == "storm":
            self.charts[self.current]["storm"] = float(str(a["width"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


def _parse(page: str) -> _Charts:
    p = _Charts()
    p.feed(page)
    return p


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
    got = _parse(page)
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


@pytest.mark.slow
@pytest.mark.served
@pytest.mark.browser
def test_a_runs_load_html_renders_its_charts_in_chromium(
    worker_runs: dict[str, Run], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from harness.platform_adapter import browser_choice

    r = worker_runs["healthy"]
    page_file = r.folder / "load.html"
    got = _parse(page_file.read_text())
    assert len(got.charts) == 5
    users = got.charts["chart-users"]["series"]
    assert len(users["active (Locust)"]) >= 5 and len(users["planned (evening_rush)"]) >= 5
    for cid in ("chart-throughput", "chart-rate_429", "chart-latency", "chart-queue"):
        assert any(len(p) >= 3 for p in got.charts[cid]["series"].values()), cid
    tl = r.report["timeline"]
    active = [s["users"] for s in tl["locust"]]
    # the rush came (well above the quiet tenth of the 20 users), and not at once; how close it
    # gets to all 20 depends on how fast a busy machine's Locust workers spawn them
    assert max(active) >= 3 * 2 and active.index(max(active)) > 0
    assert max(q["depth"] for q in tl["queue"]) > 0
    assert (
        sum(f["storm_429"] for f in tl["fakes"]) == r.report["rate_limits"]["served_429_by_storm"]
    )
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_choice()[0], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("requestfailed", lambda q: problems.append(f"requestfailed: {q.url}"))
            page.goto(page_file.as_uri())
            assert page.locator("svg.chart").count() == 5
            for cid in ("users", "throughput", "rate_429", "latency", "queue"):
                box = page.locator(f"#chart-{cid}").bounding_box()
                assert box is not None and box["width"] > 500 and box["height"] > 150, cid
            assert page.get_by_role("heading", name="Queue depth").is_visible()
            page.screenshot(path=str(tmp_path / "load.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert (tmp_path / "load.png").stat().st_size > 10_000


# workers on other machines: --expect-workers and vibedrill load-worker --------------------------


def _lines(p: subprocess.Popen[str]) -> queue.Queue[str]:
    q: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert p.stdout is not None
        for line in p.stdout:
            q.put(line)
        q.put("")

    threading.Thread(target=pump, daemon=True).start()
    return q


@pytest.mark.slow
@pytest.mark.served
def test_a_master_runs_with_a_worker_started_by_load_worker(tmp_path: Path) -> None:
    master = _start(
        [
            *RUN,
            *("--expect-workers", "1", "--master-port", "0", "--shape", "ramp"),
            *("--fault-probability", "0.6", "--reports-dir", str(tmp_path)),
        ]
    )
    worker: subprocess.Popen[str] | None = None
    out: list[str] = []
    try:
        lines = _lines(master)
        port = None
        while port is None:
            line = lines.get(timeout=90)
            assert line, "".join(out)
            out.append(line)
            m = re.search(
                r"vibedrill load-worker --master-host 127\.0\.0\.1 --master-port (\d+)", line
            )
            port = m and int(m.group(1))
        worker = subprocess.Popen(
            [*CLI[:-1], "load-worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **dict([MARK.decode().split("=", 1)])},
        )
        wout, _ = worker.communicate(timeout=120)
        master.wait(120)
        while (line := lines.get(timeout=10)) != "":
            out.append(line)
    finally:
        for p in (master, worker):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    text = "".join(out)
    assert master.returncode == 0, text
    assert worker.returncode == 0, wout
    assert f"connecting to 127.0.0.1:{port}" in wout and "locust worker 0:" in wout
    rep = json.loads((tmp_path / "load-healthy" / "load.json").read_text())
    assert rep["verdict"] == "held" and rep["options"]["expect_workers"] == 1
    assert rep["options"]["workers"] == 0 and rep["options"]["shape"] == "ramp"
    assert rep["locust"]["total"]["requests"] > 0 and rep["jobs"]["submitted"] > 0
    keys = {w["idempotency_key"].rsplit("-", 2)[-2] for w in _rows(tmp_path, "workload")}
    assert keys == {"w0"}
    # the master learned every job from the worker's stats reports
    assert rep["jobs"]["answer_cut_off"] <= 5
    assert (tmp_path / "load-healthy" / "load.html").is_file()
    assert not _leftovers()


def _rows(base: Path, name: str) -> list[dict[str, Any]]:
    text = (base / "load-healthy" / "evidence" / f"{name}.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.slow
def test_load_worker_without_a_master_gives_up_with_exit_3() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run(
        [
            *(*CLI[:-1], "load-worker", "--master-host", "127.0.0.1"),
            *("--master-port", str(port), "--connect-timeout", "2s"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert f"no Locust master answered at 127.0.0.1:{port} within 2s" in done.stderr
