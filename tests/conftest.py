"""What every test of the suite shares: the environment of a plain ``pytest`` run, and the order
of the test files (the longest first).

The suite runs on pytest-xdist workers (``-n auto`` in ``pyproject.toml``). A worker process
starts with ``COLUMNS=80`` and ``LINES=24`` in its environment, which a plain run does not have;
the CLI sizes its tables from ``COLUMNS`` when it is imported (``harness.cli.common``), so under
xdist scenario ids and invariant names were cut short and tests reading the CLI's tables failed.
A worker drops both, so the CLI sees what it sees in a single-process run.

``-n auto`` starts two workers more than the machine has cores, unless the fast tier was asked
for (``-m "not slow"``): the slow files spend most of their time waiting on child processes and
scaled clocks (a game day, a served drill or a Locust run uses a fifth of a core for a minute),
so with a worker per core one of them sat idle while the CPU-bound files queued behind it.
``PYTEST_XDIST_AUTO_NUM_WORKERS`` (pytest-xdist's own variable) still sets the number.
"""

from __future__ import annotations

import os

import pytest

#: workers beyond one per core for runs that include the slow (mostly waiting) files
EXTRA_WORKERS = 2

if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: a worker per core, two more when the run includes the slow files."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    fast_tier = "not slow" in (config.getoption("markexpr", "") or "")
    return max(1, cores or 1) + (0 if fast_tier else EXTRA_WORKERS)


#: the files that take longest (their drills, servers and Chromium), started first so that the
#: workers do not end on them one after the other; then every other file with a ``slow`` test,
#: then the rest. Files stay whole and in order (``--dist loadfile``, ``--no-loadscope-reorder``).
#: The CPU-bound ones (the matrix, the browser drills) lead, the ones that mostly wait on a scaled
#: clock or child processes (game days, served drills, Locust) run beside them.
LONGEST_FIRST = (
    "tests/harness/test_drill.py",  # runs the mutation matrix (fixture ``matrix``)
    "tests/browser/test_browser_drills.py",
    "tests/load/test_load.py",
    "tests/gameday/test_gameday_autopilot.py",
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    slow = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> int:
        rel = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        if rel in LONGEST_FIRST:
            return LONGEST_FIRST.index(rel)
        return len(LONGEST_FIRST) + (item.path not in slow)

    items.sort(key=rank)  # stable: each file's tests keep their order
