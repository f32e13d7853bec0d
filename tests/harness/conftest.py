"""Fixtures of the harness tests: the mutation matrix, run once per test run (see ``_drills``)."""

from __future__ import annotations

import pytest
from _drills import run_the_matrix

from harness.mutants import Matrix
from tests.shared_runs import once_per_run, run_folder


@pytest.fixture(scope="session")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    """Every API-lane scenario healthy and once per mutant, shared by the xdist workers."""
    folder = run_folder(tmp_path_factory, "matrix")
    return once_per_run(folder, "matrix", lambda: run_the_matrix(folder / "reports"))
