"""vibedrill outside its checkout: the wheel carries the catalogue, the CLI works from it, and the
pytest plugin gates another project (markers under ``--strict-markers -W error``, scenario files
as test items whose failure says what broke, where the report is and how to reproduce it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _installed import ROOT, InstalledVibedrill, wheel_names

pytestmark = pytest.mark.slow

pytest_plugins = ["pytester"]

BUILTIN_IDS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))

STORM = """\
id: {id}
title: {title}
runbook: RB-05
severity: P2
incident_types: [RATE]
seed: 7
world: {{clients: 3, platforms: [x, instagram]}}
workload: {{duration: 40m, posts_per_hour: 120}}
faults:
  - {{kind: x.rate_limited, at: 10m, duration: 15m, params: {{retry_after_s: 60}}, probability: 0.9}}
invariants: [rate_within_platform_limits, every_side_effect_audited]
"""


def write_storms(folder: Path) -> tuple[Path, Path]:
    """Two short 429 storms: one the healthy platform weathers, one with Retry-After ignored."""
    folder.mkdir(parents=True, exist_ok=True)
    healthy = folder / "storm_healthy.yaml"
    healthy.write_text(STORM.format(id="storm_healthy", title="a short 429 storm on X"))
    broken = folder / "storm_retry_after_ignored.yaml"
    broken.write_text(
        STORM.format(id="storm_retry_after_ignored", title="the storm, Retry-After ignored")
        + "defects: [retry_after_ignored]\n"
    )
    return healthy, broken


def test_the_wheel_carries_every_scenario_runbook_and_template(
    installed: InstalledVibedrill,
) -> None:
    names = wheel_names(installed.wheel)
    want = {
        f"harness/_scenarios/{p.relative_to(ROOT / 'scenarios').as_posix()}"
        for p in (ROOT / "scenarios").rglob("*.yaml")
    }
    want |= {
        f"harness/runbooks/data/{p.name}" for p in (ROOT / "harness/runbooks/data").glob("*.yaml")
    }
    want |= {
        f"harness/report/templates/{p.name}" for p in (ROOT / "harness/report/templates").iterdir()
    }
    assert any(n.startswith("harness/_scenarios/found/") for n in want)
    assert not want - names, f"missing from {installed.wheel.name}: {sorted(want - names)}"


def test_the_venv_imports_vibedrill_from_the_wheel_only(
    installed: InstalledVibedrill, tmp_path: Path
) -> None:
    code = (
        "import harness, fakes, sandbox, importlib.metadata as m\n"
        "print(harness.__file__); print(fakes.__file__); print(sandbox.__file__)\n"
        "print(len([d for d in m.distributions() if d.metadata['Name'] == 'vibedrill']))\n"
    )
    done = installed.run("python", "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    *files, count = done.stdout.split()
    for f in files:
        assert Path(f).is_relative_to(installed.venv), f
    assert count == "1"


def test_installed_vibedrill_lists_every_scenario_and_rb05_holds_outside_the_checkout(
    installed: InstalledVibedrill, tmp_path: Path
) -> None:
    listed = installed.run("vibedrill", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = {
        line.split("│")[1].strip(): line
        for line in listed.stdout.splitlines()
        if line.startswith("│")
    }
    assert sorted(i for i in rows if i) == BUILTIN_IDS
    assert all("built-in" in rows[i] for i in BUILTIN_IDS)

    ran = installed.run(
        "vibedrill", "run", "rb05_rate_limit_storm", "--reports-dir", "out", cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (folder,) = (tmp_path / "out").iterdir()
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["scenario"] == "rb05_rate_limit_storm" and verdict["verdict"] == "held"
    assert verdict["commit"] is None  # an installed vibedrill is no git checkout
    assert (folder / "postmortem.md").is_file() and (folder / "junit.xml").is_file()


def test_a_projects_pyproject_adds_its_scenarios_and_shadows_a_builtin_with_a_notice(
    installed: InstalledVibedrill, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    healthy, _ = write_storms(project / "drills")
    rb05 = (ROOT / "scenarios" / "rb05_rate_limit_storm.yaml").read_text()
    (project / "drills" / "rb05_rate_limit_storm.yaml").write_text(
        rb05.replace("title: 429 storm on X during the evening schedule", "title: our own rb05")
    )
    (project / "pyproject.toml").write_text('[tool.vibedrill]\nscenarios = ["drills"]\n')
    listed = installed.run("vibedrill", "list", cwd=project / "src")  # the nearest parent's file
    assert listed.returncode == 0, listed.stdout + listed.stderr
    out = listed.stdout
    assert re.search(r"│ storm_healthy .*│ \S*drills/storm_healthy\.yaml", out), out
    assert re.search(r"│ rb05_rate_limit_storm .*our own rb05.*drills/rb05_rate_limit_st", out), out
    assert "notice: scenario rb05_rate_limit_storm:" in listed.stderr
    assert "shadows the built-in scenario" in listed.stderr
    assert f"{healthy.parent.resolve()}/rb05_rate_limit_storm.yaml" in listed.stderr


# --- the pytest plugin in another project ------------------------------------------------------


def _project(pytester: pytest.Pytester) -> None:
    """A project that knows nothing of vibedrill's markers: strict markers, warnings are errors."""
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\naddopts = "--strict-markers --strict-config -p no:cacheprovider"\n'
        'filterwarnings = ["error"]\n'
    )


