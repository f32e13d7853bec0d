"""The pytest plugin: options, drill-prefixed fixtures, the drill marker, and laziness."""

from __future__ import annotations

import gc
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import harness.drill.run  # noqa: F401  (imported before any inner run: see below)
from harness.catalogue import platform_defects

pytest_plugins = ["pytester"]

# pytester runs in this process and afterwards forgets the modules an inner run imported first;
# a drill run inside would import the sandbox's components, and their next import would register
# their defects twice. The drill engine and every component are imported now, once.
platform_defects()


@pytest.fixture(autouse=True)
def _inner_ini(request: pytest.FixtureRequest) -> None:
    """Give inner pytest runs the settings the outer one has (asyncio loop scope, strictness).

    An inner run shares this process and runs with ``filterwarnings = error``: garbage that
    earlier tests of this worker left (a socket of a finished server, collected whenever the
    collector next runs) would raise its ResourceWarning inside the inner run and fail it. It
    is collected here first, its warnings ignored: the inner run is judged on its own warnings.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    if "pytester" in request.fixturenames:
        pytester = request.getfixturevalue("pytester")
        pytester.makeini(
            "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
            "addopts = --strict-markers\nmarkers =\n    drill: configures the drill fixture\n"
            "filterwarnings = error\n"
        )


def test_importing_the_plugin_imports_neither_playwright_locust_nor_the_sandbox():
    code = (
        "import sys, harness.pytest_plugin\n"
        "bad = [m for m in ('playwright', 'locust', 'sandbox', 'fakes', 'harness.drill') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_drill_seed_and_reports_dir_options_reach_the_fixtures(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_options(drill_seed, drill_reports_dir):
            assert drill_seed == 7
            assert drill_reports_dir.name == "out" and drill_reports_dir.is_dir()
        """
    )
    result = pytester.runpytest(
        "--drill-seed", "7", "--drill-reports-dir", str(pytester.path / "out")
    )
    result.assert_outcomes(passed=1)


