"""The request pipeline every fake shares: account resolution, transport faults, the journal.

A fake declares its routes with :meth:`FakeService.route`; each handler receives a :class:`Call`
(ids, the resolved account, the raw credential for checks — never logged) and returns a Starlette
response. Transport-layer faults (latency, hang, reset, malformed body) and the generic 5xx
outage are applied here, before the handler, so every fake fails the same way at that layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

from .faults import Fired, HangParams, LatencyParams
from .world import World

__all__ = [
    "CLIENT_READ_TIMEOUT",
    "UNMATCHED",
    "Call",
    "ClientTimedOut",
    "ConnectionDropped",
    "DroppedResponse",
    "ErrorBody",
    "FakeService",
    "error_code",
    "error_code_of",
    "json_object",
    "json_response",
    "read_body",
]

#: the route name the journal gives a request that matched none of a fake's routes
UNMATCHED = "-"
#: the largest request body a fake reads (bigger ones get the platform's 413)
MAX_BODY_BYTES = 8 * 1024 * 1024


def _intern(value: str | None) -> str | None:
    """One shared copy of a string every request repeats (a journal of millions stays small)."""
    return sys.intern(value) if value is not None else None


#: characters that make ``request.url.path`` differ from the scope's path (escaped or removed)
_URL_SPECIAL = frozenset("?#\\")


def _path_of(request: Request) -> str:
    """``request.url.path`` without building a URL for the plain paths nearly every request has."""
    path: str = request.scope["path"]
    if path.isascii() and path.isprintable() and _URL_SPECIAL.isdisjoint(path):
        return path
    return request.url.path


#: the query parameters that say which page of a paged read is asked for (X, Graph, LinkedIn)
_PAGE_PARAMS = ("pagination_token", "after", "start")
#: longest page cursor kept in the journal
_PAGE_MAX = 128


def _page_of(request: Request) -> str | None:
    """The paging parameter's value of a GET (None without one, and for other methods)."""
    if request.method != "GET":
        return None
    qs: bytes = request.scope.get("query_string") or b""
    if not qs or not any(p.encode() in qs for p in _PAGE_PARAMS):
        return None
    params = request.query_params
    for name in _PAGE_PARAMS:
        value = params.get(name)
        if value is not None:
            return _intern(value[:_PAGE_MAX])
    return None


#: longest error code kept in the journal (a code, never a message)
_ERROR_CODE_MAX = 64


def error_code(body: bytes) -> str | None:
    """The error code of an error answer's JSON body, in the shapes the fakes' APIs use.

    Graph ``{"error": {"code", "error_subcode"}}`` → ``"100/33"``; OpenAI and Anthropic
    ``{"error": {"type" | "code"}}``; OAuth ``{"error": "invalid_grant"}``; LinkedIn
    ``{"code"}`` or ``{"serviceErrorCode"}``; a problem ``{"type": ".../invalid-request"}``;
    v1.1 ``{"errors": [{"code": 34}]}``. None when the body says nothing of the kind.
    """
    return error_code_of(json_object(body))


