"""``vibedrill list`` and ``vibedrill validate``: the scenario catalogue and its files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import EXIT_USAGE, ScenariosOpt, catalogue_or_exit, err, out

__all__ = ["list_", "validate"]


def list_(scenarios_from: ScenariosOpt = None) -> None:
    """List the scenarios with their runbook, severity, incident types, lane and source."""
    from ..scenario import ScenarioError, load_scenario

    cat = catalogue_or_exit(scenarios_from)
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
    for p in paths or catalogue_or_exit(scenarios_from).paths():
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
