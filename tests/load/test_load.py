"""``vibedrill load``: a short Locust run on the healthy platform holds, one with
``retry_after_ignored`` is caught, bad usage is refused; no process is left behind.

The served runs (healthy and defect, each with one Locust process and with Locust's master and
2 workers) go in parallel child processes (Locust monkey-patches with gevent, which must not
happen in the pytest process), once per module; Ctrl-C on a distributed run stops every process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    "healthy": [],
    "defect": ["--defect", "retry_after_ignored"],
    "healthy_w2": ["--workers", "2"],
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


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **dict([MARK.decode().split("=", 1)])},
    )


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
    assert rep["jobs"]["answer_cut_off"] <= 2 * 5  # at most one in flight per user
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


@pytest.mark.served
def test_ctrl_c_stops_the_master_and_every_worker(tmp_path: Path) -> None:
    import signal
    import time

    p = _start([*RUN[:4], "--run-time", "2m", "--workers", "2", "--reports-dir", str(tmp_path)])
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
