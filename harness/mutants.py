"""The mutation matrix: every sandbox defect must be caught by the invariant that names its harm.

Each scenario lists ``mutants:`` rows (defect → invariant expected violated). The matrix runs
every scenario once on the healthy platform (each must come out ``held``) and once per row with
that defect switched on (the row is *caught* when the drill is ``violated`` and the expected
invariant is among the violated ones). A defect of the sandbox's registry that no scenario lists
is *uncovered*, unless it belongs to a lane that has not landed yet (:data:`DEFERRED_DEFECTS`)
or only scenarios left out of this run list it (``left_out``: the browser scenarios on a machine
without a Chromium); those are *deferred*.

Drills are independent pure functions of (scenario, seed, defects), so they may run in worker
processes (``jobs``); the rows come back in a stable order either way.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .scenario import Scenario

__all__ = [
    "DEFERRED_DEFECTS",
    "DrillOutcome",
    "Matrix",
    "MutantRow",
    "matrix_of",
    "outcome_of",
    "run_matrix",
    "run_one",
]

#: defects of lanes that have not landed yet (none: the browser lane's are in its scenarios)
DEFERRED_DEFECTS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DrillOutcome:
    """What one drill of the matrix showed: its verdict, what broke, where the report is."""

    scenario: str
    defects: tuple[str, ...]
    verdict: str
    violated: tuple[str, ...]
    timeline_sha256: str
    report_dir: str | None
    wall_s: float
    simulated_s: float


@dataclass(frozen=True)
class MutantRow:
    """One (scenario, defect) row: the invariant expected violated and what happened."""

    scenario: str
    defect: str
    invariant: str
    verdict: str
    violated: tuple[str, ...]
    report_dir: str | None

    @property
    def caught(self) -> bool:
        """The drill came out violated and the expected invariant is among the violated ones."""
        return self.verdict == "violated" and self.invariant in self.violated


@dataclass
class Matrix:
    """The whole matrix: healthy runs, mutant rows and the defects no scenario covers."""

    healthy: list[DrillOutcome] = field(default_factory=list)
    rows: list[MutantRow] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def caught(self) -> int:
        """How many mutant rows were caught."""
        return sum(r.caught for r in self.rows)

    @property
    def healthy_held(self) -> bool:
        """Every scenario held on the healthy platform."""
        return all(h.verdict == "held" for h in self.healthy)

    @property
    def ok(self) -> bool:
        """Every row caught, every healthy run held, every defect covered."""
        return self.healthy_held and self.caught == len(self.rows) and not self.uncovered

    def to_json(self) -> dict[str, Any]:
        """``mutants.json``: the rows, the healthy runs, coverage and the score."""
        return {
            "caught": self.caught,
            "total": len(self.rows),
            "score": 1.0 if not self.rows else self.caught / len(self.rows),
            "healthy_held": self.healthy_held,
            "ok": self.ok,
            "uncovered_defects": self.uncovered,
            "deferred_defects": self.deferred,
            "wall_s": round(self.wall_s, 3),
            "rows": [{**asdict(r), "caught": r.caught} for r in self.rows],
            "healthy": [asdict(h) for h in self.healthy],
        }

    def write(self, reports_dir: Path) -> Path:
        """Write ``mutants.json`` into ``reports_dir`` (atomically); return its path."""
        from .files import atomic_write

        path = reports_dir / "mutants.json"
        atomic_write(path, json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
        return path


def run_one(
    scenario: Scenario,
    defects: tuple[str, ...],
    reports_dir: Path,
    commit: str | None = None,
    seed: int | None = None,
    mode: str | None = None,
    served: float | None = None,
) -> DrillOutcome:
    """Run one drill (healthy when ``defects`` is empty) and summarise it.

    ``served``: a time scale K — the drill runs over HTTP against a fresh pair of child
    processes (``vibedrill serve --time-scale K`` and ``vibedrill platform serve --defect …``)."""
    from .drill.run import DrillOptions, run_drill

    opts = DrillOptions(
        defects=defects, reports_dir=reports_dir, commit=commit, seed=seed, mode=mode
    )
    if served is None:
        return outcome_of(scenario, defects, run_drill(scenario, opts))
    from dataclasses import replace

    from .drill.served_pair import served_pair

    with served_pair(scenario, defects, time_scale=served) as pair:
        r = run_drill(
            scenario,
            replace(
                opts,
                defects=(),
                platform_url=pair.platform_url,
                world=pair.world,
                time_scale=pair.time_scale,
                suffix="".join(f"-{d.replace('_', '-')}" for d in defects) + "-served",
            ),
        )
    return outcome_of(scenario, defects, r)


def outcome_of(scenario: Scenario, defects: tuple[str, ...], r: Any) -> DrillOutcome:
    """The summary of a finished drill ``r`` (a :class:`~harness.drill.DrillResult`)."""
    violated = tuple(
        str(i["name"])
        for i in r.verdict_json.get("invariants", [])
        if i.get("verdict") == "violated"
    )
    return DrillOutcome(
        scenario=scenario.id,
        defects=defects,
        verdict=r.verdict,
        violated=violated,
        timeline_sha256=r.timeline_sha256,
        report_dir=None if r.report_dir is None else str(r.report_dir),
        wall_s=r.wall_s,
        simulated_s=r.simulated_s,
    )


def _run_job(
    args: tuple[
        dict[str, Any], tuple[str, ...], str, str | None, int | None, str | None, float | None
    ],
) -> DrillOutcome:
    """Worker-process entry: rebuild the scenario and run it."""
    raw, defects, reports_dir, commit, seed, mode, served = args
    return run_one(
        Scenario.model_validate(raw), defects, Path(reports_dir), commit, seed, mode, served
    )


def default_jobs() -> int:
    """Worker processes for a matrix: the machine's CPUs (at most 4)."""
    return max(1, min(4, os.cpu_count() or 1))


