"""The bench's server process: the served fakes plus a bare Starlette endpoint and a prefill hook.

Run by ``bench/bench_fakes.py`` as a separate process, so the load generator and the server do
not share an interpreter (or a GIL). It builds the world itself, which is what makes the
bench-only helpers possible: ``POST /bench/prefill?n=…`` appends entries straight to the
world's ledger (no such route exists in the real served fakes), and the X fake is built with
rate limits far above the bench's request count so that auth, rate-limit accounting and the
ledger are exercised without 429s. ``--prefill N`` fills the ledger before the server listens;
``POST /bench/forget`` runs the fakes' own state resets (posts, rate windows) but keeps the
ledger (``?ledger=clear`` empties ledger and journal too), so every phase starts from the same
fake state whatever the ledger holds;
``POST /bench/prefill?to=N`` tops the ledger up to N entries the same way as ``--prefill``.

``--bare`` serves only a bare Starlette app (one ``POST /bare`` route that parses the JSON body
and answers 201): the reference the fakes are measured against. Both modes run on
:func:`fakes.serve.run_server` (uvloop) with uvicorn's default ``http="auto"`` (httptools), so
the reference and the fakes run on the same server stack; the ready file says which.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import importlib
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

import fakes.x  # noqa: E402
from fakes.app import FAKE_MODULES, FakeWorld  # noqa: E402
from fakes.core.clock import wall_clock  # noqa: E402
from fakes.core.roster import Roster  # noqa: E402
from fakes.core.world import World  # noqa: E402
from fakes.serve import run_server  # noqa: E402
from fakes.x import XOptions  # noqa: E402

BIG = 1_000_000_000
BENCH_X_OPTIONS = XOptions(
    limits={"tweets.create": BIG, "tweets.get": BIG, "tweets.lookup": BIG},
    user_24h_limit=BIG,
    app_24h_limit=BIG,
)


def importable_fakes() -> list[str]:
    """The fakes whose modules import here (others may be mid-edit); x must be among them."""
    names = []
    for name, module in FAKE_MODULES.items():
        try:
            importlib.import_module(module)
        except Exception as e:  # a fake another engineer is still writing
            print(f"bench server: leaving out {name}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        names.append(name)
    return names


def prefill(world: World, n: int) -> float:
    """Append ``n`` ledger entries the way a fake would; return the seconds it took."""
    start = time.perf_counter()
    rec = world.record
    first = len(world.ledger)
    for i in range(first, first + n):
        rec(
            "x",
            "post.created",
            account_id="globex-x",
            credential=None,
            request_id=f"prefill{i:08d}",
            resource_id=f"{10**18 + i}",
            content=None,
            detail="public",
        )
    gc.collect()
    return time.perf_counter() - start


def build(seed: int) -> tuple[FakeWorld, list[str]]:
    """The served fakes on a wall-clock world, with X's limits raised and the bench routes added."""
    world = World(roster=Roster.generate(clients=3, seed=seed), now=wall_clock, seed=seed)
    # The bench process is the only user of this module object: give X the bench's options.
    fakes.x.create = functools.partial(fakes.x.create, options=BENCH_X_OPTIONS)  # type: ignore[assignment]
    names = importable_fakes()
    fw = FakeWorld(world, only=names)

    async def forget(request: Request) -> JSONResponse:
        for hook in world._reset_hooks:  # the fakes' state only: ledger, journal and faults stay
            hook()
        if request.query_params.get("ledger") == "clear":  # …unless asked to clear them too
            world.ledger.clear()
            world.journal.clear()
        return JSONResponse({"forgotten": len(world._reset_hooks), "ledger": len(world.ledger)})

    async def top_up(request: Request) -> JSONResponse:
        to = int(request.query_params["to"])
        n = max(0, to - len(world.ledger))
        seconds = prefill(world, n)
        return JSONResponse(
            {"appended": n, "seconds": round(seconds, 2), "ledger": len(world.ledger)}
        )

    fw.app.router.routes[:0] = [
        Route("/bare", bare, methods=["POST"]),
        Route("/bench/forget", forget, methods=["POST"]),
        Route("/bench/prefill", top_up, methods=["POST"]),
    ]
    return fw, names


async def bare(request: Request) -> JSONResponse:
    """The reference: parse the JSON body, answer 201 with a small JSON document."""
    body = await request.json()
    return JSONResponse({"data": {"id": "1", "text": body.get("text", "")}}, status_code=201)


async def main(ready_file: Path, seed: int, n_prefill: int, bare_only: bool) -> None:
    app: Any
    names: list[str]
    if bare_only:
        app, names, prefill_s = Starlette(routes=[Route("/bare", bare, methods=["POST"])]), [], 0.0
    else:
        fw, names = build(seed)
        prefill_s = prefill(fw.world, n_prefill)
        app = fw.app
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP,
    # and without it every response pays a 40 ms delayed-ACK stall.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )

    async def announce() -> None:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.02)
        doc: dict[str, Any] = {
            "base": f"http://127.0.0.1:{port}",
            "fakes": names,
            "pid": os.getpid(),
            "loop": type(asyncio.get_running_loop()).__module__,
            "http": server.config.http_protocol_class.__name__,
            "prefilled": n_prefill,
            "prefill_seconds": round(prefill_s, 2),
        }
        fd, tmp = tempfile.mkstemp(dir=ready_file.parent, prefix=".ready.")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, ready_file)

    task = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--prefill", type=int, default=0, help="ledger entries to append before listening"
    )
    parser.add_argument("--bare", action="store_true", help="serve only the bare reference route")
    args = parser.parse_args()
    run_server(main(args.ready_file, args.seed, args.prefill, args.bare))
