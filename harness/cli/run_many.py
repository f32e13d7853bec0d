"""A list of drills run with a live progress line and a summary table; SIGINT/SIGTERM stop it cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.table import Table

from .common import EXIT_FAILED, EXIT_HARNESS, EXIT_OK, EXIT_USAGE, err, out

__all__ = ["run_many"]


def _kill_workers() -> None:
    """Kill this process's children (``--jobs`` workers) before exiting at once."""
    import multiprocessing

    for child in multiprocessing.active_children():
        with contextlib.suppress(Exception):
            child.kill()


class _StopRequest:
    """SIGINT/SIGTERM during a run: remembered, never raised, so no drill's result is lost.

    The drill that is running sees the request (its own loop's handler, or :meth:`pending` polled
    as soon as its loop starts) and is cut and written; the run then starts no further drill. A
    second signal exits at once with the shell's code.
    """

    def __init__(self) -> None:
        self.signum = 0

    def handle(self, signum: int, _frame: object) -> None:
        if self.signum:
            os.write(2, b"\ninterrupted again: exiting now\n")
            _kill_workers()  # parallel drills' workers would be orphans otherwise
            os._exit(128 + signum)
        self.signum = signum

    def pending(self) -> int:
        return self.signum

    def arm(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, self.handle)

    @contextlib.contextmanager
    def armed(self) -> Iterator[_StopRequest]:
        """Handlers installed for the run, the previous ones restored after."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.arm()
        try:
            yield self
        finally:
            if not self.signum:  # stopping: keep ours until exit, so a second press exits at once
                for sig, handler in previous.items():
                    signal.signal(sig, handler)


def run_many(
    scenarios: list[Any],
    *,
    seed: int | None,
    defects: tuple[str, ...],
    mode: str | None,
    reports_dir: Path,
    suffix: str = "",
    jobs: int = 1,
    served: dict[str, Any] | None = None,
) -> int:
    """Run each scenario with a live progress line; print the summary table; return the exit code."""
    import time

    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from ..drill.browser import is_browser_scenario
    from ..drill.run import DrillOptions, commit_of, run_drill
    from ..mutants import default_jobs
    from ..parallel import run_parallel
    from ..report.lock import ReportBusy

    commit = commit_of()
    results: list[Any] = []
    wall0 = time.perf_counter()
    all_scenarios = list(scenarios)
    stop = _StopRequest()
    with (
        stop.armed(),
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[phase]}"),
            TimeElapsedColumn(),
            console=out,
            transient=True,
        ) as prog,
    ):
        jobs = jobs or default_jobs()
        api = (
            [s for s in scenarios if not is_browser_scenario(s)] if jobs > 1 and not suffix else []
        )
        if len(api) > 1:  # API-lane drills in worker processes; browser drills below, one at a time
            results += run_parallel(
                api,
                jobs=jobs,
                seed=seed,
                defects=defects,
                mode=mode,
                reports_dir=reports_dir,
                commit=commit,
                on_done=lambda o: err.print(f"{o.scenario}: {o.verdict}", markup=False),
                should_stop=stop.pending,
            )
            scenarios = [s for s in scenarios if s not in api]
        for s in scenarios:
            if stop.pending():
                break
            task = prog.add_task(s.id, total=1.0, phase="arrange")

            def progress(phase: str, offset: float, duration: float, _task: TaskID = task) -> None:
                prog.update(
                    _task, completed=min(1.0, offset / duration if duration else 1.0), phase=phase
                )

            opts = DrillOptions(
                seed=seed,
                defects=defects,
                mode=mode,
                reports_dir=reports_dir,
                progress=progress,
                commit=commit,
                suffix=suffix,
                stop_requested=stop.pending,
                **(served or {}),
            )
            try:
                result = run_drill(s, opts)
            except ReportBusy as e:
                err.print(str(e), markup=False)
                return EXIT_USAGE
            finally:
                stop.arm()  # the drill loop's own handlers were removed on its way out
            if result.signum and not stop.signum:
                stop.signum = result.signum
            results.append(result)
            prog.update(task, completed=1.0, phase="done")
            prog.remove_task(task)
    stopped = stop.signum
    table = Table(
        "scenario",
        "verdict",
        "detect",
        "contain",
        "violated",
        "sim",
        "wall",
        "report",
        title="drills",
    )
    colour = {
        "held": "green",
        "violated": "red",
        "vacuous": "yellow",
        "error": "magenta",
        "skipped": "blue",
    }
    for r in results:
        m = r.verdict_json.get("metrics") or {}
        bad = [
            i["name"]
            for i in r.verdict_json.get("invariants", [])
            if i.get("verdict") == "violated"
        ]
        det, con = m.get("time_to_detect_s"), m.get("time_to_contain_s")
        table.add_row(
            r.scenario,
            f"[{colour.get(r.verdict, 'white')}]{r.verdict}[/]",
            "-" if det is None else f"{det:.0f}s",
            "-" if con is None else f"{con:.0f}s",
            ", ".join(bad) or "-",
            f"{r.simulated_s / 60:.0f}m",
            f"{r.wall_s:.1f}s",
            str(r.report_dir),
        )
    out.print(table)
    out.print(f"{len(results)} drill(s) in {time.perf_counter() - wall0:.1f}s wall")
    if stopped:
        name = signal.Signals(stopped).name
        ran = {r.scenario for r in results}
        not_run = [s.id for s in all_scenarios if s.id not in ran]
        err.print(
            f"interrupted by {name}: {len(results)} of {len(all_scenarios)} drill(s) ran"
            + (
                f" (the last one cut short and written: {results[-1].report_dir})"
                if results and getattr(results[-1], "interrupted", False)
                else ""
            )
            + (f"; not run: {', '.join(not_run)}" if not_run else ""),
            markup=False,
        )
        return 128 + int(stopped)
    for r in results:
        notes = list(getattr(r, "notes", None) or [])
        if r.verdict == "skipped":
            err.print(f"{r.scenario}: skipped: {'; '.join(notes)}", markup=False)
        elif notes:
            err.print(f"{r.scenario}: {'; '.join(notes)}", markup=False)
    if any(r.verdict == "error" for r in results):
        return EXIT_HARNESS
    if any(r.verdict in ("violated", "vacuous") for r in results):
        return EXIT_FAILED
    return EXIT_OK
