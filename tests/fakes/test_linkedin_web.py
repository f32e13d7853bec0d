"""The LinkedIn fake's web UI: log in, post, read back through the API, reply, like, delete.

In-process, through the fake world's transport; side effects land in the same ledger as the
API's, with ``channel="web"``, and the API sees what the web made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote

import httpx
import pytest

from fakes.app import FakeWorld
from fakes.core.clock import ManualClock
from fakes.core.roster import Roster
from fakes.core.world import World

WEB = "http://fakes/linkedin/web"
API = "https://api.linkedin.com"
ACC = "acme-linkedin"


@pytest.fixture
async def env() -> AsyncIterator[tuple[World, httpx.AsyncClient]]:
    world = World(roster=Roster.generate(clients=1, seed=0), now=ManualClock(), seed=0)
    fw = FakeWorld(world, only=["linkedin"])
    async with fw.client() as http:
        yield world, http


async def login(world: World, http: httpx.AsyncClient) -> None:
    acc = world.roster.account(ACC)
    r = await http.post(
        f"{WEB}/login",
        data={"username": acc.handle, "password": acc.credential.access_token},
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/web/home")


def api_headers(world: World) -> dict[str, str]:
    tok = world.roster.account(ACC).credential.access_token
    return {
        "authorization": f"Bearer {tok}",
        "linkedin-version": "202611",
        "x-restli-protocol-version": "2.0.0",
    }


async def test_a_post_made_in_the_web_ui_is_the_post_the_api_finds(
    env: tuple[World, httpx.AsyncClient],
) -> None:
    world, http = env
    await login(world, http)
    r = await http.post(f"{WEB}/compose", data={"text": "Hiring bakers"})
    assert r.status_code == 303
    urn = unquote(r.headers["location"].rsplit("/post/", 1)[1])
    page = await http.get(f"{WEB}/post/{urn}")
    assert page.status_code == 200 and "Hiring bakers" in page.text and "LinkedIn" in page.text
    got = await http.get(f"{API}/rest/posts/{urn}", headers=api_headers(world))
    assert got.status_code == 200 and got.json()["commentary"] == "Hiring bakers"
    dup = await http.post(f"{WEB}/compose", data={"text": "Hiring bakers"})
    assert dup.status_code == 400 and "already posted" in dup.text
    [row] = world.ledger.entries(fake="linkedin")
    assert (row.action, row.resource_id, row.account_id, row.channel) == (
        "post.created",
        urn,
        ACC,
        "web",
    )


async def test_replies_likes_and_deletes_from_the_web_ui_reach_the_api_and_the_ledger(
    env: tuple[World, httpx.AsyncClient],
) -> None:
    world, http = env
    await login(world, http)
    r = await http.post(f"{WEB}/compose", data={"text": "Open day Friday"})
    urn = unquote(r.headers["location"].rsplit("/post/", 1)[1])
    item = world.inbound.schedule("linkedin", "comment", ACC, "What time?", "Pat Doe", post_id=urn)
    inbox = await http.get(f"{WEB}/inbox")
    assert "What time?" in inbox.text
    rep = await http.post(f"{WEB}/reply", data={"target_id": item.id, "text": "From 10 am"})
    assert rep.status_code == 303
    comments = await http.get(
        f"{API}/rest/socialActions/{urn}/comments", headers=api_headers(world)
    )
    texts = [c["message"]["text"] for c in comments.json()["elements"]]
    assert texts == ["What time?", "From 10 am"]
    assert (await http.post(f"{WEB}/like", data={"post_id": urn})).status_code == 303
    assert (await http.post(f"{WEB}/delete", data={"post_id": urn})).status_code == 303
    gone = await http.get(f"{API}/rest/posts/{urn}", headers=api_headers(world))
    assert gone.status_code == 404
    actions = [(e.action, e.channel) for e in world.ledger.entries(fake="linkedin")]
    assert actions == [
        ("post.created", "web"),
        ("reply.created", "web"),
        ("like.created", "web"),
        ("post.deleted", "web"),
    ]


async def test_the_web_ui_refuses_a_login_with_a_wrong_credential(
    env: tuple[World, httpx.AsyncClient],
) -> None:
    world, http = env
    acc = world.roster.account(ACC)
    r = await http.post(f"{WEB}/login", data={"username": acc.handle, "password": "nope"})
    assert r.status_code == 401 and "Wrong username or password" in r.text
    assert (await http.get(f"{WEB}/home")).status_code == 303
