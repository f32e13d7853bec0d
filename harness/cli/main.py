"""The ``vibedrill`` command line: one Typer app; each command lives in a module of this package.

Exit codes: 0 every drill held, 1 something violated or vacuous, 2 bad scenario or usage,
3 harness error.

The commands are registered here, in the order ``vibedrill --help`` lists them.
"""

from __future__ import annotations

import typer

from .catalogues import coverage, defects, faults, invariants
from .common import (
    EXIT_FAILED,
    EXIT_HARNESS,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    err,
    out,
)
from .doctor import doctor
from .drills import replay, run
from .explore import explore_cmd
from .gameday import gameday_cmd
from .load import load_app, load_worker_cmd
from .mutants import mutants
from .platform import platform_app
from .scenarios import list_, validate
from .world import env_cmd, serve

__all__ = [
    "EXIT_FAILED",
    "EXIT_HARNESS",
    "EXIT_OK",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "app",
    "err",
    "main",
    "out",
]

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
app.command("list")(list_)
app.command()(validate)
app.command()(run)
app.command()(replay)
app.command()(mutants)
app.command()(coverage)
app.command()(faults)
app.command()(invariants)
app.command()(defects)
app.command()(serve)
app.command("env")(env_cmd)
app.command()(doctor)


def main() -> None:
    """Console-script entry point."""
    app()
