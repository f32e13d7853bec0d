"""Serve the platform over HTTP on loopback, against a served world of fakes.

``vibedrill platform serve --world <ready file>`` reads the ready file that ``vibedrill serve``
wrote, takes the accounts and their secrets from the fakes' admin roster, builds a
:class:`~sandbox.platform.Platform` on the wall clock, persists jobs and audit in SQLite (so a
restart resumes where it stopped) and serves the platform contract with uvicorn.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from .app import create_app
from .platform import Platform
from .settings import Settings
from .storage import SqliteStore

__all__ = [
    "PlatformServeError",
    "ServedPlatform",
    "build_platform",
    "load_world",
    "serve",
    "served_app",
]


class PlatformServeError(Exception):
    """The platform cannot be served as asked (bad world file, port in use, …)."""


#: how long (real seconds) an idle HTTP connection stays open: longer than any client's
KEEP_ALIVE_REAL_S = 75.0


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost")


def load_world(ready_file: str | Path) -> dict[str, Any]:
    """The ready document of ``vibedrill serve``; errors name the file and what is missing."""
    path = Path(ready_file)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise PlatformServeError(
            f"{path}: no such ready file; start `vibedrill serve --ready-file {path}` first"
        ) from None
    except ValueError as e:
        raise PlatformServeError(f"{path}: not JSON ({e})") from None
    if not isinstance(doc, dict) or "admin" not in doc or not isinstance(doc.get("fakes"), dict):
        raise PlatformServeError(
            f"{path}: a ready file needs 'admin' and 'fakes'; got keys {sorted(doc) if isinstance(doc, dict) else doc!r}"
        )
    return doc


#: the least real time each of the platform's timeouts gets on a scaled clock (seconds)
REAL_TIMEOUT_FLOORS: dict[str, float] = {
    "request_timeout_s": 2.0,
    "connect_timeout_s": 1.0,
    "provider_timeout_s": 2.0,
    "tool_timeout_s": 2.0,
}


def scaled_timeouts(settings: Mapping[str, Any], time_scale: float) -> dict[str, Any]:
    """``settings`` with every timeout at least its real-time floor on a clock ``time_scale`` fast.

    The platform's timeouts are on its clock: at K=120 the default 30 s request timeout is 250 ms
    of real time and the 5 s connect timeout 42 ms — on a busy 2-core machine an ordinary request
    outlives them, the post is created all the same, and the drill judges the machine's
    scheduling instead of the platform (posts nobody claims, healthy drills violated). Each
    timeout is raised to ``floor × K`` clock seconds where that is longer (30 s stays 30 s up to
    K=15). A fault that hangs longer than the raised timeout still times out.
    """
    out = dict(settings)
    if time_scale <= 1:
        return out
    defaults = Settings.model_fields
    for name, floor in REAL_TIMEOUT_FLOORS.items():
        given = float(out.get(name, defaults[name].default))
        out[name] = max(given, floor * time_scale)
    return out


async def build_platform(
    doc: Mapping[str, Any],
    *,
    defects: Iterable[str] = (),
    seed: int = 0,
    admin_token: str | None = None,
    now: Callable[[], float] = time.time,
    fetch_timeout: float = 10.0,
    **overrides: Any,
) -> Platform:
    """A platform wired to the served world ``doc`` (roster and secrets from its admin API)."""
    headers = {"authorization": f"Bearer {admin_token}"} if admin_token else {}
    async with httpx.AsyncClient(timeout=fetch_timeout) as http:
        try:
            r = await http.get(f"{doc['admin']}/roster", params={"secrets": "1"}, headers=headers)
        except httpx.HTTPError as e:
            raise PlatformServeError(
                f"cannot reach the fakes' admin API at {doc['admin']}: {e}"
            ) from None
    if r.status_code != 200:
        raise PlatformServeError(
            f"GET {doc['admin']}/roster answered {r.status_code}: {r.text[:200]}"
        )
    settings, secrets = Settings.from_world_ready(doc, r.json(), **overrides)
    return Platform(
        settings, secrets, transport=httpx.AsyncHTTPTransport(), now=now, seed=seed, defects=defects
    )


def served_app(platform: Platform, store: SqliteStore | None = None) -> Starlette:
    """The HTTP app of ``platform`` with a lifespan that restores storage and starts the platform."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if store is not None:
            platform.attach_storage(store)
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()
            if store is not None:
                store.close()

    return create_app(platform.client, exposition=platform.telemetry.exposition, lifespan=lifespan)


