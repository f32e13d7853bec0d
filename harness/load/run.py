"""``vibedrill load``: a bounded Locust load test of the platform's rate-limit handling.

The run: start the fakes (``vibedrill serve``) and the platform (``vibedrill platform serve``)
as child processes on 127.0.0.1 (free ports) — or use a running pair (``--platform-url`` and
``--world``) — install a 429 storm on the fakes, run Locust headless in a child process
(:mod:`harness.load.locustfile`: its users submit publish and reply jobs to the platform's job
intake and poll them), heal the storm, let the platform drain, then pull the fakes' journal and
ledger and the platform's audit, judge them with the invariants (``rate_within_platform_limits``,
``no_duplicate_side_effects``, ``every_side_effect_audited``) and write
``<reports>/load-<defects or healthy>/load.json`` and ``load.md``.

Wall-clock time (``time.time``, ``time.sleep``) is deliberate here: a load test drives real
servers over real sockets, so it is not a virtual-time drill and promises no timeline hash.

Every child process gets its own process group (Ctrl-C reaches only this process) and is
stopped and reaped on the way out, whatever happened. Locust never runs in this process: its
gevent monkey-patching does not mix with asyncio.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from ..errors import BadInputError, RehearsalError
from ..files import atomic_write
from ..judge.rows import AccountFacts, AuditRow, rows_of

__all__ = [
    "DEFAULT_FAULT",
    "DEFAULT_FAULT_ROUTE",
    "INVARIANTS",
    "MAX_REQUESTS_CAP",
    "MAX_RUN_TIME_S",
    "Child",
    "LoadError",
    "LoadOptions",
    "LoadResult",
    "LoadUsageError",
    "fault_spec",
    "run_load",
]

#: the longest load test ``vibedrill load`` runs (seconds)
MAX_RUN_TIME_S = 600.0
#: the most requests a load test may send to the platform, whatever ``--max-requests`` says
MAX_REQUESTS_CAP = 200_000
#: the storm installed when no ``--fault`` is given: X's post endpoint (posts and replies) answers 429
DEFAULT_FAULT = "x.rate_limited"
DEFAULT_FAULT_ROUTE = "tweets.create"
#: the invariants a load test is judged by
INVARIANTS: tuple[str, ...] = (
    "rate_within_platform_limits",
    "no_duplicate_side_effects",
    "every_side_effect_audited",
)
_SOCIAL = ("x", "instagram", "linkedin")
_CLI = "from harness.cli import main; main()"
_UNSETTLED = frozenset({"queued", "scheduled", "running", "retry_wait"})
_SIDE_EFFECTS = ("post.created", "reply.created", "dm.sent", "like.created")


class LoadUsageError(BadInputError):
    """The load test was asked for something it cannot do (exit 2)."""


class LoadError(RehearsalError):
    """The rehearsal broke, not the platform: a server did not start, Locust failed (exit 3)."""


@dataclass(frozen=True)
class LoadOptions:
    """What ``vibedrill load`` was asked to do; see ``vibedrill load --help``."""

    users: int = 20
    spawn_rate: float = 10.0
    run_time_s: float = 30.0
    #: fault rule specs for ``POST /_fake/faults``
    faults: tuple[dict[str, Any], ...] = ()
    defects: tuple[str, ...] = ()
    reports_dir: Path = Path("reports")
    platform_url: str | None = None
    world: Path | None = None
    max_requests: int = 20_000
    #: tenants in the world this command starts (each has one account per social platform)
    clients: int = 16
    #: jobs per account at most (the X fake allows 100 posts per account per day)
    jobs_per_account: int = 60
    drain_s: float = 60.0
    seed: int = 0
    #: a request reaching a fake this soon after a 429 was already in flight
    in_flight_s: float = 0.25
    #: Locust users wait between tasks (seconds, min and max)
    wait_s: tuple[float, float] = (0.5, 1.5)
    admin_token: str | None = None
    commit: str | None = None

    def check(self) -> None:
        """Refuse an unbounded or impossible run with one clear message (``LoadUsageError``)."""
        if not 0 < self.run_time_s <= MAX_RUN_TIME_S:
            raise LoadUsageError(
                f"--run-time: {self.run_time_s:g}s is out of range; a load test runs for more than "
                f"0s and at most {MAX_RUN_TIME_S / 60:g}m (e.g. '30s', '5m')"
            )
        if not 1 <= self.users <= 1000:
            raise LoadUsageError(f"--users: {self.users} is out of range 1..1000")
        if not self.spawn_rate > 0:
            raise LoadUsageError(f"--spawn-rate: {self.spawn_rate:g} must be > 0 users per second")
        if not 1 <= self.max_requests <= MAX_REQUESTS_CAP:
            raise LoadUsageError(
                f"--max-requests: {self.max_requests} is out of range 1..{MAX_REQUESTS_CAP}"
            )
        if (self.platform_url is None) != (self.world is None):
            raise LoadUsageError(
                "--platform-url and --world go together: the platform under test and the ready "
                "file of the fakes it talks to (or neither: the command starts both)"
            )
        if self.platform_url is not None and self.defects:
            raise LoadUsageError(
                "--defect switches a defect of the platform this command starts; it cannot be "
                "used with --platform-url (start that platform with `vibedrill platform serve "
                "--defect …` instead)"
            )
        if self.world is not None and not self.world.is_file():
            raise LoadUsageError(
                f"--world: {self.world}: no such ready file; start `vibedrill serve --ready-file "
                f"{self.world}` first"
            )

    @property
    def report_id(self) -> str:
        """``load-healthy``, ``load-retry_after_ignored`` …, ``load-external`` for --platform-url."""
        if self.platform_url is not None:
            return "load-external"
        return "load-" + ("+".join(sorted(self.defects)) or "healthy")


def fault_spec(
    text: str, *, retry_after_s: float, probability: float, route: str | None = None
) -> dict[str, Any]:
    """A fault rule from ``--fault``: a kind (``x.rate_limited``) or a JSON rule object.

    A bare kind storms the fake it names (every route, or the routes matching the glob
    ``route``) with ``probability``; a ``*.rate_limited`` kind gets ``retry_after_s``. Unknown
    kinds raise ``LoadUsageError`` naming the valid ones.
    """
    from fakes.core.faults import FAULT_KINDS, did_you_mean

    text = text.strip()
    if text.startswith("{"):
        try:
            spec = json.loads(text)
        except ValueError as e:
            raise LoadUsageError(f"--fault: {text!r} is not a JSON object ({e})") from None
        if not isinstance(spec, dict):
            raise LoadUsageError(f"--fault: {text!r} is not a JSON object")
    else:
        spec = {"kind": text}
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise LoadUsageError(
            f"--fault: {kind!r} is not a fault kind{did_you_mean(str(kind), FAULT_KINDS)}; "
            f"valid: {', '.join(sorted(FAULT_KINDS))}"
        )
    if not text.startswith("{"):
        fake = str(kind).split(".", 1)[0]
        spec["match"] = {"fake": fake} if fake != "http" else {}
        if route:
            spec["match"]["route"] = route
        spec["probability"] = probability
        if str(kind).endswith(".rate_limited"):
            spec["params"] = {"retry_after_s": retry_after_s}
    return spec


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


@dataclass
class LoadResult:
    """The outcome: verdict (held, violated, vacuous), exit code, the report and its folder."""

    verdict: str
    exit_code: int
    report: dict[str, Any]
    report_dir: Path
    violated: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while the load test runs, so cleanup still happens."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


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


def _start_world(
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


class _Admin:
    """The fakes' admin contract (``/_fake/``) and the platform contract, over sync httpx."""

    def __init__(self, admin: str, platform: str, token: str | None) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
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


