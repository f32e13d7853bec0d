"""The fakes and the reference platform as two child processes on loopback, for one drill over HTTP.

``vibedrill mutants --served`` (and the tests) drill the sandbox the way a team drills its own
deployment: ``vibedrill serve --time-scale K`` in one process, ``vibedrill platform serve
--settings … [--defect …]`` in another, and the drill talking to both over HTTP only. Each drill
gets a fresh pair (no state carried between drills); both are stopped with SIGTERM — and killed
if they do not stop — when the block ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from fakes.core.roster import Roster

from ..errors import DrillError
from ..scenario import Scenario
from .served_platform import served_clients
from .settings import scenario_settings

__all__ = ["ServedPair", "served_pair"]

#: how long a child may take to start listening
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ServedPair:
    """Where the pair listens: the platform's base URL and the fakes' ready file."""

    platform_url: str
    world: Path
    time_scale: float


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from harness.cli.main import main; main()", *args]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-800:].strip()
    return ""


@contextlib.contextmanager
def served_pair(
    scenario: Scenario,
    defects: Sequence[str] = (),
    *,
    time_scale: float = 60.0,
    workdir: Path | None = None,
) -> Iterator[ServedPair]:
    """Serve a fresh world (``time_scale``) and the platform with the scenario's settings."""
    own = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="vibedrill-pair-")) if own else Path(workdir or ".")
    folder.mkdir(parents=True, exist_ok=True)
    ready = folder / "world.json"
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        fakes_log = folder / "fakes.log"
        with fakes_log.open("wb") as log:
            procs.append(
                subprocess.Popen(
                    _cli(
                        "serve",
                        "--port",
                        "0",
                        "--ready-file",
                        str(ready),
                        "--time-scale",
                        f"{time_scale:g}",
                        "--clients",
                        str(max(scenario.world.clients, 1)),
                    ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready.is_file():
            if procs[0].poll() is not None or time.monotonic() > deadline:
                raise DrillError(f"`vibedrill serve` did not start: {_tail(fakes_log)}")
            time.sleep(0.05)
        doc = json.loads(ready.read_text())
        roster = Roster.model_validate(
            httpx.get(f"{doc['admin']}/roster", params={"secrets": "1"}, timeout=10).json()
        )
        settings = folder / "settings.json"
        settings.write_text(
            json.dumps(scenario_settings(scenario, served_clients(scenario, roster)))
        )
        plat_out = folder / "platform.out"
        plat_log = folder / "platform.log"
        args = ["platform", "serve", "--world", str(ready), "--port", "0"]
        args += ["--settings", str(settings), "--db", str(folder / "platform.db")]
        for d in defects:
            args += ["--defect", d]
        with plat_out.open("wb") as o, plat_log.open("wb") as log:
            procs.append(subprocess.Popen(_cli(*args), stdout=o, stderr=log, env=env))
        while True:
            line = plat_out.read_text().strip().splitlines()
            if line:
                info = json.loads(line[0])
                break
            if procs[1].poll() is not None or time.monotonic() > deadline:
                raise DrillError(f"`vibedrill platform serve` did not start: {_tail(plat_log)}")
            time.sleep(0.05)
        yield ServedPair(str(info["base"]), ready, time_scale)
    finally:
        for p in reversed(procs):
            _stop(p)
        if own:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
