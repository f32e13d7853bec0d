"""vibedrill's pytest plugin: markers, ``--drill-*`` options, scenario files as test items, fixtures.

Any project that installs vibedrill gets it (entry point ``pytest11``). Thin and lazy: importing
this module imports neither Playwright, Locust, the sandbox nor the drill engine; the engine is
imported only when a drill runs.

- Markers ``drill`` and ``drill_explore`` are registered in :func:`pytest_configure` (so
  ``--strict-markers`` accepts them in any project; a project that declares them too is fine).
- Options, each with an ini twin of the same name (``drill_scenarios``, ``drill_defect``,
  ``drill_platform_url``, ``drill_world``, ``drill_time_scale``, ``drill_seed``,
  ``drill_reports_dir``); the command line wins over the ini file, ini paths are relative to it.
  The ``drill_scenarios`` folders join a run without test paths (as ``testpaths`` do).
- ``--drill-scenarios DIR`` (repeatable) collects every scenario file (``*.yaml``) of DIR as a test
  item: a violated (or vacuous) drill fails with the violated invariants' sentences, the report
  folder and the command that reproduces it; a broken rehearsal (bad scenario file, harness error)
  is an *error*; a drill the platform cannot offer is *skipped* with the reason. The folders also
  join the catalogue that ``@pytest.mark.drill(scenario=<id>)`` looks ids up in.
- The ``drill`` fixture runs the marker's scenario through :data:`DRILL_RUNNER` — by default
  ``harness.drill.run:run_for_pytest(scenario, *, seed, defects, reports_dir) -> Verdict`` (and
  ``scenario_dirs``, ``platform_url``, ``world``, ``time_scale`` when set) — and returns the
  :class:`harness.judge.verdict.Verdict`; ``verdict.assert_held()`` fails the test with the
  invariant's sentence.
"""

from __future__ import annotations

import importlib
import shlex
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .pytest_explore import drill_explore

__all__ = [
    "DRILL_RUNNER",
    "DrillScenarioFile",
    "DrillScenarioItem",
    "DrillSettings",
    "drill",
    "drill_explore",
    "drill_reports_dir",
    "drill_seed",
    "drill_settings",
]

#: "module:function" that runs one scenario for the ``drill`` fixture
DRILL_RUNNER = "harness.drill.run:run_for_pytest"

MARKERS = {
    "drill": "drill(scenario=None, seed=None, defects=()): configures the drill fixture (vibedrill)",
    "drill_explore": (
        "drill_explore(budget=20, seed=0, defects=(), types=(), platforms=(), runbook=None, "
        "mode=None, max_shrinks=50): configures the drill_explore fixture (vibedrill)"
    ),
}

#: option dest → (flag, help); every one has an ini twin named like its dest
_OPTIONS: dict[str, tuple[str, str]] = {
    "drill_scenarios": (
        "--drill-scenarios",
        "a folder of scenario files: each *.yaml runs as a test item (repeatable)",
    ),
    "drill_defect": ("--drill-defect", "switch a platform defect on in every drill (repeatable)"),
    "drill_platform_url": (
        "--drill-platform-url",
        "drill a platform that already runs, over HTTP at this base URL (needs --drill-world)",
    ),
    "drill_world": (
        "--drill-world",
        "the ready file of `vibedrill serve` (the fakes the served platform talks to)",
    ),
    "drill_time_scale": (
        "--drill-time-scale",
        "time scale K of the served world (default: its ready file's; a mismatch is refused)",
    ),
    "drill_seed": ("--drill-seed", "seed for every drill (default: the scenario's)"),
    "drill_reports_dir": (
        "--drill-reports-dir",
        "where drill reports go (default: a temporary folder per test)",
    ),
}
_REPEATABLE = ("drill_scenarios", "drill_defect")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--drill-*`` options and their ini twins."""
    group = parser.getgroup("vibedrill", "vibedrill drills")
    for dest, (flag, help_) in _OPTIONS.items():
        if dest in _REPEATABLE:
            group.addoption(flag, dest=dest, action="append", default=None, help=help_)
            parser.addini(dest, f"{help_} (one per line)", type="linelist", default=[])
        else:
            group.addoption(flag, dest=dest, default=None, help=help_)
            parser.addini(dest, help_, type="string", default="")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers (unless the project declares them) and check the drill settings."""
    declared = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    for name, line in MARKERS.items():
        if name not in declared:
            config.addinivalue_line("markers", line)
    settings = config.stash[_SETTINGS] = _settings(config)
    # The folders are collected as if named on the command line: always when --drill-scenarios
    # says so; from the ini twin only when no test path was given (like ``testpaths``), so
    # ``pytest tests/test_x.py`` runs just that file.
    explicit = config.getoption("drill_scenarios") is not None
    if explicit or config.args_source != pytest.Config.ArgsSource.ARGS:
        for folder in settings.scenario_dirs:
            if not any(Path(a).resolve() == folder for a in config.args):
                config.args.append(str(folder))


