"""A Chromium that stops answering mid-drill: the drill ends as a harness error, not a hang.

The browser is frozen for real (SIGSTOP on its processes, as a wedged or swapped-out browser
would be): every Playwright call then waits forever. The drill's watchdog must notice within its
stall time, kill that Chromium, judge the drill ``error`` with a message naming the lane, write
the report, and leave no process of its browser behind.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from harness.drill.browser import BrowserDrill
from harness.drill.run import DrillOptions, run_drill
from harness.scenario import load_scenario
from sandbox.lanes.browser_runtime import TAG_SWITCH

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent.parent


def _ancestors(pid: int) -> set[int]:
    seen: set[int] = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return seen


def _our_browsers() -> list[int]:
    """PIDs of tagged Chromium processes descending from this test process (not another
    worker's), zombies left out."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        tagged = any(a.startswith(TAG_SWITCH.encode()) for a in argv)
        if tagged and state != "Z" and me in _ancestors(int(name)):
            found.append(int(name))
    return found


class _Freezer(threading.Thread):
    """SIGSTOPs this process's tagged Chromium once it has run for ``after`` seconds."""

    def __init__(self, after: float) -> None:
        super().__init__(daemon=True)
        self.after = after
        self.frozen: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        first = None
        while not self.done.is_set():
            pids = _our_browsers()
            if pids and first is None:
                first = time.monotonic()
            if first is not None and time.monotonic() - first >= self.after:
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGSTOP)
                        self.frozen.append(pid)
                    except OSError:
                        pass
                return
            time.sleep(0.05)


def test_a_frozen_chromium_ends_the_drill_as_an_error_with_a_report_and_no_process_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BrowserDrill, "stall_s", 6.0)
    freezer = _Freezer(after=1.5)
    freezer.start()
    s = load_scenario(ROOT / "scenarios" / "rb06_browser_drift.yaml")
    t0 = time.monotonic()
    try:
        r = run_drill(s, DrillOptions(reports_dir=tmp_path))
    finally:
        freezer.done.set()
        freezer.join(5)
    wall = time.monotonic() - t0
    assert freezer.frozen, "the browser was never frozen: the test proved nothing"
    assert r.verdict == "error"
    error = str(r.verdict_json.get("error"))
    assert "the browser lane stalled" in error and "6 s of real time" in error, error
    assert "waiting at lanes/" in error, error
    assert wall < 120, f"the stalled drill took {wall:.0f} s to end"
    assert (r.report_dir / "postmortem.md").is_file()
    assert "the browser lane stalled" in (r.report_dir / "postmortem.md").read_text()
    deadline = time.monotonic() + 10
    while _our_browsers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _our_browsers() == [], "a Chromium process outlived the drill"


def test_a_browser_too_slow_for_the_drill_ends_it_as_an_error_instead_of_crawling_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a healthy browser drill holds its clock for several real seconds: a budget of one is spent
    monkeypatch.setattr(BrowserDrill, "held_budget_s", 1.0)
    s = load_scenario(ROOT / "scenarios" / "rb06_browser_drift.yaml")
    r = run_drill(s, DrillOptions(reports_dir=tmp_path))
    assert r.verdict == "error"
    error = str(r.verdict_json.get("error"))
    assert "the browser lane is too slow" in error and "budget 1 s" in error, error
    assert (r.report_dir / "postmortem.md").is_file()
    deadline = time.monotonic() + 10
    while _our_browsers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _our_browsers() == [], "a Chromium process outlived the drill"
