"""Requests the fakes do not serve: every one is journaled and answered in the platform's JSON.

In-process, through the fake world's transport on the real hostnames: a path no route has
(404), a method a route lacks (405), a body over the limit (413), a non-JSON body on a JSON
route (415), each read back from ``GET /_fake/journal``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from fakes.app import FakeWorld
from fakes.core.clock import ManualClock
from fakes.core.http import MAX_BODY_BYTES
from fakes.core.roster import Roster
from fakes.core.world import World


@pytest.fixture
async def fw() -> AsyncIterator[tuple[FakeWorld, httpx.AsyncClient]]:
    world = World(roster=Roster.generate(clients=1, seed=0), now=ManualClock(), seed=0)
    f = FakeWorld(world, only=["x", "instagram", "linkedin", "openai", "anthropic", "media"])
    async with f.client() as http:
        yield f, http


def token(f: FakeWorld, account: str) -> dict[str, str]:
    return {"authorization": f"Bearer {f.world.roster.account(account).credential.access_token}"}


def x_404(b: dict[str, Any]) -> bool:
    return b == {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}


def graph(code: int) -> Callable[[dict[str, Any]], bool]:
    return lambda b: b["error"]["code"] == code and b["error"]["fbtrace_id"].startswith("A")


def linkedin(status: int, code: str) -> Callable[[dict[str, Any]], bool]:
    return lambda b: b["status"] == status and b["code"] == code and "message" in b


def openai_invalid_url(b: dict[str, Any]) -> bool:
    return b["error"]["type"] == "invalid_request_error" and "Invalid URL" in b["error"]["message"]


def anthropic(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda b: b["type"] == "error" and b["error"]["type"] == kind


CASES = [
    ("x", "acme-x", "GET", "https://api.x.com/2/spaces/search", 404, x_404),
    ("x", "acme-x", "PUT", "https://api.x.com/2/tweets", 405, lambda b: b["status"] == 405),
    (
        "instagram",
        "acme-instagram",
        "GET",
        "https://graph.facebook.com/v21.0/1/live_media/x",
        400,
        graph(2500),
    ),
    (
        "instagram",
        "acme-instagram",
        "PUT",
        "https://graph.facebook.com/v21.0/123",
        400,
        graph(100),
    ),
    (
        "linkedin",
        "acme-linkedin",
        "GET",
        "https://api.linkedin.com/rest/adAccounts/1",
        404,
        linkedin(404, "NOT_FOUND"),
    ),
    (
        "linkedin",
        "acme-linkedin",
        "PUT",
        "https://api.linkedin.com/rest/posts",
        405,
        linkedin(405, "METHOD_NOT_ALLOWED"),
    ),
    (
        "openai",
        "agency-openai",
        "GET",
        "https://api.openai.com/v1/assistants",
        404,
        openai_invalid_url,
    ),
    (
        "anthropic",
        "agency-anthropic",
        "GET",
        "https://api.anthropic.com/v1/batches",
        404,
        anthropic("not_found_error"),
    ),
]


@pytest.mark.parametrize(("fake", "account", "method", "url", "status", "shape"), CASES)
async def test_an_unserved_request_gets_the_platform_json_error_and_is_journaled(
    fw: tuple[FakeWorld, httpx.AsyncClient],
    fake: str,
    account: str,
    method: str,
    url: str,
    status: int,
    shape: Callable[[dict[str, Any]], bool],
) -> None:
    f, http = fw
    r = await http.request(method, url, headers=token(f, account))
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert shape(r.json()), r.json()
    journal = (await http.get("http://fakes/_fake/journal", params={"fake": fake})).json()
    [row] = journal["entries"]
    assert (row["method"], row["route"], row["status"], row["account_id"]) == (
        method,
        "-",
        status,
        account,
    )


async def test_no_trailing_slash_redirect_ever_echoes_a_token(
    fw: tuple[FakeWorld, httpx.AsyncClient],
) -> None:
    f, http = fw
    tok = f.world.roster.account("acme-x").credential.access_token
    r = await http.get(f"https://api.x.com/2/users/me/?access_token={tok}")
    assert r.status_code == 404 and "location" not in r.headers


@pytest.mark.parametrize(
    ("fake", "account", "url", "check"),
    [
        ("x", "acme-x", "https://api.x.com/2/tweets", lambda b: b["status"] == 413),
        (
            "linkedin",
            "acme-linkedin",
            "https://api.linkedin.com/rest/posts",
            linkedin(413, "REQUEST_TOO_LARGE"),
        ),
        (
            "instagram",
            "acme-instagram",
            "https://graph.facebook.com/v21.0/1/media",
            graph(100),
        ),
    ],
)
async def test_a_body_over_the_limit_gets_the_platform_413_and_is_journaled(
    fw: tuple[FakeWorld, httpx.AsyncClient],
    fake: str,
    account: str,
    url: str,
    check: Callable[[dict[str, Any]], bool],
) -> None:
    f, http = fw
    big = b"a" * (MAX_BODY_BYTES + 1)
    r = await http.post(
        url, content=big, headers={**token(f, account), "content-type": "text/plain"}
    )
    assert r.status_code == 413 and check(r.json())
    [row] = (await http.get("http://fakes/_fake/journal", params={"fake": fake})).json()["entries"]
    assert row["status"] == 413 and row["route"] != "-"
    assert f.world.ledger.entries(fake=fake) == []


@pytest.mark.parametrize(
    ("fake", "account", "url", "check"),
    [
        ("x", "acme-x", "https://api.x.com/2/tweets", lambda b: b["status"] == 415),
        (
            "linkedin",
            "acme-linkedin",
            "https://api.linkedin.com/rest/posts",
            linkedin(415, "UNSUPPORTED_MEDIA_TYPE"),
        ),
    ],
)
async def test_a_form_body_on_a_json_route_gets_the_platform_415(
    fw: tuple[FakeWorld, httpx.AsyncClient],
    fake: str,
    account: str,
    url: str,
    check: Callable[[dict[str, Any]], bool],
) -> None:
    f, http = fw
    headers = {
        **token(f, account),
        "linkedin-version": "202611",
        "x-restli-protocol-version": "2.0.0",
    }
    r = await http.post(url, data={"text": "hello"}, headers=headers)
    assert r.status_code == 415 and check(r.json())
    assert f.world.ledger.entries(fake=fake) == []


@pytest.mark.parametrize(
    ("url", "body", "check"),
    [
        (
            "https://api.x.com/2/tweets",
            b'{"text": ',
            lambda b: b["title"] == "Invalid Request",
        ),
        (
            "https://api.linkedin.com/rest/posts",
            b'{"author": ',
            lambda b: b["status"] == 400 and "JSON" in b["message"],
        ),
    ],
)
async def test_a_malformed_json_body_gets_the_platform_400(
    fw: tuple[FakeWorld, httpx.AsyncClient],
    url: str,
    body: bytes,
    check: Callable[[dict[str, Any]], bool],
) -> None:
    f, http = fw
    acc = "acme-x" if "x.com" in url else "acme-linkedin"
    headers = {
        **token(f, acc),
        "content-type": "application/json",
        "linkedin-version": "202611",
        "x-restli-protocol-version": "2.0.0",
    }
    r = await http.post(url, content=body, headers=headers)
    assert r.status_code == 400 and check(r.json())