def test_a_drill_marked_test_passes_under_strict_markers_in_another_project(
    installed: InstalledVibedrill, pytester: pytest.Pytester
) -> None:
    _project(pytester)
    pytester.makepyfile(
        test_gate="""
        import pytest

        @pytest.mark.drill(scenario="rb05_rate_limit_storm")
        def test_rate_limit_storm_holds(drill):
            drill.assert_held()
            assert drill.scenario == "rb05_rate_limit_storm" and drill.verdict == "held"

        @pytest.mark.drill_explore(budget=1, seed=0)
        def test_the_explore_marker_is_registered_too():
            pass
        """
    )
    done = installed.run("python", "-m", "pytest", "-W", "error", "-q", cwd=pytester.path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout, done.stdout


def test_drill_scenarios_runs_each_file_as_an_item_and_a_violation_says_what_where_and_how(
    installed: InstalledVibedrill, pytester: pytest.Pytester
) -> None:
    _project(pytester)
    _, broken = write_storms(pytester.path / "drills")
    reports = pytester.path / "reports"
    done = installed.run(
        "python",
        "-m",
        "pytest",
        "-W",
        "error",
        "-rA",
        "--drill-scenarios",
        "drills",
        "--drill-reports-dir",
        reports,
        cwd=pytester.path,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed, 1 passed" in out, out
    assert re.search(r"PASSED drills/storm_healthy\.yaml::storm_healthy", out), out
    assert "FAILED drills/storm_retry_after_ignored.yaml::storm_retry_after_ignored" in out
    (folder,) = (p for p in reports.iterdir() if p.name.startswith("storm-retry-after-ignored"))
    verdict = json.loads((folder / "verdict.json").read_text())
    sentence = next(i["detail"] for i in verdict["invariants"] if i["verdict"] == "violated")
    assert f"rate_within_platform_limits: {sentence}" in out
    assert f"report: {folder}" in out
    assert f"reproduce: vibedrill run {broken} --seed 7" in out


def test_drill_scenarios_and_the_ini_twins_reach_the_drill(
    installed: InstalledVibedrill, pytester: pytest.Pytester
) -> None:
    """The ini twins (relative to the ini file) do what the options do; a bad value is a usage error."""
    healthy, _ = write_storms(pytester.path / "drills")
    broken = pytester.path / "drills" / "storm_retry_after_ignored.yaml"
    broken.unlink()
    pytester.makepyprojecttoml(
        "[tool.pytest.ini_options]\n"
        'addopts = "--strict-markers --strict-config -p no:cacheprovider"\n'
        'filterwarnings = ["error"]\n'
        'drill_scenarios = ["drills"]\n'
        'drill_defect = ["retry_after_ignored"]\n'
        'drill_seed = "11"\n'
        'drill_reports_dir = "out"\n'
    )
    done = installed.run("python", "-m", "pytest", "-W", "error", cwd=pytester.path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout
    assert (
        f"reproduce: vibedrill run {healthy} --seed 11 --defect retry_after_ignored" in done.stdout
    )
    assert [p.name for p in (pytester.path / "out").iterdir()] == [
        "storm-healthy-20261127T120000Z-s11-retry-after-ignored"
    ]
    bad = installed.run("python", "-m", "pytest", "--drill-time-scale", "fast", cwd=pytester.path)
    assert bad.returncode == 4, bad.stdout + bad.stderr
    assert "--drill-time-scale: 'fast' is not a time scale" in bad.stderr
