"""An installed vibedrill: the wheel built once per session and a venv that has only that wheel.

The wheel is built the way a release is (``uv build``: an sdist, then the wheel from it, so nothing
stale from an in-tree ``build/`` gets in). The venv is made with ``venv`` (no system site
packages) and the wheel installed into it with ``--no-deps``; its third-party dependencies come
from this test run's environment through a ``.pth`` file that names a folder of links to the
distributions the wheel's own requirements need, transitively — not vibedrill's editable install,
not its ``dev`` extra — so ``import harness`` can only find the wheel, and a dependency the wheel
forgot to declare is missing there as it would be for a user. Every command runs with ``PYTHONPATH`` removed, from a
folder outside the checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class InstalledVibedrill:
    """A venv with the built wheel installed, and how to run things in it."""

    wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self) -> dict[str, str]:
        """The environment of a user who installed vibedrill: no PYTHONPATH, the venv first."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "PYTEST", "VIBEDRILL"))
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        env["COLUMNS"] = "400"
        return env

    def run(
        self, *args: str | Path, cwd: Path, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a command of the venv (``vibedrill``, ``python`` …) in ``cwd``."""
        exe = self.bin / str(args[0])
        return subprocess.run(
            [str(exe), *map(str, args[1:])],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _build_wheel(out: Path) -> Path:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "build",
            "--python",
            sys.executable,
            "--out-dir",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, f"uv build failed:\n{done.stdout}\n{done.stderr}"
    wheels = sorted(out.glob("vibedrill-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {out}: {wheels}"
    return wheels[0]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_closure(wheel: Path) -> list[metadata.Distribution]:
    """The distributions of this environment that the wheel's requirements need, transitively
    (markers evaluated here, extras followed; no ``dev`` extra)."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
    todo = [
        (Requirement(line.split(":", 1)[1].strip()), "")
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    found: dict[str, metadata.Distribution] = {}
    wanted: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        key = _canonical(req.name)
        for want in ("", *sorted(req.extras)):
            if (key, want) in wanted:
                continue
            wanted.add((key, want))
            dist = found.get(key) or metadata.distribution(req.name)  # missing: the test fails
            found[key] = dist
            todo += [(Requirement(r), want) for r in dist.requires or ()]
    return sorted(found.values(), key=lambda d: _canonical(d.metadata["Name"]))


def _dependencies_folder(wheel: Path, target: Path) -> Path:
    """Links to what the wheel's runtime dependencies installed here, and nothing else
    (not vibedrill's own editable install, not the ``dev`` extra)."""
    target.mkdir()
    for dist in _runtime_closure(wheel):
        assert _canonical(dist.metadata["Name"]) != "vibedrill"
        for file in dist.files or ():
            top = file.parts[0]
            if top == ".." or top.endswith(".pth") or (target / top).exists():
                continue
            source = Path(str(dist.locate_file(top)))
            if source.exists():
                (target / top).symlink_to(source)
    return target


def _installer(python: Path, wheel: Path) -> list[str]:
    """The command that installs ``wheel`` (no dependencies, no index) into ``python``'s venv:
    uv where this environment has it (a venv made by ``uv sync`` has no pip), else pip."""
    uv = Path(sys.executable).parent / "uv"
    if uv.is_file():
        return [
            str(uv),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "--no-deps",
            "--offline",
            str(wheel),
        ]
    return [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--disable-pip-version-check",
        str(wheel),
    ]


def install(base: Path) -> InstalledVibedrill:
    """vibedrill installed from its built wheel into a fresh venv under ``base``."""
    wheel = _build_wheel(base / "dist")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    done = subprocess.run(
        _installer(env_dir / "bin" / "python", wheel),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, f"installing {wheel.name} failed:\n{done.stdout}\n{done.stderr}"
    deps = _dependencies_folder(wheel, base / "deps")
    purelib = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    ).stdout.strip()
    (Path(purelib) / "_vibedrill_test_deps.pth").write_text(f"{deps}\n")
    return InstalledVibedrill(wheel, env_dir)


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())
