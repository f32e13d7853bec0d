"""Every API-lane drill as one pytest test: the test suite mutmut runs against each mutant.

Not collected by the default ``pytest`` run (the file name does not match ``test_*.py``): a
drill per test is the mutation campaign's job (``nox -s mutation``), run by naming this file.
A test fails exactly when ``vibedrill run <scenario>`` would exit 1: the drill did not hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.drill import DrillOptions, run_drill
from harness.scenario import load_scenario

try:  # the harness layout of main since "rooms by phase"
    from harness.drill.browser import scenarios_for_all
except ImportError:  # the flat layout before it
    from harness.browser_drill import scenarios_for_all  # type: ignore[no-redef]

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def api_lane_scenarios() -> list[str]:
    """Ids of the scenarios ``vibedrill run --all --no-browser`` runs."""
    loaded = [load_scenario(p) for p in sorted(SCENARIOS.glob("*.yaml"))]
    kept, _notes, _why = scenarios_for_all(loaded, no_browser=True)
    return [s.id for s in kept]


@pytest.mark.parametrize("scenario_id", api_lane_scenarios())
def test_drill_holds(scenario_id: str, tmp_path: Path) -> None:
    result = run_drill(
        load_scenario(SCENARIOS / f"{scenario_id}.yaml"), DrillOptions(reports_dir=tmp_path)
    )
    violated = result.verdict_json.get("violated") or result.verdict_json.get("invariants")
    assert result.verdict == "held", f"{scenario_id}: {result.verdict}; {violated}"
