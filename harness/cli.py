"""The ``vibedrill`` command line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="vibedrill",
    help="Chaos drills and incident rehearsal for the Raize The Vibe platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind; loopback unless --admin-token is given")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one)")] = 8000,
    ready_file: Annotated[Path | None, typer.Option("--ready-file", help="write the ready JSON here once listening")] = None,
    admin_token: Annotated[str | None, typer.Option("--admin-token", envvar="VIBEDRILL_ADMIN_TOKEN", help="bearer token required on /_fake/ (needed off loopback)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the world's roster and fault RNG")] = 0,
    clients: Annotated[int, typer.Option(help="number of client tenants in the roster")] = 3,
) -> None:
    """Serve every fake (x, instagram, linkedin, openai, anthropic, media, toolgate) on one port."""
    from fakes.serve import ServeError
    from fakes.serve import serve as run

    try:
        asyncio.run(run(host, port, ready_file=ready_file, admin_token=admin_token, seed=seed, clients=clients))
    except ServeError as e:
        typer.echo(f"vibedrill serve: {e}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        pass


def main() -> None:
    """Console-script entry point."""
    app()
