"""What the ``vibedrill`` commands share: exit codes, the consoles, ``--scenarios`` and the catalogue."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..scenario_sources import Catalogue, ScenarioSourceError, load_catalogue

__all__ = [
    "EXIT_FAILED",
    "EXIT_HARNESS",
    "EXIT_OK",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "ScenariosOpt",
    "catalogue_or_exit",
    "err",
    "out",
    "resolve_ref",
]


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


def catalogue_or_exit(extra: list[Path] | None) -> Catalogue:
    """The scenario catalogue (built-in + the user's folders); exit 2 on a bad folder."""
    try:
        return load_catalogue(extra or (), notice=lambda m: err.print(f"notice: {m}", markup=False))
    except ScenarioSourceError as e:
        err.print(str(e), markup=False)
        raise typer.Exit(EXIT_USAGE) from None


def resolve_ref(ref: str, cat: Catalogue) -> Path:
    """A scenario id of the catalogue or a path to a YAML file; BadParameter naming the choices."""
    try:
        return cat.resolve(ref)
    except ScenarioSourceError as e:
        raise typer.BadParameter(str(e)) from None
