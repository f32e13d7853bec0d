"""The ``vibedrill`` command line.

Exit codes: 0 every drill held, 1 something violated or vacuous, 2 bad scenario or usage,
3 harness error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..scenario_sources import Catalogue, ScenarioSourceError, load_catalogue
from .explore import explore_cmd
from .gameday import gameday_cmd
from .load import load_app, load_worker_cmd
from .platform import platform_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="vibedrill",
    help="Chaos drills and incident rehearsal for the Raize The Vibe platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(platform_app, name="platform")
app.add_typer(load_app, name="load")
app.command("load-worker")(load_worker_cmd)
app.command("explore")(explore_cmd)
app.command("gameday")(gameday_cmd)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3
#: a run stopped by a signal exits 128 + the signal's number, as shells do
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
# Off a terminal (CI logs, pipes) rich would assume 80 columns and cut scenario ids short:
# 160, or COLUMNS when set.
_COLUMNS = os.environ.get("COLUMNS", "")
_WIDTH = None if sys.stdout.isatty() else int(_COLUMNS) if _COLUMNS.isdigit() else 160
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)


#: ``--scenarios DIR`` on list, validate, run and mutants
ScenariosOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--scenarios",
        help=(
            "a folder of your own scenarios (repeatable; also VIBEDRILL_SCENARIOS and "
            "[tool.vibedrill] scenarios in pyproject.toml); they shadow built-ins of the same id"
        ),
    ),
]


def _catalogue(extra: list[Path] | None) -> Catalogue:
    """The scenario catalogue (built-in + the user's folders); exit 2 on a bad folder."""
    try:
        return load_catalogue(extra or (), notice=lambda m: err.print(f"notice: {m}", markup=False))
    except ScenarioSourceError as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None


def _resolve(ref: str, cat: Catalogue) -> Path:
    """A scenario id of the catalogue or a path to a YAML file; BadParameter naming the choices."""
    try:
        return cat.resolve(ref)
    except ScenarioSourceError as e:
        raise typer.BadParameter(str(e)) from None


@app.command("list")
def list_(scenarios_from: ScenariosOpt = None) -> None:
    """List the scenarios with their runbook, severity, incident types, lane and source."""
    from ..scenario import ScenarioError, load_scenario

    cat = _catalogue(scenarios_from)
    t = Table("scenario", "runbook", "severity", "types", "lane", "title")
    t.add_column("source", overflow="fold")  # a path: wrapped, never cut
    bad = 0
    for sid in cat.ids():
        entry = cat.entries[sid]
        try:
            s = load_scenario(entry.path)
        except ScenarioError as e:
            bad += 1
            t.add_row(sid, "?", "?", "?", "?", f"[red]invalid: {e}[/red]", entry.origin)
            continue
        t.add_row(
            s.id,
            s.runbook,
            s.severity,
            ",".join(s.incident_types),
            s.lane,
            s.title,
            entry.origin,
        )
    out.print(t)
    if bad:
        raise typer.Exit(EXIT_USAGE)


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="scenario files or folders of them (default: every scenario of the catalogue)"
        ),
    ] = None,
    scenarios_from: ScenariosOpt = None,
) -> None:
    """Check scenario files; print one clear message per bad file; exit 2 if any is bad."""
    from ..scenario import ScenarioError, load_scenario

    bad = 0
    files: list[Path] = []
    for p in paths or _catalogue(scenarios_from).paths():
        files += (
            sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml")) if p.is_dir() else [p]
        )
    for p in files:
        try:
            load_scenario(p)
            out.print(f"[green]ok[/green] {p}")
        except ScenarioError as e:
            bad += 1
            err.print(str(e), markup=False)
    if bad:
        raise typer.Exit(EXIT_USAGE)
    out.print(f"{len(files)} scenario(s) valid")


