"""The pytest plugin: options, drill-prefixed fixtures, the drill marker, and laziness."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _inner_ini(request: pytest.FixtureRequest) -> None:
    """Give inner pytest runs the settings the outer one has (asyncio loop scope, strictness)."""
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
        mod = types.ModuleType("fake_drill_runner")
        mod.run = fake_runner
        sys.modules["fake_drill_runner"] = mod
        plugin.DRILL_RUNNER = "fake_drill_runner:run"
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
