"""Developer sessions: ``nox -s tests``, ``lint``, ``typecheck``, ``drills``, ``explore``, ``bench``,
``load``, ``lock``, ``bugs`` and ``mutation`` (the two campaigns of docs/mutation.md).

Every session installs exactly what ``uv.lock`` pins (``uv sync --locked``), so a session, CI and a
newcomer's ``.ci/tests`` run the same versions. ``nox -s lock`` is the only way the lock moves.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]

ROOT = Path(__file__).parent


def install_locked(session: nox.Session) -> None:
    """Install the project and every locked package (dev extras included) into the session's venv."""
    venv = getattr(session.virtualenv, "location", None)
    if not venv:
        session.error("this session needs its own virtualenv")
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--extra",
        "dev",
        f"--python={venv}",
        env={"UV_PROJECT_ENVIRONMENT": venv, "UV_PYTHON_DOWNLOADS": "never"},
        external=True,
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pytest -q); extra arguments go to pytest."""
    install_locked(session)
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint with ruff check and ruff format --check; extra arguments go to ruff check."""
    install_locked(session)
    session.run("ruff", "check", ".", *session.posargs)
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check harness, fakes and sandbox with mypy (strict, pydantic plugin)."""
    install_locked(session)
    session.run("mypy")


@nox.session
def drills(session: nox.Session) -> None:
    """Run every drill (``vibedrill run --all``); extra arguments go to ``vibedrill run``."""
    install_locked(session)
    session.run("vibedrill", "run", "--all", *session.posargs)


@nox.session
def load(session: nox.Session) -> None:
    """Load-test rate-limit handling with Locust against a 429 storm (``vibedrill load``).

    Headless, 20 users for 30 s by default; extra arguments go to ``vibedrill load``.
    """
    install_locked(session)
    session.run("vibedrill", "load", *session.posargs)


@nox.session
def explore(session: nox.Session) -> None:
    """Search the fault space with a fixed small budget (``vibedrill explore --budget 40 --seed 0``).

    Fails when the healthy platform violates an invariant; the minimal scenario is written under
    ``scenarios/found/``. Extra arguments go to ``vibedrill explore``.
    """
    install_locked(session)
    session.run(
        "vibedrill", "explore", "--budget", "40", "--seed", "0", "--time", "15m", *session.posargs
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Run every bench/bench_*.py; each writes reports/bench/<name>.json and prints a summary.

    Extra arguments go to every script (e.g. ``nox -s bench -- --check`` fails on a missed target).
    """
    install_locked(session)
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    if not scripts:
        session.error("no bench/bench_*.py scripts found")
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        out = ROOT / "reports" / "bench" / f"{name}.json"
        session.run("python", str(script), "--out", str(out), *session.posargs)


@nox.session
def lock(session: nox.Session) -> None:
    """Move the lock on purpose: re-resolve uv.lock to the newest releases, then run the tests on them.

    ``nox -s lock -- --upgrade-package anthropic`` moves one package only. Review ``git diff uv.lock``
    and the test result, then commit both; CI installs nothing but what the lock says.
    """
    args = session.posargs or ["--upgrade"]
    session.run("uv", "lock", *args, external=True)
    install_locked(session)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider")


#: long campaigns share the machine: run them at low priority
NICE = ("nice", "-n", "15")


@nox.session
def bugs(session: nox.Session) -> None:
    """Apply each realistic bug of tests/mutation/bugs/ to a copy of the tree; run every API-lane drill.

    Writes reports/mutation/bugs.json (caught = exit 1, missed = exit 0) with the catch rate. Extra
    arguments go to ``python -m tests.mutation.bugs`` (e.g. ``-- --only pacing --jobs 1``).
    """
    install_locked(session)
    session.run(*NICE, "python", "-m", "tests.mutation.bugs", *session.posargs, external=True)


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation-test the safety-critical sandbox modules with mutmut; the drills are the test suite.

    ``[tool.mutmut]`` in pyproject.toml names the modules; each mutant runs only the drills that
    reach its function, stops at the first that does not hold, two at a time. Results are kept in
    mutants/ (a rerun continues). Writes reports/mutation/score.json and survivors.txt. Extra
    arguments go to ``mutmut run`` (e.g. mutant-name globs: ``-- "sandbox.pacing.*"``);
    ``-- --sample N [--seed S]`` checks a seeded sample of N unchecked mutants per module (after
    mutmut has generated them: a first ``mutmut run`` does, and may be interrupted then).
    """
    import json
    import time

    install_locked(session)
    args = list(session.posargs)
    if args[:1] == ["--sample"]:
        picked = session.run(
            "python", "-m", "tests.mutation.score", *args[:4], silent=True, external=True
        )
        args = str(picked or "").split()
        if not args:
            session.error("no unchecked mutants to sample: run `mutmut run` once first")
    t0 = time.monotonic()
    session.run(*NICE, "mutmut", "run", "--max-children", "2", *args, external=True)
    wall = round(time.monotonic() - t0, 1)
    extra = ROOT / "reports" / "mutation" / "campaign.json"
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_text(json.dumps({"campaign_wall_s": wall, "mutmut_args": session.posargs}) + "\n")
    session.run("python", "-m", "tests.mutation.score", "--extra", str(extra))
