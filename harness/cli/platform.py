"""``vibedrill platform …``: run the reference platform (``sandbox``) as a served process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["platform_app"]

EXIT_USAGE = 2

platform_app = typer.Typer(
    name="platform",
    help="Run the reference platform under test (sandbox/) against a served world.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@platform_app.callback()
def _group() -> None:
    """Run the reference platform under test (sandbox/) against a served world."""


@platform_app.command("serve")
def serve(
    world: Annotated[
        Path,
        typer.Option("--world", help="the ready file written by `vibedrill serve --ready-file`"),
    ],
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 picks a free one)")] = 8100,
    defect: Annotated[
        list[str] | None, typer.Option("--defect", help="switch a platform defect on (repeatable)")
    ] = None,
    db: Annotated[
        Path, typer.Option("--db", help="SQLite file for jobs and audit (survives a restart)")
    ] = Path("reports/platform/platform.db"),
    seed: Annotated[int, typer.Option(help="seed of the platform's RNG")] = 0,
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--admin-token",
            envvar="VIBEDRILL_ADMIN_TOKEN",
            help="bearer token of the fakes' admin API",
        ),
    ] = None,
    settings: Annotated[
        Path | None,
        typer.Option(
            "--settings",
            help="JSON or YAML settings overrides: blueprints, budgets, pacing, retry, … "
            "(`vibedrill platform settings SCENARIO` writes a scenario's)",
        ),
    ] = None,
    time_scale: Annotated[
        float | None,
        typer.Option(
            "--time-scale",
            min=0.001,
            help="the world's time scale (default: the one in the ready file; a mismatch is refused)",
        ),
    ] = None,
) -> None:
    """Serve the platform contract (controls, jobs, audit, metrics, …) on 127.0.0.1."""
    from ..platform_adapter import PlatformServeUsageError, serve_platform

    try:
        overrides = _read_settings(settings) if settings is not None else {}
        if "blueprints" not in overrides:  # engagement answers the drills' trigger keyword
            overrides["blueprints"] = _default_blueprints(world, admin_token)
        serve_platform(
            world,
            port=port,
            defects=defect or (),
            db_path=db,
            seed=seed,
            admin_token=admin_token,
            settings=overrides,
            time_scale=time_scale,
        )
    except PlatformServeUsageError as e:
        typer.echo(f"vibedrill platform serve: {e}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        pass


def _default_blueprints(world: Path, admin_token: str | None) -> list[dict[str, Any]]:
    """One blueprint per client and social platform of the world, answering the default
    trigger keyword of the scenarios' workload."""
    from ..drill.settings import blueprints_for
    from ..platform_adapter import load_served_world, served_roster
    from ..scenario import Workload

    roster = served_roster(load_served_world(world), admin_token)
    clients = [c["id"] for c in roster.get("clients", ()) if c["id"] != "agency"]
    return blueprints_for(clients, ("x", "instagram", "linkedin"), (Workload().trigger_keyword,))


def _read_settings(path: Path) -> dict[str, Any]:
    """A settings file (JSON, or YAML with the scenario loader's safety limits)."""
    from ..platform_adapter import PlatformServeUsageError
    from ..safe_input import UnsafeInput, load_json_file, load_yaml_file

    shown = f"--settings {path}"
    try:
        if path.suffix == ".json":
            data = load_json_file(path, shown)
        else:
            data = load_yaml_file(path, shown)
    except UnsafeInput as e:
        raise PlatformServeUsageError(str(e)) from None
    if not isinstance(data, dict):
        raise PlatformServeUsageError(
            f"--settings {path}: must be a mapping of settings (blueprints, budgets, pacing, …), "
            f"not {type(data).__name__}"
        )
    return data


@platform_app.command("settings")
def settings_cmd(
    scenario: Annotated[str, typer.Argument(help="scenario id or YAML path")],
    world: Annotated[
        Path,
        typer.Option("--world", help="the ready file written by `vibedrill serve --ready-file`"),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here (default: stdout)")
    ] = None,
) -> None:
    """Write the platform settings a scenario needs (blueprints, budgets) for a served world."""
    import json

    from fakes.core.roster import Roster

    from ..drill.served_platform import DrillSkipped, served_clients
    from ..drill.settings import scenario_settings
    from ..platform_adapter import PlatformServeUsageError, load_served_world, served_roster
    from ..scenario import ScenarioError, load_scenario
    from ..scenario_sources import ScenarioSourceError, load_catalogue

    try:
        s = load_scenario(load_catalogue().resolve(scenario))
        roster = Roster.model_validate(served_roster(load_served_world(world)))
        doc = scenario_settings(s, served_clients(s, roster))
    except (ScenarioSourceError, ScenarioError, PlatformServeUsageError, DrillSkipped) as e:
        typer.echo(f"vibedrill platform settings: {e}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
