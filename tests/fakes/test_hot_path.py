"""The fakes' request hot path answers exactly as the plain Starlette calls it replaced.

Each shortcut (issue 15: body read, header map, header append, journal path, the served app's
dispatch, the shared JSON decoder, a fake's remembered route, the in-process transport) is
checked against the call it stands in for, on the inputs where they could differ.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Message, Receive, Scope, Send

from fakes.app import FakeWorld, _FakesApp
from fakes.core.http import Call, FakeService, _path_of, read_body
from fakes.core.jsonbody import loads_body
from fakes.core.world import World


def http_scope(path: str = "/", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "root_path": "",
        "query_string": b"",
        "headers": headers if headers is not None else [(b"host", b"127.0.0.1:8000")],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
    }


def receiver(messages: list[Message]) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    return receive


BODIES: list[list[Message]] = [
    [{"type": "http.request", "body": b'{"text":"one"}', "more_body": False}],
    [{"type": "http.request", "body": b"", "more_body": False}],
    [{"type": "http.request"}],
    [
        {"type": "http.request", "body": b'{"te', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b'xt":"two"}', "more_body": False},
    ],
]


@pytest.mark.parametrize("messages", BODIES)
async def test_read_body_reads_what_request_body_reads_and_leaves_the_request_the_same(
    messages: list[Message],
) -> None:
    ours = Request(http_scope(), receiver(messages))
    theirs = Request(http_scope(), receiver(messages))
    assert await read_body(ours) == await theirs.body()
    # a second read, and the other readers, answer from what was kept
    assert await ours.body() == await theirs.body()
    assert [c async for c in ours.stream()] == [c async for c in theirs.stream()]
    if await theirs.body():
        assert await ours.json() == await theirs.json()
    assert await read_body(ours) == await theirs.body()


async def test_read_body_raises_client_disconnect_like_request_body() -> None:
    msgs: list[Message] = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    ours, theirs = Request(http_scope(), receiver(msgs)), Request(http_scope(), receiver(msgs))
    with pytest.raises(ClientDisconnect):
        await read_body(ours)
    with pytest.raises(ClientDisconnect):
        await theirs.body()
    assert ours._is_disconnected and theirs._is_disconnected
    assert ours._stream_consumed is theirs._stream_consumed


@pytest.mark.parametrize(
    "path",
    [
        "/x/2/tweets",
        "/x/2/tweets/123",
        "//x",
        "/a b",
        "/a?b",
        "/a#b",
        "/a\\b",
        "/a\tb",
        "/a\nb",
        "/caf\u00e9",
        "/%3F",
        "/",
    ],
)
def test_the_journal_path_is_request_url_path(path: str) -> None:
    for headers in ([(b"host", b"127.0.0.1:8000")], [(b"host", b"bad host")], []):
        request = Request(http_scope(path, headers))
        assert _path_of(request) == Request(http_scope(path, headers)).url.path


def service_with_headers(
    extra: dict[str, str], request_id_header: str | None
) -> tuple[FakeService, Call]:
    svc = FakeService(World(), "x", request_id_header=request_id_header)
    call = Call(Request(http_scope()), "x", "r", "req_1", None, None, extra_headers=dict(extra))
    return svc, call


@pytest.mark.parametrize("rid", [None, "x-request-id", "X-Request-ID"])
def test_finish_sets_headers_as_mutable_headers_would(rid: str | None) -> None:
    extra = {"X-Rate-Limit-Limit": "5", "x-rate-limit-remaining": "4", "Content-Type": "a/b"}
    for preset in ({}, {"x-request-id": "handler-set"}, {"X-Rate-Limit-Limit": "9"}):
        ours = Response(b"{}", 200, headers=dict(preset), media_type="application/json")
        theirs = Response(b"{}", 200, headers=dict(preset), media_type="application/json")
        svc, call = service_with_headers(extra, rid)
        svc._finish(call, ours)
        # the plain way, as the pipeline did it before
        if rid and rid not in theirs.headers:
            theirs.headers[rid] = call.request_id
        for k, v in extra.items():
            theirs.headers[k] = v
        assert ours.raw_headers == theirs.raw_headers


class Probe:
    """An ASGI app that remembers the scope it was called with and answers 200."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(dict(scope))
        await JSONResponse({"ok": True})(scope, receive, send)


async def call_app(app: Any, path: str, root_path: str = "") -> int:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = http_scope(path)
    scope["root_path"] = root_path
    await app(scope, receiver([{"type": "http.request", "body": b""}]), send)
    return int(sent[0]["status"])


KEYS = ("path", "root_path", "app_root_path", "path_params", "endpoint", "route", "router", "app")


