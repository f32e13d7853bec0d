"""``vibedrill doctor``: check (and optionally install) what the drills need here."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .common import EXIT_HARNESS, err, out

__all__ = ["doctor"]


def doctor(
    install_browser: Annotated[
        bool,
        typer.Option(
            "--install-browser",
            help=(
                "when no Chromium is found, install one: Playwright's own (python -m playwright "
                "install chromium), else Debian's chromium with apt-get (root or sudo -n)"
            ),
        ),
    ] = False,
) -> None:
    """Check what the drills need here: a Chromium for the browser lane (optionally install one)."""
    from ..platform_adapter import BrowserMissingError, browser_choice

    try:
        executable, source = browser_choice()
    except BrowserMissingError as e:
        if not install_browser:
            err.print(f"vibedrill doctor: {e}")
            raise typer.Exit(EXIT_HARNESS) from None
        tried = _install_chromium()
        try:
            executable, source = browser_choice()
        except BrowserMissingError:
            err.print(f"vibedrill doctor: {e}\ninstalling one failed:\n" + "\n".join(tried))
            raise typer.Exit(EXIT_HARNESS) from None
    out.print(f"browser lane: {executable} ({source})")


def _install_chromium() -> list[str]:
    """Install a Chromium, Playwright's own first; return what was tried and how it failed."""
    import os
    import shutil
    import subprocess

    def attempt(cmd: list[str], timeout: float) -> str | None:
        try:
            done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"- {' '.join(cmd)}: {exc}"
        if done.returncode == 0:
            return None
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"- {' '.join(cmd)}: exit {done.returncode}: {' / '.join(tail)[:400]}"

    tried: list[str] = []
    out.print(
        "no Chromium found; installing Playwright's Chromium (python -m playwright install chromium) …"
    )
    failed = attempt([sys.executable, "-m", "playwright", "install", "chromium"], 600)
    if failed is None:
        return tried
    tried.append(failed)
    apt = shutil.which("apt-get")
    if apt is None:
        tried.append(
            "- apt-get: not on this machine; install a Chromium by hand or set VIBEDRILL_CHROMIUM"
        )
        return tried
    prefix: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            tried.append("- apt-get: needs root, and there is no sudo")
            return tried
        prefix = [sudo, "-n"]
    out.print("installing Debian's chromium instead (apt-get install chromium) …")
    for cmd in (
        [*prefix, apt, "update", "-qq"],
        [*prefix, apt, "install", "-y", "-qq", "chromium"],
    ):
        failed = attempt(cmd, 900)
        if failed is not None:
            tried.append(failed)
            return tried
    return tried