def _targets(roster: Mapping[str, Any], platforms: list[str]) -> list[dict[str, str]]:
    out = []
    for c in roster.get("clients") or []:
        for a in c.get("accounts") or []:
            if a.get("platform") in platforms:
                out.append({"client_id": c["id"], "platform": a["platform"], "account_id": a["id"]})
    return out


def _run_locust(cfg: dict[str, Any], tmp: Path, stack: contextlib.ExitStack) -> dict[str, Any]:
    cfg_file, out_file = tmp / "locust-config.json", tmp / "locust-result.json"
    cfg_file.write_text(json.dumps(cfg))
    child = Child.start(
        "locust",
        [sys.executable, "-m", "harness.load.locustfile", str(cfg_file), str(out_file)],
        tmp / "locust.log",
    )
    stack.callback(child.stop)
    try:
        code = child.proc.wait(float(cfg["run_time_s"]) + 60.0)
    except subprocess.TimeoutExpired:
        raise LoadError(f"Locust did not stop within its run time + 60s:\n{child.tail()}") from None
    got = _read_json(out_file)
    if code != 0 or got is None:
        raise LoadError(f"Locust exited with code {code}:\n{child.tail()}")
    return got


def _drain(api: _Admin, prefix: str, drain_s: float) -> tuple[list[dict[str, Any]], float]:
    """Poll the platform until every job of this run (idempotency key ``prefix…``) settled or
    ``drain_s`` passed; return those jobs and the time it took."""
    t0 = time.monotonic()
    while True:
        jobs = [
            j for j in api.jobs() if (j["spec"].get("idempotency_key") or "").startswith(prefix)
        ]
        if not any(j["state"] in _UNSETTLED for j in jobs) or time.monotonic() - t0 >= drain_s:
            return jobs, time.monotonic() - t0
        time.sleep(0.25)


