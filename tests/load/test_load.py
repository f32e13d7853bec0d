"""``vibedrill load`` on served fakes and platform: a short Locust run on the healthy platform
holds, one with ``retry_after_ignored`` is caught, Locust's master with 2 workers judges as one
process does, ``load.html`` renders in Chromium; no process is left behind.

The runs (healthy and defect, each with one Locust process and with Locust's master and 2
workers; the healthy ones with the ``spike`` and ``evening_rush`` load shapes) go in parallel
child processes (Locust monkey-patches with gevent, which must not happen in the pytest
process), once per module. Without a server: ``test_load_units.py`` (usage errors, load shapes,
charts) and ``test_load_judging.py``; Ctrl-C and workers started on their own:
``test_load_workers.py``.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _loadkit import CLI, RUN, leftovers, marked_env, parse_charts


@dataclass
class Run:
    """One finished ``vibedrill load`` child: exit code, output, the report and its folder."""

    code: int
    out: str
    report: dict[str, Any]
    folder: Path


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
            env=marked_env(),
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
    assert all_runs and not leftovers()
    for r in all_runs.values():
        assert "fakes on http://127.0.0.1:" in r.out and "platform on http://127.0.0.1:" in r.out


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
    assert not leftovers()


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
    got = parse_charts(page_file.read_text())
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
