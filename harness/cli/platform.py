"""``vibedrill platform …``: run the reference platform (``sandbox``) as a served process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
) -> None:
    """Serve the platform contract (controls, jobs, audit, metrics, …) on 127.0.0.1."""
    from ..platform_adapter import PlatformServeUsageError, serve_platform

    try:
        serve_platform(
            world, port=port, defects=defect or (), db_path=db, seed=seed, admin_token=admin_token
        )
    except PlatformServeUsageError as e:
        typer.echo(f"vibedrill platform serve: {e}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        pass