@app.command()
def run(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(help="scenario ids (see `vibedrill list`) or YAML paths"),
    ] = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="every scenario of the catalogue (browser ones need a Chromium)"
        ),
    ] = False,
    scenarios_from: ScenariosOpt = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    defect: Annotated[
        list[str] | None, typer.Option("--defect", help="switch a platform defect on (repeatable)")
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="auto (the automated Ops Lead responds) or observe")
    ] = None,
    reports_dir: Annotated[
        Path, typer.Option("--reports-dir", help="where reports/<drill_id>/ go")
    ] = Path("reports"),
    no_browser: Annotated[
        bool,
        typer.Option(
            "--no-browser", help="with --all: skip the browser scenarios (they need a Chromium)"
        ),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--workers",
            "--jobs",
            "-j",
            min=0,
            help="API-lane drills in this many processes (0: CPUs); same verdicts and hashes",
        ),
    ] = 0,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="run only shard I of N (1-based): scenario k of the sorted list goes to shard k mod N + 1",
        ),
    ] = None,
    platform_url: Annotated[
        str | None,
        typer.Option(
            "--platform-url",
            help="drill a platform that already runs (any implementation of the platform "
            "contract) over HTTP, in wall-clock time; needs --world",
        ),
    ] = None,
    world: Annotated[
        Path | None,
        typer.Option("--world", help="the ready file of the fakes served by `vibedrill serve`"),
    ] = None,
    time_scale: Annotated[
        float | None,
        typer.Option(
            "--time-scale",
            min=0.001,
            help="with --platform-url: the world's time scale K (default: the ready file's; a "
            "mismatch is refused)",
        ),
    ] = None,
) -> None:
    """Run drills in-process on virtual time (or a platform over HTTP); a report per drill."""
    from ..catalogue import unknown_defect
    from ..scenario import ScenarioError, load_scenario

    if mode is not None and mode not in ("auto", "observe"):
        err.print(f"--mode: {mode!r} is not one of auto, observe", markup=False)
        raise typer.Exit(EXIT_USAGE)
    if bool(scenarios) == all_:
        err.print("give scenario ids/paths or --all (not both, not neither)")
        raise typer.Exit(EXIT_USAGE)
    if (platform_url is None) != (world is None):
        err.print("--platform-url and --world go together (a served platform and its world)")
        raise typer.Exit(EXIT_USAGE)
    if time_scale is not None and platform_url is None:
        err.print(
            "--time-scale needs --platform-url and --world (in-process drills run on virtual time)"
        )
        raise typer.Exit(EXIT_USAGE)
    served = None
    if platform_url is not None and world is not None:
        served = _served_target(platform_url, world, time_scale)
    bad_defect = unknown_defect(defect or ())
    if bad_defect is not None:
        err.print(bad_defect, markup=False)
        raise typer.Exit(EXIT_USAGE)
    from ..parallel import ShardError, parse_shard, shard_of

    try:
        shard_no = parse_shard(shard) if shard is not None else None
    except ShardError as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    cat = _catalogue(scenarios_from)
    try:
        paths = cat.paths() if all_ else [_resolve(r, cat) for r in scenarios or ()]
    except typer.BadParameter as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    if shard_no is not None:
        i, n = shard_no
        picked = shard_of(paths, i, n, key=lambda p: p.stem)
        out.print(
            f"shard {i}/{n}: {len(picked)} of {len(paths)} scenario(s)"
            + (f": {', '.join(p.stem for p in picked)}" if picked else ""),
            markup=False,
        )
        paths = picked
    loaded = []
    for p in paths:
        try:
            loaded.append(load_scenario(p))
        except ScenarioError as e:
            err.print(str(e), markup=False)
            folder = reports_dir / p.stem
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "error.txt").write_text(str(e) + "\n")
            raise typer.Exit(EXIT_USAGE) from None
    if all_:
        from ..drill.browser import scenarios_for_all

        loaded, notes, why = scenarios_for_all(loaded, no_browser=no_browser)
        for note in notes:
            out.print(note, markup=False)
        if why is not None:
            err.print(why, markup=False)
            raise typer.Exit(EXIT_HARNESS)
    raise typer.Exit(
        _run_many(
            loaded,
            seed=seed,
            defects=tuple(defect or ()),
            mode=mode,
            reports_dir=reports_dir,
            jobs=1 if served else jobs,
            served=served,
        )
    )


