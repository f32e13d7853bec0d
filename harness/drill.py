"""The drill loop: arrange → steady state → inject → detect → respond → heal → verify → judge → write.

In-process by default: the fakes (``fakes.World`` + ``FakeWorld``) and the platform
(``sandbox.Platform``, the only place the harness imports it) share one virtual-time event loop
(:func:`harness.clock.run_virtual`) and seeded RNGs, so a drill is a pure function of
(scenario, seed, commit) and its timeline hash repeats. Every step is an event on one
append-only :class:`~harness.timeline.Timeline`. An interrupt (Ctrl-C, SIGTERM) cancels the run,
and whatever was gathered is still judged as ``error`` and written.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clock import DEFAULT_EPOCH, run_virtual
from .scenario import Scenario

__all__ = [
    "DrillError",
    "DrillOptions",
    "DrillResult",
    "drill_id_for",
    "known_invariants",
    "platform_defects",
    "run_drill",
    "run_for_pytest",
]

Progress = Callable[[str, float, float], None]


class DrillError(RuntimeError):
    """The rehearsal itself broke (a harness or fake error, not a platform failure): exit 3."""


def known_invariants() -> Collection[str]:
    """The judge's invariant names (``harness.invariants.REGISTRY``)."""
    from .invariants import REGISTRY

    return tuple(REGISTRY)


def platform_defects() -> Collection[str]:
    """The sandbox's defect names, with every component that declares defects imported."""
    import importlib

    try:
        from sandbox.platform import COMPONENT_MODULES  # type: ignore[import-not-found]
    except ImportError:  # before the platform module lands: the components known to declare defects
        COMPONENT_MODULES = ("sandbox.generation", "sandbox.engagement", "sandbox.toolgate_client")
    for mod in COMPONENT_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(mod)
    from sandbox.defects import DEFECTS

    return tuple(sorted(DEFECTS))


def defect_catalogue() -> list[dict[str, str]]:
    """Every defect with its runbook and what is broken (``vibedrill defects``)."""
    platform_defects()
    from sandbox.defects import DEFECTS

    return [DEFECTS[n].describe() for n in sorted(DEFECTS)]


@dataclass(frozen=True)
class DrillOptions:
    """How to run one scenario: seed and mode overrides, extra defects, where reports go."""

    seed: int | None = None
    defects: tuple[str, ...] = ()
    mode: str | None = None
    reports_dir: Path = Path("reports")
    progress: Progress | None = None
    commit: str | None = None
    #: suffix of the report folder (e.g. "-replay")
    suffix: str = ""
    #: False: judge only, write no report folder (``vibedrill explore``'s draws)
    write: bool = True


@dataclass
class DrillResult:
    """What a drill produced: the verdict document, the report folder and the timeline hash."""

    drill_id: str
    scenario: str
    verdict: str
    verdict_json: dict[str, Any]
    report_dir: Path | None
    timeline_sha256: str
    wall_s: float = 0.0
    simulated_s: float = 0.0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    #: the judged :class:`harness.verdict.Verdict` (None only without the judge)
    verdict_obj: Any = None


def drill_id_for(
    scenario: Scenario, seed: int, start: float = DEFAULT_EPOCH, suffix: str = ""
) -> str:
    """``rb05-rate-limit-storm-20261127T120000Z-s7``: scenario, virtual start time (UTC), seed."""
    import datetime as _dt

    stamp = _dt.datetime.fromtimestamp(start, _dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{scenario.id.replace('_', '-')}-{stamp}-s{seed}{suffix}"


def run_drill(scenario: Scenario, options: DrillOptions | None = None) -> DrillResult:
    """Run one scenario in-process on virtual time and write its report; see the module doc."""
    import time

    from .engine import DrillEngine

    opts = options or DrillOptions()
    wall0 = time.perf_counter()
    engine = DrillEngine(scenario, opts)

    async def main() -> DrillResult:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, engine.interrupt)
                installed.append(sig)
        try:
            return await engine.run()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    result = run_virtual(main, start=DEFAULT_EPOCH)
    result.wall_s = time.perf_counter() - wall0
    return result


def run_for_pytest(
    scenario: str | Path | Scenario,
    *,
    seed: int | None = None,
    defects: Collection[str] = (),
    reports_dir: Path,
) -> Any:
    """Run one scenario for the pytest plugin's ``drill`` fixture; return its Verdict.

    ``scenario`` is a :class:`Scenario`, the path of a YAML file, or an id from ``scenarios/``.
    """
    from .scenario import load_scenario

    if not isinstance(scenario, Scenario):
        ref = Path(scenario)
        if ref.suffix not in (".yaml", ".yml") and not ref.is_file():
            ref = Path(__file__).resolve().parent.parent / "scenarios" / f"{scenario}.yaml"
        scenario = load_scenario(ref)
    result = run_drill(
        scenario,
        DrillOptions(seed=seed, defects=tuple(defects), reports_dir=Path(reports_dir)),
    )
    return result.verdict_obj


def commit_of(root: Path | None = None) -> str | None:
    """The git commit of the working tree, or None when not in a git checkout."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root or Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None


def make_platform(
    settings: Any,
    secrets: Any,
    *,
    transport: Any,
    now: Callable[[], float],
    seed: int,
    defects: Collection[str],
) -> Any:
    """Build the reference platform (``sandbox.Platform``) in-process: the one import of its implementation."""
    from sandbox.platform import Platform

    return Platform(
        settings, secrets, transport=transport, now=now, seed=seed, defects=tuple(defects)
    )


def platform_settings(roster_json: dict[str, Any], **overrides: Any) -> tuple[Any, Any]:
    """Settings and keyring secrets for the platform from the fakes' roster (with secrets)."""
    from sandbox.settings import BudgetSettings, Settings

    budgets = overrides.pop("budgets", None)
    if budgets:
        overrides["budgets"] = BudgetSettings(**budgets)
    return Settings.from_roster(roster_json, **overrides)


def blueprint(**kw: Any) -> Any:
    """An engagement blueprint of the platform's settings."""
    from sandbox.settings import Blueprint

    return Blueprint(**kw)
