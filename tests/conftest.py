"""What every test of the suite shares: the environment of a plain ``pytest`` run, and the order
of the test files (the longest first).

The suite runs on pytest-xdist workers (``-n auto`` in ``pyproject.toml``). A worker process
starts with ``COLUMNS=80`` and ``LINES=24`` in its environment, which a plain run does not have;
the CLI sizes its tables from ``COLUMNS`` when it is imported (``harness.cli.common``), so under
xdist scenario ids and invariant names were cut short and tests reading the CLI's tables failed.
A worker drops both, so the CLI sees what it sees in a single-process run.
"""

from __future__ import annotations

import os

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)


#: the files that take longest (their drills, servers and Chromium), started first so that the
#: workers do not end on them one after the other; then every other file with a ``slow`` test,
#: then the rest. Files stay whole and in order (``--dist loadfile``, ``--no-loadscope-reorder``).
#: The matrix (CPU-bound, at a lower priority: see ``tests/harness/_drills.py``) leads, with the
#: files that mostly wait on a scaled clock or child processes (Locust, game days) beside it;
#: each game day and the twice-drilled served pair are files of their own, so they need not
#: wait one after the other on one worker.
LONGEST_FIRST = (
    "tests/harness/test_drill.py",  # runs the mutation matrix (fixture ``matrix``)
    "tests/load/test_load.py",
    "tests/gameday/test_gameday_autopilot.py",
    "tests/browser/test_browser_drills.py",
    "tests/gameday/test_gameday_served.py",
    "tests/harness/test_served_drill.py",
    "tests/harness/test_served_twice.py",
    "tests/gameday/test_gameday_console.py",
    "tests/harness/test_slips.py",
    "tests/install/test_installed.py",
    "tests/harness/test_explore.py",
    "tests/load/test_load_workers.py",
    "tests/harness/test_interrupt.py",
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core (at most four more than the cores), or
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` when set (pytest-xdist's own override).

    Half of the suite's wall time is waiting — game days and served drills on scaled clocks,
    Locust runs, signal tests' child processes — with a tenth of a core busy; one worker per
    core left a core idle for most of a run (measured: 125 % CPU). With twice as many, the waits
    overlap the CPU-bound files (the matrix runs at a lower priority: ``tests/harness/_drills.py``).
    The fast tier (``-m "not slow"``) gets one worker per core.
    """
    env = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")
    if env.strip().isdigit():
        return int(env)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = cores or 1
    if config is not None and "not slow" in (config.getoption("markexpr", "") or ""):
        # the fast tier has nothing that waits: one worker per core (measured on 2 cores:
        # 23.7 s with 2 workers, 32.1 s with 4, each extra worker collecting the suite again)
        return n
    return max(2, min(2 * n, n + 4))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    slow = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> int:
        rel = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        if rel in LONGEST_FIRST:
            return LONGEST_FIRST.index(rel)
        return len(LONGEST_FIRST) + (item.path not in slow)

    items.sort(key=rank)  # stable: each file's tests keep their order
