"""Developer sessions: ``nox -s tests``, ``lint``, ``typecheck``, ``drills``, ``bench``, ``load``."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]

ROOT = Path(__file__).parent


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pytest -q); extra arguments go to pytest."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint with ruff check and ruff format --check; extra arguments go to ruff check."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", ".", *session.posargs)
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check harness, fakes and sandbox with mypy (strict, pydantic plugin)."""
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def drills(session: nox.Session) -> None:
    """Run every drill (``vibedrill run --all``); extra arguments go to ``vibedrill run``."""
    session.install("-e", ".[dev]")
    session.run("vibedrill", "run", "--all", *session.posargs)


@nox.session
def load(session: nox.Session) -> None:
    """Load-test rate-limit handling with Locust against a 429 storm (``vibedrill load``).

    Headless, 20 users for 30 s by default; extra arguments go to ``vibedrill load``.
    """
    session.install("-e", ".[dev]")
    session.run("vibedrill", "load", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run every bench/bench_*.py; each writes reports/bench/<name>.json and prints a summary.

    Extra arguments go to every script (e.g. ``nox -s bench -- --check`` fails on a missed target).
    """
    session.install("-e", ".[dev]")
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    if not scripts:
        session.error("no bench/bench_*.py scripts found")
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        out = ROOT / "reports" / "bench" / f"{name}.json"
        session.run("python", str(script), "--out", str(out), *session.posargs)
