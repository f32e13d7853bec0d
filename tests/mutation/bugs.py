"""Run the drills against every realistic bug in ``tests/mutation/bugs/*.patch``.

Each patch is applied (``git apply``) to a fresh copy of the tracked tree in a temporary
directory, and ``python -m harness.cli run --all --no-browser`` runs there (so the copy's
``sandbox/`` is imported, not the installed one). Exit 1 = the drills caught the bug, exit 0 =
they missed it, anything else (or a patch that does not apply) = error. The result goes to
``reports/mutation/bugs.json`` with the catch rate::

    python -m tests.mutation.bugs [--jobs 2] [--only NAME ...] [--out reports/mutation/bugs.json]

``--browser`` runs the browser lane's drills too (``vibedrill run --all``, Chromium needed): for
bugs in ``sandbox/lanes/browser*``, which no API-lane drill reaches.

``nox -s bugs`` runs it under ``nice``. See docs/mutation.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUGS_DIR = Path(__file__).resolve().parent / "bugs"
DEFAULT_OUT = ROOT / "reports" / "mutation" / "bugs.json"
#: a drill run that takes longer than this is recorded as an error (s)
RUN_TIMEOUT_S = 900

#: set by SIGINT/SIGTERM: no bug starts any more, the running ones are killed
_STOP = threading.Event()
#: the drill runs going on now, each in a session of its own (killed with its children)
_RUNNING: set[subprocess.Popen[str]] = set()
_RUNNING_LOCK = threading.Lock()


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _stop(signum: int, frame: object) -> None:
    """Stop the campaign: what was measured is kept, no process is left behind."""
    _STOP.set()
    with _RUNNING_LOCK:
        for proc in list(_RUNNING):
            _kill(proc)


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str] | None:
    """``cmd`` in a session of its own (its pytest or CLI and their workers die with it);
    None when the campaign was stopped before or while it ran."""
    if _STOP.is_set():
        return None
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    if _STOP.is_set():
        return None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@dataclass
class BugResult:
    """What the drills said about one bug."""

    bug: str
    summary: str
    status: str  # caught | missed | error
    exit_code: int | None
    seconds: float
    #: drills that did not hold (from the CLI's summary), or the error text
    detail: str


def patches(only: list[str] | None = None, folder: Path = BUGS_DIR) -> list[Path]:
    """The bug patches, sorted; ``only`` keeps those whose name contains one of the strings."""
    found = sorted(folder.glob("*.patch"))
    if only:
        found = [p for p in found if any(o in p.stem for o in only)]
    return found


def summary_of(patch: Path) -> str:
    """The 'What the platform then does wrong' line of a patch header."""
    for line in patch.read_text().splitlines():
        if line.startswith("# What the platform then does wrong:"):
            return line.split(":", 1)[1].strip()
    return ""


def revision_copy(dest: Path, rev: str, root: Path = ROOT) -> None:
    """Write the tree of git revision ``rev`` (e.g. ``main``) to ``dest``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev], cwd=root, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def tracked_copy(dest: Path, root: Path = ROOT) -> None:
    """Copy the files git tracks (working-tree contents) under ``root`` to ``dest``."""
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True
    ).stdout.decode()
    for rel in filter(None, out.split("\0")):
        src = root / rel
        target = dest / rel
        if src.is_symlink():  # e.g. harness/_scenarios -> ../scenarios: kept a link, as git does
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(src.readlink())
            continue
        if not src.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def check_applies(patch: Path, root: Path = ROOT) -> str | None:
    """None if ``patch`` applies cleanly to ``root``'s tree, else git's complaint."""
    r = subprocess.run(
        ["git", "apply", "--check", str(patch)], cwd=root, capture_output=True, text=True
    )
    return None if r.returncode == 0 else (r.stderr.strip() or f"git apply exit {r.returncode}")


def not_held(stdout: str) -> str:
    """``scenario=verdict`` for every drill of the CLI's summary table that did not hold."""
    bad = []
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("\u2502")]
        if len(cells) > 3 and cells[1] and cells[2] and cells[2] not in ("held", "verdict"):
            bad.append(f"{cells[1]}={cells[2]}")
    return ", ".join(bad)