def _served_target(url: str, world: Path, time_scale: float | None) -> dict[str, Any]:
    """``--platform-url``/``--world``/``--time-scale`` checked: the options of a served drill."""
    from ..drill.run import world_clock
    from ..platform_adapter import PlatformServeUsageError, load_served_world

    if not url.startswith(("http://", "https://")):
        err.print(f"--platform-url: {url!r} is not an http(s) URL", markup=False)
        raise typer.Exit(EXIT_USAGE)
    try:
        doc = load_served_world(world)
    except PlatformServeUsageError as e:
        err.print(f"--world: {e}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    scale, _ = world_clock(doc)
    if time_scale is not None and abs(time_scale - scale) > 1e-9 * max(scale, 1.0):
        err.print(
            f"--time-scale {time_scale:g} does not match the served world ({world} runs at time "
            f"scale {scale:g}); give --time-scale {scale:g} or restart the fakes and the platform "
            f"with --time-scale {time_scale:g}",
            markup=False,
        )
        raise typer.Exit(EXIT_USAGE)
    return {"platform_url": url, "world": world, "time_scale": scale}


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


def _run_many(
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


@app.command()
def replay(
    report_dir: Annotated[Path, typer.Argument(help="a report folder written by `vibedrill run`")],
) -> None:
    """Re-run a drill with its recorded scenario, seed and defects; say whether the timeline hash matches."""
    from ..drill.run import DrillOptions, run_drill
    from ..replay_file import load_replay
    from ..scenario import ScenarioError

    meta_file = report_dir / "replay.json"
    if not meta_file.is_file():
        err.print(
            f"{report_dir}: no replay.json; is this a report folder of `vibedrill run`?",
            markup=False,
        )
        raise typer.Exit(EXIT_USAGE)
    try:
        meta = load_replay(meta_file)
    except ScenarioError as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    scenario = meta.scenario
    opts = DrillOptions(
        seed=meta.seed,
        defects=meta.defects,
        mode=meta.mode,
        reports_dir=report_dir.parent,
        suffix="-replay",
    )
    result = run_drill(scenario, opts)
    want = meta.timeline_sha256
    if result.timeline_sha256 == want:
        out.print(
            f"[green]timeline hash matches[/green]: {want} ({result.drill_id}, verdict {result.verdict})"
        )
        raise typer.Exit(EXIT_OK)
    out.print(
        f"[red]timeline hash differs[/red]: recorded {want}, replayed {result.timeline_sha256}"
    )
    raise typer.Exit(EXIT_FAILED)


@app.command()
def mutants(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(
            help="scenario ids or YAML paths (default: every scenario; browser ones need a Chromium)"
        ),
    ] = None,
    reports_dir: Annotated[
        Path, typer.Option("--reports-dir", help="where the drills' reports and mutants.json go")
    ] = Path("reports/mutants"),
    no_browser: Annotated[
        bool,
        typer.Option(
            "--no-browser", help="leave the browser scenarios out (their defects are deferred)"
        ),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--workers",
            "--jobs",
            "-j",
            min=0,
            help="drills run in this many processes (0: CPUs, at most 4)",
        ),
    ] = 0,
    scenarios_from: ScenariosOpt = None,
    served: Annotated[
        bool,
        typer.Option(
            "--served",
            help="drill the sandbox served in other processes, over HTTP only (a fresh "
            "`vibedrill serve` + `vibedrill platform serve --defect …` per drill)",
        ),
    ] = False,
    time_scale: Annotated[
        float,
        typer.Option("--time-scale", min=1.0, help="with --served: the world's time scale K"),
    ] = 120.0,
) -> None:
    """Run the mutation matrix: each scenario healthy, then once per defect of its ``mutants:``.

    Prints defect × scenario → verdict with the invariant expected violated, writes
    ``mutants.json`` in the reports folder, and exits 0 only when every defect is caught, every
    healthy run holds and every defect of the sandbox is covered. Browser scenarios run when a
    Chromium is found; without one (or with ``--no-browser``) they are left out, said so, and
    the defects only they cover are listed as deferred.
    """
    from ..drill.browser import browser_available, is_browser_scenario
    from ..drill.run import commit_of
    from ..mutants import default_jobs, run_matrix
    from ..scenario import ScenarioError, load_scenario

    cat = _catalogue(scenarios_from)
    try:
        paths = [_resolve(r, cat) for r in scenarios] if scenarios else cat.paths()
        loaded = [load_scenario(p) for p in paths]
    except typer.BadParameter as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    except ScenarioError as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    browser = [s for s in loaded if is_browser_scenario(s)]
    left_out: list[Any] = []
    if browser:
        ok, where = (False, "--no-browser") if no_browser else browser_available()
        if served:  # the served topology drills the API lane
            ok, where = False, "--served drills the API lane over HTTP"
        if ok:
            err.print(f"browser scenarios run with {where}", markup=False)
        else:
            left_out = browser
            loaded = [s for s in loaded if not is_browser_scenario(s)]
            err.print(
                f"left out {len(browser)} browser scenario(s) ({', '.join(s.id for s in browser)}): {where}",
                markup=False,
            )
    total = len(loaded) + sum(len(s.mutants) for s in loaded)
    n = 0

    def done(o: object) -> None:
        nonlocal n
        n += 1
        err.print(
            f"[{n}/{total}] {getattr(o, 'scenario', '?')} {'+'.join(getattr(o, 'defects', ())) or 'healthy'}: {getattr(o, 'verdict', '?')}",
            markup=False,
        )

    try:
        m = run_matrix(
            loaded,
            reports_dir,
            jobs=jobs or default_jobs(),
            commit=commit_of(),
            on_done=done,
            left_out=left_out,
            served=time_scale if served else None,
        )
    except Exception as e:  # the rehearsal broke, not the platform
        err.print(f"harness error: {type(e).__name__}: {e}", markup=False)
        raise typer.Exit(EXIT_HARNESS) from None
    colour = {
        "held": "green",
        "violated": "red",
        "vacuous": "yellow",
        "error": "magenta",
        "skipped": "blue",
    }
    t = Table(
        "defect",
        "scenario",
        "expected violated",
        "verdict",
        "violated",
        "caught",
        title="mutation matrix",
    )
    for r in m.rows:
        t.add_row(
            r.defect,
            r.scenario,
            r.invariant,
            f"[{colour.get(r.verdict, 'white')}]{r.verdict}[/]",
            ", ".join(r.violated) or "-",
            "[green]yes[/green]" if r.caught else "[red]NO[/red]",
        )
    out.print(t)
    bad = [h for h in m.healthy if h.verdict != "held"]
    for h in bad:
        out.print(
            f"[red]healthy run not held[/red]: {h.scenario} is {h.verdict} ({', '.join(h.violated) or 'no invariant violated'})"
        )
    for d in m.uncovered:
        out.print(f"[red]uncovered defect[/red]: {d} is in no scenario's mutants")
    if m.deferred:
        out.print(f"deferred (only left-out scenarios cover them): {', '.join(m.deferred)}")
    path = m.write(reports_dir)
    pct = 100.0 * m.caught / len(m.rows) if m.rows else 100.0
    out.print(
        f"{m.caught}/{len(m.rows)} mutants caught ({pct:.0f} %); {len(m.healthy) - len(bad)}/{len(m.healthy)} healthy runs held; "
        f"{m.wall_s:.1f}s wall; {path}"
    )
    raise typer.Exit(EXIT_OK if m.ok else EXIT_FAILED)


