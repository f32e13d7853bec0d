"""The MCP tool gateway fake: an MCP server over streamable HTTP, built with the official SDK.

It fronts a small, deterministic tool registry (schedule lookup, analytics, knowledge-base
search, asset upload). Every MCP HTTP request is journaled with its route name
(``mcp.initialize`` for ``initialize`` and ``server/discover``, ``mcp.tools_list``,
``mcp.tools_call``, ``mcp.other`` for notifications, GET and DELETE), and transport faults
(``http.*``) and ``toolgate.unavailable`` are applied per request before the SDK sees it. The
semantic faults (``toolgate.tool_missing``, ``toolgate.schema_drift``, ``toolgate.tool_error``)
are applied inside the tool handlers, so they also hold for the SDK's in-memory
``mcp.Client(svc.mcp_server)``.

Assumptions: the SDK's session manager runs stateless with JSON responses (one POST in, one
JSON reply out), which is what lets an ``httpx2.ASGITransport`` drive it in-process and the
virtual-time loop run it without real timers. A successful ``tools/call`` writes one
``tool.called`` ledger entry on the agency's toolgate account; a failed one writes none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from .core.http import Call, ConnectionDropped, FakeService, json_response
from .core.roster import SOCIAL_PLATFORMS
from .core.world import World

__all__ = [
    "AGENCY_ACCOUNT",
    "DRIFTED_ARGUMENT",
    "ROUTES",
    "TOOL_NAMES",
    "McpAsgiTransport",
    "create",
]

#: the agency-wide account every tool call is booked on
AGENCY_ACCOUNT = "agency-toolgate"
#: MCP method → route name used by fault matching and the journal
ROUTES: dict[str, str] = {
    "initialize": "mcp.initialize",
    "server/discover": "mcp.initialize",
    "tools/list": "mcp.tools_list",
    "tools/call": "mcp.tools_call",
}
OTHER_ROUTE = "mcp.other"
#: under ``toolgate.schema_drift`` this required argument is renamed: old name → new name
DRIFTED_ARGUMENT: tuple[str, str] = ("client_id", "tenant_id")
#: the tenant a tool answers for when a dropped tenant argument leaves it to the gateway
DEFAULT_TENANT = "agency"
_SCOPE_KEY = "vibedrill.toolgate.call"
_INVALID_PARAMS = -32602


@dataclass(frozen=True)
class _Tool:
    name: str
    description: str
    #: argument name → JSON Schema of a string argument
    arguments: dict[str, str]
    run: Callable[[World, dict[str, str]], dict[str, Any]]

    def schema(self, drift: str | None) -> dict[str, Any]:
        """The input schema as listed: as built, or after a ``toolgate.schema_drift`` (``rename``:
        the tenant argument renamed and still required; ``drop``: no tenant argument, and extra
        arguments not refused, so none is said to be forbidden; ``opaque``: a free-form object
        naming no property, the tool unchanged behind it)."""
        if drift == "opaque":
            return {"type": "object"}
        old, new = DRIFTED_ARGUMENT
        if drift == "drop":
            names = [a for a in self.arguments if a != old]
            descs = dict(self.arguments)
        else:
            names = [new if drift and a == old else a for a in self.arguments]
            descs = {new if drift and a == old else a: d for a, d in self.arguments.items()}
        out: dict[str, Any] = {
            "type": "object",
            "properties": {n: {"type": "string", "description": descs[n]} for n in names},
            "required": names,
        }
        if drift != "drop":
            out["additionalProperties"] = False
        return out


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def _schedule_lookup(world: World, a: dict[str, str]) -> dict[str, Any]:
    d = _digest("schedule", a["client_id"], a["date"])
    platforms = SOCIAL_PLATFORMS
    slots = [
        {
            "time": f"{a['date']}T{8 + d[i] % 12:02d}:{(d[i + 4] % 4) * 15:02d}:00Z",
            "platform": platforms[d[i + 8] % 3],
            "post_id": f"sched-{d[i + 12]:03d}{i}",
        }
        for i in range(1 + d[0] % 3)
    ]
    return {"client_id": a["client_id"], "date": a["date"], "scheduled": slots}


def _analytics_fetch(world: World, a: dict[str, str]) -> dict[str, Any]:
    d = _digest("analytics", a["client_id"], a["platform"], a["metric"])
    return {**a, "value": int.from_bytes(d[:3], "big") % 100_000, "window": "7d"}


def _kb_search(world: World, a: dict[str, str]) -> dict[str, Any]:
    d = _digest("kb", a["client_id"], a["query"].strip().lower())
    hits = [
        {
            "doc_id": f"kb-{a['client_id']}-{d[i]:03d}",
            "score": round(0.5 + d[i + 3] / 512, 3),
            "snippet": f"{a['client_id']} handbook §{d[i] % 20 + 1}: about {a['query'].strip()!r}",
        }
        for i in range(1 + d[0] % 3)
    ]
    return {"client_id": a["client_id"], "query": a["query"], "hits": hits}


def _asset_upload(world: World, a: dict[str, str]) -> dict[str, Any]:
    try:
        data = base64.b64decode(a["content_b64"], validate=True)
    except (binascii.Error, ValueError):
        raise _ToolFailure(
            f"content_b64 is not valid base64 (got {a['content_b64'][:40]!r})"
        ) from None
    sha = hashlib.sha256(data).hexdigest()
    return {
        "asset_id": f"asset-{sha[:12]}",
        "client_id": a["client_id"],
        "filename": a["filename"],
        "bytes": len(data),
        "sha256": sha,
    }


_TOOLS: tuple[_Tool, ...] = (
    _Tool(
        "schedule_lookup",
        "The posts scheduled for a client on a date.",
        {"client_id": "the client (tenant) id", "date": "a date, YYYY-MM-DD"},
        _schedule_lookup,
    ),
    _Tool(
        "analytics_fetch",
        "One engagement metric of a client's account on a platform (last 7 days).",
        {
            "client_id": "the client (tenant) id",
            "platform": "x, instagram or linkedin",
            "metric": "e.g. impressions, likes",
        },
        _analytics_fetch,
    ),
    _Tool(
        "kb_search",
        "Search the client's knowledge base (brand book, FAQ).",
        {"client_id": "the client (tenant) id", "query": "free-text query"},
        _kb_search,
    ),
    _Tool(
        "asset_upload",
        "Upload a media asset to the client's library.",
        {
            "client_id": "the client (tenant) id",
            "filename": "file name with extension",
            "content_b64": "the bytes, base64",
        },
        _asset_upload,
    ),
)
TOOL_NAMES: tuple[str, ...] = tuple(t.name for t in _TOOLS)


class _ToolFailure(Exception):
    """A tool ran and failed: served as a result with ``isError`` true."""


def _error_result(text: str, meta: dict[str, Any] | None) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True, _meta=meta)


@dataclass
class _Gateway:
    """The MCP server, its session manager while running, and the fault decisions per request."""

    world: World
    svc: FakeService
    server: Server[Any] = field(init=False)
    managers: list[StreamableHTTPSessionManager] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = Server(
            "vibedrill-toolgate",
            version="0.1.0",
            instructions="vibedrill's fake MCP tool gateway; tools are deterministic.",
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            # Mcp-Param header validation would re-run tools/list (and its faults) on every call.
            get_tool_input_schema=lambda name: None,
        )

    # faults ---------------------------------------------------------------------------------
    def _call_of(self, ctx: ServerRequestContext[Any, Any]) -> Call | None:
        req = ctx.request
        if isinstance(req, Request):
            call = req.scope.get(_SCOPE_KEY)
            if isinstance(call, Call):
                return call
        return None

    def _fire(
        self, call: Call | None, route: str, kind: str, tools: tuple[str | None, ...]
    ) -> BaseModel | None:
        """Fire ``kind`` for this request, only from rules whose ``tool`` param is one of ``tools``."""
        w = self.world
        account = call.account_id if call else self._default_account()
        fired = w.faults.fire(
            self.svc.name, route, account, kind, where=lambda p: getattr(p, "tool", None) in tools
        )
        if fired is None:
            return None
        if call is not None and call.fault is None:
            call.fault = fired
        return fired.params

    def _default_account(self) -> str | None:
        try:
            return self.world.roster.account(AGENCY_ACCOUNT).id
        except KeyError:
            return None

    def _view(self, call: Call | None, route: str) -> dict[str, tuple[bool, str | None]]:
        """Tool name → (missing, the schema drift in force or None) for this request."""
        w = self.world
        out: dict[str, tuple[bool, str | None]] = {t.name: (False, None) for t in _TOOLS}
        for kind in ("toolgate.tool_missing", "toolgate.schema_drift"):
            if not w.faults.active(kind):
                continue
            # each rule counts at most once per listing: rules for every tool, then per tool
            every = self._fire(call, route, kind, (None,))
            for t in _TOOLS:
                hit = every or self._fire(call, route, kind, (t.name,))
                if hit is None:
                    continue
                missing, drift = out[t.name]
                if kind == "toolgate.tool_missing":
                    out[t.name] = (True, drift)
                else:
                    out[t.name] = (missing, _change_of(hit))
        return out

    # handlers -------------------------------------------------------------------------------
    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        view = self._view(self._call_of(ctx), "mcp.tools_list")
        tools = [
            types.Tool(
                name=t.name, description=t.description, input_schema=t.schema(view[t.name][1])
            )
            for t in _TOOLS
            if not view[t.name][0]
        ]
        return types.ListToolsResult(tools=tools, ttl_ms=0)

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        call = self._call_of(ctx)
        w = self.world
        rid = call.request_id if call else w.request_id(self.svc.name)
        route = "mcp.tools_call"
        tool = next((t for t in _TOOLS if t.name == params.name), None)
        missing = (
            tool is not None
            and w.faults.active("toolgate.tool_missing")
            and (self._fire(call, route, "toolgate.tool_missing", (None, tool.name)) is not None)
        )
        if tool is None or missing:
            known = [t for t in TOOL_NAMES if not (missing and tool is not None and t == tool.name)]
            raise MCPError(_INVALID_PARAMS, f"Unknown tool: {params.name}", {"tools": known})
        drift = (
            _change_of(self._fire(call, route, "toolgate.schema_drift", (None, tool.name)))
            if w.faults.active("toolgate.schema_drift")
            else None
        )
        # a gateway that names its request only in the x-request-id header, not in the result
        # (a variant, not a failure: the journal keeps the request's own fault, if any)
        bare = w.faults.active("toolgate.no_meta_request_id") and (
            w.faults.fire(
                self.svc.name,
                route,
                call.account_id if call else self._default_account(),
                "toolgate.no_meta_request_id",
                where=lambda p: getattr(p, "tool", None) in (None, tool.name),
            )
            is not None
        )
        meta = None if bare else {"request_id": rid}
        schema = tool.schema(drift)
        problem = _invalid_arguments(schema, params.arguments or {})
        if problem is not None:
            return _error_result(f"Input validation error: {problem}", meta)
        args = dict(params.arguments or {})
        old, new = DRIFTED_ARGUMENT
        if drift == "rename":
            args[old] = args.pop(new)
        elif drift == "drop":
            # what the schema no longer names is ignored, and the tool answers for the
            # gateway's own default tenant: a result, for the wrong client
            args = {k: v for k, v in args.items() if k in schema["properties"]}
            args[old] = DEFAULT_TENANT
        if w.faults.active("toolgate.tool_error"):
            p = self._fire(call, route, "toolgate.tool_error", (None, tool.name))
            if p is not None:
                return _error_result(str(getattr(p, "message", "upstream tool failed")), meta)
        try:
            data = tool.run(w, args)
        except _ToolFailure as e:
            return _error_result(str(e), meta)
        account = call.account_id if call else self._default_account()
        w.record(
            self.svc.name,
            "tool.called",
            account_id=account,
            credential=call.credential if call else None,
            request_id=rid,
            resource_id=data.get("asset_id"),
            content=json.dumps(args, sort_keys=True),
            detail=f"{tool.name} client_id={args['client_id']}",
        )
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(data, separators=(",", ":")))],
            structured_content=data,
            _meta=meta,
        )

    # lifecycle ------------------------------------------------------------------------------
    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run a fresh SDK session manager (one can run only once) while the fakes run."""
        mgr = StreamableHTTPSessionManager(app=self.server, stateless=True, json_response=True)
        async with mgr.run():
            self.managers.append(mgr)
            try:
                yield
            finally:
                self.managers.remove(mgr)


