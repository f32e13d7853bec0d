"""The servers and child processes of a load test: fakes, platform and Locust on 127.0.0.1.

Every child process gets its own process group (Ctrl-C reaches only this process) and is
stopped and reaped on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from fakes import admin_headers

from .options import UNSETTLED, LoadError, LoadOptions, LoadUsageError

__all__ = [
    "Admin",
    "Child",
    "connect_host",
    "drain",
    "run_locust",
    "sigterm_as_interrupt",
    "start_world",
    "targets_of",
]

#: how a child process runs the CLI
_CLI = "from harness.cli import main; main()"


@dataclass
class Child:
    """A child process of the load test, its log file, and how to stop it."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, argv: list[str], log: Path, cwd: Path | None = None) -> Child:
        """Start ``argv`` in its own process group, stdout and stderr to ``log``."""
        with log.open("wb") as f:
            proc = subprocess.Popen(
                argv,
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                process_group=0,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return cls(name, proc, log)

    def tail(self, lines: int = 15) -> str:
        """The last lines of the child's log."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def interrupt(self) -> None:
        """SIGINT, if it still runs (no wait)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGINT (servers shut down gracefully), then SIGKILL after ``grace_s``; always reaped."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # anything the child itself started lives in its process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into KeyboardInterrupt while the load test runs, so cleanup still
    happens. SIGINT too: a process started with SIGINT ignored (by a pytest-xdist worker, or a
    script that ignores it) inherits that, Python then installs no KeyboardInterrupt for it, and
    Ctrl-C of ``vibedrill load`` did nothing — as ``vibedrill run`` does, the handler is explicit.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
        old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, old_int)


def stop_together(children: list[Child], grace_s: float = 10.0) -> None:
    """Stop ``children`` at once: SIGINT to all, then each reaped within one shared grace.

    One after the other, a Locust master and its workers each took their whole grace on a busy
    machine (a worker waits to say goodbye to a master that is already gone), and Ctrl-C of a
    distributed run outlasted a minute.
    """
    for c in children:
        c.interrupt()
    deadline = time.monotonic() + grace_s
    for c in children:
        c.stop(grace_s=max(0.5, deadline - time.monotonic()))


