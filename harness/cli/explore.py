"""``vibedrill explore``: search the fault space with Hypothesis and shrink what breaks.

Exit codes (the house's): 0 nothing violated within the budget, 1 a violation was found (its
minimal scenario is written under ``scenarios/found/``), 2 bad usage, 3 harness error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["explore_cmd"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"vibedrill explore: {message}", err=True)
    return typer.Exit(code)


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for x in values or () for v in x.split(",") if v.strip())


def explore_cmd(
    runbook: Annotated[
        str | None, typer.Option("--runbook", help="only faults this runbook rehearses (RB-xx)")
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--types", help="only faults of these incident types (RATE,AUTH,…)"),
    ] = None,
    platforms: Annotated[
        list[str] | None,
        typer.Option("--platforms", help="social platforms drawn (x,instagram,linkedin)"),
    ] = None,
    budget: Annotated[int, typer.Option("--budget", help="drills to draw at most", min=1)] = 300,
    time_limit: Annotated[
        str | None, typer.Option("--time", help="wall-time limit of the search (e.g. 10m)")
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="the search's seed: same seed, same draws")
    ] = 0,
    workers: Annotated[int, typer.Option("--workers", help="processes running draws", min=1)] = 1,
    defect: Annotated[
        list[str] | None, typer.Option("--defect", help="switch a platform defect on (repeatable)")
    ] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="auto or observe only (default: draw both)")
    ] = None,
    max_shrinks: Annotated[
        int, typer.Option("--max-shrinks", help="drills spent shrinking at most", min=0)
    ] = 150,
    reports_dir: Annotated[
        Path, typer.Option("--reports-dir", help="where explore-<id>/ and explore/db go")
    ] = Path("reports"),
    found_dir: Annotated[
        Path, typer.Option("--found-dir", help="where the minimal scenario is written")
    ] = Path("scenarios/found"),
    search_id: Annotated[
        str | None,
        typer.Option(
            "--search-id", help="name of the report folder explore-<id> (default: time, seed)"
        ),
    ] = None,
    no_db: Annotated[
        bool, typer.Option("--no-db", help="no example database (do not replay known failures)")
    ] = False,
) -> None:
    """Search the fault space for a violation nobody scripted; shrink it to a minimal scenario."""
    from fakes.core.fault_kind import SOCIAL, did_you_mean

    from ..catalogue import platform_defects
    from ..durations import parse_duration
    from ..explore import SearchConfig, Space, explore
    from ..runbooks import runbooks
    from ..runbooks.model import INCIDENT_TYPES

    kinds = _split(types)
    for t in kinds:
        if t not in INCIDENT_TYPES:
            raise _fail(
                f"--types: {t!r} is not an incident type{did_you_mean(t, INCIDENT_TYPES)}; valid: {', '.join(INCIDENT_TYPES)}"
            )
    plats = _split(platforms) or SOCIAL
    for p in plats:
        if p not in SOCIAL:
            raise _fail(f"--platforms: {p!r} is not a social platform; valid: {', '.join(SOCIAL)}")
    if runbook is not None and runbook not in runbooks():
        raise _fail(
            f"--runbook: {runbook!r} is not a runbook{did_you_mean(runbook, runbooks())}; valid: {', '.join(sorted(runbooks()))}"
        )
    known = platform_defects()
    defects = _split(defect)
    for d in defects:
        if d not in known:
            raise _fail(
                f"--defect: {d!r} is not a defect{did_you_mean(d, known)}; valid: {', '.join(known)}"
            )
    if mode not in (None, "auto", "observe"):
        raise _fail(f"--mode: {mode!r} is not a mode; valid: auto, observe")
    try:
        time_s = parse_duration(time_limit) if time_limit else None
    except ValueError as e:
        raise _fail(f"--time: {e}") from None
    space = Space(
        platforms=tuple(p for p in SOCIAL if p in plats),
        types=kinds,
        runbook=runbook,
        modes=(mode,) if mode else ("auto", "observe"),  # type: ignore[arg-type]
    )
    if not any(space.kinds(f) for f in space.fakes(space.platforms)) and not space.misrouting():
        raise _fail("no fault kind fits --types/--runbook/--platforms; see `vibedrill faults`")
    cfg = SearchConfig(
        space=space,
        seed=seed,
        budget=budget,
        time_s=time_s,
        workers=workers,
        defects=defects,
        max_shrinks=max_shrinks,
        db_dir=None if no_db else reports_dir / "explore" / "db",
    )
    try:
        run = explore(
            cfg,
            reports_dir=reports_dir,
            found_dir=found_dir,
            search_id=search_id,
            progress=lambda m: typer.echo(m, err=True),
        )
    except KeyboardInterrupt:
        raise _fail("interrupted", EXIT_HARNESS) from None
    res = run.result
    typer.echo(
        f"{res.draws} draws, {res.reached} reached their faults, {res.vacuous} wasted "
        f"(faults never fired), {len(res.errors)} harness errors; "
        f"{res.drill_cpu_s:.1f}s drill CPU, {res.wall_s:.1f}s wall"
    )
    typer.echo(f"summary: {run.summary_dir / 'summary.md'}")
    if run.scenario is None:
        typer.echo("no violation found")
        raise typer.Exit(EXIT_HARNESS if res.errors and not res.draws else EXIT_OK)
    assert res.minimal is not None
    typer.echo(
        f"VIOLATED {res.invariant} at draw {res.found_at}; minimal scenario ({len(res.minimal.faults)} "
        f"fault(s)): {run.scenario}"
        + ("" if run.reproduced else " (WARNING: did not reproduce from the file)")
    )
    from ..explore import reproduce_command

    typer.echo(f"reproduce: {reproduce_command(run.scenario, cfg.defects)}")
    raise typer.Exit(EXIT_FAILED)
