"""Drills shared by the end-to-end test modules: the whole matrix runs once per test run.

Every API-lane scenario healthy plus each of its ``mutants:`` rows, in worker processes, into the
run's temporary folder. ``test_drill`` and ``test_mutants`` both read the session fixture
``matrix`` (``conftest.py``, :func:`run_the_matrix`), which pytest-xdist workers share
(``tests/shared_runs.py``), so no drill runs twice.
"""

from __future__ import annotations

import functools
from pathlib import Path

from harness.mutants import Matrix, default_jobs, run_matrix
from harness.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def api_scenarios() -> tuple[Scenario, ...]:
    """Every API-lane scenario of the repository, in file order."""
    loaded = [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    return tuple(s for s in loaded if s.lane == "api")


@functools.cache
def browser_scenarios() -> tuple[Scenario, ...]:
    """Every browser scenario (their matrix rows run in ``tests/browser``)."""
    loaded = [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    return tuple(s for s in loaded if s.lane != "api")


def run_the_matrix(reports: Path) -> Matrix:
    """The mutation matrix of every API-lane scenario (the browser ones left out), reports in
    ``reports``.

    Its drill processes run at a lower priority (``nice`` 10): the matrix is the suite's largest
    CPU-bound campaign, and beside it the game days, served drills and Locust runs wait on
    scaled clocks whose deadlines are real seconds; they take the CPU first, the matrix the rest.
    """
    return run_matrix(
        list(api_scenarios()),
        reports,
        jobs=default_jobs(),
        left_out=browser_scenarios(),
        nice=MATRIX_NICE,
    )


#: how much the matrix's drill processes lower their priority (see :func:`run_the_matrix`)
MATRIX_NICE = 10