#: the CLI, run from the copy (``harness.cli`` has no ``__main__``)
CLI = "import sys; from harness.cli import main; sys.argv[0] = 'vibedrill'; sys.exit(main())"


def run_one(
    patch: Path | None, base: Path, *, fail_fast: bool = False, browser: bool = False
) -> BugResult:
    """Apply ``patch`` (None: the unpatched baseline) to a copy of ``base``; run the API-lane
    drills (and the browser lane's too, with ``browser``: what ``vibedrill run --all`` runs)."""
    t0 = time.monotonic()
    name = patch.stem if patch is not None else "baseline"
    summary = summary_of(patch) if patch is not None else "no bug"
    if _STOP.is_set():  # stopped: not even the copy
        return BugResult(name, summary, "stopped", None, 0.0, "")
    with tempfile.TemporaryDirectory(prefix=f"vd-bug-{name[:20]}-") as tmp:
        work = Path(tmp)
        shutil.copytree(base, work, dirs_exist_ok=True)
        if patch is not None:
            # not a repository: git apply works on the files below cwd
            ap = subprocess.run(
                ["git", "apply", str(patch)], cwd=work, capture_output=True, text=True
            )
            if ap.returncode != 0:
                return BugResult(name, summary, "error", None, 0.0, ap.stderr[-400:])
        env = {**os.environ, "PYTHONPATH": str(work), "PYTHONDONTWRITEBYTECODE": "1"}
        if fail_fast:
            # the same drills as the CLI's --all --no-browser, one pytest test each; stops at
            # the first drill that does not hold (pytest exit 1 = caught, 0 = missed)
            cases = work / "tests" / "mutation" / "drill_cases.py"
            cases.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(__file__).with_name("drill_cases.py"), cases)
            cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
            cmd += ["-o", "addopts=", "-W", "ignore", str(cases)]
        else:
            cmd = [sys.executable, "-c", CLI, "run", "--all"]
            cmd += [] if browser else ["--no-browser"]
            cmd += ["--reports-dir", str(work / "reports")]
        try:
            got = _run(cmd, work, env)
        except subprocess.TimeoutExpired:
            return BugResult(name, summary, "error", None, time.monotonic() - t0, "timeout")
        if got is None:
            return BugResult(name, summary, "stopped", None, time.monotonic() - t0, "")
        r = got
    secs = round(time.monotonic() - t0, 1)
    status = {1: "caught", 0: "missed"}.get(r.returncode, "error")
    if status == "caught" and fail_fast:
        failed = [ln[7:] for ln in r.stdout.splitlines() if ln.startswith("FAILED ")]
        detail = "; ".join(failed)[:400]
        if not failed or any(": error;" in ln for ln in failed):
            status = "error"  # a harness error, as the CLI's exit 3 (or no drill named)
    elif status == "caught":
        detail = not_held(r.stdout)
        if not detail:  # exit 1 without a drill that did not hold: the CLI crashed
            status, detail = "error", r.stderr[-600:]
    elif status == "error" and not fail_fast and r.returncode == 3:
        # exit 3 is the CLI's "some drill ended as a harness error"; a drill that did not hold
        # beside it still caught the bug (the errors are named with it)
        detail = not_held(r.stdout)
        caught = any(d.endswith(("=violated", "=vacuous")) for d in detail.split(", "))
        status = "caught" if caught else "error"
        detail = detail or r.stderr[-600:]
    else:
        detail = r.stderr[-600:] if status == "error" else ""
    return BugResult(name, summary, status, r.returncode, secs, detail)