def test_without_options_the_seed_is_none_and_reports_go_to_a_temporary_folder(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(
        """
        def test_defaults(drill_seed, drill_reports_dir, tmp_path):
            assert drill_seed is None
            assert drill_reports_dir == tmp_path / "reports"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_drill_fixture_runs_the_markers_scenario_through_the_runner_hook(
    pytester: pytest.Pytester,
):
    pytester.makeconftest(
        """
        import harness.pytest_plugin as plugin

        calls = []

        def fake_runner(scenario, *, seed, defects, reports_dir):
            calls.append((scenario, seed, defects))
            return {"scenario": scenario, "seed": seed, "defects": defects, "dir": reports_dir}

        import sys, types
        import pytest

        @pytest.fixture(autouse=True)
        def _fake_runner(monkeypatch):  # undone after the test: pytester runs in this process
            mod = types.ModuleType("fake_drill_runner")
            mod.run = fake_runner
            monkeypatch.setitem(sys.modules, "fake_drill_runner", mod)
            monkeypatch.setattr(plugin, "DRILL_RUNNER", "fake_drill_runner:run")
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.drill(scenario="rb05_rate_limit_storm", defects=("retry_after_ignored",))
        def test_runs(drill):
            assert drill["scenario"] == "rb05_rate_limit_storm"
            assert drill["seed"] == 3
            assert drill["defects"] == ("retry_after_ignored",)
        """
    )
    pytester.runpytest("--drill-seed", "3").assert_outcomes(passed=1)


@pytest.mark.slow
def test_the_drill_fixture_without_a_scenario_is_a_usage_error_naming_the_test(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(
        """
        def test_no_marker(drill):
            pass
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*test_no_marker*needs @pytest.mark.drill(scenario=*"])
    assert result.ret != 0


STORM = """\
id: storm
title: a short 429 storm on X
runbook: RB-05
severity: P2
incident_types: [RATE]
seed: 7
world: {clients: 3, platforms: [x, instagram]}
workload: {duration: 40m, posts_per_hour: 120}
faults:
  - {kind: x.rate_limited, at: 10m, duration: 15m, params: {retry_after_s: 60}, probability: 0.9}
invariants: [rate_within_platform_limits, every_side_effect_audited]
"""

#: a ready file of `vibedrill serve --time-scale 60` (not contacted: the drills here are faked)
WORLD = (
    '{"admin": "http://127.0.0.1:9/_fake", "fakes": {"x": "http://127.0.0.1:9/x"}, '
    '"clock": {"time_scale": 60, "anchor": 1700000000.0}}'
)

_FAKE_RUNNER = """
import sys, types
import pytest
import harness.pytest_plugin as plugin

def fake_runner(scenario, **kw):
    return {"scenario": scenario, **kw}

@pytest.fixture(autouse=True)
def _fake_runner(monkeypatch):  # undone after the test: pytester runs in this process
    mod = types.ModuleType("fake_drill_runner")
    mod.run = fake_runner
    monkeypatch.setitem(sys.modules, "fake_drill_runner", mod)
    monkeypatch.setattr(plugin, "DRILL_RUNNER", "fake_drill_runner:run")
"""


def test_the_markers_need_no_declaration_in_the_project(pytester: pytest.Pytester):
    pytester.makeini(  # no markers (pytest-asyncio is this repository's dev extra: configure it)
        "[pytest]\nasyncio_default_fixture_loop_scope = function\naddopts = --strict-markers\n"
        "filterwarnings = error\n"
    )
    pytester.makeconftest(_FAKE_RUNNER)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.drill(scenario="rb05_rate_limit_storm")
        def test_drill(drill):
            assert drill["scenario"] == "rb05_rate_limit_storm"

        @pytest.mark.drill_explore(budget=1)
        def test_explore_marker():
            pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
    listed = pytester.runpytest("--markers")
    assert [ln for ln in listed.outlines if ln.startswith("@pytest.mark.drill(")] != []
    assert [ln for ln in listed.outlines if ln.startswith("@pytest.mark.drill_explore(")] != []


def test_a_project_declaring_the_markers_keeps_its_own_lines_without_duplicates(
    pytester: pytest.Pytester,
):
    listed = pytester.runpytest("--markers")  # the autouse ini declares drill
    drill = [ln for ln in listed.outlines if ln.startswith("@pytest.mark.drill")]
    assert [ln.split(":")[0] for ln in drill] == [
        "@pytest.mark.drill",
        "@pytest.mark.drill_explore(budget=20, seed=0, defects=(), types=(), platforms=(), runbook=None, mode=None, max_shrinks=50)",
    ]


@pytest.mark.slow
def test_the_served_options_and_scenario_folders_reach_the_runner(pytester: pytest.Pytester):
    pytester.makeconftest(_FAKE_RUNNER)
    (pytester.path / "drills").mkdir()
    (pytester.path / "drills" / "x.yaml").write_text("id: x\n")
    (pytester.path / "world.json").write_text(WORLD)
    pytester.makepyfile(
        """
        import pytest
        from pathlib import Path

        @pytest.mark.drill(scenario="x")
        def test_drill(drill):
            assert drill["platform_url"] == "http://127.0.0.1:9"
            assert drill["world"] == Path.cwd() / "world.json"
            assert drill["time_scale"] == 60.0
            assert drill["defects"] == ("retry_after_ignored",)
            assert drill["scenario_dirs"] == ((Path.cwd() / "drills").resolve(),)
        """
    )
    result = pytester.runpytest(
        "--drill-platform-url",
        "http://127.0.0.1:9",
        "--drill-world",
        "world.json",
        "--drill-defect",
        "retry_after_ignored",
        "--drill-scenarios",
        "drills",
        "-k",
        "test_drill",
    )
    result.assert_outcomes(passed=1, deselected=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--drill-platform-url", "http://127.0.0.1:9"],
            "--drill-platform-url needs --drill-world",
        ),
        (
            ["--drill-world", "w.json"],
            "--drill-world (drill_world) is only used with --drill-platform-url",
        ),
        (["--drill-time-scale", "60"], "--drill-time-scale is only used with --drill-platform-url"),
        (["--drill-time-scale", "0"], "--drill-time-scale: '0' is not a time scale"),
        (["--drill-seed", "seven"], "--drill-seed: 'seven' is not an integer seed"),
        (["--drill-scenarios", "nope"], "--drill-scenarios: 'nope': no such folder"),
        (
            ["--drill-platform-url", "127.0.0.1:9", "--drill-world", "world.json"],
            "--drill-platform-url: '127.0.0.1:9' is not an http(s) URL",
        ),
        (
            ["--drill-platform-url", "http://127.0.0.1:9", "--drill-world", "absent.json"],
            "no such ready file; start `vibedrill serve --ready-file",
        ),
        (
            [
                "--drill-platform-url",
                "http://127.0.0.1:9",
                "--drill-world",
                "world.json",
                "--drill-time-scale",
                "30",
            ],
            "--drill-time-scale: 30 does not match the served world (",
        ),
    ],
)
def test_bad_drill_options_are_usage_errors_naming_the_option(
    pytester: pytest.Pytester, args: list[str], message: str
):
    (pytester.path / "world.json").write_text(WORLD)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in "\n".join(result.errlines)


def test_an_ini_twin_names_the_ini_file_when_bad(pytester: pytest.Pytester):
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\ndrill_seed = seven\n"
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        f"drill_seed (in {pytester.path / 'tox.ini'}): 'seven' is not an integer seed"
        in "\n".join(result.errlines)
    )


