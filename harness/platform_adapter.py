"""The one door from the harness into the sandbox's implementation.

Everything else in ``harness/`` talks to the platform through the contract
(``sandbox.contract``, ``sandbox.client``); this module builds the in-process reference
platform and reads what only the implementation knows — its defects, its browser lane, its
served form — and is the one harness module allowed to import them
(``tests/test_boundaries.py`` keeps it so). Every import is inside a function, so importing
this module (and the modules that use it) imports no part of the sandbox until it is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from .errors import BadInputError, DrillError

__all__ = [
    "BrowserMissingError",
    "PlatformServeUsageError",
    "blueprint",
    "browser_choice",
    "defect_catalogue",
    "defect_names",
    "defect_summaries",
    "install_browser_lane",
    "load_served_world",
    "make_platform",
    "platform_settings",
    "serve_platform",
]


class BrowserMissingError(DrillError):
    """No Chromium for the browser lane; the message names every place that was tried."""


class PlatformServeUsageError(BadInputError):
    """``vibedrill platform serve`` or ``load --world`` was given a world or defect it cannot use."""


def make_platform(
    settings: Any,
    secrets: Any,
    *,
    transport: Any,
    now: Callable[[], float],
    seed: int,
    defects: Collection[str],
) -> Any:
    """Build the reference platform (``sandbox.platform.Platform``) in-process."""
    from sandbox.platform import Platform

    return Platform(
        settings, secrets, transport=transport, now=now, seed=seed, defects=tuple(defects)
    )


def platform_settings(roster_json: dict[str, Any], **overrides: Any) -> tuple[Any, Any]:
    """Settings and keyring secrets for the platform from the fakes' roster (with secrets)."""
    from sandbox.settings import BudgetSettings, Settings

    budgets = overrides.pop("budgets", None)
    if budgets:
        overrides["budgets"] = BudgetSettings(**budgets)
    return Settings.from_roster(roster_json, **overrides)


def blueprint(**kw: Any) -> Any:
    """An engagement blueprint of the platform's settings."""
    from sandbox.settings import Blueprint

    return Blueprint(**kw)


def defect_names() -> tuple[str, ...]:
    """The sandbox's defect names, with every component that declares defects imported."""
    from sandbox.defects import DEFECTS
    from sandbox.platform import load_components

    load_components()
    return tuple(sorted(DEFECTS))


def defect_catalogue() -> list[dict[str, str]]:
    """Every defect with its runbook and what is broken (``vibedrill defects``)."""
    from sandbox.defects import DEFECTS

    defect_names()
    return [DEFECTS[n].describe() for n in sorted(DEFECTS)]


def defect_summaries() -> dict[str, str]:
    """Defect name → the first sentence of its docstring (for postmortems)."""
    from sandbox.defects import DEFECTS

    out = {}
    for k, v in DEFECTS.items():
        para = " ".join((v.__doc__ or "").strip().split("\n\n")[0].split())
        out[k] = para.split(". ")[0].rstrip(".")
    return out


def browser_choice(setting: str | None = None) -> tuple[str, str]:
    """(executable, where it was found) of the Chromium the browser lane would use.

    Raises :class:`BrowserMissingError` naming what was tried when there is none.
    """
    from sandbox.lanes.browser_select import BrowserNotFound, find_browser

    try:
        choice = find_browser(setting)
    except BrowserNotFound as e:
        raise BrowserMissingError(str(e)) from None
    return str(choice.executable), str(choice.source)


def install_browser_lane(
    platform: Any,
    *,
    tmp: Path,
    web_base_urls: Mapping[str, str],
    render_timeout_s: float,
    step_timeout_s: float,
    navigation_timeout_s: float,
    real_io: Any,
) -> Any:
    """Install the Playwright lanes on an in-process ``platform``; return the lane component."""
    from sandbox.lanes.browser_install import install
    from sandbox.lanes.browser_settings import BrowserSettings

    browser_choice()
    settings = BrowserSettings(
        artifacts_dir=tmp / "artifacts",
        profiles_dir=tmp / "profiles",
        render_timeout_s=render_timeout_s,
        step_timeout_s=step_timeout_s,
        navigation_timeout_s=navigation_timeout_s,
        web_base_urls=dict(web_base_urls),
    )
    return install(platform, settings, real_io=real_io)


def load_served_world(path: Path) -> dict[str, Any]:
    """The ready file of served fakes (``vibedrill serve``), checked."""
    from sandbox.serve import PlatformServeError, load_world

    try:
        return dict(load_world(path))
    except PlatformServeError as e:
        raise PlatformServeUsageError(str(e)) from None


def serve_platform(
    world: Path,
    *,
    port: int,
    defects: Collection[str],
    db_path: Path,
    seed: int,
    admin_token: str | None,
) -> None:
    """Serve the platform contract on 127.0.0.1 until interrupted (``vibedrill platform serve``)."""
    from fakes.serve import run_server
    from sandbox.defects import Defects, UnknownDefectError
    from sandbox.platform import load_components
    from sandbox.serve import PlatformServeError
    from sandbox.serve import serve as run_served

    load_components()
    try:
        Defects(tuple(defects))
        run_server(
            run_served(
                world,
                port=port,
                defects=tuple(defects),
                db_path=db_path,
                seed=seed,
                admin_token=admin_token,
            )
        )
    except (PlatformServeError, UnknownDefectError) as e:
        raise PlatformServeUsageError(str(e)) from None
