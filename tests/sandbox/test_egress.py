"""The egress guard allows each service's base URL path only: never the fakes' admin API."""

from __future__ import annotations

import httpx
import pytest

from fakes.serve import ServedFakes
from sandbox.egress import EgressGuard

SERVED_BASES = {
    "x": "/x",
    "openai": "/openai/v1",
    "toolgate": "/toolgate/mcp",
}


class _Echo(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"path": request.url.path})


def _guard(refused: list[str]) -> EgressGuard:
    allowed = [f"http://127.0.0.1:8000{p}" for p in SERVED_BASES.values()]
    allowed.append("https://api.linkedin.com")
    return EgressGuard(_Echo(), allowed, on_refused=lambda _req, msg: refused.append(msg))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x/2/tweets",
        "http://127.0.0.1:8000/openai/v1/chat/completions",
        "http://127.0.0.1:8000/toolgate/mcp",
        "https://api.linkedin.com/rest/posts",
    ],
)
async def test_a_request_under_a_base_url_passes(url: str) -> None:
    refused: list[str] = []
    async with httpx.AsyncClient(transport=_guard(refused)) as http:
        assert (await http.get(url)).status_code == 200
    assert refused == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/_fake/roster?secrets=1", "fakes' admin API"),
        ("http://127.0.0.1:8000/x/_fake/reset", "fakes' admin API"),
        ("http://127.0.0.1:8000/x/%2e%2e/_fake/roster", "dot segments"),
        ("http://127.0.0.1:8000/x/%2E%2E/openai/v1/models", "dot segments"),
        ("http://127.0.0.1:8000/xyz/2/tweets", "under none of"),
        ("http://127.0.0.1:8000/openai/v2/chat", "under none of"),
        ("http://127.0.0.1:8001/x/2/tweets", "is not in the platform's settings"),
        ("https://api.linkedin.com/_fake/ledger", "fakes' admin API"),
    ],
)
async def test_a_request_outside_every_base_url_is_refused_before_it_leaves(
    url: str, why: str
) -> None:
    refused: list[str] = []
    guard = _guard(refused)
    async with httpx.AsyncClient(transport=guard) as http:
        for n in (1, 2):  # decided once per path: the second time from what the guard kept
            with pytest.raises(httpx.ConnectError, match="egress refused") as err:
                await http.get(url)
            assert why in str(err.value)
            assert len(refused) == guard.refused == n
            assert not guard.permits(url)


@pytest.mark.served
async def test_the_platform_cannot_read_the_served_fakes_roster_or_reset_them() -> None:
    with ServedFakes(only=["x"], seed=0) as doc:
        base = doc["fakes"]["x"]
        refused: list[str] = []
        guard = EgressGuard(
            httpx.AsyncHTTPTransport(), [base], on_refused=lambda _r, m: refused.append(m)
        )
        async with httpx.AsyncClient(transport=guard, timeout=5) as http:
            for url in (f"{doc['admin']}/roster?secrets=1", f"{doc['admin']}/reset"):
                with pytest.raises(httpx.ConnectError, match="egress refused"):
                    await http.request("GET" if "roster" in url else "POST", url)
            ok = await http.get(f"{base}/2/users/me")
        assert ok.status_code == 401  # reached the X fake itself (no token sent)
        assert len(refused) == 2
