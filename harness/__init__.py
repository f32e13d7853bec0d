"""vibedrill's drill engine: scenarios, faults, runbooks, invariants, judging, reports, CLI.

The rooms, in pipeline order: :mod:`harness.scenario` (the data model) →
:mod:`harness.drill` (run a scenario) → :mod:`harness.judge` (record, invariants, verdict) →
:mod:`harness.report` (verdict.json, postmortem) — plus :mod:`harness.load`,
:mod:`harness.mutants`, :mod:`harness.cli` and :mod:`harness.pytest_plugin`. See
``docs/architecture.md``.

The public API is re-exported here and imported on first use, so ``import harness`` (and the
pytest plugin, which lives in this package) stays cheap: neither the sandbox, Playwright nor
Locust is imported until a name that needs them is touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .drill.run import DrillOptions, DrillResult, run_drill
    from .judge.record import DrillRecord
    from .judge.verdict import Verdict
    from .load.run import LoadOptions, LoadResult, run_load
    from .scenario import Scenario, load_scenario

#: public name → the module that defines it
_EXPORTS = {
    "DrillOptions": "harness.drill.run",
    "DrillRecord": "harness.judge.record",
    "DrillResult": "harness.drill.run",
    "LoadOptions": "harness.load.run",
    "LoadResult": "harness.load.run",
    "Scenario": "harness.scenario",
    "Verdict": "harness.judge.verdict",
    "load_scenario": "harness.scenario",
    "run_drill": "harness.drill.run",
    "run_load": "harness.load.run",
}

__all__ = [
    "DrillOptions",
    "DrillRecord",
    "DrillResult",
    "LoadOptions",
    "LoadResult",
    "Scenario",
    "Verdict",
    "load_scenario",
    "run_drill",
    "run_load",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
