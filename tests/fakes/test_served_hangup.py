"""Served fakes carry out a request whose client hung up: the side effect lands (a real API does
not undo a publish because the caller stopped waiting), and the journal keeps its status."""

from __future__ import annotations

import time

import httpx
import pytest

from fakes import admin_headers
from fakes.serve import ServedFakes

pytestmark = pytest.mark.served


@pytest.mark.slow
def test_a_publish_whose_client_timed_out_during_latency_still_lands() -> None:
    with ServedFakes() as doc:
        admin = httpx.Client(base_url=doc["admin"], headers=admin_headers(None), timeout=10)
        roster = admin.get("/roster", params={"secrets": "1"}).json()
        token = next(
            a["credential"]["access_token"]
            for c in roster["clients"]
            for a in c["accounts"]
            if a["platform"] == "x"
        )
        r = admin.post(
            "/faults",
            json={
                "kind": "http.latency",
                "params": {"ms": 1500},
                "match": {"fake": "x", "route": "tweets.create"},
            },
        )
        assert r.status_code == 201, r.text
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{doc['fakes']['x']}/2/tweets",
                json={"text": "given up on, published anyway"},
                headers={"authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(10, read=0.3),
            )
        deadline = time.monotonic() + 10
        posts: list[dict[str, object]] = []
        while time.monotonic() < deadline and not posts:
            time.sleep(0.1)
            posts = admin.get("/ledger", params={"action": "post.created"}).json()["entries"]
        assert len(posts) == 1
        journal = admin.get("/journal", params={"fake": "x"}).json()["entries"]
        assert [j["status"] for j in journal if j["route"] == "tweets.create"] == [201]
