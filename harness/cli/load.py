"""``vibedrill load``: a bounded, headless Locust load test of the platform's rate-limit handling.

Exit codes (the house's): 0 the invariants held, 1 one was violated (or the storm never bit),
2 bad usage, 3 harness error (a server did not start, Locust failed, Ctrl-C).
Locust is imported only by the child process that runs it (:mod:`harness.load.locustfile`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["load_app", "load_worker_cmd"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3

load_app = typer.Typer(
    name="load",
    help="Load-test the platform's rate-limit handling with Locust against the fakes' 429 storms.",
    add_completion=False,
    pretty_exceptions_enable=False,
    invoke_without_command=True,
)


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"vibedrill load: {message}", err=True)
    return typer.Exit(code)


@load_app.callback()
def load(
    users: Annotated[int, typer.Option(help="Locust users (simulated operators), 1..1000")] = 20,
    spawn_rate: Annotated[
        float, typer.Option("--spawn-rate", help="users started per second")
    ] = 10.0,
    run_time: Annotated[
        str, typer.Option("--run-time", help="how long the users act (e.g. '30s', '2m'; ≤ 10m)")
    ] = "30s",
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="a fault kind to storm with (repeatable; default x.rate_limited on X's "
            "tweets.create), or a JSON fault rule as for POST /_fake/faults",
        ),
    ] = None,
    retry_after: Annotated[
        str, typer.Option("--retry-after", help="Retry-After of the *.rate_limited storms")
    ] = "3s",
    fault_route: Annotated[
        str | None,
        typer.Option(
            "--fault-route",
            help="route glob the --fault kinds storm (default: every route; with no --fault "
            "the storm hits X's tweets.create)",
        ),
    ] = None,
    fault_probability: Annotated[
        float,
        typer.Option("--fault-probability", min=0.0, max=1.0, help="share of requests stormed"),
    ] = 0.3,
    defect: Annotated[
        list[str] | None,
        typer.Option("--defect", help="switch a defect of the started platform on (repeatable)"),
    ] = None,
    reports_dir: Annotated[
        Path, typer.Option("--reports-dir", help="where load-<id>/load.json and load.md go")
    ] = Path("reports"),
    platform_url: Annotated[
        str | None,
        typer.Option("--platform-url", help="a running platform to load (with --world)"),
    ] = None,
    world: Annotated[
        Path | None,
        typer.Option("--world", help="the ready file of the fakes that platform talks to"),
    ] = None,
    max_requests: Annotated[
        int, typer.Option("--max-requests", help="hard cap on requests to the platform")
    ] = 20_000,
    clients: Annotated[
        int, typer.Option(min=1, max=64, help="tenants in the world this command starts")
    ] = 16,
    jobs_per_account: Annotated[
        int,
        typer.Option(
            "--jobs-per-account", min=1, help="jobs per account at most (X allows 100 posts a day)"
        ),
    ] = 60,
    drain: Annotated[
        str, typer.Option(help="how long to wait for submitted jobs to settle after the run")
    ] = "60s",
    in_flight: Annotated[
        str,
        typer.Option(
            "--in-flight",
            help="a request reaching a fake this soon after a 429 was already in flight",
        ),
    ] = "250ms",
    seed: Annotated[int, typer.Option(help="seed of the world and of the job texts")] = 0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Locust worker processes under a Locust master on 127.0.0.1 (its distributed "
            "mode); 0 runs one Locust process",
        ),
    ] = 0,
    shape: Annotated[
        str,
        typer.Option(
            "--shape",
            help="load shape: steady (every user from the start), ramp (1 to --users over the "
            "run), spike (a fifth, all in the middle fifth, a fifth), evening_rush (clients' "
            "schedules aligned on the hour: a surge to --users, then decay)",
        ),
    ] = "steady",
    expect_workers: Annotated[
        int,
        typer.Option(
            "--expect-workers",
            help="Locust workers started elsewhere (`vibedrill load-worker`) that the master "
            "waits for, besides --workers",
        ),
    ] = 0,
    master_host: Annotated[
        str,
        typer.Option(
            "--master-host",
            help="address Locust's master binds; not loopback only with --platform-url (a "
            "staging platform the other machines' workers reach)",
        ),
    ] = "127.0.0.1",
    master_port: Annotated[
        int | None,
        typer.Option(
            "--master-port",
            help="port of Locust's master (default: 5557 with --expect-workers, else free)",
        ),
    ] = None,
    expect_workers_timeout: Annotated[
        str,
        typer.Option(
            "--expect-workers-timeout", help="how long the master waits for all its workers"
        ),
    ] = "60s",
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--admin-token", envvar="VIBEDRILL_ADMIN_TOKEN", help="bearer token of /_fake/"
        ),
    ] = None,
) -> None:
    """Run Locust headless against the platform during a 429 storm; judge; write the report."""
    from ..durations import DurationError, parse_duration
    from ..load.run import (
        DEFAULT_FAULT,
        DEFAULT_FAULT_ROUTE,
        LoadError,
        LoadOptions,
        LoadUsageError,
        fault_spec,
        run_load,
        with_commit,
    )

    try:
        durations = {}
        for flag, value in (
            ("--run-time", run_time),
            ("--retry-after", retry_after),
            ("--drain", drain),
            ("--in-flight", in_flight),
            ("--expect-workers-timeout", expect_workers_timeout),
        ):
            try:
                durations[flag] = parse_duration(value)
            except DurationError as e:
                raise LoadUsageError(f"{flag}: {e}") from None
        storm = {"retry_after_s": durations["--retry-after"], "probability": fault_probability}
        faults = tuple(fault_spec(f, route=fault_route, **storm) for f in fault or ())
        if not faults:
            route = fault_route or DEFAULT_FAULT_ROUTE
            faults = (fault_spec(DEFAULT_FAULT, route=route, **storm),)
        if defect:
            from fakes.core.faults import did_you_mean

            from ..catalogue import platform_defects

            known = platform_defects()
            for d in defect:
                if d not in known:
                    raise LoadUsageError(
                        f"--defect: {d!r} is not a defect{did_you_mean(d, known)}; "
                        f"valid: {', '.join(sorted(known))}"
                    )
        opts = LoadOptions(
            users=users,
            spawn_rate=spawn_rate,
            run_time_s=durations["--run-time"],
            faults=faults,
            defects=tuple(defect or ()),
            reports_dir=reports_dir,
            platform_url=platform_url,
            world=world,
            max_requests=max_requests,
            clients=clients,
            jobs_per_account=jobs_per_account,
            drain_s=durations["--drain"],
            in_flight_s=durations["--in-flight"],
            seed=seed,
            admin_token=admin_token,
            workers=workers,
            shape=shape,
            expect_workers=expect_workers,
            master_host=master_host,
            master_port=master_port,
            expect_workers_timeout_s=durations["--expect-workers-timeout"],
        )
        opts.check()
        result = run_load(with_commit(opts), note=lambda m: typer.echo(m, err=True))
    except LoadUsageError as e:
        raise _fail(str(e), EXIT_USAGE) from None
    except LoadError as e:
        raise _fail(f"harness error: {e}", EXIT_HARNESS) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; every server and Locust stopped", EXIT_HARNESS) from None
    rep = result.report
    i, rl, se = rep["intake"], rep["rate_limits"], rep["side_effects"]
    typer.echo(
        f"{rep['id']}: {result.verdict}"
        + (f" (violated: {', '.join(result.violated)})" if result.violated else "")
    )
    typer.echo(
        f"  {rep['locust']['total']['requests']} requests ({rep['locust']['total']['failures']} failed); "
        f"job intake p50/p95/p99 {i['p50_ms']}/{i['p95_ms']}/{i['p99_ms']} ms; "
        f"jobs {rep['jobs']['submitted']}: "
        + ", ".join(f"{k} {v}" for k, v in rep["jobs"]["by_state"].items())
    )
    typer.echo(
        f"  429s served {rl['served_429']}; requests before Retry-After elapsed {rl['early_requests']}; "
        f"side effects {se['total']} ({se['per_minute']:g}/min)"
    )
    for inv in rep["invariants"]:
        if inv["verdict"] == "violated":
            typer.echo(f"  {inv['name']}: {inv['detail']}")
    typer.echo(f"  report: {result.report_dir / 'load.json'} and load.html")
    raise typer.Exit(result.exit_code)


def load_worker_cmd(
    master_host: Annotated[
        str, typer.Option("--master-host", help="address of the `vibedrill load` master")
    ],
    master_port: Annotated[
        int, typer.Option("--master-port", min=1, max=65535, help="port of the master")
    ] = 5557,
    connect_timeout: Annotated[
        str, typer.Option("--connect-timeout", help="give up when no master answers by then")
    ] = "60s",
) -> None:
    """Run one Locust worker for a `vibedrill load --expect-workers N` master elsewhere.

    The worker gets its accounts, job keys and share of the request cap from the master, sends
    the platform the master names (its --platform-url) what the master's load shape asks, and
    exits 0 when the master is done (3 when no master answered or it has all its workers).
    """
    import os
    import sys

    from ..durations import DurationError, parse_duration

    try:
        timeout_s = parse_duration(connect_timeout)
    except DurationError as e:
        raise _fail(f"--connect-timeout: {e}", EXIT_USAGE) from None
    if not timeout_s > 0:
        raise _fail("--connect-timeout: must be more than 0s", EXIT_USAGE)
    argv = [sys.executable, "-m", "harness.load.locustfile", "--worker"]
    argv += ["--master-host", master_host, "--master-port", str(master_port)]
    argv += ["--connect-timeout", str(timeout_s)]
    typer.echo(f"vibedrill load-worker: connecting to {master_host}:{master_port}", err=True)
    # Locust's gevent monkey-patching must not meet this process's imports: become the worker
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


if __name__ == "__main__":
    load_app()
