"""What can be named in a scenario: fault kinds, platform defects, invariants, runbooks.

The lookups the scenario model, the CLI and the mutation matrix share. Kept apart from the drill
and the judge so that the data model (:mod:`harness.scenario`) imports neither.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from fakes.core.faults import FAULT_KINDS

from . import platform_adapter
from .judge.invariants import REGISTRY
from .scenario_sources import builtin_scenarios_dir

__all__ = [
    "defect_catalogue",
    "fault_kinds",
    "known_invariants",
    "platform_defects",
    "scenarios_dir",
    "unknown_defect",
]


def fault_kinds() -> Collection[str]:
    """The fakes' fault kinds (``fakes.core.faults.FAULT_KINDS``)."""
    return tuple(FAULT_KINDS)


def known_invariants() -> Collection[str]:
    """The judge's invariant names (``harness.judge.invariants.REGISTRY``)."""
    return tuple(REGISTRY)


def platform_defects() -> Collection[str]:
    """The sandbox's defect names, with every component that declares defects imported."""
    return platform_adapter.defect_names()


def unknown_defect(names: Collection[str]) -> str | None:
    """The ``--defect`` error for the first name that is not a defect (with a did-you-mean and
    the valid names), or None when every name is one."""
    from fakes.core.faults import did_you_mean

    known = platform_defects()
    for d in names:
        if d not in known:
            return (
                f"--defect: {d!r} is not a defect{did_you_mean(d, known)}; "
                f"valid: {', '.join(sorted(known))}"
            )
    return None


def defect_catalogue() -> list[dict[str, str]]:
    """Every defect with its runbook and what is broken (``vibedrill defects``)."""
    return platform_adapter.defect_catalogue()


def scenarios_dir() -> Path:
    """The built-in scenarios (shipped in the package; see :mod:`harness.scenario_sources` for
    the user's own folders, which ``vibedrill list/run/validate`` add)."""
    return builtin_scenarios_dir()