@pytest.mark.parametrize("path", ["/p/a/b", "/p/", "/p/a%20b", "/q/x", "/p", "/p/a\nb", "/_none"])
async def test_the_served_app_dispatches_a_fake_exactly_as_its_mount_would(path: str) -> None:
    fast_probe, slow_probe = Probe(), Probe()

    async def hello(request: Request) -> Response:
        return JSONResponse({"hello": True})

    def routes(probe: Probe) -> list[Mount]:
        return [Mount("/q", app=Starlette(routes=[Route("/x", hello)])), Mount("/p", app=probe)]

    fast = _FakesApp(routes(fast_probe))
    slow = Starlette(routes=routes(slow_probe))
    assert await call_app(fast, path) == await call_app(slow, path)
    assert len(fast_probe.scopes) == len(slow_probe.scopes)
    for f, s in zip(fast_probe.scopes, slow_probe.scopes, strict=True):
        for key in KEYS:
            fv, sv = f.get(key), s.get(key)
            if key == "app":
                assert (fv is fast) == (sv is slow)
            elif key == "router":
                assert (fv is fast.router) == (sv is slow.router)
            elif key in ("route", "endpoint"):
                assert type(fv) is type(sv)
                assert getattr(fv, "path", None) == getattr(sv, "path", None)
            else:
                assert fv == sv, key
    # under a root path the ordinary router answers
    assert await call_app(fast, "/api/p/a", root_path="/api") == await call_app(
        slow, "/api/p/a", root_path="/api"
    )