@app.command()
def coverage(
    as_json: Annotated[bool, typer.Option("--json", help="print the map as JSON")] = False,
    reports_dir: Annotated[Path, typer.Option("--reports-dir")] = Path("reports/coverage"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, help="processes (0: CPUs)")] = 0,
    rerun: Annotated[bool, typer.Option("--rerun", help="run every drill again")] = False,
) -> None:
    """Map every control and guard to the drills that exercise it with a judged outcome; exit 1
    when one is not covered (see harness/coverage.py)."""
    from ..coverage import command

    raise typer.Exit(command(as_json=as_json, reports_dir=reports_dir, jobs=jobs, reuse=not rerun))


@app.command()
def faults() -> None:
    """The fault kinds of the fakes: what the outside world sees, and their parameters."""
    from fakes.core.faults import FAULT_KINDS

    t = Table("kind", "layer", "fakes", "what is seen", "params")
    for k in sorted(FAULT_KINDS):
        d = FAULT_KINDS[k].describe()
        t.add_row(k, d["layer"], ",".join(d["fakes"]), d["description"], ", ".join(d["params"]))
    out.print(t)


@app.command()
def invariants() -> None:
    """The invariants a scenario may name: the positive claim each one checks."""
    from ..judge.invariants import catalogue

    t = Table("invariant", "claim", "params")
    for row in catalogue():
        params = row.get("params") or {}
        t.add_row(str(row.get("name")), str(row.get("claim", "")), ", ".join(params))
    out.print(t)


