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


@pytest.mark.slow
def test_an_idle_connection_outlives_an_http_clients_own_keep_alive() -> None:
    # httpx drops an idle pooled connection after 5 s; a server that closes at 5 s too races a
    # request sent on the closing connection ("Server disconnected without sending a response":
    # a fault that was never removed in a served drill). The fakes keep it longer.
    import socket
    from urllib.parse import urlsplit

    with ServedFakes() as doc:
        admin = urlsplit(doc["admin"])
        request = f"GET {admin.path}/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        with socket.create_connection((admin.hostname, admin.port), timeout=5) as sock:
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 ")
            time.sleep(6.0)  # idle past httpx's keep-alive expiry
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):  # b"" here would mean the server hung up
                sock.recv(1, socket.MSG_PEEK)
            sock.setblocking(True)
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 ")