async def test_the_served_fakes_answer_a_tweet_post_through_the_fast_dispatch() -> None:
    import httpx

    fw = FakeWorld(World(), only=["x"])
    token = next(a.credential.access_token for a in fw.world.roster.accounts("x"))
    transport = httpx.ASGITransport(app=fw.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        r = await c.post(
            "/x/2/tweets", json={"text": "hello"}, headers={"authorization": f"Bearer {token}"}
        )
    assert r.status_code == 201, r.text
    assert r.headers["x-rate-limit-remaining"].isdigit()
    [entry] = fw.world.journal.entries(fake="x")
    assert (entry.path, entry.route, entry.status) == ("/x/2/tweets", "tweets.create", 201)
    assert len(fw.world.ledger) == 1


@pytest.mark.parametrize(
    "raw",
    [b"\xef\xbb\xbf{}", "\ufeff{}", b"NaN", b"[Infinity]", b"{", b"[" * 65 + b"]" * 65, b"[1] x"],
)
def test_loads_body_refuses_what_it_refused_before_as_a_json_decode_error(
    raw: bytes | str,
) -> None:
    with pytest.raises(json.JSONDecodeError):
        loads_body(raw)


@pytest.mark.parametrize(
    "raw", [b"{}", b'{"a": [1, {"b": "[[[["}]}', "[" * 64 + "]" * 64, b'"\\u00e9"']
)
def test_loads_body_parses_what_json_loads_parses(raw: bytes | str) -> None:
    assert loads_body(raw) == json.loads(raw)


class Recorder:
    """An endpoint that answers 200 and keeps the scope each request reached it with."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def endpoint(self, request: Request) -> Response:
        self.scopes.append(dict(request.scope))
        return JSONResponse(request.path_params)


async def answer(app: Starlette, method: str, path: str) -> list[tuple[Any, Any]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = http_scope(path)
    scope["method"] = method
    await app(scope, receiver([{"type": "http.request", "body": b""}]), send)
    return [(m.get("status"), m.get("body")) for m in sent]


REQUESTS = [
    ("GET", "/a/17"),
    ("DELETE", "/a/17"),
    ("POST", "/a/17"),  # 405: a partial match only
    ("GET", "/a/17/b"),
    ("HEAD", "/a/9"),
    ("GET", "/nope"),  # 404
    ("POST", "/b"),
    ("GET", "/b"),  # 405
    ("GET", "/a/x%20y"),
]


async def test_a_fakes_router_dispatches_every_request_as_starlettes_router_does() -> None:
    from fakes.core.http import _Router

    fast_rec, slow_rec = Recorder(), Recorder()

    def routes(rec: Recorder) -> list[Route]:
        return [
            Route("/a/{id}", rec.endpoint, methods=["GET"]),
            Route("/a/{id}", rec.endpoint, methods=["DELETE"]),
            Route("/a/{id}/b", rec.endpoint, methods=["GET"]),
            Route("/b", rec.endpoint, methods=["POST"]),
        ]

    fast = Starlette(routes=routes(fast_rec))
    fast.router = _Router(routes(fast_rec))
    slow = Starlette(routes=routes(slow_rec))
    slow.router.redirect_slashes = False
    for _ in range(2):  # the second time from what the router remembered
        for method, path in REQUESTS:
            got, want = await answer(fast, method, path), await answer(slow, method, path)
            assert got == want, (method, path)
    assert len(fast_rec.scopes) == len(slow_rec.scopes) == 12
    for f, s in zip(fast_rec.scopes, slow_rec.scopes, strict=True):
        assert f["path_params"] == s["path_params"]
        assert f["route"].path == s["route"].path and f["route"].methods == s["route"].methods
        assert (f["router"] is fast.router) and (s["router"] is slow.router)
        assert (f["app"] is fast) and (s["app"] is slow)
        assert set(f) == set(s)
    # each request got its own path_params (a handler changing them changes no later request's)
    assert fast_rec.scopes[0]["path_params"] is not fast_rec.scopes[6]["path_params"]


class Echo:
    """An ASGI app that keeps its scope and every message it received, then answers."""

    def __init__(self, fail: bool = False) -> None:
        self.scope: Scope = {}
        self.received: list[Message] = []
        self.fail = fail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = dict(scope)
        while True:
            m = await receive()
            self.received.append(m)
            if not m.get("more_body"):
                break
        if self.fail:
            raise RuntimeError("the app broke")
        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b"part,", "more_body": True})
        await send({"type": "http.response.body", "body": b"end"})
        self.received.append(await receive())  # after the response: the disconnect


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "https://api.x.com/2/users/me?x=1&y=%20", None),
        ("POST", "https://api.x.com:8443/p%2Fq/r?z", b'{"a": 1}'),
        ("HEAD", "http://fakes/x/2/tweets", None),
        ("POST", "https://api.x.com/2/tweets", b""),
    ],
)
async def test_the_in_process_transport_sends_and_answers_as_httpx_asgi_transport(
    method: str, url: str, body: bytes | None
) -> None:
    import httpx

    from fakes.routing import InProcessASGI

    mine, theirs = Echo(), Echo()
    request = httpx.Request(method, url, content=body, headers={"X-Mixed": "Case"})
    got = await InProcessASGI(mine).handle_async_request(request)
    want = await httpx.ASGITransport(app=theirs).handle_async_request(request)
    assert mine.scope == theirs.scope
    assert mine.received == theirs.received
    assert (got.status_code, got.headers.raw) == (want.status_code, want.headers.raw)
    assert await got.aread() == await want.aread()
    for app in (Echo(fail=True), Echo(fail=True)):
        with pytest.raises(RuntimeError, match="the app broke"):
            await InProcessASGI(app).handle_async_request(request)


def test_inbound_visible_answers_what_filtering_every_item_answers() -> None:
    """Its per-fake and per-account index gives the same items, in order, and asks ``post_of``
    (which attaches a comment to a post) of the same items as a scan of ``items`` did."""
    from fakes.core.inbound import Inbound

    def scan(ib: Inbound, fake: str, **kw: Any) -> list[Any]:
        t = ib.now()
        return [
            i
            for i in ib.items
            if i.fake == fake
            and i.at <= t
            and (kw.get("account_id") is None or i.account_id == kw["account_id"])
            and (kw.get("post_id") is None or ib.post_of(i) == kw["post_id"])
            and (kw.get("kind") is None or i.kind == kw["kind"])
        ]

    now = [100.0]
    boards = []
    for _ in range(2):
        ib = Inbound(lambda: now[0])
        asked: list[str] = []

        def newest(account: str, at: float, asked: list[str] = asked) -> str:
            asked.append(account)
            return f"post-{account}-{int(at) // 50}"

        ib.resolvers["linkedin"] = newest
        boards.append((ib, asked))
    for ib, _ in boards:
        for n in range(30):
            fake = ("linkedin", "x", "instagram")[n % 3]
            ib.schedule(
                fake,
                "comment" if n % 4 else "dm",
                f"acc{n % 2}",
                f"text {n}",
                at=80.0 + 5 * n,
                post_id=None if n % 5 else f"post-acc{n % 2}-1",
            )
    queries: list[dict[str, Any]] = [
        {},
        {"account_id": "acc1"},
        {"kind": "comment"},
        {"post_id": "post-acc0-2", "kind": "comment"},
        {"account_id": "acc0", "post_id": "post-acc0-1"},
        {"account_id": "nobody"},
    ]
    fast, fast_asked = boards[0]
    slow, slow_asked = boards[1]
    for t in (100.0, 150.0, 300.0):
        now[0] = t
        for fake in ("linkedin", "x", "instagram", "none"):
            for q in queries:
                assert fast.visible(fake, **q) == scan(slow, fake, **q), (t, fake, q)
    assert fast_asked == slow_asked and fast_asked
    fast.clear()
    assert fast.visible("linkedin") == [] and fast.items == []


@pytest.mark.parametrize("bare_case", [str.lower, str.upper, lambda h: "@@" + h.lstrip("@")])
def test_a_linkedin_commenter_urn_is_what_scanning_the_roster_gave(bare_case: Any) -> None:
    import hashlib

    from fakes.core.roster import Roster
    from fakes.linkedin._wire import person_urn_of

    def scanned(name: str, roster: Roster) -> str:
        bare = name.lower().lstrip("@")
        for acc in roster.accounts("linkedin"):
            if acc.handle.lower().lstrip("@") == bare:
                return f"urn:li:person:{acc.platform_user_id}"
        return "urn:li:person:" + hashlib.sha256(bare.encode()).hexdigest()[:10]

    roster = Roster.generate(clients=4)
    names = [bare_case(a.handle) for a in roster.accounts()] + ["@fan", "Fan", "@Ünïcode"]
    for _ in range(2):
        for name in names:
            assert person_urn_of(name, roster) == scanned(name, roster), name
    # only LinkedIn accounts have member URNs; an X handle is a stranger there
    x = roster.accounts("x")[0].handle
    assert person_urn_of(x, roster) == scanned(x, Roster())