def _percentile_row(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    e = entry or {}
    return {k: e.get(k) for k in ("requests", "failures", "p50_ms", "p95_ms", "p99_ms", "avg_ms")}


def _judge(record: Any, in_flight_s: float) -> tuple[list[dict[str, Any]], list[Any], int]:
    """Judge the record; returns (results as JSON, result objects, 429-adjacent in-flight count)."""
    from ..judge.invariants import evaluate

    results = []
    for name in INVARIANTS:
        params = {"in_flight_s": in_flight_s} if name == "rate_within_platform_limits" else {}
        results.append(evaluate({"name": name, "params": params}, record))
    strict = evaluate("rate_within_platform_limits", record)
    in_flight = max(0, strict.count - results[0].count)
    return [r.to_json() for r in results], results, in_flight


def _side_effects(ledger: list[dict[str, Any]], t0: float, t1: float) -> dict[str, Any]:
    effects = [e for e in ledger if e.get("action") in _SIDE_EFFECTS]
    minutes = max((t1 - t0) / 60.0, 1e-9)
    series: Counter[int] = Counter(int((float(e["t"]) - t0) // 60) for e in effects)
    return {
        "total": len(effects),
        "by_action": dict(sorted(Counter(str(e["action"]) for e in effects).items())),
        "by_fake": dict(sorted(Counter(str(e["fake"]) for e in effects).items())),
        "per_minute": round(len(effects) / minutes, 2),
        "per_minute_series": [series.get(m, 0) for m in range(math.ceil(minutes))],
    }


def _rate_limits(journal: list[dict[str, Any]], fault_ids: set[str]) -> dict[str, Any]:
    served = [j for j in journal if j.get("status") == 429]
    return {
        "requests_to_fakes": len(journal),
        "served_429": len(served),
        "served_429_by_storm": sum(1 for j in served if j.get("fault_id") in fault_ids),
        "served_429_by_route": dict(
            sorted(Counter(f"{j['fake']} {j['route']}" for j in served).items())
        ),
    }


def _markdown(rep: dict[str, Any]) -> str:
    i, j, rl, se = rep["intake"], rep["jobs"], rep["rate_limits"], rep["side_effects"]

    def ms(v: Any) -> str:
        return "-" if v is None else f"{v:g} ms"

    lines = [
        f"# Load test `{rep['id']}`: {rep['verdict']}",
        "",
        f"{rep['options']['users']} Locust users (spawn rate {rep['options']['spawn_rate']:g}/s) for "
        f"{rep['options']['run_time_s']:g}s against {rep['platform']}"
        + (f" with defects {', '.join(rep['defects'])}" if rep["defects"] else "")
        + f"; storm: {', '.join(f['kind'] for f in rep['faults']) or 'none'}; "
        f"stopped by {rep['locust']['stopped_by']}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests to the platform (failures) | {rep['locust']['total']['requests']} ({rep['locust']['total']['failures']}) |",
        f"| job intake p50 / p95 / p99 | {ms(i['p50_ms'])} / {ms(i['p95_ms'])} / {ms(i['p99_ms'])} |",
        f"| jobs submitted | {j['submitted']} |",
        f"| jobs by final state | {', '.join(f'{k} {v}' for k, v in j['by_state'].items()) or '-'} |",
        f"| 429s served by the fakes (by the storm) | {rl['served_429']} ({rl['served_429_by_storm']}) |",
        f"| requests sent before Retry-After elapsed | {rl['early_requests']} |",
        f"| requests already in flight when a 429 was served (not counted) | {rl['in_flight_after_429']} |",
        f"| side effects (per minute) | {se['total']} ({se['per_minute']:g}/min) |",
        "",
        "## Invariants",
        "",
    ]
    for inv in rep["invariants"]:
        lines.append(f"- **{inv['name']}** {inv['verdict']}: {inv['detail']}")
    reached = rep.get("reached") or []
    if reached:
        lines += ["", "## Reached", ""]
        lines += [f"- {r['name']}: {'yes' if r['hit'] else 'NO'} ({r['count']})" for r in reached]
    return "\n".join(lines) + "\n"


def run_load(opts: LoadOptions, note: Callable[[str], None] = print) -> LoadResult:
    """Run the load test; write the report; return the verdict and exit code (0, 1).

    Raises ``LoadUsageError`` (exit 2), ``LoadError`` (exit 3) and ``KeyboardInterrupt``; every
    child process is stopped and reaped before any of them leaves this function.
    """
    from ..judge.record import DrillRecord

    opts.check()
    faults = list(opts.faults) or [
        fault_spec(DEFAULT_FAULT, retry_after_s=3.0, probability=0.3, route=DEFAULT_FAULT_ROUTE)
    ]
    platforms = sorted({str(f["kind"]).split(".", 1)[0] for f in faults} & set(_SOCIAL)) or ["x"]
    # the temporary folder outlives the children (their logs are in it): it is left last
    with (
        _sigterm_as_interrupt(),
        tempfile.TemporaryDirectory(prefix="vibedrill-load-") as tmp_name,
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        if opts.platform_url is None:
            doc, base = _start_world(opts, tmp, stack, note)
        else:
            assert opts.world is not None
            from ..platform_adapter import PlatformServeUsageError, load_served_world

            try:
                doc = load_served_world(opts.world)
            except PlatformServeUsageError as e:
                raise LoadUsageError(f"--world: {e}") from None
            base = opts.platform_url.rstrip("/")
        api = _Admin(str(doc["admin"]), base, opts.admin_token)
        stack.callback(api.close)
        try:
            hw = api.high_water()
            roster = api.get("/roster")
        except httpx.HTTPError as e:
            raise LoadError(f"cannot reach the fakes' admin API at {doc['admin']}: {e}") from None
        targets = _targets(roster, platforms)
        if not targets:
            raise LoadUsageError(f"the world has no account on {', '.join(platforms)}")
        prefix = f"load-{opts.seed}-{os.urandom(4).hex()}-"
        t_start = time.time()
        fault_ids = api.install(faults)
        stack.callback(api.remove, fault_ids)
        note(
            f"storm installed: {', '.join(str(f['kind']) for f in faults)}; "
            f"Locust: {opts.users} users for {opts.run_time_s:g}s"
        )
        cfg = {
            "host": base,
            "users": opts.users,
            "spawn_rate": opts.spawn_rate,
            "run_time_s": opts.run_time_s,
            "max_requests": opts.max_requests,
            "jobs_per_account": opts.jobs_per_account,
            "seed": opts.seed,
            "targets": targets,
            "reply_platforms": ["x"],
            "wait_s": list(opts.wait_s),
            "key_prefix": prefix,
        }
        locust = _run_locust(cfg, tmp, stack)
        t_heal = time.time()
        # the rules' params (Retry-After) are only listed while installed; history keeps hits
        installed = api.get("/faults").get("faults") or []
        api.remove(fault_ids)
        submitted = list(locust.get("submitted") or [])
        note(
            f"Locust done: {locust['stats']['total']['requests']} requests, "
            f"{len(submitted)} jobs; storm healed; draining (at most {opts.drain_s:g}s)"
        )
        jobs, drained_s = _drain(api, prefix, opts.drain_s)
        journal = [e for e in api.get("/journal").get("entries") or [] if e["seq"] > hw["journal"]]
        ledger = [e for e in api.get("/ledger").get("entries") or [] if e["seq"] > hw["ledger"]]
        audit, _ = api.audit(hw["audit"])
        fstate = api.get("/faults")
        t_end = time.time()
    ids = set(fault_ids)
    accounts: dict[str, AccountFacts] = {
        a["id"]: {"tenant_id": c["id"], "platform": a["platform"], "handle": a.get("handle")}
        for c in roster.get("clients") or []
        for a in c.get("accounts") or []
    }
    record = DrillRecord(
        scenario={
            "id": opts.report_id,
            "title": "Locust load test of rate-limit handling",
            "runbook": "RB-05",
            "severity": "P2",
            "incident_types": ["RATE"],
        },
        drill_id=opts.report_id,
        seed=opts.seed,
        start_t=t_start,
        end_t=t_end,
        commit=opts.commit,
        topology="served",
        mode="observe",
        defects=opts.defects,
        ledger=ledger,
        journal=journal,
        audit=rows_of(AuditRow, audit),
        fault_rules=[r for r in installed if r.get("id") in ids],
        fault_history=[h for h in fstate.get("history") or [] if h.get("id") in ids],
        workload=[
            {
                "job_id": j["id"],
                "kind": j["spec"]["kind"],
                "client_id": j["spec"]["client_id"],
                "platform": j["spec"].get("platform"),
                "account_id": j["spec"].get("account_id"),
                "idempotency_key": j["spec"].get("idempotency_key"),
                "submitted_at": j["created_at"],
            }
            for j in jobs
        ],
        jobs=[
            {
                "id": j["id"],
                "state": j["state"],
                "kind": j["spec"]["kind"],
                "client_id": j["spec"]["client_id"],
                "platform": j["spec"].get("platform"),
                "created_at": j["created_at"],
                "updated_at": j["updated_at"],
                "attempts": j["attempts"],
                "last_error": j["last_error"],
            }
            for j in jobs
        ],
        accounts=accounts,
        clients={c["id"]: c.get("name", c["id"]) for c in roster.get("clients") or []},
        fault_window=(t_start, t_heal),
    )
    inv_json, inv_objs, in_flight = _judge(record, opts.in_flight_s)
    hits = {str(h.get("id")): int(h.get("hits") or 0) for h in record.fault_rows()}
    reached = [
        {
            "name": f"{f['kind']} fired",
            "fault_id": rid,
            "hit": hits.get(rid, 0) > 0,
            "count": hits.get(rid, 0),
        }
        for rid, f in zip(fault_ids, faults, strict=True)
    ]
    reached.append({"name": "jobs submitted", "hit": bool(jobs), "count": len(jobs)})
    violated = [r.name for r in inv_objs if r.verdict == "violated"]
    verdict = "violated" if violated else ("held" if all(r["hit"] for r in reached) else "vacuous")
    by_state = dict(sorted(Counter(j["state"] for j in jobs).items()))
    stats = locust["stats"]
    rate = _rate_limits(journal, ids)
    rate["early_requests"] = inv_objs[0].count
    rate["in_flight_after_429"] = in_flight
    rate["in_flight_s"] = opts.in_flight_s
    rep: dict[str, Any] = {
        "id": opts.report_id,
        "verdict": verdict,
        "violated": violated,
        "commit": opts.commit,
        "topology": "served",
        "platform": base,
        "defects": list(opts.defects),
        "options": {
            "users": opts.users,
            "spawn_rate": opts.spawn_rate,
            "run_time_s": opts.run_time_s,
            "max_requests": opts.max_requests,
            "jobs_per_account": opts.jobs_per_account,
            "drain_s": opts.drain_s,
            "seed": opts.seed,
            "platforms": platforms,
            "accounts": len(targets),
        },
        "faults": [{"id": rid, **f} for rid, f in zip(fault_ids, faults, strict=True)],
        "window": {
            "start": t_start,
            "heal": t_heal,
            "end": t_end,
            "load_s": round(t_heal - t_start, 3),
            "drain_s": round(drained_s, 3),
        },
        "locust": {
            "total": stats["total"],
            "by_name": stats["by_name"],
            "errors": stats["errors"],
            "stopped_by": locust["stopped_by"],
            "wall_s": locust["wall_s"],
        },
        "intake": _percentile_row(stats["by_name"].get("POST /jobs")),
        "jobs": {
            "submitted": len(jobs),
            # accepted by the platform, but Locust stopped before it read the answer
            "answer_cut_off": len({j["id"] for j in jobs} - {s["job_id"] for s in submitted}),
            "by_kind": dict(sorted(Counter(j["spec"]["kind"] for j in jobs).items())),
            "by_state": by_state,
            "unsettled": sum(v for k, v in by_state.items() if k in _UNSETTLED),
        },
        "rate_limits": rate,
        "side_effects": _side_effects(ledger, t_start, t_end),
        "invariants": inv_json,
        "reached": reached,
        "counts": {"journal": len(journal), "ledger": len(ledger), "audit": len(audit)},
    }
    out_dir = opts.reports_dir / opts.report_id
    atomic_write(out_dir / "load.json", json.dumps(rep, indent=2, sort_keys=True) + "\n")
    atomic_write(out_dir / "load.md", _markdown(rep))
    # the evidence the invariants' anchors point at (evidence/journal.jsonl#L12 …)
    for name, rows in (
        ("journal", record.journal),
        ("ledger", record.ledger),
        ("audit", record.audit),
        ("jobs", record.jobs),
        ("workload", record.workload),
    ):
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        atomic_write(out_dir / "evidence" / f"{name}.jsonl", text)
    code = 0 if verdict == "held" else 1
    return LoadResult(verdict, code, rep, out_dir, violated)


def with_commit(opts: LoadOptions) -> LoadOptions:
    """``opts`` with the working tree's commit filled in."""
    from ..drill.run import commit_of

    return replace(opts, commit=commit_of())