async def serve(
    world: str | Path | Mapping[str, Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8100,
    defects: Iterable[str] = (),
    db_path: str | Path | None = None,
    seed: int = 0,
    admin_token: str | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    stop: asyncio.Event | None = None,
    settings: Mapping[str, Any] | None = None,
    now: Callable[[], float] | None = None,
    time_scale: float = 1.0,
) -> None:
    """Serve the platform until cancelled or ``stop`` is set; ``on_ready({"base", "openapi"})`` once listening.

    ``settings`` overrides the platform's settings (blueprints, budgets, pacing, …); ``now`` is
    the clock of a time-scaled world (the running scaled loop's time) and ``time_scale`` its K.
    """
    if not _loopback(host):
        raise PlatformServeError(
            f"refusing to serve the platform on non-loopback host {host!r}; use 127.0.0.1"
        )
    doc = dict(world) if isinstance(world, Mapping) else load_world(world)
    platform = await build_platform(
        doc,
        defects=defects,
        seed=seed,
        admin_token=admin_token,
        now=now or time.time,
        fetch_timeout=10.0 * time_scale,
        **scaled_timeouts(settings or {}, time_scale),
    )
    store = SqliteStore(db_path) if db_path is not None else None
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise PlatformServeError(f"cannot bind {host}:{port}: {e.strerror}") from None
    base = f"http://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(
            served_app(platform, store),
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            # idle connections outlive httpx's 5 s keep-alive, so the client always closes first
            # (the fakes do the same); the loop's clock runs time_scale times faster
            timeout_keep_alive=int(KEEP_ALIVE_REAL_S * time_scale),
        )
    )

    async def announce() -> None:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no "started" event
            await asyncio.sleep(0.02)
        info = {
            "base": base,
            "openapi": f"{base}/openapi.json",
            "defects": sorted(platform.defects.enabled),
            "time_scale": time_scale,
        }
        if on_ready is not None:
            on_ready(info)
        else:
            print(json.dumps(info), flush=True)

    async def stopper() -> None:
        if stop is not None:
            await stop.wait()
            server.should_exit = True

    tasks = [asyncio.create_task(announce()), asyncio.create_task(stopper())]
    try:
        await server.serve(sockets=[sock])
    finally:
        for t in tasks:
            t.cancel()
        sock.close()


class ServedPlatform:
    """Run :func:`serve` on a background thread (tests): ``with ServedPlatform(doc) as info: …``."""

    def __init__(self, world: Mapping[str, Any], **kw: Any) -> None:
        import threading

        self.world, self.kw = world, kw
        self.info: dict[str, Any] | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()

        def ready(info: dict[str, Any]) -> None:
            self.info = info
            self._ready.set()

        async def main() -> None:
            self._stop = asyncio.Event()
            await serve(
                self.world, port=self.kw.pop("port", 0), on_ready=ready, stop=self._stop, **self.kw
            )

        try:
            loop.run_until_complete(main())
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # reported to the caller of __enter__
            self._error = e
        finally:
            self._ready.set()
            loop.close()

    def __enter__(self) -> dict[str, Any]:
        import threading

        self._thread = threading.Thread(target=self._run, name="vibedrill-platform", daemon=True)
        self._thread.start()
        if not self._ready.wait(30) or self.info is None:
            raise PlatformServeError(f"the platform did not start: {self._error}")
        return self.info

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)
