"""The mutation matrix: every sandbox defect is caught by the invariant that names its harm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _drills import browser_scenarios

from harness.catalogue import platform_defects
from harness.mutants import DEFERRED_DEFECTS, Matrix

# the matrix campaign may run inside this module's first test (see test_drill)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_every_mutant_of_every_scenario_is_caught_by_its_expected_invariant(
    matrix: Matrix,
) -> None:
    m = matrix
    missed = [
        f"{r.defect} on {r.scenario}: {r.verdict}, violated {list(r.violated)}, expected {r.invariant}"
        for r in m.rows
        if not r.caught
    ]
    assert missed == []
    assert m.rows and m.caught == len(m.rows)


def test_every_defect_of_the_registry_is_in_the_matrix_or_in_a_browser_scenarios_mutants(
    matrix: Matrix,
) -> None:
    m = matrix
    assert m.uncovered == []
    assert set(m.deferred) <= DEFERRED_DEFECTS | {
        mu.defect for s in browser_scenarios() for mu in s.mutants
    }
    assert {r.defect for r in m.rows} | set(m.deferred) == set(platform_defects())


def test_the_matrix_is_written_as_mutants_json_with_a_full_score(
    matrix: Matrix, tmp_path: Path
) -> None:
    path = matrix.write(tmp_path)
    doc = json.loads(path.read_text())
    assert doc["ok"] is True and doc["score"] == 1.0 and doc["healthy_held"] is True
    assert {"scenario", "defect", "invariant", "verdict", "violated", "caught"} <= set(
        doc["rows"][0]
    )
