"""What a drill is asked (:class:`DrillOptions`) and what it returns (:class:`DrillResult`)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..judge.verdict import Verdict
from ..scenario import Scenario

__all__ = ["DrillOptions", "DrillResult", "Progress", "drill_id_for"]

#: progress callback: (phase, simulated seconds so far, simulated seconds in all)
Progress = Callable[[str, float, float], None]


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
    #: polled when the drill's loop starts: a signal number asks the drill to stop (the CLI's
    #: handler, for a signal that arrived before the drill loop installed its own)
    stop_requested: Callable[[], int] | None = None
    #: False: judge only, write no report folder (``vibedrill explore``'s draws)
    write: bool = True
    #: drill a platform that already runs (any implementation of the platform contract) over
    #: HTTP at this base URL, against the fakes served by ``vibedrill serve`` whose ready file is
    #: ``world``; in wall-clock time compressed by ``time_scale`` (topology "served-platform")
    platform_url: str | None = None
    world: Path | None = None
    time_scale: float = 1.0
    #: the drill's start time for its id (served drills: the scaled clock's now)
    start: float | None = None
    #: the ready document read from ``world`` (set by :func:`harness.drill.run.run_drill`)
    served_world: dict[str, Any] | None = None

    @property
    def served(self) -> bool:
        """Whether the drill drives a platform over HTTP (``platform_url`` and ``world`` given)."""
        return self.platform_url is not None


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
    #: the signal that interrupted the drill (SIGINT 2, SIGTERM 15), 0 if none
    signum: int = 0
    notes: list[str] = field(default_factory=list)
    #: the judged :class:`harness.judge.verdict.Verdict` (None only without the judge)
    verdict_obj: Verdict | None = None


def drill_id_for(
    scenario: Scenario, seed: int, start: float | None = None, suffix: str = ""
) -> str:
    """``rb05-rate-limit-storm-20261127T120000Z-s7``: scenario, virtual start time (UTC; the
    scenario's ``start`` unless given), seed."""
    t = scenario.start_t if start is None else start
    stamp = _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{scenario.id.replace('_', '-')}-{stamp}-s{seed}{suffix}"