def build_report(
    a: argparse.Namespace, commit: str, results: list[BugResult], planned: int, wall: float
) -> dict[str, Any]:
    """The bugs.json document for the results so far (``complete`` once every bug ran)."""
    caught = sum(r.status == "caught" for r in results)
    missed = [r.bug for r in results if r.status == "missed"]
    errors = [r.bug for r in results if r.status == "error"]
    judged = caught + len(missed)
    return {
        "commit": commit,
        "command": (
            "pytest -x tests/mutation/drill_cases.py (fail fast)"
            if a.fail_fast
            else "vibedrill run --all" + ("" if a.browser else " --no-browser")
        )
        + " per patched copy",
        "tree": a.rev or "work tree",
        "patches": str(a.patches),
        "complete": len(results) == planned,
        "planned": planned,
        "total": len(results),
        "caught": caught,
        "missed": len(missed),
        "errors": len(errors),
        "catch_rate": round(caught / judged, 4) if judged else None,
        "wall_s": round(wall, 1),
        "missed_bugs": missed,
        "error_bugs": errors,
        "bugs": [asdict(r) for r in results],
    }


def write_report(out: Path, report: dict[str, Any]) -> None:
    """Write ``report`` to ``out`` (folders created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="bugs run in parallel (default 2)")
    ap.add_argument("--only", nargs="*", help="only bugs whose name contains one of these")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--rev", help="measure this git revision (e.g. main) instead of the work tree")
    ap.add_argument("--patches", type=Path, default=BUGS_DIR, help="folder of *.patch files")
    ap.add_argument(
        "--fail-fast",
        action="store_true",
        help="run the drills as pytest tests and stop at the first that does not hold (faster)",
    )
    ap.add_argument(
        "--no-baseline", action="store_true", help="skip the unpatched run (must hold) first"
    )
    ap.add_argument(
        "--browser",
        action="store_true",
        help="run the browser lane's drills too (vibedrill run --all, Chromium needed): for bugs "
        "in the browser lane",
    )
    a = ap.parse_args(argv)
    todo = patches(a.only, a.patches)
    if not todo:
        print(f"no patches under {a.patches}", file=sys.stderr)
        return 2
    commit = subprocess.run(
        ["git", "rev-parse", a.rev or "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    t0 = time.monotonic()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    with tempfile.TemporaryDirectory(prefix="vd-bugs-base-") as base_tmp:
        base = Path(base_tmp)
        if a.rev:
            revision_copy(base, a.rev)
        else:
            tracked_copy(base)
        if not a.no_baseline:
            b = run_one(None, base, fail_fast=a.fail_fast, browser=a.browser)
            if b.status == "stopped":
                print("stopped before the baseline ran through: nothing measured", file=sys.stderr)
                return 130
            print(f"baseline {b.status} (exit {b.exit_code}) in {b.seconds} s", flush=True)
            if b.status != "missed":
                print(f"the unpatched tree does not hold: {b.detail}", file=sys.stderr)
                return 2
        results: list[BugResult] = []
        report = build_report(a, commit, results, len(todo), 0.0)
        with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
            for res in pool.map(
                lambda p: run_one(p, base, fail_fast=a.fail_fast, browser=a.browser), todo
            ):
                if res.status == "stopped":
                    continue
                print(
                    f"{res.status:7} {res.bug:50} {res.seconds:6.1f}s  {res.detail[:100]}",
                    flush=True,
                )
                results.append(res)
                # written after every bug: an interrupted campaign keeps what it measured
                report = build_report(a, commit, results, len(todo), time.monotonic() - t0)
                write_report(a.out, report)
    if _STOP.is_set():
        print(
            f"stopped: {len(results)} of {len(todo)} bugs measured, kept in {a.out}",
            file=sys.stderr,
        )
        return 130
    caught, missed, errors = report["caught"], report["missed_bugs"], report["error_bugs"]
    rate = "n/a" if report["catch_rate"] is None else f"{100 * report['catch_rate']:.0f} %"
    print(
        f"caught {caught}/{len(results)} ({rate}); missed: {', '.join(missed) or 'none'}; "
        f"errors: {', '.join(errors) or 'none'}; {report['wall_s']} s -> {a.out}"
    )
    return 0 if not errors else 2


if __name__ == "__main__":
    raise SystemExit(main())
