"""The drill loop: arrange → steady state → inject → detect → respond → heal → verify → judge → write.

In-process by default: the fakes (``fakes.World`` + ``FakeWorld``) and the platform
(``sandbox.Platform``, built by :mod:`harness.platform_adapter`) share one virtual-time event loop
(:func:`harness.clock.run_virtual`) and seeded RNGs, so a drill is a pure function of
(scenario, seed, commit) and its timeline hash repeats. Every step is an event on one
append-only :class:`~harness.judge.timeline.Timeline`. An interrupt (Ctrl-C, SIGTERM) cancels the run,
and whatever was gathered is still judged as ``error`` and written.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path

from ..clock import run_scaled, run_virtual, scaled_now
from ..errors import BadInputError, DrillError
from ..judge.verdict import Verdict
from ..report.lock import ReportLock
from ..scenario import Scenario, load_scenario
from .engine import DrillEngine
from .options import DrillOptions, DrillResult, drill_id_for

__all__ = [
    "DrillError",
    "DrillOptions",
    "DrillResult",
    "commit_of",
    "drill_id_for",
    "run_drill",
    "run_for_pytest",
]

#: the repository root in a checkout (the git checkout; site-packages' parent when installed)
ROOT = Path(__file__).resolve().parents[2]


def run_drill(scenario: Scenario, options: DrillOptions | None = None) -> DrillResult:
    """Run one scenario in-process on virtual time and write its report; see the module doc."""
    opts = options or DrillOptions()
    wall0 = time.perf_counter()
    clock: tuple[float, float] | None = None
    if opts.served:
        opts, clock = served_options(scenario, opts)
    engine = DrillEngine(scenario, opts)
    lock = ReportLock(opts.reports_dir, engine.drill_id)

    async def main() -> DrillResult:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        # asyncio's remove_signal_handler resets a signal to its default, which would let a
        # SIGTERM arriving right after the drill kill the caller's run: put the caller's back
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, engine.interrupt, int(sig))
                installed.append(sig)
        if opts.stop_requested is not None and opts.stop_requested():
            engine.interrupt(opts.stop_requested())
        try:
            return await engine.run()
        finally:
            blocked = set(installed)
            if blocked:  # no signal may land between the removal and the restore
                signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
            try:
                for sig in installed:
                    loop.remove_signal_handler(sig)
                    handler = previous.get(sig)
                    if handler is not None:
                        signal.signal(sig, handler)
            finally:
                if blocked:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)

    def loop() -> DrillResult:
        try:
            if (
                clock is not None
            ):  # a platform over HTTP: real time, compressed by the world's scale
                return run_scaled(main, scale=clock[0], anchor=clock[1])
            return run_virtual(main, start=scenario.start_t)
        finally:  # whatever ended the loop (even an exception through it): no process outlives it
            engine.lane.close()

    if opts.write:
        with lock:  # ReportBusy when another process writes the same folder
            result = loop()
    else:  # judged in memory: no folder to guard
        result = loop()
    result.wall_s = time.perf_counter() - wall0
    result.signum = engine.signum
    return result


def served_options(
    scenario: Scenario, opts: DrillOptions
) -> tuple[DrillOptions, tuple[float, float]]:
    """Read the served world's ready file; check the time scale; the drill's clock ``(K, anchor)``."""
    from ..platform_adapter import PlatformServeUsageError, load_served_world

    if opts.world is None:
        raise BadInputError("--platform-url needs --world (the ready file of `vibedrill serve`)")
    try:
        doc = load_served_world(opts.world)
    except PlatformServeUsageError as e:
        raise BadInputError(str(e)) from None
    scale, anchor = world_clock(doc)
    if abs(scale - opts.time_scale) > 1e-9 * max(scale, 1.0):
        raise BadInputError(
            f"--time-scale {opts.time_scale:g} does not match the served world ({opts.world} runs "
            f"at time scale {scale:g}): give --time-scale {scale:g}, or restart "
            f"`vibedrill serve --time-scale {opts.time_scale:g}` and the platform with it"
        )
    stamp = scaled_now(scale, anchor)
    suffix = opts.suffix or "-served"
    return replace(opts, served_world=doc, suffix=suffix, start=stamp), (scale, anchor)


def world_clock(doc: dict[str, object]) -> tuple[float, float]:
    """``(time scale, anchor)`` of a served world's ready document (real time when absent)."""
    clock = doc.get("clock")
    if not isinstance(clock, dict):
        return 1.0, 0.0
    scale = float(clock.get("time_scale") or 1.0)
    anchor = clock.get("anchor")
    return scale, float(anchor) if isinstance(anchor, int | float) else 0.0


def run_for_pytest(
    scenario: str | Path | Scenario,
    *,
    seed: int | None = None,
    defects: Collection[str] = (),
    reports_dir: Path,
    scenario_dirs: Sequence[Path] = (),
    platform_url: str | None = None,
    world: Path | None = None,
    time_scale: float = 1.0,
) -> Verdict | None:
    """Run one scenario for the pytest plugin's ``drill`` fixture; return its Verdict.

    ``scenario`` is a :class:`Scenario`, the path of a YAML file, or an id of the catalogue (the
    built-ins, ``scenario_dirs`` — the plugin's ``--drill-scenarios`` —, ``VIBEDRILL_SCENARIOS``
    and ``[tool.vibedrill] scenarios``). A drill the platform cannot run is skipped with the reason.
    """
    if not isinstance(scenario, Scenario):
        from ..scenario_sources import load_catalogue

        cat = load_catalogue(scenario_dirs, extra_given_by="--drill-scenarios")
        scenario = load_scenario(cat.resolve(scenario))
    result = run_drill(
        scenario,
        DrillOptions(
            seed=seed,
            defects=tuple(defects),
            reports_dir=Path(reports_dir),
            platform_url=platform_url,
            world=world,
            time_scale=time_scale,
        ),
    )
    if result.verdict == "skipped":
        import pytest

        pytest.skip("; ".join(result.notes) or f"{scenario.id}: the platform cannot run this drill")
    return result.verdict_obj


def commit_of(root: Path | None = None) -> str | None:
    """The git commit of vibedrill's source tree, or None when installed or not in a checkout."""
    where = root or ROOT
    if not (where / "pyproject.toml").is_file():  # installed: not some enclosing repository's
        return None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None