def test_a_scenario_item_drives_the_served_platform_and_a_skipped_drill_is_skipped(
    pytester: pytest.Pytester,
):
    """What the item hands the drill engine, and how it reports a drill the platform cannot run."""
    pytester.makeconftest(
        """
        import harness.drill.run as run
        from harness.drill.options import DrillResult

        seen = []

        def fake_run_drill(scenario, opts):
            seen.append(opts)
            assert opts.platform_url == "http://127.0.0.1:9" and opts.time_scale == 60.0
            assert opts.world.name == "world.json" and opts.defects == ("retry_after_ignored",)
            return DrillResult(
                "d", scenario.id, "skipped", {}, None, "",
                notes=["the served platform offers no defect switch"],
            )

        def pytest_sessionstart(session):  # scenario items use no fixtures: patch per session
            session.config.stash_real = run.run_drill
            run.run_drill = fake_run_drill

        def pytest_sessionfinish(session):  # pytester runs in this process: put it back
            run.run_drill = session.config.stash_real
        """
    )
    drills = pytester.path / "drills"
    drills.mkdir()
    rb05 = Path(__file__).resolve().parents[2] / "scenarios" / "rb05_rate_limit_storm.yaml"
    (drills / "rb05_rate_limit_storm.yaml").write_text(rb05.read_text())
    (pytester.path / "world.json").write_text(WORLD)
    result = pytester.runpytest(
        "--drill-scenarios",
        "drills",
        "--drill-platform-url",
        "http://127.0.0.1:9",
        "--drill-world",
        "world.json",
        "--drill-time-scale",
        "60",
        "--drill-defect",
        "retry_after_ignored",
        "-rs",
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*the served platform offers no defect switch*"])


@pytest.mark.slow
def test_a_broken_scenario_file_is_an_error_and_a_violated_drill_a_failure(
    pytester: pytest.Pytester,
):
    drills = pytester.path / "drills"
    drills.mkdir()
    (drills / "broken.yaml").write_text("id: broken\ntitle: no runbook\n")
    (drills / "storm.yaml").write_text(STORM)
    result = pytester.runpytest(
        "--drill-scenarios", "drills", "--drill-defect", "retry_after_ignored"
    )
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of drill broken*",
            "bad scenario file: drills/broken.yaml: runbook: required key is missing",
            "*FAILURES*",
            "*drill storm*",
            "drill storm (seed 7) is violated:",
            "  rate_within_platform_limits: * before Retry-After elapsed: *",
            "report: */storm-20261127T120000Z-s7-retry-after-ignored",
            f"reproduce: vibedrill run {drills / 'storm.yaml'} --seed 7 --defect retry_after_ignored",
        ],
        consecutive=True,
    )
    assert "During handling" not in result.stdout.str()


@pytest.mark.slow
def test_the_ini_folders_join_a_run_without_test_paths_like_testpaths(pytester: pytest.Pytester):
    pytester.makeconftest(
        """
        import harness.drill.run as run
        from harness.drill.options import DrillResult

        def fake_run_drill(scenario, opts):
            return DrillResult("d", scenario.id, "held", {}, None, "")

        def pytest_sessionstart(session):  # scenario items use no fixtures: patch per session
            session.config.stash_real = run.run_drill
            run.run_drill = fake_run_drill

        def pytest_sessionfinish(session):  # pytester runs in this process: put it back
            run.run_drill = session.config.stash_real
        """
    )
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\ndrill_scenarios = drills\n"
    )
    (pytester.path / "drills").mkdir()
    (pytester.path / "drills" / "storm.yaml").write_text(STORM)
    pytester.makepyfile(test_plain_item_of_the_project="def test_x():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=2)
    pytester.runpytest("test_plain_item_of_the_project.py").assert_outcomes(passed=1)
    pytester.runpytest(
        "test_plain_item_of_the_project.py", "--drill-scenarios", "drills"
    ).assert_outcomes(passed=2)
    pytester.runpytest("drills").assert_outcomes(passed=1)