def _change_of(params: BaseModel | None) -> str | None:
    """The change a fired ``toolgate.schema_drift`` rule makes (None: it did not fire)."""
    return None if params is None else str(getattr(params, "change", "rename"))


def _invalid_arguments(schema: Mapping[str, Any], args: Mapping[str, Any]) -> str | None:
    """The first way ``args`` break the tool's (flat, string-only) input schema, or None."""
    props: Mapping[str, Any] = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if name not in args:
            return f"{name!r} is a required property (got arguments {sorted(args)})"
    strict = schema.get("additionalProperties") is False
    for name, value in args.items():
        if name not in props:
            if not strict:
                continue  # ignored, not refused
            return f"additional property {name!r} is not allowed; valid: {sorted(props)}"
        if not isinstance(value, str):
            return f"{name!r} must be a string (got {value!r})"
    return None


def _route_of(method: str, body: bytes) -> str:
    if method != "POST":
        return OTHER_ROUTE
    try:
        msg = json.loads(body)
    except (ValueError, RecursionError):
        return OTHER_ROUTE
    if isinstance(msg, dict) and "id" in msg:
        return ROUTES.get(str(msg.get("method")), OTHER_ROUTE)
    return OTHER_ROUTE


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _Endpoint:
    """The ``/mcp`` ASGI endpoint: route naming, transport faults, the SDK, the journal.

    A class, not a function, so Starlette's ``Route`` passes ASGI calls through unchanged.
    """

    def __init__(self, gw: _Gateway) -> None:
        self.gw = gw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw = self.gw
        svc, w = gw.svc, gw.world
        request = Request(scope, receive)
        body = await request.body()
        route = _route_of(request.method, body)
        cred = svc.credential_of(request)
        account = svc.account_for(cred) or gw._default_account()
        call = Call(
            request, svc.name, route, w.request_id(svc.name), cred, account, started=w.now()
        )
        status = 0

        async def send_(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", call.request_id.encode()),
                    ],
                }
            await send(message)

        try:
            resp: Response | None = None
            if w.faults._by_kind:
                resp = await svc._transport_faults(call)
                if (
                    resp is None
                    and route == "mcp.initialize"
                    and call.fire(w, "toolgate.unavailable")
                ):
                    resp = _EofResponse()
            if resp is None and not gw.managers:
                resp = json_response(
                    {
                        "error": {
                            "message": "toolgate is not running: enter FakeWorld.running() (or serve the fakes)"
                        }
                    },
                    503,
                )
            if resp is not None:
                await resp(scope, _replay(body, receive), send_)
                return
            inner = dict(scope)
            inner[_SCOPE_KEY] = call
            await gw.managers[-1].handle_request(inner, _replay(body, receive), send_)
        except ConnectionDropped:
            status = 0  # the journal's spelling of "no complete response"
            raise
        finally:
            h = request.headers
            rc = h.get("x-stainless-retry-count")
            w.journal.record(
                t=w.now(),
                fake=svc.name,
                method=request.method,
                path=request.url.path,
                route=route,
                status=status,
                account_id=call.account_id,
                request_id=call.request_id,
                retry_count=int(rc) if rc and rc.isdigit() else None,
                idempotency_key=h.get("idempotency-key"),
                fault_id=call.fault.rule_id if call.fault else None,
                fault_kind=call.fault.kind if call.fault else None,
                user_agent=h.get("user-agent"),
                started=call.started,
                traceparent=h.get("traceparent"),
            )