def json_object(body: bytes) -> dict[str, Any] | None:
    """``body`` parsed as a JSON object; None when it is not JSON or not an object."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def error_code_of(doc: dict[str, Any] | None) -> str | None:
    """:func:`error_code` of a body already parsed (:func:`json_object`)."""
    if doc is None:
        return None
    code: Any = None
    err = doc.get("error")
    if isinstance(err, dict):
        if "error_subcode" in err or isinstance(err.get("code"), int):
            sub = err.get("error_subcode")
            code = f"{err.get('code')}/{sub}" if sub is not None else err.get("code")
        else:
            code = err.get("code") or err.get("type")
    elif isinstance(err, str):
        code = err
    elif isinstance(doc.get("code"), str) and doc["code"]:
        code = doc["code"]
    elif doc.get("serviceErrorCode"):
        code = doc["serviceErrorCode"]
    elif isinstance(doc.get("type"), str) and doc["type"] not in ("about:blank", "error"):
        code = doc["type"].rstrip("/").rsplit("/", 1)[-1]
    elif isinstance(doc.get("errors"), list) and doc["errors"]:
        first = doc["errors"][0]
        if isinstance(first, dict):
            code = first.get("code")
    if code is None or isinstance(code, bool) or not isinstance(code, (str, int)):
        return None
    return sys.intern(str(code)[:_ERROR_CODE_MAX])


def _header_map(request: Request) -> dict[bytes, bytes]:
    """The request's headers by raw name, first value of each (what ``request.headers.get``
    answers), so a handful of lookups do not each scan the header list."""
    out: dict[bytes, bytes] = {}
    for k, v in request.scope["headers"]:
        out.setdefault(k, v)
    return out


def _get(headers: dict[bytes, bytes], name: bytes) -> str | None:
    v = headers.get(name)
    return v.decode("latin-1") if v is not None else None


async def read_body(request: Request) -> bytes:
    """``await request.body()``, without Starlette's async generator per request.

    The same messages are read the same way (a body in one or many ``http.request`` messages;
    ``http.disconnect`` raises :class:`~starlette.requests.ClientDisconnect`), and the request
    remembers the body exactly as ``Request.body`` leaves it, so a later ``request.body()``,
    ``request.json()`` or ``request.stream()`` answers the same.
    """
    if hasattr(request, "_body") or request._stream_consumed:
        return await request.body()
    chunks: list[bytes] = []
    while True:
        message = await request.receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect()
    request._stream_consumed = True
    body = request._body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return body


def _client_read_timeout(request: Request) -> float | None:
    """The read timeout an in-process client gave (None: served, or it waits for ever)."""
    ext = request.scope.get("extensions")
    got = ext.get(CLIENT_READ_TIMEOUT) if ext else None
    return float(got) if isinstance(got, int | float) and got > 0 else None


class ConnectionDropped(Exception):
    """Raised by a fake to drop the connection mid-response (``http.reset``, stream cuts)."""


#: the ASGI scope extension an in-process transport passes the client's read timeout in
#: (seconds): what a socket would enforce, a fake called in-process must enforce itself
CLIENT_READ_TIMEOUT = "vibedrill.client_read_timeout"


class ClientTimedOut(Exception):
    """Raised in-process when the client's read timeout passes before the answer: the request
    goes on in the fake (a side effect lands, or a hang runs its course) and is journaled when
    it ends, as a served fake does when the client hangs up; the client sees its timeout."""


class DroppedResponse(Response):
    """Starts a response, sends part of the body, then drops the connection."""

    def __init__(self, partial: bytes = b'{"data": {"id": "', status: int = 200) -> None:
        super().__init__(content=partial, status_code=status, media_type="application/json")
        self.partial = partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.partial) + 64).encode()),
        ]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": self.partial, "more_body": True})
        raise ConnectionDropped("vibedrill fault: connection dropped mid-response")


#: ``json.dumps(…, separators=(",", ":"), ensure_ascii=False)`` without a new encoder per call
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response (no spaces, UTF-8), as real APIs send."""
    body = _ENCODER.encode(data).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _echoing(resp: Response, request: Request) -> Response:
    """``resp`` (a service's own error body) with its message followed by a dump of ``request``,
    headers and all, as a gateway in debug mode writes one: the error's ``message`` (under
    ``error`` or at the top), or else its ``detail``."""
    try:
        body = json.loads(bytes(resp.body))
    except ValueError:
        return resp
    dump = f" [debug: {request.method} {request.url.path} headers={dict(request.headers)!r}]"
    target = body.get("error") if isinstance(body, dict) else None
    if not isinstance(target, dict):
        target = body if isinstance(body, dict) else None
    if target is None:
        return resp
    field_name = "message" if "message" in target or "detail" not in target else "detail"
    target[field_name] = f"{target.get(field_name) or ''}{dump}"
    headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
    return json_response(body, resp.status_code, headers)


def _retry_after(resp: Response, fired: Fired) -> Response:
    """``resp`` with the ``Retry-After`` an ``http.outage`` rule names (``retry_after_s``)."""
    seconds = getattr(fired.params, "retry_after_s", None)
    if seconds is not None:
        resp.headers["retry-after"] = str(int(seconds))
    return resp


