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
from typing import Any, TypeVar

from .errors import BadInputError
from .mutants import DrillOutcome, run_drills
from .scenario import Scenario

T = TypeVar("T")


class ShardError(BadInputError):
    """A ``--shard`` value that is not ``I/N`` with 1 ≤ I ≤ N."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``; ShardError naming the value and the valid form otherwise."""
    index, slash, count = text.strip().partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not slash or n < 1 or not 1 <= i <= n:
        raise ShardError(
            f"--shard: {text!r} is not I/N with 1 ≤ I ≤ N (e.g. --shard 1/4 … --shard 4/4)"
        )
    return i, n


def shard_of(items: Sequence[T], index: int, count: int, key: Callable[[T], str]) -> list[T]:
    """Shard ``index`` (1-based) of ``count``: sorted by ``key``, item k goes to shard k mod count + 1.

    The shards of one list partition it exactly, whatever machine computes them.
    """
    ordered = sorted(items, key=key)
    return [x for k, x in enumerate(ordered) if k % count == index - 1]


__all__ = ["ParallelResult", "ShardError", "parse_shard", "run_parallel", "shard_of"]


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
