"""The ``drill_explore`` fixture: a small ``vibedrill explore`` search inside a team's test suite.

Configured by ``@pytest.mark.drill_explore(budget=20, seed=0, defects=(), types=(),
platforms=(), runbook=None, mode=None, max_shrinks=50)``; returns the finished
:class:`harness.explore.ExploreRun`. Its ``assert_nothing_found()`` fails the test with the
violated invariant, the minimal scenario's path and the command that reproduces it. Reports, the
example database and found scenarios go to the test's drill reports folder, never ``scenarios/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

__all__ = ["drill_explore"]

_KEYS = ("budget", "seed", "defects", "types", "platforms", "runbook", "mode", "max_shrinks")


@pytest.fixture
def drill_explore(request: pytest.FixtureRequest, drill_reports_dir: Path) -> Any:
    """Run the search of ``@pytest.mark.drill_explore(…)`` and return the ExploreRun."""
    from fakes.core.fault_kind import SOCIAL

    from .explore import SearchConfig, Space, explore

    marker = request.node.get_closest_marker("drill_explore")
    kw = dict(marker.kwargs) if marker else {}
    unknown = sorted(set(kw) - set(_KEYS))
    if unknown:
        raise pytest.UsageError(
            f"{request.node.nodeid}: drill_explore takes {', '.join(_KEYS)}; not {', '.join(unknown)}"
        )
    mode = kw.get("mode")
    space = Space(
        platforms=tuple(kw.get("platforms") or SOCIAL),
        types=tuple(kw.get("types") or ()),
        runbook=kw.get("runbook"),
        modes=(mode,) if mode else ("auto", "observe"),
    )
    cfg = SearchConfig(
        space=space,
        seed=int(kw.get("seed", 0)),
        budget=int(kw.get("budget", 20)),
        defects=tuple(kw.get("defects") or ()),
        max_shrinks=int(kw.get("max_shrinks", 50)),
        db_dir=drill_reports_dir / "explore" / "db",
    )
    run = explore(
        cfg,
        reports_dir=drill_reports_dir,
        found_dir=drill_reports_dir / "found",
        search_id=f"pytest-s{cfg.seed}",
    )

    def assert_nothing_found() -> None:
        res = run.result
        if res.found:
            pytest.fail(
                f"vibedrill explore found {res.invariant} violated at draw {res.found_at}: "
                f"{run.scenario} (reproduce: vibedrill run {run.scenario}"
                + "".join(f" --defect {d}" for d in cfg.defects)
                + ")",
                pytrace=False,
            )

    run.assert_nothing_found = assert_nothing_found  # type: ignore[attr-defined]
    return run
