"""``vibedrill mutants``: the mutation matrix (each scenario healthy, then once per defect)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .common import (
    EXIT_FAILED,
    EXIT_HARNESS,
    EXIT_OK,
    EXIT_USAGE,
    ScenariosOpt,
    catalogue_or_exit,
    err,
    out,
    resolve_ref,
)

__all__ = ["mutants"]


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

    cat = catalogue_or_exit(scenarios_from)
    try:
        paths = [resolve_ref(r, cat) for r in scenarios] if scenarios else cat.paths()
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
