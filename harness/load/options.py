"""What ``vibedrill load`` is asked (:class:`LoadOptions`, ``--fault`` rules) and what it returns."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fakes.core.faults import FAULT_KINDS, did_you_mean

from ..errors import BadInputError, RehearsalError
from .shapes import SHAPES

__all__ = [
    "DEFAULT_FAULT",
    "DEFAULT_FAULT_ROUTE",
    "INVARIANTS",
    "LOCUST_MASTER_PORT",
    "MAX_REQUESTS_CAP",
    "MAX_RUN_TIME_S",
    "MAX_WORKERS",
    "UNSETTLED",
    "LoadError",
    "LoadOptions",
    "LoadResult",
    "LoadUsageError",
    "fault_spec",
    "is_loopback",
    "with_commit",
]

#: the longest load test ``vibedrill load`` runs (seconds)
MAX_RUN_TIME_S = 600.0
#: the most Locust worker processes ``--workers`` starts
MAX_WORKERS = 32
#: the most requests a load test may send to the platform, whatever ``--max-requests`` says
MAX_REQUESTS_CAP = 200_000
#: Locust's own master port: where ``vibedrill load-worker`` looks by default
LOCUST_MASTER_PORT = 5557
#: the storm installed when no ``--fault`` is given: X's post endpoint (posts and replies) answers 429
DEFAULT_FAULT = "x.rate_limited"
DEFAULT_FAULT_ROUTE = "tweets.create"
#: the invariants a load test is judged by
INVARIANTS: tuple[str, ...] = (
    "rate_within_platform_limits",
    "no_duplicate_side_effects",
    "every_side_effect_audited",
)
UNSETTLED = frozenset({"queued", "scheduled", "running", "retry_wait"})


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
    #: Locust worker processes under a master (Locust's distributed mode); 0: one process
    workers: int = 0
    #: the load shape (a name of :data:`harness.load.shapes.SHAPES`)
    shape: str = "steady"
    #: workers started elsewhere (``vibedrill load-worker``) the master waits for, besides ``workers``
    expect_workers: int = 0
    #: the address Locust's master binds (loopback unless workers come from other machines)
    master_host: str = "127.0.0.1"
    #: the master's port; None: Locust's 5557 when workers come from elsewhere, else a free one
    master_port: int | None = None
    #: how long the master waits for all its workers to connect (seconds)
    expect_workers_timeout_s: float = 60.0

    @property
    def distributed(self) -> bool:
        """Locust's master and workers (rather than one process)."""
        return self.workers + self.expect_workers > 0

    @property
    def bind_port(self) -> int:
        """The port Locust's master binds (0: a free one)."""
        if self.master_port is not None:
            return self.master_port
        return LOCUST_MASTER_PORT if self.expect_workers else 0

    def check(self) -> None:
        """Refuse an unbounded or impossible run with one clear message (``LoadUsageError``)."""
        if not 0 < self.run_time_s <= MAX_RUN_TIME_S:
            raise LoadUsageError(
                f"--run-time: {self.run_time_s:g}s is out of range; a load test runs for more than "
                f"0s and at most {MAX_RUN_TIME_S / 60:g}m (e.g. '30s', '5m')"
            )
        if not 1 <= self.users <= 1000:
            raise LoadUsageError(f"--users: {self.users} is out of range 1..1000")
        if not 0 <= self.workers <= MAX_WORKERS:
            raise LoadUsageError(
                f"--workers: {self.workers} is out of range 0..{MAX_WORKERS} (0: one Locust "
                "process; N: Locust's master and N worker processes)"
            )
        if self.shape not in SHAPES:
            raise LoadUsageError(
                f"--shape: {self.shape!r} is not a load shape{did_you_mean(self.shape, SHAPES)}; "
                f"valid: {', '.join(SHAPES)}"
            )
        if not 0 <= self.expect_workers <= MAX_WORKERS:
            raise LoadUsageError(
                f"--expect-workers: {self.expect_workers} is out of range 0..{MAX_WORKERS} "
                "(workers started elsewhere with `vibedrill load-worker`)"
            )
        if self.master_port is not None and not 0 <= self.master_port <= 65535:
            raise LoadUsageError(f"--master-port: {self.master_port} is out of range 0..65535")
        if not self.distributed and (
            self.master_port is not None or self.master_host != "127.0.0.1"
        ):
            raise LoadUsageError(
                "--master-host and --master-port are Locust's master's: give --workers N or "
                "--expect-workers N as well (without them Locust runs in one process)"
            )
        if not is_loopback(self.master_host) and self.platform_url is None:
            raise LoadUsageError(
                f"--master-host {self.master_host}: workers on other machines cannot reach the "
                "platform and fakes this command starts on 127.0.0.1; load a staging platform "
                "they can reach with --platform-url and --world (or keep --master-host 127.0.0.1)"
            )
        if not 0 < self.expect_workers_timeout_s <= MAX_RUN_TIME_S:
            raise LoadUsageError(
                f"--expect-workers-timeout: {self.expect_workers_timeout_s:g}s is out of range "
                f"(more than 0s, at most {MAX_RUN_TIME_S / 60:g}m)"
            )
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


def is_loopback(host: str) -> bool:
    """``host`` is this machine's loopback (a name or an address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fault_spec(
    text: str, *, retry_after_s: float, probability: float, route: str | None = None
) -> dict[str, Any]:
    """A fault rule from ``--fault``: a kind (``x.rate_limited``) or a JSON rule object.

    A bare kind storms the fake it names (every route, or the routes matching the glob
    ``route``) with ``probability``; a ``*.rate_limited`` kind gets ``retry_after_s``. Unknown
    kinds raise ``LoadUsageError`` naming the valid ones.
    """
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
class LoadResult:
    """The outcome: verdict (held, violated, vacuous), exit code, the report and its folder."""

    verdict: str
    exit_code: int
    report: dict[str, Any]
    report_dir: Path
    violated: list[str] = field(default_factory=list)


def with_commit(opts: LoadOptions) -> LoadOptions:
    """``opts`` with the working tree's commit filled in."""
    from ..drill.run import commit_of  # the drill room imports the sandbox: only when asked

    return replace(opts, commit=commit_of())
