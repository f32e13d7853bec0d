"""The lock file: CI installs from ``uv.lock`` and stops, saying how to re-lock, when it is stale."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv")


def _project_copy(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / ".ci", tmp_path / ".ci", ignore=shutil.ignore_patterns(".uv"))
    return tmp_path


def _run_tests_script(project: Path) -> subprocess.CompletedProcess[str]:
    assert UV, "uv is a dev dependency and must be on PATH"
    env = {**os.environ, "VIBEDRILL_UV": UV, "UV_OFFLINE": "1"}
    return subprocess.run(
        ["bash", ".ci/tests"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


def test_every_dependency_of_pyproject_is_pinned_in_the_lock() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    pinned = {p["name"] for p in lock["package"] if "version" in p}
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = meta["dependencies"] + meta["optional-dependencies"]["dev"]
    names = {
        d.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower() for d in wanted
    }
    assert names <= {n.lower() for n in pinned}, names - pinned
    registry = [p for p in lock["package"] if p.get("source", {}).get("registry")]
    assert registry and all(all("hash" in w for w in p.get("wheels", [])) for p in registry), (
        "every locked wheel carries its hash"
    )


def test_the_lock_is_current_with_pyproject() -> None:
    assert UV
    done = subprocess.run(
        [UV, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_a_dependency_changed_without_relocking_stops_ci_with_how_to_relock(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"jinja2>=3.1"', '"jinja2>=3.1.6", "six"'))
    done = _run_tests_script(project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "uv.lock is out of date with pyproject.toml" in done.stderr
    assert "nox -s lock" in done.stderr
    assert not (project / ".venv").exists(), "nothing was installed from a stale lock"
