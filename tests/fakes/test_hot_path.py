"""The fakes' request hot path answers exactly as the plain Starlette calls it replaced.

Each shortcut (issue 15: body read, header map, header append, journal path, the served app's
dispatch, the shared JSON decoder) is checked against the call it stands in for, on the inputs
where they could differ.
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
