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
    "check_settings",
    "crash_copy",
    "defect_catalogue",
    "defect_names",
    "defect_summaries",
    "install_browser_lane",
    "load_served_world",
    "make_platform",
    "memory_store",
    "platform_settings",
    "serve_platform",
    "served_roster",
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


def memory_store() -> Any:
    """Storage for an in-process platform that a drill restarts (``sandbox.storage``, in memory):
    jobs, audit and controls, as a served platform keeps them in its SQLite file."""
    from sandbox.storage import SqliteStore

    return SqliteStore(":memory:")


def crash_copy(store: Any) -> Any:
    """What a crash leaves of ``store`` (a :func:`memory_store`): a new store holding only what
    was committed. A write transaction left open — a platform that never commits — is lost, as
    the database's own crash recovery loses it (and a copy taken under it would wait for its
    lock for ever)."""
    copy = memory_store()
    if store.db.in_transaction:
        store.db.rollback()
    store.db.backup(copy.db)
    return copy


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
    db_path: Path | None,
    seed: int,
    admin_token: str | None,
    settings: Mapping[str, Any] | None = None,
    time_scale: float | None = None,
) -> None:
    """Serve the platform contract on 127.0.0.1 until interrupted (``vibedrill platform serve``).

    ``settings`` are overrides of the platform's settings (blueprints, budgets, pacing, …; the
    accounts and base URLs come from the world); ``time_scale`` must match the world's clock.
    """
    import asyncio

    from fakes.serve import run_server
    from sandbox.defects import Defects, UnknownDefectError
    from sandbox.platform import load_components
    from sandbox.serve import PlatformServeError
    from sandbox.serve import serve as run_served

    from .clock import ScaledTimeLoop

    load_components()
    doc = load_served_world(world)
    raw_clock = doc.get("clock")
    clock: dict[str, Any] = raw_clock if isinstance(raw_clock, dict) else {}
    scale = float(clock.get("time_scale") or 1.0)
    if time_scale is not None and abs(time_scale - scale) > 1e-9 * max(scale, 1.0):
        raise PlatformServeUsageError(
            f"--time-scale {time_scale:g} does not match the world ({world} runs at time scale "
            f"{scale:g}); give --time-scale {scale:g} or restart `vibedrill serve --time-scale "
            f"{time_scale:g}`"
        )
    anchor = float(clock.get("anchor") or 0.0)
    scaled = scale != 1.0
    overrides = dict(settings or {})
    roster = served_roster(doc, admin_token)
    check_settings(overrides, roster, "--settings")

    def loop_time() -> float:
        return asyncio.get_running_loop().time()

    try:
        Defects(tuple(defects))
        run_server(
            run_served(
                doc,
                port=port,
                defects=tuple(defects),
                db_path=db_path,
                seed=seed,
                admin_token=admin_token,
                settings=overrides,
                now=loop_time if scaled else None,
                time_scale=scale,
            ),
            loop_factory=(lambda: ScaledTimeLoop(scale, anchor)) if scaled else None,
        )
    except (PlatformServeError, UnknownDefectError) as e:
        raise PlatformServeUsageError(str(e)) from None


def served_roster(doc: Mapping[str, Any], admin_token: str | None = None) -> dict[str, Any]:
    """The roster (with secrets) of a served world, read from its admin API."""
    import httpx

    headers = {"authorization": f"Bearer {admin_token}"} if admin_token else {}
    url = f"{doc['admin']}/roster"
    try:
        r = httpx.get(url, params={"secrets": "1"}, headers=headers, timeout=10.0)
    except httpx.HTTPError as e:
        raise PlatformServeUsageError(f"cannot reach the fakes' admin API at {url}: {e}") from None
    if r.status_code != 200:
        raise PlatformServeUsageError(f"GET {url} answered {r.status_code}: {r.text[:200]}")
    return dict(r.json())


def check_settings(
    overrides: Mapping[str, Any], roster_json: Mapping[str, Any], source: str
) -> None:
    """Validate settings overrides against the platform's settings model; a bad one raises
    :class:`PlatformServeUsageError` naming ``source``, the key path, the value and the error."""
    from pydantic import ValidationError

    from sandbox.settings import Settings

    try:
        Settings.from_roster(roster_json, **dict(overrides))
    except ValidationError as e:
        err = e.errors()[0]
        path = ".".join(str(p) for p in err["loc"]) or "$"
        raise PlatformServeUsageError(
            f"{source}: {path}: {err['msg']} (got {err.get('input')!r})"
        ) from None
    except TypeError as e:
        raise PlatformServeUsageError(f"{source}: {e}") from None
