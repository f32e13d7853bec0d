"""Serve every fake in one uvicorn server on loopback, and announce where (the ready file)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from .app import FakeWorld
from .core.admin_guard import host_names
from .core.clock import wall_clock
from .core.http import ConnectionDropped
from .core.roster import Roster
from .core.world import World

__all__ = ["ServeError", "is_loopback", "ready_document", "serve"]


class ServeError(Exception):
    """The fakes cannot be served as asked (bad host, port in use, …)."""


#: how long (real seconds) an idle HTTP connection stays open: longer than any client's
KEEP_ALIVE_REAL_S = 75.0


def new_server_loop() -> asyncio.AbstractEventLoop:
    """A fresh event loop for a served process: uvloop where installed, else asyncio's own.

    Served fakes must never be the bottleneck of a load test; uvloop (with uvicorn's httptools
    parser, chosen by ``http="auto"``) roughly doubles what one core serves. In-process drills do
    not use this: they run on :class:`harness.clock.VirtualTimeLoop`.
    """
    try:
        import uvloop
    except ImportError:  # uvicorn installed without its ``standard`` extra
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_server(
    main: Awaitable[Any], loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
) -> Any:
    """Run a server coroutine to completion on ``loop_factory()`` (default
    :func:`new_server_loop`; a time-scaled drill passes its scaled loop)."""
    with asyncio.Runner(loop_factory=loop_factory or new_server_loop) as runner:
        return runner.run(main)  # type: ignore[arg-type]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ready_document(
    base: str, names: list[str], clock: dict[str, float] | None = None
) -> dict[str, Any]:
    """The ready-file JSON: admin URL, every fake's base URL, and the world's clock.

    ``clock`` is ``{"time_scale": K, "anchor": A}``: the world's time is
    ``A + (unix now - A) · K`` (K 1: the wall clock). Every process drilling this world (the
    platform, the harness) runs on the same clock.
    """
    fakes = {n: f"{base}/{n}" for n in names}
    if "openai" in fakes:
        fakes["openai"] = f"{base}/openai/v1"
    if "toolgate" in fakes:
        fakes["toolgate"] = f"{base}/toolgate/mcp"
    return {
        "admin": f"{base}/_fake",
        "fakes": fakes,
        "base": base,
        "clock": dict(clock or {"time_scale": 1.0, "anchor": 0.0}),
    }


class _QuietDrops(logging.Filter):
    """Drop uvicorn's traceback for connections a fault dropped on purpose (``http.reset`` …)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Terminated(SystemExit):
    """SIGTERM ended the server: exit status 143 (128 + 15), after cleaning up."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Make SIGTERM an exception that unwinds ``serve`` (so the ready file is removed).

    uvicorn shuts down gracefully on SIGTERM and then re-raises the signal to the handler that
    was installed before it; with Python's default handler that kills the process before any
    ``finally`` runs. Off the main thread signals cannot be handled and nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    ready_file: Path | None = None,
    admin_token: str | None = None,
    seed: int = 0,
    clients: int = 3,
    on_ready: Any = None,
    world: World | None = None,
    only: Iterable[str] | None = None,
    on_server: Callable[[uvicorn.Server], None] | None = None,
    now: Callable[[], float] | None = None,
    clock: dict[str, float] | None = None,
) -> None:
    """Run the fakes until cancelled. Binds loopback unless told otherwise (then needs a token).

    ``now`` and ``clock`` serve a time-scaled world: the world reads ``now`` (the running scaled
    loop's time) and the ready file records ``clock`` (see :func:`ready_document`).
    """
    if not is_loopback(host) and not admin_token:
        raise ServeError(
            f"refusing to serve the fakes on non-loopback host {host!r} without --admin-token"
        )
    if world is None:
        world = World(
            roster=Roster.generate(clients=clients, seed=seed),
            now=now or wall_clock,
            seed=seed,
            admin_token=admin_token,
        )
    # a socket is about to listen: without a token, answer only loopback Host names, and only
    # state-changing calls that carry the admin header (fakes.core.admin_guard)
    world.admin_hosts = None if admin_token else host_names(host)
    world.served = True
    fw = FakeWorld(world, only)
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the proto
    # says TCP, and without it every response pays a 40 ms delayed-ACK stall.
    sock = socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ServeError(f"cannot bind {host}:{port}: {e.strerror}") from None
    real_port = sock.getsockname()[1]
    scale = float((clock or {}).get("time_scale", 1.0))
    config = uvicorn.Config(
        fw.app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        # idle connections outlive every client's own keep-alive (httpx drops its idle ones after
        # 5 s): a server that closes first races a request sent on the closing connection
        # ("Server disconnected without sending a response"). uvicorn's timers run on the loop's
        # clock, so 75 real seconds are 75 × scale of it
        timeout_keep_alive=int(KEEP_ALIVE_REAL_S * scale),
    )
    server = uvicorn.Server(config)
    err_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in err_log.filters):
        err_log.addFilter(_QuietDrops())
    if on_server is not None:
        on_server(server)
    base = f"http://{'[' + host + ']' if ':' in host else host}:{real_port}"
    doc = ready_document(base, list(fw.services), clock)

    async def announce() -> None:
        # uvicorn has no "started" event to await; it sets a flag once its sockets listen.
        while not server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        text = json.dumps(doc)
        if ready_file is not None:
            _write_atomic(ready_file, text)
        if on_ready is not None:
            on_ready(doc)
        else:
            print(text, flush=True)

    task = asyncio.create_task(announce())
    try:
        with _terminate_cleanly():
            await server.serve(sockets=[sock])
    finally:
        task.cancel()
        sock.close()
        if ready_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(ready_file)


class ServedFakes:
    """Run :func:`serve` on a background thread's event loop (tests, benchmarks, the CLI's drills).

    Use as a context manager: ``with ServedFakes() as doc: doc["fakes"]["openai"]``. Port 0 picks
    a free port. The server is stopped and joined on exit, so no thread or socket is left behind.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **kw: Any) -> None:

        self.host, self.port, self.kw = host, port, kw
        self.doc: dict[str, Any] | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        loop = new_server_loop()
        self._loop = loop

        def on_ready(doc: dict[str, Any]) -> None:
            self.doc = doc
            self._ready.set()

        def on_server(server: uvicorn.Server) -> None:
            self._server = server

        try:
            loop.run_until_complete(
                serve(self.host, self.port, on_ready=on_ready, on_server=on_server, **self.kw)
            )
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException as e:  # reported to the caller of __enter__
            self._error = e
        finally:
            self._ready.set()
            loop.close()

    def __enter__(self) -> dict[str, Any]:
        self._thread = threading.Thread(target=self._run, name="vibedrill-fakes", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise ServeError("the fakes did not start within 30 s")
        if self._error is not None or self.doc is None:
            raise ServeError(f"the fakes failed to start: {self._error}")
        return self.doc

    def __exit__(self, *exc: object) -> None:
        # A graceful uvicorn shutdown: it polls ``should_exit`` and closes every connection.
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
