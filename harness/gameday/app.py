"""The game day's web console: Starlette + Jinja2, live updates over server-sent events.

Pages: ``/`` (join with a name and a role), ``/console`` (the participants' console),
``/facilitator?token=…`` (the facilitator's, with spoilers). The JSON API under ``/api/`` is what
the buttons call and what ``--autopilot`` calls too. A participant is known by an HttpOnly
cookie set when joining; the facilitator by the secret token of the URL (sent back as the
``X-Facilitator-Token`` header). POST bodies are JSON only. JavaScript and CSS come from the
package (``static/``); no CDN, no build step.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from ..runbooks import runbooks
from .participants import ROLES, GamedayRefused, Participant
from .search import search_runbooks
from .state import GameDay
from .steps import CONTROL_ACTIONS, active_steps

__all__ = ["COOKIE", "build_app"]

HERE = Path(__file__).parent
COOKIE = "gameday_participant"
MAX_BODY = 64 * 1024


class _Spare:
    """ASGI middleware: remember every request's task, so the drill's end does not cancel it."""

    def __init__(self, app: ASGIApp, spared: weakref.WeakSet[asyncio.Task[Any]]) -> None:
        self.app = app
        self.spared = spared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.spared.add(task)
        await self.app(scope, receive, send)


def _err(e: GamedayRefused) -> JSONResponse:
    return JSONResponse({"error": str(e)}, status_code=e.status)


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise GamedayRefused("send JSON (Content-Type: application/json)", 415)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise GamedayRefused(f"body of {len(raw)} bytes, at most {MAX_BODY}", 413)
    try:
        data = json.loads(raw or b"{}")
    except ValueError as e:
        raise GamedayRefused(f"body is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise GamedayRefused(f"body must be a JSON object, got {type(data).__name__}")
    return data


def build_app(gd: GameDay, spared: weakref.WeakSet[asyncio.Task[Any]] | None = None) -> ASGIApp:
    """The console's ASGI app for game day ``gd``."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    keep: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet() if spared is None else spared

    def participant(request: Request) -> Participant:
        return gd.who(request.cookies.get(COOKIE))

    def facilitator(request: Request) -> None:
        got = request.headers.get("x-facilitator-token") or request.query_params.get("token", "")
        if not secrets.compare_digest(got.encode(), gd.token.encode()):
            raise GamedayRefused("the facilitator's token is missing or wrong", 403)

    def api(
        fn: Callable[[Request], Awaitable[Any]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            try:
                return JSONResponse(await fn(request))
            except GamedayRefused as e:
                return _err(e)

        return handler

    # --- pages -------------------------------------------------------------------------------
    async def join_page(request: Request) -> Response:
        if request.cookies.get(COOKIE) in gd.participants:
            return RedirectResponse("/console", 303)
        return templates.TemplateResponse(
            request, "join.html", {"roles": ROLES, "scenario": gd.scenario}
        )

    async def console_page(request: Request) -> Response:
        try:
            p = participant(request)
        except GamedayRefused:
            return RedirectResponse("/", 303)
        return templates.TemplateResponse(
            request, "console.html", {"me": p, "scenario": gd.scenario, "roles": ROLES}
        )

    async def facilitator_page(request: Request) -> Response:
        try:
            facilitator(request)
        except GamedayRefused as e:
            return Response(str(e), 403, media_type="text/plain")
        from fakes.core.faults import FAULT_KINDS

        kinds = sorted(FAULT_KINDS)
        return templates.TemplateResponse(
            request, "facilitator.html", {"scenario": gd.scenario, "fault_kinds": kinds}
        )

    # --- participants' API -------------------------------------------------------------------
    async def join(request: Request) -> Response:
        try:
            body = await _body(request)
            p = gd.join(str(body.get("name") or ""), str(body.get("role") or ""))
        except GamedayRefused as e:
            return _err(e)
        r = JSONResponse({"joined": p.to_json(), "console": "/console"})
        r.set_cookie(COOKIE, p.id, httponly=True, samesite="strict", path="/")
        return r

    async def state(request: Request) -> Any:
        return gd.view(participant(request))

    async def search(request: Request) -> Any:
        participant(request)
        q = request.query_params.get("q", "")[:200]
        return {"query": q, "hits": [h.to_json() for h in search_runbooks(q)]}

    async def runbook(request: Request) -> Any:
        participant(request)
        rb_id = request.path_params["rb"]
        lib = runbooks()
        if rb_id not in lib:
            raise GamedayRefused(
                f"runbook: {rb_id!r} is not a runbook; valid: {', '.join(lib)}", 404
            )
        rb = lib[rb_id]
        steps = active_steps(gd.scenario, rb)
        return {
            "id": rb.id,
            "title": rb.title,
            "severity": rb.severity,
            "types": list(rb.types),
            "symptoms": [s.description or s.name.replace("_", " ") for s in rb.symptoms],
            "steps": [
                {
                    "id": st.id,
                    "phase": phase,
                    "place": i,
                    "action": st.action,
                    "params": st.params,
                    "text": st.text or st.id,
                    "deadline_s": st.deadline,
                    "needs": [
                        k
                        for k, v in (("platform", "{platform}"), ("client_id", "{client_id}"))
                        if v in st.params.values()
                    ],
                }
                for phase, i, st in steps
            ],
            "verification": [c.text or c.check for c in rb.verification],
        }

    async def choose(request: Request) -> Any:
        return gd.choose(participant(request), request.path_params["rb"])

    async def ack(request: Request) -> Any:
        p = participant(request)
        try:
            page_id = int(request.path_params["page"])
        except ValueError:
            raise GamedayRefused(f"page: {request.path_params['page']!r} is not a number") from None
        return gd.acknowledge(p, page_id)

    async def action(request: Request) -> Any:
        p = participant(request)
        body = await _body(request)
        return await gd.act(
            p,
            str(body.get("action") or ""),
            body.get("params") or {},
            body.get("reason"),
            runbook=body.get("runbook"),
            step=body.get("step"),
        )

    async def note(request: Request) -> Any:
        p = participant(request)
        body = await _body(request)
        return gd.note(p, body.get("text"), "note")

    async def comms(request: Request) -> Any:
        p = participant(request)
        body = await _body(request)
        return gd.note(p, body.get("text"), "comms")

    async def declare(request: Request) -> Any:
        p = participant(request)
        body = await _body(request)
        return gd.declare(p, str(body.get("status") or ""))

    async def actions(request: Request) -> Any:
        participant(request)
        return {"actions": list(CONTROL_ACTIONS)}

    # --- facilitator's API -------------------------------------------------------------------
    async def f_state(request: Request) -> Any:
        facilitator(request)
        return gd.view(None, spoilers=True)

    async def f_control(request: Request) -> Any:
        facilitator(request)
        await _body(request)
        return gd.control(request.path_params["what"])

    async def f_hint(request: Request) -> Any:
        facilitator(request)
        body = await _body(request)
        return gd.hint(body.get("text"))

    async def f_fault(request: Request) -> Any:
        facilitator(request)
        body = await _body(request)
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise GamedayRefused("params: must be an object")
        try:
            duration = float(body.get("duration_s", 600))
            probability = float(body.get("probability", 1.0))
        except (TypeError, ValueError) as e:
            raise GamedayRefused(f"duration_s/probability: {e}") from None
        return await gd.inject(str(body.get("kind") or ""), params, duration, probability)

    # --- live updates (raw ASGI: every task it starts is spared at the drill's end) -----------
    class _Stream:
        """Server-sent events: the console's whole state each time it changes."""

        def __init__(self, who: str) -> None:
            self.who = who

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive)
            try:
                if self.who == "facilitator":
                    facilitator(request)
                    p = None
                else:
                    p = participant(request)
            except GamedayRefused as e:
                await _err(e)(scope, receive, send)
                return

            async def gone() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass

            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            bye = asyncio.ensure_future(gone())
            keep.add(bye)
            try:
                await send(
                    {"type": "http.response.body", "body": b"retry: 1000\n\n", "more_body": True}
                )
                while not bye.done():
                    seen = gd.version
                    data = json.dumps(gd.view(p, spoilers=p is None), default=str)
                    chunk = f"event: state\ndata: {data}\n\n".encode()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    if gd.closing:  # the last state (with the grades) is sent: done
                        break
                    changed = asyncio.ensure_future(gd.wait_change(seen))
                    keep.add(changed)
                    await asyncio.wait({changed, bye}, return_when=asyncio.FIRST_COMPLETED)
                    changed.cancel()
            except OSError:  # the console went away mid-write
                pass
            finally:
                bye.cancel()

    routes = [
        Route("/", join_page),
        Route("/console", console_page),
        Route("/facilitator", facilitator_page),
        Route("/api/join", join, methods=["POST"]),
        Route("/api/state", api(state)),
        Route("/api/actions", api(actions)),
        Route("/api/runbooks", api(search)),
        Route("/api/runbooks/{rb}", api(runbook)),
        Route("/api/runbooks/{rb}/choose", api(choose), methods=["POST"]),
        Route("/api/pages/{page}/ack", api(ack), methods=["POST"]),
        Route("/api/actions", api(action), methods=["POST"]),
        Route("/api/notes", api(note), methods=["POST"]),
        Route("/api/comms", api(comms), methods=["POST"]),
        Route("/api/declare", api(declare), methods=["POST"]),
        Route("/api/facilitator/state", api(f_state)),
        Route("/api/facilitator/hint", api(f_hint), methods=["POST"]),
        Route("/api/facilitator/fault", api(f_fault), methods=["POST"]),
        Route("/api/events", _Stream("participant")),
        Route("/api/facilitator/events", _Stream("facilitator")),
        Route("/api/facilitator/{what}", api(f_control), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return _Spare(Starlette(routes=routes), keep)