@dataclass(frozen=True)
class DrillSettings:
    """The ``--drill-*`` options (or their ini twins), checked."""

    scenario_dirs: tuple[Path, ...] = ()
    defects: tuple[str, ...] = ()
    platform_url: str | None = None
    world: Path | None = None
    time_scale: float = 1.0
    seed: int | None = None
    reports_dir: Path | None = None

    def runner_kwargs(self) -> dict[str, Any]:
        """What reaches the drill runner beyond scenario/seed/defects/reports_dir, when set."""
        kw: dict[str, Any] = {}
        if self.scenario_dirs:
            kw["scenario_dirs"] = self.scenario_dirs
        if self.platform_url is not None:
            kw.update(platform_url=self.platform_url, world=self.world, time_scale=self.time_scale)
        return kw


_SETTINGS = pytest.StashKey[DrillSettings]()


def _settings(config: pytest.Config) -> DrillSettings:
    base = config.inipath.parent if config.inipath else config.rootpath
    cwd = config.invocation_params.dir

    def raw(dest: str) -> tuple[Any, str, Path]:
        """The value, where it was given (for messages), and what relative paths are relative to."""
        value = config.getoption(dest)
        if value is not None:
            return value, _OPTIONS[dest][0], cwd
        ini = config.getini(dest)
        return (ini or None), f"{dest} (in {config.inipath})", base

    def path(dest: str) -> Path | None:
        value, _, rel = raw(dest)
        return None if value is None else rel / Path(str(value)).expanduser()

    dirs_value, dirs_where, dirs_rel = raw("drill_scenarios")
    dirs = []
    for d in dirs_value or ():
        p = dirs_rel / Path(d).expanduser()
        if not p.is_dir():
            what = "no such folder" if not p.exists() else "not a folder"
            raise pytest.UsageError(f"{dirs_where}: {d!r}: {what} ({p})")
        if not any(f.suffix in (".yaml", ".yml") for f in p.iterdir()):
            raise pytest.UsageError(f"{dirs_where}: {d!r}: no scenario file (*.yaml) in {p}")
        dirs.append(p.resolve())
    seed_value, seed_where, _ = raw("drill_seed")
    seed = None
    if seed_value is not None:
        try:
            seed = int(seed_value)
        except ValueError:
            raise pytest.UsageError(
                f"{seed_where}: {seed_value!r} is not an integer seed"
            ) from None
    scale_value, scale_where, _ = raw("drill_time_scale")
    scale: float | None = None
    if scale_value is not None:
        try:
            scale = float(scale_value)
        except ValueError:
            scale = float("nan")
        if not scale > 0 or scale == float("inf"):
            raise pytest.UsageError(
                f"{scale_where}: {scale_value!r} is not a time scale (a number > 0, e.g. 60)"
            )
    url_value, url_where, _ = raw("drill_platform_url")
    world = path("drill_world")
    if url_value is not None and world is None:
        raise pytest.UsageError(
            f"{url_where} needs --drill-world (or drill_world): the ready file of `vibedrill serve`"
        )
    if url_value is None and world is not None:
        raise pytest.UsageError(
            "--drill-world (drill_world) is only used with --drill-platform-url"
        )
    if url_value is None and scale_value is not None:
        raise pytest.UsageError(
            f"{scale_where} is only used with --drill-platform-url (in-process drills run on virtual time)"
        )
    if url_value is not None and world is not None:
        scale = _served_scale(str(url_value), url_where, world, scale, scale_where)
    defects_value, _, _ = raw("drill_defect")
    return DrillSettings(
        scenario_dirs=tuple(dirs),
        defects=tuple(str(d) for d in defects_value or ()),
        platform_url=None if url_value is None else str(url_value),
        world=world,
        time_scale=1.0 if scale is None else scale,
        seed=seed,
        reports_dir=path("drill_reports_dir"),
    )


def _served_scale(
    url: str, url_where: str, world: Path, scale: float | None, scale_where: str
) -> float:
    """The served world's time scale (from its ready file); a given one must match it."""
    from .drill.run import world_clock
    from .platform_adapter import PlatformServeUsageError, load_served_world

    if not url.startswith(("http://", "https://")):
        raise pytest.UsageError(f"{url_where}: {url!r} is not an http(s) URL")
    try:
        doc = load_served_world(world)
    except PlatformServeUsageError as e:
        raise pytest.UsageError(f"--drill-world: {e}") from None
    served, _ = world_clock(doc)
    if scale is not None and abs(scale - served) > 1e-9 * max(served, 1.0):
        raise pytest.UsageError(
            f"{scale_where}: {scale:g} does not match the served world ({world} runs at time "
            f"scale {served:g}); give {served:g}, or leave it out to use the world's"
        )
    return served


@pytest.fixture
def drill_settings(request: pytest.FixtureRequest) -> DrillSettings:
    """The checked ``--drill-*`` settings of this session."""
    return request.config.stash[_SETTINGS]


@pytest.fixture
def drill_seed(drill_settings: DrillSettings) -> int | None:
    """The seed from ``--drill-seed``, or None to use each scenario's own seed."""
    return drill_settings.seed


