"""``vibedrill run --jobs N``: drills in worker processes, reported like the sequential run.

Each drill is a pure function of (scenario, seed, commit) on its own virtual clock, so running
them in separate processes changes nothing but the wall time (same timeline hashes). Seed and
mode overrides go to the worker as drill options (so the drill id carries them); the summary table reads each
drill's ``verdict.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .mutants import DrillOutcome, run_drills
from .scenario import Scenario

__all__ = ["ParallelResult", "run_parallel"]


@dataclass
class ParallelResult:
    """What the summary table needs of a drill run in a worker process."""

    scenario: str
    verdict: str
    report_dir: Path | None
    wall_s: float
    simulated_s: float
    verdict_json: dict[str, Any] = field(default_factory=dict)


def run_parallel(
    scenarios: Sequence[Scenario],
    *,
    jobs: int,
    seed: int | None,
    defects: tuple[str, ...],
    mode: str | None,
    reports_dir: Path,
    commit: str | None,
    on_done: Callable[[DrillOutcome], None] | None = None,
    should_stop: Callable[[], int] | None = None,
) -> list[ParallelResult]:
    """Run ``scenarios`` in ``jobs`` processes; results in the order given."""
    # seed and mode go to the worker as options, so the drill id says so as in a serial run
    work = [(s, defects) for s in scenarios]
    out = []
    for o in run_drills(
        work,
        reports_dir,
        jobs=jobs,
        commit=commit,
        on_done=on_done,
        seed=seed,
        mode=mode,
        should_stop=should_stop,
    ):
        folder = Path(o.report_dir) if o.report_dir else None
        vj: dict[str, Any] = {}
        if folder is not None and (folder / "verdict.json").is_file():
            vj = json.loads((folder / "verdict.json").read_text())
        out.append(ParallelResult(o.scenario, o.verdict, folder, o.wall_s, o.simulated_s, vj))
    return out
