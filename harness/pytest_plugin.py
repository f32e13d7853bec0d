"""vibedrill's pytest plugin: ``--drill-seed``, ``--drill-reports-dir`` and ``drill*`` fixtures.

Thin and lazy: importing this module imports neither Playwright, Locust nor the sandbox; the
drill engine is imported only when the ``drill`` fixture runs. The ``drill`` marker is declared
in ``pyproject.toml`` (``@pytest.mark.drill(scenario=…, seed=…, defects=(…))``).

The ``drill`` fixture runs the marker's scenario through :data:`DRILL_RUNNER` — by default
``harness.drill.run:run_for_pytest(scenario, *, seed, defects, reports_dir) -> Verdict`` — and
returns the :class:`harness.judge.verdict.Verdict`. A test asserts on it; a violated verdict fails
the test with the invariant's sentence via ``verdict.assert_held()``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .pytest_explore import drill_explore

__all__ = ["DRILL_RUNNER", "drill", "drill_explore", "drill_reports_dir", "drill_seed"]

#: "module:function" that runs one scenario for the ``drill`` fixture
DRILL_RUNNER = "harness.drill.run:run_for_pytest"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--drill-*`` options."""
    group = parser.getgroup("vibedrill", "vibedrill drills")
    group.addoption(
        "--drill-seed",
        type=int,
        default=None,
        help="seed for every drill (default: the scenario's)",
    )
    group.addoption(
        "--drill-reports-dir",
        default=None,
        help="where drill reports go (default: a temporary folder per test)",
    )


@pytest.fixture
def drill_seed(request: pytest.FixtureRequest) -> int | None:
    """The seed from ``--drill-seed``, or None to use each scenario's own seed."""
    value = request.config.getoption("--drill-seed")
    return None if value is None else int(value)


@pytest.fixture
def drill_reports_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where this test's drill reports go: ``--drill-reports-dir`` or a temporary folder."""
    opt = request.config.getoption("--drill-reports-dir")
    path = Path(opt) if opt else tmp_path / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _runner() -> Callable[..., Any]:
    module, _, name = DRILL_RUNNER.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise pytest.UsageError(f"the drill fixture needs {DRILL_RUNNER} ({e})") from None
    return fn  # type: ignore[no-any-return]


@pytest.fixture
def drill(request: pytest.FixtureRequest, drill_seed: int | None, drill_reports_dir: Path) -> Any:
    """Run the scenario named by ``@pytest.mark.drill(scenario=…)`` and return its Verdict."""
    marker = request.node.get_closest_marker("drill")
    kwargs = dict(marker.kwargs) if marker else {}
    scenario = kwargs.get("scenario") or (marker.args[0] if marker and marker.args else None)
    if scenario is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the drill fixture needs @pytest.mark.drill(scenario='<id or path>')"
        )
    seed = kwargs.get("seed", drill_seed)
    defects = tuple(kwargs.get("defects", ()))
    return _runner()(scenario, seed=seed, defects=defects, reports_dir=drill_reports_dir)
