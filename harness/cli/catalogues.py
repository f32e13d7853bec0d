"""``vibedrill coverage``, ``faults``, ``invariants`` and ``defects``: what the harness knows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import out

__all__ = ["coverage", "defects", "faults", "invariants"]


def coverage(
    as_json: Annotated[bool, typer.Option("--json", help="print the map as JSON")] = False,
    reports_dir: Annotated[Path, typer.Option("--reports-dir")] = Path("reports/coverage"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, help="processes (0: CPUs)")] = 0,
    rerun: Annotated[bool, typer.Option("--rerun", help="run every drill again")] = False,
) -> None:
    """Map every control and guard to the drills that exercise it with a judged outcome; exit 1
    when one is not covered (see harness/coverage.py)."""
    from ..coverage import command

    raise typer.Exit(command(as_json=as_json, reports_dir=reports_dir, jobs=jobs, reuse=not rerun))


def faults() -> None:
    """The fault kinds of the fakes: what the outside world sees, and their parameters."""
    from fakes.core.faults import FAULT_KINDS

    t = Table("kind", "layer", "fakes", "what is seen", "params")
    for k in sorted(FAULT_KINDS):
        d = FAULT_KINDS[k].describe()
        t.add_row(k, d["layer"], ",".join(d["fakes"]), d["description"], ", ".join(d["params"]))
    out.print(t)


def invariants() -> None:
    """The invariants a scenario may name: the positive claim each one checks."""
    from ..judge.invariants import catalogue

    t = Table("invariant", "claim", "params")
    for row in catalogue():
        t.add_row(row["name"], row["claim"], ", ".join(row["params"]))
    out.print(t)


def defects() -> None:
    """The platform defects a drill can switch on, and the runbook whose Diagnosis names them."""
    from ..catalogue import defect_catalogue

    t = Table("defect", "runbook", "what is broken")
    for d in defect_catalogue():
        t.add_row(d["name"], d["runbook"], d["summary"])
    out.print(t)
