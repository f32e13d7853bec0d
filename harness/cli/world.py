"""``vibedrill serve`` and ``vibedrill env``: the fakes as one served world, and shell exports for it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .common import EXIT_HARNESS, EXIT_USAGE, err, out

__all__ = ["ENV_NAMES", "SECRET_ENV", "env_cmd", "serve"]


def serve(
    host: Annotated[
        str, typer.Option(help="interface to bind; loopback unless --admin-token is given")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one)")] = 8000,
    ready_file: Annotated[
        Path | None, typer.Option("--ready-file", help="write the ready JSON here once listening")
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--admin-token",
            envvar="VIBEDRILL_ADMIN_TOKEN",
            help="bearer token required on /_fake/ (needed off loopback)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the world's roster and fault RNG")] = 0,
    clients: Annotated[int, typer.Option(help="number of client tenants in the roster")] = 3,
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale",
            min=0.001,
            help="run the world's clock K times faster than real time (rate-limit windows, "
            "Retry-After, token lifetimes, render times); recorded in the ready file",
        ),
    ] = 1.0,
) -> None:
    """Serve every fake (x, instagram, linkedin, openai, anthropic, media, toolgate) on one port."""
    import time

    from fakes.serve import ServeError, run_server
    from fakes.serve import serve as run_served

    from ..clock import ScaledTimeLoop

    anchor = time.time()
    scaled = time_scale != 1.0
    try:
        run_server(
            run_served(
                host,
                port,
                ready_file=ready_file,
                admin_token=admin_token,
                seed=seed,
                clients=clients,
                now=_loop_time if scaled else None,
                clock={"time_scale": time_scale, "anchor": anchor if scaled else 0.0},
            ),
            loop_factory=(lambda: ScaledTimeLoop(time_scale, anchor)) if scaled else None,
        )
    except ServeError as e:
        typer.echo(f"vibedrill serve: {e}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        pass


#: environment variables of a deployment pointed at a served world: the official SDKs' own
#: (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``, …) and a ``VIBEDRILL_<FAKE>_BASE_URL`` for each
ENV_NAMES = {
    "openai": ("OPENAI_BASE_URL",),
    "anthropic": ("ANTHROPIC_BASE_URL",),
}
SECRET_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def env_cmd(
    world: Annotated[
        Path, typer.Option("--world", help="the ready file written by `vibedrill serve`")
    ],
    secrets: Annotated[
        bool,
        typer.Option(
            "--secrets",
            help="also the providers' API keys (OPENAI_API_KEY, ANTHROPIC_API_KEY) from the roster",
        ),
    ] = False,
) -> None:
    """Print shell exports that point a deployment at a served world (its SDKs and base URLs)."""
    import shlex

    from ..platform_adapter import PlatformServeUsageError, load_served_world, served_roster

    try:
        doc = load_served_world(world)
    except PlatformServeUsageError as e:
        err.print(f"--world: {e}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    lines = []
    for name, url in sorted(dict(doc.get("fakes") or {}).items()):
        if name == "honeypot":  # an address no platform may be pointed at
            continue
        for var in (*ENV_NAMES.get(name, ()), f"VIBEDRILL_{name.upper()}_BASE_URL"):
            lines.append(f"export {var}={shlex.quote(str(url))}")
    lines.append(f"export VIBEDRILL_ADMIN_URL={shlex.quote(str(doc['admin']))}")
    if secrets:
        try:
            roster = served_roster(doc, os.environ.get("VIBEDRILL_ADMIN_TOKEN"))
        except PlatformServeUsageError as e:
            err.print(str(e), markup=False)
            raise typer.Exit(EXIT_HARNESS) from None
        for c in roster.get("clients", ()):
            for a in c.get("accounts", ()):
                var = SECRET_ENV.get(str(a.get("platform")))
                key = (a.get("credential") or {}).get("access_token")
                if var and key and c.get("id") == "agency":
                    lines.append(f"export {var}={shlex.quote(str(key))}")
    out.print("\n".join(lines), markup=False, highlight=False)


def _loop_time() -> float:
    """The running loop's time (a time-scaled world's clock)."""
    import asyncio

    return asyncio.get_running_loop().time()