def _wait_for(what: str, probe: Callable[[], Any], child: Child, timeout_s: float = 30.0) -> Any:
    """Poll ``probe`` until it returns something; LoadError with the child's log if it died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = probe()
        if got is not None:
            return got
        if child.proc.poll() is not None:
            raise LoadError(
                f"{what} exited with code {child.proc.returncode} before it was ready:\n{child.tail()}"
            )
        time.sleep(0.05)
    raise LoadError(f"{what} was not ready within {timeout_s:g}s:\n{child.tail()}")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _platform_ready(log: Path) -> dict[str, Any] | None:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if isinstance(doc, dict) and "base" in doc:
                return doc
    return None


def start_world(
    opts: LoadOptions, tmp: Path, stack: contextlib.ExitStack, note: Callable[[str], None]
) -> tuple[dict[str, Any], str]:
    """Start the fakes and the platform on loopback; return (ready document, platform base)."""
    ready = tmp / "world.json"
    argv = [sys.executable, "-c", _CLI, "serve", "--host", "127.0.0.1", "--port", "0"]
    argv += ["--ready-file", str(ready), "--seed", str(opts.seed), "--clients", str(opts.clients)]
    fakes = Child.start("the fakes", argv, tmp / "fakes.log")
    stack.callback(fakes.stop)
    doc = _wait_for("the fakes", lambda: _read_json(ready), fakes)
    note(f"fakes on {doc['base']}")
    argv = [sys.executable, "-c", _CLI, "platform", "serve", "--world", str(ready), "--port", "0"]
    argv += ["--db", str(tmp / "platform.db"), "--seed", str(opts.seed)]
    for d in opts.defects:
        argv += ["--defect", d]
    platform = Child.start("the platform", argv, tmp / "platform.log")
    stack.callback(platform.stop)
    info = _wait_for("the platform", lambda: _platform_ready(platform.log), platform)
    note(
        f"platform on {info['base']}"
        + (f" with defects {', '.join(info.get('defects') or [])}" if opts.defects else "")
    )
    return doc, str(info["base"])


class Admin:
    """The fakes' admin contract (``/_fake/``) and the platform contract, over sync httpx."""

    def __init__(self, admin: str, platform: str, token: str | None) -> None:
        headers = admin_headers(token)
        self.admin, self.platform = admin.rstrip("/"), platform.rstrip("/")
        self.http = httpx.Client(timeout=30.0, headers=headers)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(f"{self.admin}{path}", params=params or None)
        if r.status_code != 200:
            raise LoadError(f"GET {self.admin}{path} answered {r.status_code}: {r.text[:300]}")
        return r.json()

    def install(self, specs: list[dict[str, Any]]) -> list[str]:
        if not specs:
            return []
        r = self.http.post(f"{self.admin}/faults", json=specs)
        if r.status_code == 422:
            err = r.json().get("error", {})
            raise LoadUsageError(f"--fault: {err.get('message', r.text[:300])}")
        if r.status_code != 201:
            raise LoadError(f"POST {self.admin}/faults answered {r.status_code}: {r.text[:300]}")
        return [str(i) for i in r.json()["ids"]]

    def remove(self, ids: list[str]) -> None:
        """Remove the fault rules ``ids`` (already gone or an unreachable fake: nothing to do)."""
        for rid in ids:
            with contextlib.suppress(httpx.HTTPError):
                self.http.delete(f"{self.admin}/faults/{rid}")

    def jobs(self) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.platform}/jobs")
        if r.status_code != 200:
            raise LoadError(f"GET {self.platform}/jobs answered {r.status_code}: {r.text[:300]}")
        return list(r.json()["jobs"])

    def audit(self, cursor: int = 0) -> tuple[list[dict[str, Any]], int]:
        out: list[dict[str, Any]] = []
        while True:
            r = self.http.get(f"{self.platform}/audit", params={"cursor": cursor, "limit": 500})
            if r.status_code != 200:
                raise LoadError(f"GET {self.platform}/audit answered {r.status_code}")
            page = r.json()
            out += page["events"]
            if not page["events"] or page["next_cursor"] == cursor:
                return out, cursor
            cursor = int(page["next_cursor"])

    def high_water(self) -> dict[str, int]:
        """The sequence numbers and audit cursor before the load test (a reused world)."""
        j = self.get("/journal").get("entries") or []
        ledger = self.get("/ledger").get("entries") or []
        _, cursor = self.audit(0)
        return {
            "journal": max((int(e["seq"]) for e in j), default=0),
            "ledger": max((int(e["seq"]) for e in ledger), default=0),
            "audit": cursor,
        }


def targets_of(roster: Mapping[str, Any], platforms: list[str]) -> list[dict[str, str]]:
    """Every (client, platform, account) of the world on ``platforms``: the users' targets."""
    out = []
    for c in roster.get("clients") or []:
        for a in c.get("accounts") or []:
            if a.get("platform") in platforms:
                out.append({"client_id": c["id"], "platform": a["platform"], "account_id": a["id"]})
    return out


_LOCUST = [sys.executable, "-m", "harness.load.locustfile"]


