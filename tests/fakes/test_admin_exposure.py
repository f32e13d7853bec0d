"""The served admin API cannot be driven by a web page, and hostile bodies get 4xx, never 500.

Each test replays an attack that once worked against ``vibedrill serve`` on loopback: a
DNS-rebinding page reading ``/_fake/roster?secrets=1`` with a foreign ``Host``; a cross-origin
``text/plain`` POST resetting the ledger; ``start: Infinity``, ``first_n: 1e38`` and 20,000 rules
in one request; a 1 MB value echoed twice in the error; a 100,000-deep array answered with 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fakes import admin_headers
from fakes.serve import ServedFakes

pytestmark = pytest.mark.served

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def doc() -> Iterator[dict[str, Any]]:
    with ServedFakes(seed=0) as d:
        yield d


@pytest.fixture
def admin(doc: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=doc["admin"], timeout=10, headers=admin_headers()) as c:
        c.post("/reset").raise_for_status()
        yield c


def test_a_foreign_host_header_cannot_read_the_secrets(doc: dict[str, Any]) -> None:
    r = httpx.get(
        f"{doc['admin']}/roster", params={"secrets": "1"}, headers={"host": "evil.example:80"}
    )
    assert r.status_code == 421
    assert "access_token" not in r.text and "evil.example" in r.json()["error"]["message"]


def test_loopback_names_are_answered(doc: dict[str, Any]) -> None:
    port = httpx.URL(doc["admin"]).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert httpx.get(f"{doc['admin']}/health", headers={"host": host}).status_code == 200


def test_a_cross_origin_text_plain_post_cannot_install_faults_or_reset(
    doc: dict[str, Any], admin: httpx.Client
) -> None:
    simple = {"content-type": "text/plain", "origin": "https://evil.example"}
    r = httpx.post(f"{doc['admin']}/faults", content=b'{"kind": "http.outage"}', headers=simple)
    assert r.status_code == 403 and "x-vibedrill-admin" in r.json()["error"]["message"]
    assert httpx.post(f"{doc['admin']}/reset", headers=simple).status_code == 403
    assert admin.get("/faults").json()["faults"] == []


def test_a_non_json_body_is_refused_even_with_the_header(doc: dict[str, Any]) -> None:
    r = httpx.post(
        f"{doc['admin']}/faults",
        content=b'{"kind": "http.outage"}',
        headers={**admin_headers(), "content-type": "text/plain"},
    )
    assert r.status_code == 415


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"kind": "http.outage", "start": Infinity}', "not JSON"),
        (b'{"kind": "http.outage", "first_n": 1e38}', "within"),
        (b'{"kind": "http.outage", "params": {"status": NaN}}', "not JSON"),
    ],
)
def test_fault_numbers_must_be_finite_and_bounded(
    admin: httpx.Client, body: bytes, needle: str
) -> None:
    r = admin.post("/faults", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert needle in r.json()["error"]["message"]
    assert admin.get("/faults").json()["faults"] == []


def test_twenty_thousand_rules_in_one_request_are_refused(admin: httpx.Client) -> None:
    rules = [{"kind": "http.latency"}] * 20_000
    r = admin.post("/faults", json=rules)
    assert r.status_code == 422 and "rules per request" in r.json()["error"]["message"]
    assert admin.get("/faults").json()["faults"] == []


def test_a_megabyte_value_does_not_come_back_in_the_error(admin: httpx.Client) -> None:
    r = admin.post("/faults", json={"kind": "x" * 1_000_000})
    assert r.status_code == 422
    assert len(r.content) < 2048


def test_deeply_nested_json_gets_4xx_on_the_admin_api(admin: httpx.Client) -> None:
    r = admin.post("/faults", content=DEEP, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "nested deeper" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("fake", "path"),
    [
        ("x", "/2/tweets"),
        ("linkedin", "/rest/posts"),
        ("openai", "/chat/completions"),
        ("anthropic", "/v1/messages"),
        ("media", "/v1/renders"),
    ],
)
def test_deeply_nested_json_gets_the_fakes_own_4xx(
    doc: dict[str, Any], admin: httpx.Client, fake: str, path: str
) -> None:
    roster = admin.get("/roster", params={"secrets": "1"}).json()
    tokens = {
        a["platform"]: a["credential"]["access_token"]
        for c in roster["clients"]
        for a in c["accounts"]
    }
    token = tokens[fake]
    r = httpx.post(
        doc["fakes"][fake] + path,
        content=DEEP,
        headers={
            "authorization": f"Bearer {token}",
            "content-type": "application/json",
            "x-api-key": token,
            "anthropic-version": "2023-06-01",
        },
        timeout=10,
    )
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json")


def test_served_fakes_run_on_uvloop_where_it_is_installed() -> None:
    import asyncio

    import uvloop

    from fakes.serve import new_server_loop

    loop = new_server_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()
