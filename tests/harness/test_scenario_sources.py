"""Where scenarios come from: the built-ins shipped in the package, ``--scenarios DIR``,
``VIBEDRILL_SCENARIOS`` and ``[tool.vibedrill] scenarios``; shadowing with a notice; the CLI."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.catalogue import scenarios_dir
from harness.cli.main import app
from harness.scenario_sources import (
    BUILTIN,
    ENV_VAR,
    ScenarioSourceError,
    builtin_scenarios_dir,
    load_catalogue,
)

ROOT = Path(__file__).resolve().parents[2]
RB05 = (ROOT / "scenarios" / "rb05_rate_limit_storm.yaml").read_text()
runner = CliRunner()
cli_main = importlib.import_module("harness.cli.main")  # the package's ``main`` is the function


@pytest.fixture(autouse=True)
def _no_user_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def _scenario(folder: Path, sid: str, title: str = "a user's storm") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sid}.yaml"
    path.write_text(
        RB05.replace("id: rb05_rate_limit_storm", f"id: {sid}").replace(
            "title: 429 storm on X during the evening schedule", f"title: {title}"
        )
    )
    return path


def test_the_builtins_are_package_data_read_through_importlib_resources() -> None:
    d = builtin_scenarios_dir()
    assert d.parent.name == "harness" and d.name == "_scenarios"
    assert scenarios_dir() == d
    assert sorted(p.name for p in d.glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "scenarios").glob("*.yaml")
    )
    assert sorted(p.name for p in (d / "found").glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "scenarios" / "found").glob("*.yaml")
    )


def test_without_user_folders_the_catalogue_is_the_builtins(tmp_path: Path) -> None:
    cat = load_catalogue(cwd=tmp_path)
    assert cat.ids() == sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    assert {cat.entries[i].origin for i in cat.ids()} == {BUILTIN}
    assert cat.notices() == []


def test_a_users_file_shadows_the_builtin_of_the_same_id_with_a_notice(tmp_path: Path) -> None:
    mine = _scenario(tmp_path / "mine", "rb05_rate_limit_storm")
    new = _scenario(tmp_path / "mine", "my_storm")
    notices: list[str] = []
    cat = load_catalogue([tmp_path / "mine"], cwd=tmp_path, notice=notices.append)
    assert cat.entries["rb05_rate_limit_storm"].path == mine
    assert cat.entries["rb05_rate_limit_storm"].origin == str(mine)
    assert cat.entries["my_storm"].path == new
    assert cat.entries["rb04_token_expiry"].origin == BUILTIN
    assert notices == [
        f"scenario rb05_rate_limit_storm: {mine} (--scenarios) shadows the "
        f"built-in scenario {builtin_scenarios_dir() / 'rb05_rate_limit_storm.yaml'}"
    ]


def test_command_line_beats_the_environment_which_beats_pyproject(tmp_path: Path) -> None:
    cli = _scenario(tmp_path / "cli", "shared", "from the command line")
    env = _scenario(tmp_path / "env", "shared", "from the environment")
    _scenario(tmp_path / "env", "env_only")
    proj = _scenario(tmp_path / "project" / "drills", "shared", "from pyproject")
    _scenario(tmp_path / "project" / "drills", "pyproject_only")
    (tmp_path / "project" / "pyproject.toml").write_text(
        '[project]\nname = "theirs"\n\n[tool.vibedrill]\nscenarios = ["drills"]\n'
    )
    cwd = tmp_path / "project" / "src" / "deep"  # the nearest parent's pyproject.toml counts
    cwd.mkdir(parents=True)
    environ = {ENV_VAR: os.pathsep.join([str(tmp_path / "env"), ""])}
    cat = load_catalogue([cli.parent], cwd=cwd, environ=environ)
    assert cat.entries["shared"].path == cli
    assert cat.entries["shared"].shadows == (env, proj)
    assert {"env_only", "pyproject_only", "rb05_rate_limit_storm"} <= set(cat.ids())
    assert [s.given_by for s in cat.sources] == [
        "--scenarios",
        ENV_VAR,
        f"{tmp_path / 'project' / 'pyproject.toml'}: tool.vibedrill.scenarios[0]",
        BUILTIN,
    ]
    # without the command line the environment wins; relative entries are relative to cwd
    cat = load_catalogue(cwd=tmp_path, environ={ENV_VAR: "env"})
    assert cat.entries["env_only"].path == env.parent / "env_only.yaml"


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        (
            "[tool.vibedrill]\nscenarios = 'drills'\n",
            "tool.vibedrill.scenarios: must be a list of folders (got 'drills')",
        ),
        (
            "[tool.vibedrill]\nscenarios = [3]\n",
            "tool.vibedrill.scenarios[0]: must be a folder path (got 3)",
        ),
        (
            "[tool.vibedrill]\nscenarios = ['nope']\n",
            "tool.vibedrill.scenarios[0]: 'nope': no such folder",
        ),
        (
            "[tool.vibedrill]\nscenario = ['drills']\n",
            "tool.vibedrill.scenario: unknown key; valid: scenarios",
        ),
        ("[tool.vibedrill\n", "cannot be read as TOML"),
    ],
)
def test_a_bad_pyproject_entry_names_the_file_the_key_and_the_value(
    tmp_path: Path, pyproject: str, message: str
) -> None:
    (tmp_path / "drills").mkdir()
    (tmp_path / "pyproject.toml").write_text(pyproject)
    with pytest.raises(ScenarioSourceError) as e:
        load_catalogue(cwd=tmp_path, environ={})
    assert str(e.value).startswith(f"{tmp_path / 'pyproject.toml'}: ")
    assert message in str(e.value)


def test_ids_resolve_exactly_by_unique_prefix_or_as_paths(tmp_path: Path) -> None:
    mine = _scenario(tmp_path / "mine", "my_storm")
    cat = load_catalogue([mine.parent], cwd=tmp_path)
    assert cat.resolve("my_storm") == mine
    assert cat.resolve("my_st") == mine
    assert cat.resolve(mine) == mine
    with pytest.raises(ScenarioSourceError, match="did you mean 'my_storm'"):
        cat.resolve("my_strom")
    with pytest.raises(ScenarioSourceError, match=r"looked in: .*mine \(--scenarios\)"):
        cat.resolve("rb05")  # the prefix of three ids
    with pytest.raises(ScenarioSourceError, match="no such scenario file"):
        cat.resolve(tmp_path / "absent.yaml")


def test_cli_list_says_where_each_scenario_came_from_and_notices_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = _scenario(tmp_path / "mine", "rb05_rate_limit_storm", "our own storm")
    monkeypatch.setattr(cli_main.out, "width", 400)  # one line per row, the path unwrapped
    res = runner.invoke(app, ["list", "--scenarios", str(mine.parent)])
    assert res.exit_code == 0, res.output
    row = next(line for line in res.stdout.splitlines() if "│ rb05_rate_limit_storm " in line)
    assert "our own storm" in row and str(mine) in row
    other = next(line for line in res.stdout.splitlines() if "│ rb04_token_expiry " in line)
    assert other.rstrip(" │").endswith(BUILTIN)
    assert "notice: scenario rb05_rate_limit_storm:" in res.stderr
    assert "notice" not in res.stdout


@pytest.mark.slow
def test_cli_run_and_validate_take_scenarios_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = _scenario(tmp_path / "mine", "my_storm")
    monkeypatch.setenv(ENV_VAR, str(mine.parent))
    res = runner.invoke(app, ["validate"])
    assert res.exit_code == 0, res.output
    assert f"ok {mine}" in res.stdout
    res = runner.invoke(app, ["run", "my_storm", "--reports-dir", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["my-storm-20261127T120000Z-s7"]


@pytest.mark.parametrize("cmd", ["list", "validate", "run", "mutants"])
def test_a_missing_scenarios_folder_is_a_usage_error_naming_it(tmp_path: Path, cmd: str) -> None:
    args = [cmd, "--scenarios", str(tmp_path / "nope")] + (["--all"] if cmd == "run" else [])
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert f"--scenarios: '{tmp_path / 'nope'}': no such folder" in res.stderr


def test_validate_takes_folders_as_well_as_files(tmp_path: Path) -> None:
    mine = _scenario(tmp_path / "mine", "my_storm")
    (tmp_path / "mine" / "notes.txt").write_text("not a scenario")
    res = runner.invoke(app, ["validate", str(ROOT / "scenarios"), str(mine.parent)])
    assert res.exit_code == 0, res.output
    n = len(list((ROOT / "scenarios").glob("*.yaml"))) + 1
    assert f"{n} scenario(s) valid" in res.stdout
    assert f"ok {mine}" in res.stdout
