"""How the suite spreads over processes: ``-n auto``'s worker count and the matrix's priority."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import pytest_xdist_auto_num_workers

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("cores", "workers"), [(1, 2), (2, 4), (4, 8), (8, 12), (32, 36)])
def test_auto_gives_two_workers_per_core_and_at_most_four_more_than_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert pytest_xdist_auto_num_workers(config=None) == workers  # type: ignore[arg-type]


def test_the_fast_tier_gets_one_worker_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)

    class Config:
        def __init__(self, expr: str) -> None:
            self.expr = expr

        def getoption(self, name: str, default: object = None) -> object:
            return self.expr if name == "markexpr" else default

    assert pytest_xdist_auto_num_workers(config=Config("not slow")) == 2  # type: ignore[arg-type]
    assert pytest_xdist_auto_num_workers(config=Config("served")) == 4  # type: ignore[arg-type]
    assert pytest_xdist_auto_num_workers(config=Config("")) == 4  # type: ignore[arg-type]


def test_pytest_xdists_own_variable_overrides_the_count_and_a_bad_value_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    assert pytest_xdist_auto_num_workers(config=None) == 3  # type: ignore[arg-type]
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "many")
    assert pytest_xdist_auto_num_workers(config=None) == 4  # type: ignore[arg-type]


def test_a_campaigns_worker_process_runs_at_the_lower_priority_it_was_given() -> None:
    code = (
        "import os; from harness.mutants import _init_worker; "
        "before = os.nice(0); _init_worker(7); print(os.nice(0) - before)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    assert out.strip() == "7"