@app.command()
def defects() -> None:
    """The platform defects a drill can switch on, and the runbook whose Diagnosis names them."""
    from ..catalogue import defect_catalogue

    t = Table("defect", "runbook", "what is broken")
    for d in defect_catalogue():
        t.add_row(d["name"], d["runbook"], d["summary"])
    out.print(t)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="interface to bind; loopback unless --admin-token is given")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one)")] = 8000,
    ready_file: Annotated[
        Path | None, typer.Option("--ready-file", help="write the ready JSON here once listening")
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--admin-token",
            envvar="VIBEDRILL_ADMIN_TOKEN",
            help="bearer token required on /_fake/ (needed off loopback)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the world's roster and fault RNG")] = 0,
    clients: Annotated[int, typer.Option(help="number of client tenants in the roster")] = 3,
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale",
            min=0.001,
            help="run the world's clock K times faster than real time (rate-limit windows, "
            "Retry-After, token lifetimes, render times); recorded in the ready file",
        ),
    ] = 1.0,
) -> None:
    """Serve every fake (x, instagram, linkedin, openai, anthropic, media, toolgate) on one port."""
    import time

    from fakes.serve import ServeError, run_server
    from fakes.serve import serve as run_served

    from ..clock import ScaledTimeLoop

    anchor = time.time()
    scaled = time_scale != 1.0
    try:
        run_server(
            run_served(
                host,
                port,
                ready_file=ready_file,
                admin_token=admin_token,
                seed=seed,
                clients=clients,
                now=_loop_time if scaled else None,
                clock={"time_scale": time_scale, "anchor": anchor if scaled else 0.0},
            ),
            loop_factory=(lambda: ScaledTimeLoop(time_scale, anchor)) if scaled else None,
        )
    except ServeError as e:
        typer.echo(f"vibedrill serve: {e}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        pass


#: environment variables of a deployment pointed at a served world: the official SDKs' own
#: (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``, …) and a ``VIBEDRILL_<FAKE>_BASE_URL`` for each
ENV_NAMES = {
    "openai": ("OPENAI_BASE_URL",),
    "anthropic": ("ANTHROPIC_BASE_URL",),
}
SECRET_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


@app.command("env")
def env_cmd(
    world: Annotated[
        Path, typer.Option("--world", help="the ready file written by `vibedrill serve`")
    ],
    secrets: Annotated[
        bool,
        typer.Option(
            "--secrets",
            help="also the providers' API keys (OPENAI_API_KEY, ANTHROPIC_API_KEY) from the roster",
        ),
    ] = False,
) -> None:
    """Print shell exports that point a deployment at a served world (its SDKs and base URLs)."""
    import shlex

    from ..platform_adapter import PlatformServeUsageError, load_served_world, served_roster

    try:
        doc = load_served_world(world)
    except PlatformServeUsageError as e:
        err.print(f"--world: {e}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    lines = []
    for name, url in sorted(dict(doc.get("fakes") or {}).items()):
        if name == "honeypot":  # an address no platform may be pointed at
            continue
        for var in (*ENV_NAMES.get(name, ()), f"VIBEDRILL_{name.upper()}_BASE_URL"):
            lines.append(f"export {var}={shlex.quote(str(url))}")
    lines.append(f"export VIBEDRILL_ADMIN_URL={shlex.quote(str(doc['admin']))}")
    if secrets:
        try:
            roster = served_roster(doc, os.environ.get("VIBEDRILL_ADMIN_TOKEN"))
        except PlatformServeUsageError as e:
            err.print(str(e), markup=False)
            raise typer.Exit(EXIT_HARNESS) from None
        for c in roster.get("clients", ()):
            for a in c.get("accounts", ()):
                var = SECRET_ENV.get(str(a.get("platform")))
                key = (a.get("credential") or {}).get("access_token")
                if var and key and c.get("id") == "agency":
                    lines.append(f"export {var}={shlex.quote(str(key))}")
    out.print("\n".join(lines), markup=False, highlight=False)


def _loop_time() -> float:
    """The running loop's time (a time-scaled world's clock)."""
    import asyncio

    return asyncio.get_running_loop().time()


@app.command()
def doctor(
    install_browser: Annotated[
        bool,
        typer.Option(
            "--install-browser",
            help=(
                "when no Chromium is found, install one: Playwright's own (python -m playwright "
                "install chromium), else Debian's chromium with apt-get (root or sudo -n)"
            ),
        ),
    ] = False,
) -> None:
    """Check what the drills need here: a Chromium for the browser lane (optionally install one)."""
    from ..platform_adapter import BrowserMissingError, browser_choice

    try:
        executable, source = browser_choice()
    except BrowserMissingError as e:
        if not install_browser:
            err.print(f"vibedrill doctor: {e}")
            raise typer.Exit(EXIT_HARNESS) from None
        tried = _install_chromium()
        try:
            executable, source = browser_choice()
        except BrowserMissingError:
            err.print(f"vibedrill doctor: {e}\ninstalling one failed:\n" + "\n".join(tried))
            raise typer.Exit(EXIT_HARNESS) from None
    out.print(f"browser lane: {executable} ({source})")


def _install_chromium() -> list[str]:
    """Install a Chromium, Playwright's own first; return what was tried and how it failed."""
    import os
    import shutil
    import subprocess

    def attempt(cmd: list[str], timeout: float) -> str | None:
        try:
            done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"- {' '.join(cmd)}: {exc}"
        if done.returncode == 0:
            return None
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"- {' '.join(cmd)}: exit {done.returncode}: {' / '.join(tail)[:400]}"

    tried: list[str] = []
    out.print(
        "no Chromium found; installing Playwright's Chromium (python -m playwright install chromium) …"
    )
    failed = attempt([sys.executable, "-m", "playwright", "install", "chromium"], 600)
    if failed is None:
        return tried
    tried.append(failed)
    apt = shutil.which("apt-get")
    if apt is None:
        tried.append(
            "- apt-get: not on this machine; install a Chromium by hand or set VIBEDRILL_CHROMIUM"
        )
        return tried
    prefix: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            tried.append("- apt-get: needs root, and there is no sudo")
            return tried
        prefix = [sudo, "-n"]
    out.print("installing Debian's chromium instead (apt-get install chromium) …")
    for cmd in (
        [*prefix, apt, "update", "-qq"],
        [*prefix, apt, "install", "-y", "-qq", "chromium"],
    ):
        failed = attempt(cmd, 900)
        if failed is not None:
            tried.append(failed)
            return tried
    return tried


def main() -> None:
    """Console-script entry point."""
    app()
