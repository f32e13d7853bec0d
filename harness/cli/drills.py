"""``vibedrill run`` and ``vibedrill replay``: drills in-process (or over HTTP) and their replays."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

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
from .run_many import run_many

__all__ = ["replay", "run"]


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
    cat = catalogue_or_exit(scenarios_from)
    try:
        paths = cat.paths() if all_ else [resolve_ref(r, cat) for r in scenarios or ()]
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
        run_many(
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
