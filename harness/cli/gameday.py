"""``vibedrill gameday SCENARIO``: people rehearse the scenario's incident in a web console."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import BadInputError

__all__ = ["gameday_cmd"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3


def _resolve(ref: str) -> Path:
    """A scenario id of the catalogue (built-in and the user's folders) or a YAML path;
    ValueError naming the choices otherwise."""
    from ..scenario_sources import ScenarioSourceError, load_catalogue

    try:
        return load_catalogue().resolve(ref)
    except ScenarioSourceError as e:
        raise ValueError(str(e)) from None


def gameday_cmd(
    scenario: Annotated[str, typer.Argument(help="scenario id (from scenarios/) or YAML path")],
    time_scale: Annotated[
        float | None,
        typer.Option(
            "--time-scale",
            help="scenario seconds per real second (default 4: an hour takes 15 minutes; with "
            "--platform-url: the served world's)",
        ),
    ] = None,
    port: Annotated[
        int, typer.Option(help="TCP port of the console on 127.0.0.1 (0 picks a free one)")
    ] = 8090,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    defect: Annotated[
        list[str] | None, typer.Option("--defect", help="switch a platform defect on (repeatable)")
    ] = None,
    autopilot: Annotated[
        bool,
        typer.Option(
            "--autopilot",
            help="the automated Ops Lead plays through the console's own HTTP API (no lobby)",
        ),
    ] = False,
    lobby: Annotated[
        bool | None,
        typer.Option(
            "--lobby/--no-lobby",
            help="hold the clock until the facilitator presses Start (default: unless --autopilot)",
        ),
    ] = None,
    linger: Annotated[
        float,
        typer.Option(
            "--linger", min=0, help="real seconds the console stays up after the report (0: exit)"
        ),
    ] = 0.0,
    reports_dir: Annotated[
        Path, typer.Option("--reports-dir", help="where reports/<drill_id>/ go")
    ] = Path("reports"),
    ready_file: Annotated[
        Path | None,
        typer.Option("--ready-file", help="write the join and facilitator URLs here as JSON"),
    ] = None,
    platform_url: Annotated[
        str | None,
        typer.Option("--platform-url", help="drill a platform served over HTTP at this URL"),
    ] = None,
    world: Annotated[
        Path | None,
        typer.Option("--world", help="with --platform-url: the served fakes' ready file"),
    ] = None,
    no_baseline: Annotated[
        bool,
        typer.Option("--no-baseline", help="skip the automated Ops Lead's comparison run"),
    ] = False,
) -> None:
    """Run a game day: the scenario in wall-clock time at --time-scale, a web console for the
    Incident Commander, Ops Lead, Scribe and Comms, and a graded postmortem."""
    from rich.console import Console

    from ..catalogue import unknown_defect
    from ..drill.run import commit_of
    from ..gameday import GamedayOptions, Urls, run_gameday
    from ..scenario import ScenarioError, load_scenario

    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)

    if time_scale is not None and not time_scale > 0:
        err.print(f"--time-scale: {time_scale!r} must be > 0", markup=False)
        raise typer.Exit(EXIT_USAGE)
    if not 0 <= port <= 65535:
        err.print(f"--port: {port} is not a TCP port (0-65535)", markup=False)
        raise typer.Exit(EXIT_USAGE)
    if (platform_url is None) != (world is None):
        err.print("--platform-url and --world go together (give both or neither)", markup=False)
        raise typer.Exit(EXIT_USAGE)
    if time_scale is None and world is not None:
        from ..drill.run import world_clock
        from ..platform_adapter import PlatformServeUsageError, load_served_world

        try:
            time_scale = world_clock(load_served_world(world))[0]
        except PlatformServeUsageError as e:
            err.print(f"--world: {e}", markup=False)
            raise typer.Exit(EXIT_USAGE) from None
    scale = 4.0 if time_scale is None else time_scale
    bad_defect = unknown_defect(defect or ())
    if bad_defect is not None:
        err.print(bad_defect, markup=False)
        raise typer.Exit(EXIT_USAGE)
    try:
        sc = load_scenario(_resolve(scenario))
    except ValueError as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    except ScenarioError as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None

    def announce(urls: Urls) -> None:
        minutes = (sc.workload.duration / scale) / 60
        out.print(
            f"game day: {sc.id} — {sc.title}\n"
            f"  {sc.workload.duration / 60:g} scenario minutes at ×{scale:g}: about {minutes:.1f} real minutes\n"
            f"  join:        {urls.join}\n"
            f"  facilitator: {urls.facilitator}",
            markup=False,
            highlight=False,
        )

    if not no_baseline:
        out.print(
            "running the automated Ops Lead on the same scenario and seed first…", markup=False
        )
    g = GamedayOptions(
        scale=scale,
        port=port,
        seed=seed,
        defects=tuple(defect or ()),
        autopilot=autopilot,
        reports_dir=reports_dir,
        lobby=lobby,
        linger_s=linger,
        ready_file=ready_file,
        platform_url=platform_url,
        world=world,
        commit=commit_of(),
        baseline=not no_baseline,
    )
    try:
        res = run_gameday(sc, g, announce)
    except BadInputError as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as e:
        err.print(f"--port {port}: cannot listen on 127.0.0.1:{port}: {e}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    dr = res.drill
    if dr.signum:
        raise typer.Exit(128 + dr.signum)
    r = res.rehearsal
    out.print(
        f"game day over: {r.get('grade', '?')}; verdict {dr.verdict}; "
        f"people: {', '.join(r.get('people') or []) or 'nobody'}",
        markup=False,
    )
    for row in r.get("rows") or []:
        out.print(
            f"  {row['measure']}: {row['people']} (automated: {row['auto']}) — {row['grade']}",
            markup=False,
        )
    if dr.verdict != "held" and dr.verdict_obj is not None:
        for reason in dr.verdict_obj.reasons():
            out.print(f"  why not held: {reason}", markup=False)
    if dr.report_dir is not None:
        out.print(f"report: {dr.report_dir / 'postmortem.md'}", markup=False)
    if dr.verdict == "error":
        raise typer.Exit(EXIT_HARNESS)
    raise typer.Exit(EXIT_OK if dr.verdict == "held" else EXIT_FAILED)
