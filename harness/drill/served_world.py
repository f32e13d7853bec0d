"""The fakes of an in-process drill, also served on a loopback socket, on the drill's own loop.

A real Chromium cannot talk to an ASGI app in memory: a browser drill serves the same
``FakeWorld`` (one World, one ledger) with uvicorn on ``127.0.0.1:<free port>`` from a task of
the drill's event loop, while the platform's API calls stay in-process. The server's lifespan is
off (the drill already runs ``FakeWorld.running()``), and it installs no signal handler (the
drill owns Ctrl-C): it is started with ``Server.startup`` and stopped with ``Server.shutdown``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn

__all__ = ["ServedApp", "serve_app"]


@dataclass(frozen=True)
class ServedApp:
    """Where the app listens: ``base`` is ``http://127.0.0.1:<port>``."""

    base: str
    port: int

    def web_base(self, platform: str) -> str:
        """The web UI of a social fake (``<base>/<platform>/web``)."""
        return f"{self.base}/{platform}/web"


@contextlib.asynccontextmanager
async def serve_app(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[ServedApp]:
    """Serve ``app`` on ``host``:``port`` (0: a free port) on the running loop until the block
    ends; OSError when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=3600,
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    try:
        await server.startup(sockets=[sock])
        yield ServedApp(f"http://{host}:{port}", port)
    finally:
        with contextlib.suppress(Exception):
            await server.shutdown(sockets=[sock])
        sock.close()