def _cut_short(resp: Response) -> Response:
    """``resp`` with the first half of its body only (status and headers kept): a JSON answer that
    no longer parses, as a client sees one whose connection dropped the end."""
    body = bytes(resp.body)
    cut = body[: len(body) // 2]
    out = Response(cut, status_code=resp.status_code)
    out.raw_headers = [
        *((k, v) for k, v in resp.raw_headers if k != b"content-length"),
        (b"content-length", str(len(cut)).encode("latin-1")),
    ]
    return out


@dataclass
class Call:
    """One request being served."""

    request: Request
    fake: str
    route: str
    request_id: str
    #: the raw bearer token or API key; used for checks, never logged or journaled
    credential: str | None
    account_id: str | None
    fault: Fired | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    #: the world's time when the request arrived
    started: float | None = None
    #: (generation, replaced_at) of the access token as the request arrived (TokenStore.seen)
    token: tuple[int | None, float | None] = (None, None)
    #: the journal's last ``seq`` when the request arrived: every request answered before it
    after_seq: int | None = None
    #: an ``http.outage`` with ``committed``: the handler runs, then the answer is this 5xx
    fail_after: tuple[Fired, int] | None = None
    #: an ``http.malformed_body`` with ``committed``: the handler runs, then its body is cut short
    cut_after: Fired | None = None
    #: an ``http.reset`` with ``committed``: the handler runs, then the connection drops
    reset_after: Fired | None = None
    #: an ``http.latency`` with ``committed``: the handler runs, then the answer waits this long
    late_after: float | None = None

    def record(
        self, world: World, action: str, resource_id: str, content: str | None, **extra: Any
    ) -> None:
        """Write the side effect this request made to the ledger, as the credential's account."""
        extra.setdefault("channel", "api")
        world.record(
            self.fake,
            action,
            account_id=self.account_id,
            credential=self.credential,
            request_id=self.request_id,
            resource_id=resource_id,
            content=content,
            **extra,
        )

    def fire(
        self,
        world: World,
        kinds: str | tuple[str, ...],
        where: Callable[[BaseModel], bool] | None = None,
    ) -> Fired | None:
        """Ask the fault engine for a rule of ``kinds`` for this request (``where``: of these
        params only); remember it for the journal — the first that shaped the answer: a latency
        rule only delays it, so a rule that fires after it (a throttle, an outage) is the one
        the journal names."""
        faults = world.faults
        if not faults._rules:  # no rule installed: nothing can fire (the common case)
            return None
        fired = faults.fire(self.fake, self.route, self.account_id, kinds, where)
        if fired is not None and (self.fault is None or self.fault.kind == "http.latency"):
            self.fault = fired
        return fired


class _Router(Router):
    """Starlette's router, remembering which route each (method, path) fully matched.

    Polling asks the same few paths over and over, and the router tries every route's pattern
    in order on each request (a fake has dozens). A request whose (method, path) matched a
    route before goes straight to it with the same scope (``router``, ``route``, ``endpoint``,
    a fresh ``path_params``); the first time, and anything that is not a full match of a plain
    :class:`~starlette.routing.Route` (404, 405, a mount, a scope that already carries path
    params), takes the ordinary route.
    """

    #: (method, path) pairs remembered (the oldest goes first)
    SIZE = 4096

    def __init__(self, routes: list[BaseRoute]) -> None:
        super().__init__(routes, redirect_slashes=False)
        self._hits: dict[tuple[str, str], tuple[Route, dict[str, Any]]] = {}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path_params"):
            await super().app(scope, receive, send)
            return
        key = (scope["method"], get_route_path(scope))
        hit = self._hits.get(key)
        if hit is None:
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    if type(route) is Route:
                        hit = (route, dict(child["path_params"]))
                        if len(self._hits) >= self.SIZE:
                            del self._hits[next(iter(self._hits))]
                        self._hits[key] = hit
                    break
            if hit is None:
                await super().app(scope, receive, send)
                return
        route, params = hit
        # what Router.app does with a full match
        if "router" not in scope:
            scope["router"] = self
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = dict(params)
        await route.handle(scope, receive, send)


Handler = Callable[[Call], Awaitable[Response]]
CredentialOf = Callable[[Request], str | None]
OutageBody = Callable[[Call, int], Response]
#: the platform's own error for a status the pipeline answers itself (404, 405, 413, 415):
#: ``(status, message, request) -> Response``
ErrorBody = Callable[[int, str, Request], Response]
_JSON_METHODS = frozenset({"POST", "PUT", "PATCH"})


def bearer(request: Request) -> str | None:
    """The bearer token of a request, if any."""
    # what ``request.headers.get("authorization", "")`` answers (the first such header), read
    # from the scope: building Starlette's Headers for this one lookup cost more than the rest
    auth = ""
    for k, v in request.scope["headers"]:
        if k == b"authorization":
            auth = v.decode("latin-1")
            break
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


class FakeService:
    """One fake: its name, routes, credential extraction and outage body."""

    def __init__(
        self,
        world: World,
        name: str,
        *,
        credential_of: CredentialOf = bearer,
        outage_body: OutageBody | None = None,
        request_id_header: str | None = None,
        error_body: ErrorBody | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        error_code_of: Callable[[bytes], str | None] = error_code,
    ) -> None:
        self.world = world
        #: the journal's ``error`` of an error answer's body (see :func:`error_code`)
        self.error_code_of = error_code_of
        self.error_body = error_body or self._default_error
        self.max_body_bytes = max_body_bytes
        #: route names whose request bodies must be JSON (a declared other type gets 415)
        self.json_routes: set[str] = set()
        self.name = name
        self.credential_of = credential_of
        self.outage_body = outage_body or self._default_outage
        self.request_id_header = request_id_header
        self.route_names: list[str] = []
        self._routes: list[BaseRoute] = []
        self._extra_routes: list[BaseRoute] = []
        #: an async context manager factory started with the server (e.g. MCP's session manager)
        self.lifespan: Callable[[], AbstractAsyncContextManager[Any]] | None = None

    # registration ---------------------------------------------------------------------------
    def route(
        self, path: str, name: str, methods: list[str], *, json_body: bool = False
    ) -> Callable[[Handler], Handler]:
        """Register a handler for ``path`` under the route name ``name`` (used by fault matching).

        ``json_body``: a body sent with a declared content type other than JSON gets the
        platform's 415 (a body with no content type is read as JSON, as the platforms do).
        """

        def deco(handler: Handler) -> Handler:
            if name not in self.route_names:
                self.route_names.append(name)
            if json_body:
                self.json_routes.add(name)

            async def endpoint(request: Request) -> Response:
                return await self.serve(request, name, handler)

            self._routes.append(Route(path, endpoint, methods=methods, name=f"{self.name}.{name}"))
            return handler

        return deco

    def mount_extra(self, route: BaseRoute) -> None:
        """Add a raw ASGI route (e.g. the MCP endpoint) that handles its own journaling."""
        self._extra_routes.append(route)

    def asgi(self) -> Starlette:
        """The ASGI app of this fake.

        A request no route matches (404) or whose method a route lacks (405) is answered with
        the platform's own JSON error and journaled under the route name ``-``; trailing-slash
        redirects are off, so no ``Location`` ever echoes a query string (and its token).
        """
        routes = [*self._routes, *self._extra_routes]
        app = Starlette(
            routes=routes, exception_handlers={404: self._unmatched, 405: self._unmatched}
        )
        app.router = _Router(routes)
        return app

    async def _unmatched(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        cred = self.credential_of(request)
        call = Call(
            request,
            self.name,
            UNMATCHED,
            self.world.request_id(self.name),
            cred,
            self.account_for(cred),
            started=self.world.now(),
            after_seq=self.world.journal.last_seq,
        )
        if status == 405:
            msg = f"The method {request.method} is not allowed for {request.url.path}"
        else:
            msg = f"No route {request.method} {request.url.path} on this API"
        resp = self.error_body(status, msg, request)
        self._journal(call, resp.status_code, error=self._error_of(resp))
        self._finish(call, resp)
        return resp

    # serving --------------------------------------------------------------------------------
    def account_for(self, credential: str | None) -> str | None:
        """The account a credential was issued to (whether or not it is still valid)."""
        return self.world.tokens.account_of(credential) if credential else None

    async def serve(self, request: Request, route: str, handler: Handler) -> Response:
        """Run one request through faults, the handler and the journal."""
        w = self.world
        cred = self.credential_of(request)
        call = Call(
            request,
            self.name,
            route,
            w.request_id(self.name),
            cred,
            self.account_for(cred),
            started=w.now(),
            token=w.tokens.seen(cred),
            after_seq=w.journal.last_seq,
        )
        resp: Response | None = None
        detached = False
        headers = _header_map(request)
        try:
            if w.served:
                # served: the request runs to its end even when the client hangs up meanwhile
                # (a timeout during an ``http.latency`` fault): a real API does not undo a
                # publish because the caller stopped waiting, and that unknown outcome is what a
                # platform must handle. The journal keeps the status it would have answered.
                # … a server has the whole request before it works on it: read the body now
                size = request.headers.get("content-length", "0")
                if size.isdigit() and int(size) <= self.max_body_bytes:
                    with contextlib.suppress(ClientDisconnect):
                        await read_body(request)
                work = asyncio.ensure_future(self._process(call, headers, handler))
                try:
                    resp = await asyncio.shield(work)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        resp = await work  # the side effect lands; the answer goes nowhere
                    raise
            else:
                limit = _client_read_timeout(request)
                if limit is not None and (
                    w.faults.active("http.latency") or w.faults.active("http.hang")
                ):
                    # a fault may keep the answer longer than the client waits: it gives up at
                    # its read timeout, the request runs on (what a socket does, see above)
                    # (a platform that stops in-process, restarted or crashed, cuts its requests
                    # as before: they end where they are, as if lost on the way)
                    work = asyncio.ensure_future(self._process(call, headers, handler))
                    try:
                        resp = await asyncio.wait_for(asyncio.shield(work), limit)
                    except asyncio.CancelledError:
                        work.cancel()
                        raise
                    except TimeoutError:
                        detached = True
                        work.add_done_callback(lambda f: self._journal_late(call, headers, f))
                        raise ClientTimedOut(
                            f"vibedrill: no answer within the client's read timeout of {limit:g} s"
                        ) from None
                else:
                    resp = await self._process(call, headers, handler)
        finally:
            if detached:
                pass  # journaled when the request ends
            elif resp is None:
                self._journal(call, 0, headers)
            else:
                self._journal(call, resp.status_code, headers, self._error_of(resp))
        self._finish(call, resp)
        return resp

    def _journal_late(
        self, call: Call, headers: dict[bytes, bytes], work: asyncio.Future[Response]
    ) -> None:
        """Journal a request its client stopped waiting for, with the answer it came to."""
        resp = None if work.cancelled() or work.exception() is not None else work.result()
        if resp is None:
            self._journal(call, 0, headers)
        else:
            self._journal(call, resp.status_code, headers, self._error_of(resp))

    async def _process(self, call: Call, headers: dict[bytes, bytes], handler: Handler) -> Response:
        resp = self._body_refusal(call, headers)
        if resp is None:
            resp = await self._transport_faults(call)
        if resp is None:
            resp = await handler(call)
            if call.late_after is not None:  # committed, then the answer is slow to come back
                await self.world.sleep(call.late_after)
            if call.fail_after is not None:  # committed, then the gateway fails the answer
                call.fault, status = call.fail_after
                resp = _retry_after(self.outage_body(call, status), call.fail_after[0])
            elif call.cut_after is not None:  # committed, then the answer is cut short
                call.fault = call.cut_after
                resp = _cut_short(resp)
            elif call.reset_after is not None:  # committed, then the connection drops
                call.fault = call.reset_after
                body = bytes(resp.body)
                resp = DroppedResponse(body[: max(1, len(body) // 2)], resp.status_code)
        return resp

    def _error_of(self, resp: Response) -> str | None:
        """The error code of an error answer (None for a success or a body without one)."""
        if resp.status_code < 400:
            return None
        body = getattr(resp, "body", None)
        return self.error_code_of(bytes(body)) if body else None

    def _journal(
        self,
        call: Call,
        status: int,
        headers: dict[bytes, bytes] | None = None,
        error: str | None = None,
    ) -> None:
        w, request = self.world, call.request
        h = _header_map(request) if headers is None else headers
        rc = _get(h, b"x-stainless-retry-count")
        w.journal.record(
            t=w.now(),
            fake=self.name,
            method=sys.intern(request.method),
            path=_path_of(request),
            route=call.route,
            status=status,
            account_id=call.account_id,
            request_id=call.request_id,
            retry_count=int(rc) if rc and rc.isdigit() else None,
            idempotency_key=_intern(_get(h, b"idempotency-key")),
            fault_id=call.fault.rule_id if call.fault else None,
            fault_kind=call.fault.kind if call.fault else None,
            user_agent=_intern(_get(h, b"user-agent")),
            started=call.started,
            traceparent=_get(h, b"traceparent"),
            token_gen=call.token[0],
            token_replaced_at=call.token[1],
            error=error,
            after_seq=call.after_seq,
            page=_page_of(request),
        )

    def _finish(self, call: Call, resp: Response) -> None:
        """Add the request id header (unless the handler set one) and the call's extra headers.

        The same as setting ``resp.headers[k] = v`` for each, without a scan of the header list
        per header: a name the response does not carry yet is appended (in order), one it
        carries is replaced in place.
        """
        extra = call.extra_headers
        rid = self.request_id_header
        if not extra and not rid:
            return
        raw = resp.raw_headers
        present = {k for k, _ in raw}
        if rid:
            key = rid.lower().encode("latin-1")
            if key not in present:
                raw.append((key, call.request_id.encode("latin-1")))
                present.add(key)
        for k, v in extra.items():
            key = k.lower().encode("latin-1")
            if key in present:
                resp.headers[k] = v
            else:
                raw.append((key, v.encode("latin-1")))
                present.add(key)

    def _body_refusal(self, call: Call, headers: dict[bytes, bytes]) -> Response | None:
        """The platform's 413 for a body over the limit, 415 for a non-JSON body on a JSON route."""
        request = call.request
        length = _get(headers, b"content-length") or ""
        if length.isdigit() and int(length) > self.max_body_bytes:
            return self.error_body(
                413,
                f"Request body of {length} bytes exceeds the limit of {self.max_body_bytes} bytes",
                request,
            )
        if call.route in self.json_routes and request.method in _JSON_METHODS:
            ctype = (_get(headers, b"content-type") or "").split(";")[0].strip().lower()
            foreign = ctype and ctype != "application/json" and not ctype.endswith("+json")
            if foreign and length not in ("", "0"):
                return self.error_body(
                    415, f"Content-Type {ctype} is not supported; send application/json", request
                )
        return None

    async def _transport_faults(self, call: Call) -> Response | None:
        w = self.world
        if not w.faults._by_kind:
            return None
        f = call.fire(w, ("http.hang", "http.latency"))
        if f is not None:
            if f.kind == "http.hang":
                await w.sleep(f.params_as(HangParams).seconds)
                return self.outage_body(call, 504)
            p = f.params_as(LatencyParams)
            delay = (p.ms + (w.rng.uniform(0, p.jitter_ms) if p.jitter_ms else 0.0)) / 1000.0
            if p.committed:
                call.late_after = delay
            else:
                await w.sleep(delay)
        f = call.fire(w, ("http.reset", "http.malformed_body", "http.outage"))
        if f is None:
            return None
        if f.kind == "http.reset":
            if getattr(f.params, "committed", False):
                call.reset_after = f
                return None
            return DroppedResponse()
        if f.kind == "http.malformed_body":
            if getattr(f.params, "committed", False):
                call.cut_after = f
                return None
            return Response(b'{"data": {"id": "1', status_code=200, media_type="application/json")
        status = int(getattr(f.params, "status", 503))
        if getattr(f.params, "committed", False):
            call.fail_after = (f, status)
            return None
        if getattr(f.params, "echo_request", False):
            return _retry_after(_echoing(self.outage_body(call, status), call.request), f)
        return _retry_after(self.outage_body(call, status), f)

    @staticmethod
    def _default_error(status: int, message: str, request: Request) -> Response:
        return json_response({"error": {"message": message, "status": status}}, status)

    @staticmethod
    def _default_outage(call: Call, status: int) -> Response:
        return json_response(
            {"error": {"message": "Service Unavailable", "status": status}}, status
        )
