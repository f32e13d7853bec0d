"""Drills shared by the end-to-end test modules: the whole matrix runs once per test session.

Every API-lane scenario healthy plus each of its ``mutants:`` rows, in worker processes, into a
temporary reports folder that is removed when the session ends. ``test_drill`` and
``test_mutants`` both read :func:`matrix`, so no drill runs twice.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
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


@functools.cache
def reports_root() -> Path:
    """A temporary reports folder for the session (removed at exit)."""
    path = Path(tempfile.mkdtemp(prefix="vibedrill-e2e-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def matrix() -> Matrix:
    """The mutation matrix of every API-lane scenario, run once (the browser ones left out)."""
    return run_matrix(
        list(api_scenarios()),
        reports_root() / "matrix",
        jobs=default_jobs(),
        left_out=browser_scenarios(),
    )