class _EofResponse(Response):
    """Headers, then the connection drops before any body: the client reads EOF."""

    def __init__(self) -> None:
        super().__init__(status_code=200, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"128")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        raise ConnectionDropped('vibedrill fault toolgate.unavailable: calling "initialize": EOF')


def _outage(call: Call, status: int) -> Response:
    return Response(
        f"{status} upstream MCP server unavailable\n", status_code=status, media_type="text/plain"
    )


class McpAsgiTransport(httpx2.AsyncBaseTransport):
    """An ``httpx2`` transport into an ASGI app, for the ``mcp`` SDK's client in-process.

    The SDK talks over ``httpx2``, not ``httpx``, so ``FakeWorld.transport()`` cannot carry it.
    A dropped connection (``http.reset``, ``toolgate.unavailable``) surfaces as the
    ``httpx2.RemoteProtocolError`` a real socket would give, never as the fake's exception.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Any]) -> None:
        self._inner = httpx2.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped as e:
            raise httpx2.RemoteProtocolError(
                f"peer closed connection without sending complete message body ({e})",
                request=request,
            ) from None


def create(world: World) -> FakeService:
    """Build the toolgate fake on ``world``: ``/mcp`` (streamable HTTP) plus its lifespan."""
    svc = FakeService(world, "toolgate", outage_body=_outage)
    gw = _Gateway(world, svc)
    svc.route_names.extend(["mcp.initialize", "mcp.tools_list", "mcp.tools_call", OTHER_ROUTE])
    svc.mount_extra(Route("/mcp", _Endpoint(gw), methods=["GET", "POST", "DELETE"]))
    svc.lifespan = gw.lifespan
    svc.mcp_server = gw.server  # type: ignore[attr-defined]
    return svc