@pytest.fixture
def drill_reports_dir(drill_settings: DrillSettings, tmp_path: Path) -> Path:
    """Where this test's drill reports go: ``--drill-reports-dir`` or a temporary folder."""
    path = drill_settings.reports_dir or tmp_path / "reports"
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
def drill(
    request: pytest.FixtureRequest,
    drill_settings: DrillSettings,
    drill_seed: int | None,
    drill_reports_dir: Path,
) -> Any:
    """Run the scenario named by ``@pytest.mark.drill(scenario=…)`` and return its Verdict."""
    marker = request.node.get_closest_marker("drill")
    kwargs = dict(marker.kwargs) if marker else {}
    scenario = kwargs.get("scenario") or (marker.args[0] if marker and marker.args else None)
    if scenario is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the drill fixture needs @pytest.mark.drill(scenario='<id or path>')"
        )
    seed = kwargs.get("seed", drill_seed)
    defects = tuple(kwargs.get("defects", drill_settings.defects))
    return _runner()(
        scenario,
        seed=seed,
        defects=defects,
        reports_dir=drill_reports_dir,
        **drill_settings.runner_kwargs(),
    )


# --- scenario files as test items (--drill-scenarios) -------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A scenario file directly in a ``--drill-scenarios`` folder is a :class:`DrillScenarioFile`."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    settings = parent.config.stash.get(_SETTINGS, None)
    if settings is None or file_path.resolve().parent not in settings.scenario_dirs:
        return None
    return DrillScenarioFile.from_parent(parent, path=file_path)  # type: ignore[no-any-return]


class DrillScenarioFile(pytest.File):
    """A scenario file of a ``--drill-scenarios`` folder: one item, named by the file's stem."""

    def collect(self) -> Iterator[DrillScenarioItem]:
        yield DrillScenarioItem.from_parent(self, name=self.path.stem)


class DrillFailed(AssertionError):
    """A drill that did not hold: the message is the whole failure report."""


class DrillScenarioItem(pytest.Item):
    """Run one scenario file: setup runs the drill (a broken rehearsal errors), the call judges."""

    result: Any = None

    def setup(self) -> None:
        from .drill.options import DrillOptions
        from .drill.run import run_drill
        from .errors import VibedrillError
        from .scenario import ScenarioError, load_scenario

        settings = self.config.stash[_SETTINGS]
        reports = settings.reports_dir or self._temporary_folder()
        try:
            scenario = load_scenario(self.path)
        except ScenarioError as e:
            broken: str | None = f"bad scenario file: {e}"
        else:
            broken = None
        if broken is not None:  # outside the except: no chained traceback in the report
            pytest.fail(broken, pytrace=False)
        opts = DrillOptions(
            seed=settings.seed,
            defects=settings.defects,
            reports_dir=Path(reports),
            platform_url=settings.platform_url,
            world=settings.world,
            time_scale=settings.time_scale,
        )
        try:
            self.result = run_drill(scenario, opts)
        except VibedrillError as e:
            broken = f"drill {scenario.id}: the rehearsal broke: {e}"
        if broken is not None:
            pytest.fail(broken, pytrace=False)
        if self.result.verdict == "skipped":
            pytest.skip("; ".join(self.result.notes) or "the platform cannot run this drill")
        if self.result.verdict == "error":
            pytest.fail(self._message("the rehearsal broke (verdict error)"), pytrace=False)

    def _temporary_folder(self) -> Path:
        """A folder under pytest's ``--basetemp`` (as ``tmp_path`` has), else a new temporary one."""
        factory = getattr(self.config, "_tmp_path_factory", None)  # set by pytest's tmp_path plugin
        if factory is not None:
            return Path(factory.mktemp(f"drill-{self.name}"[:30], numbered=True))
        return Path(tempfile.mkdtemp(prefix=f"drill-{self.name}-"))

    def runtest(self) -> None:
        if self.result is None or self.result.verdict != "held":
            raise DrillFailed(self._message(f"is {getattr(self.result, 'verdict', 'not run')}"))

    def _message(self, what: str) -> str:
        r = self.result
        settings = self.config.stash[_SETTINGS]
        v = r.verdict_obj
        seed = v.seed if v is not None else r.verdict_json.get("seed")
        reasons = v.reasons() if v is not None else [str(r.verdict_json.get("error") or "")]
        lines = [f"drill {r.scenario} (seed {seed}) {what}:"]
        lines += [f"  {reason}" for reason in reasons if reason]
        lines.append(f"report: {r.report_dir}")
        lines.append(f"reproduce: {reproduce_command(self.path, seed, settings)}")
        return "\n".join(lines)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, DrillFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"drill {self.name}"


def reproduce_command(path: Path, seed: Any, settings: DrillSettings) -> str:
    """The ``vibedrill run`` command that runs this scenario file again, the same way."""
    cmd = ["vibedrill", "run", str(path)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    for d in settings.defects:
        cmd += ["--defect", d]
    if settings.platform_url is not None:
        cmd += ["--platform-url", settings.platform_url, "--world", str(settings.world)]
        if settings.time_scale != 1.0:
            cmd += ["--time-scale", f"{settings.time_scale:g}"]
    return shlex.join(cmd)