def run_locust(
    cfg: dict[str, Any],
    tmp: Path,
    stack: contextlib.ExitStack,
    workers: int = 0,
    *,
    expect_workers: int = 0,
    master_host: str = "127.0.0.1",
    master_port: int = 0,
    expect_workers_timeout_s: float = 60.0,
    note: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run Locust headless in child processes (:mod:`harness.load.locustfile`); its result.

    ``workers`` and ``expect_workers`` 0: one process. Otherwise Locust's master on
    ``master_host:master_port`` (0: a free port), ``workers`` local worker processes, and
    ``expect_workers`` more that connect from elsewhere (``vibedrill load-worker``); the result
    is the master's (stats aggregated over the workers, every worker's submitted jobs). Every
    child is stopped and reaped by ``stack``.
    """
    cfg_file, out_file = tmp / "locust-config.json", tmp / "locust-result.json"
    cfg_file.write_text(json.dumps(cfg))
    total = workers + expect_workers
    if total == 0:
        child = Child.start("locust", [*_LOCUST, str(cfg_file), str(out_file)], tmp / "locust.log")
        stack.callback(child.stop)
        return _finished(child, out_file, float(cfg["run_time_s"]) + 60.0)
    port_file = tmp / "locust-master.port"
    argv = [*_LOCUST, "--master", "--expect-workers", str(total), "--port-file", str(port_file)]
    argv += ["--master-host", master_host, "--master-port", str(master_port)]
    argv += ["--expect-workers-timeout", str(expect_workers_timeout_s)]
    master = Child.start(
        "the Locust master", [*argv, str(cfg_file), str(out_file)], tmp / "locust-master.log"
    )
    crew = [master]
    stack.callback(stop_together, crew)
    port = int(_wait_for("the Locust master", lambda: _read_port(port_file), master))
    if expect_workers and note is not None:
        note(
            f"Locust master on {master_host}:{port} waits {expect_workers_timeout_s:g}s for "
            f"{expect_workers} more worker(s): vibedrill load-worker --master-host "
            f"{connect_host(master_host)} --master-port {port}"
        )
    children: list[tuple[Child, Path]] = []
    for i in range(workers):
        result = tmp / f"locust-worker-{i}.json"
        argv = [*_LOCUST, "--worker", "--master-host", connect_host(master_host)]
        argv += ["--master-port", str(port), str(result)]
        child = Child.start(f"Locust worker {i}", argv, tmp / f"locust-worker-{i}.log")
        crew.append(child)
        children.append((child, result))
    # the master waits for its workers, then runs the users for run_time_s
    got = _finished(master, out_file, float(cfg["run_time_s"]) + expect_workers_timeout_s + 60.0)
    stopped = {got["stopped_by"]}
    jobs = {str(s["job_id"]): s for s in got["submitted"]}
    for child, result in children:
        part = _finished(child, result, 30.0)
        jobs.update((str(s["job_id"]), s) for s in part["submitted"])
        stopped.add(part["stopped_by"])
    got["submitted"] = sorted(jobs.values(), key=lambda s: float(s["submitted_at"]))
    if "max_requests" in stopped:
        got["stopped_by"] = "max_requests"
    return got


def connect_host(bind_host: str) -> str:
    """Where a worker on this machine reaches a master bound to ``bind_host``."""
    return "127.0.0.1" if bind_host in ("", "0.0.0.0", "::", "localhost") else bind_host


def _read_port(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _finished(child: Child, out_file: Path, timeout_s: float) -> dict[str, Any]:
    """Wait for a Locust child to exit; its JSON result, or LoadError with its log."""
    try:
        code = child.proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        raise LoadError(
            f"{child.name} did not stop within {timeout_s:g}s:\n{child.tail()}"
        ) from None
    got = _read_json(out_file)
    if code != 0 or got is None:
        raise LoadError(f"{child.name} exited with code {code}:\n{child.tail()}")
    return got


def drain(api: Admin, prefix: str, drain_s: float) -> tuple[list[dict[str, Any]], float]:
    """Poll the platform until every job of this run (idempotency key ``prefix…``) settled or
    ``drain_s`` passed; return those jobs and the time it took."""
    t0 = time.monotonic()
    while True:
        jobs = [
            j for j in api.jobs() if (j["spec"].get("idempotency_key") or "").startswith(prefix)
        ]
        if not any(j["state"] in UNSETTLED for j in jobs) or time.monotonic() - t0 >= drain_s:
            return jobs, time.monotonic() - t0
        time.sleep(0.25)