def run_drills(
    work: Sequence[tuple[Scenario, tuple[str, ...]]],
    reports_dir: Path,
    *,
    jobs: int = 1,
    commit: str | None = None,
    on_done: Callable[[DrillOutcome], None] | None = None,
    seed: int | None = None,
    mode: str | None = None,
    should_stop: Callable[[], int] | None = None,
    served: float | None = None,
    nice: int = 0,
) -> list[DrillOutcome]:
    """Run every (scenario, defects) pair, in ``jobs`` processes; results in the order given.

    ``nice``: the worker processes lower their scheduling priority by this much (``os.nice``),
    so that a campaign sharing the machine with real-time work (a game day, a served drill on
    a scaled clock) takes the CPU it leaves idle.

    ``should_stop`` (a pending signal): no further drill starts; the ones running finish (a
    terminal's Ctrl-C reaches the workers too, which cut and write theirs).
    """
    if jobs <= 1 or len(work) <= 1:
        out = []
        for s, d in work:
            if should_stop is not None and should_stop():
                break
            o = run_one(s, d, reports_dir, commit, seed, mode, served)
            if on_done is not None:
                on_done(o)
            out.append(o)
        return out
    args = [
        (s.model_dump(mode="json"), d, str(reports_dir), commit, seed, mode, served)
        for s, d in work
    ]
    done: dict[int, DrillOutcome] = {}
    # submitted one per free worker, never queued ahead: a stop request starts nothing more
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(nice,)) as pool:
        running: dict[concurrent.futures.Future[DrillOutcome], int] = {}
        todo = list(enumerate(args))
        forwarded = False
        while todo or running:
            stopping = should_stop is not None and bool(should_stop())
            if stopping and not forwarded:  # cut the drills running in the workers, too
                forwarded = True
                _interrupt_workers()
            while todo and len(running) < jobs and not stopping:
                i, a = todo.pop(0)
                running[pool.submit(_run_job, a)] = i
            if not running:
                break
            finished, _ = concurrent.futures.wait(
                running, timeout=0.2, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for f in finished:
                o = f.result()
                done[running.pop(f)] = o
                if on_done is not None:
                    on_done(o)
    return [done[i] for i in sorted(done)]


def _interrupt_workers() -> None:
    """SIGINT to this process's workers: a running drill is cut and written, an idle one ignores it."""
    import multiprocessing
    import signal

    for child in multiprocessing.active_children():
        if child.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGINT)


def _init_worker(nice: int = 0) -> None:
    """Workers leave stopping to the parent between drills (a running drill still handles
    it), at ``nice`` below the parent's priority."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice > 0:
        os.nice(nice)


def coverage(
    scenarios: Iterable[Scenario], registry: Iterable[str], left_out: Iterable[Scenario] = ()
) -> tuple[list[str], list[str]]:
    """Defects of ``registry`` that no scenario's mutants name: (uncovered, deferred).

    Deferred: a lane's defect that has not landed (:data:`DEFERRED_DEFECTS`), or one that only
    the ``left_out`` scenarios (not run here) name."""
    named = {m.defect for s in scenarios for m in s.mutants}
    elsewhere = DEFERRED_DEFECTS | {m.defect for s in left_out for m in s.mutants}
    missing = sorted(set(registry) - named)
    return [d for d in missing if d not in elsewhere], [d for d in missing if d in elsewhere]


def matrix_of(
    scenarios: Sequence[Scenario],
    done: Sequence[DrillOutcome],
    registry: Iterable[str],
    left_out: Iterable[Scenario] = (),
) -> Matrix:
    """The matrix of drills already run: ``done`` holds each scenario's healthy outcome, in
    order, then one outcome per ``mutants:`` row, scenario by scenario."""
    m = Matrix(healthy=list(done[: len(scenarios)]))
    rest = iter(done[len(scenarios) :])
    for s in scenarios:
        for mu in s.mutants:
            o = next(rest)
            m.rows.append(
                MutantRow(s.id, mu.defect, mu.invariant, o.verdict, o.violated, o.report_dir)
            )
    m.uncovered, m.deferred = coverage(scenarios, registry, left_out)
    return m


def run_matrix(
    scenarios: Sequence[Scenario],
    reports_dir: Path,
    *,
    jobs: int = 1,
    commit: str | None = None,
    on_done: Callable[[DrillOutcome], None] | None = None,
    left_out: Sequence[Scenario] = (),
    served: float | None = None,
    nice: int = 0,
) -> Matrix:
    """Run every scenario healthy and with each of its mutants; see the module doc.

    ``left_out``: scenarios not run here (their defects are deferred, not uncovered)."""
    import time

    from .catalogue import platform_defects

    wall0 = time.perf_counter()
    work: list[tuple[Scenario, tuple[str, ...]]] = [(s, ()) for s in scenarios]
    work += [(s, (m.defect,)) for s in scenarios for m in s.mutants]
    done = run_drills(
        work, reports_dir, jobs=jobs, commit=commit, on_done=on_done, served=served, nice=nice
    )
    m = matrix_of(scenarios, done, platform_defects(), left_out)
    m.wall_s = time.perf_counter() - wall0
    return m
