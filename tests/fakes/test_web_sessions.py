"""The social fakes' web UI sessions under ``web.session_crossed``: a session store that hands a
browser another user's session, from a page load on, until the fault's window ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fakes.app import FakeWorld
from fakes.core.clock import ManualClock
from fakes.core.roster import Roster
from fakes.core.world import World

WEB = "http://fakes/x/web"


@pytest.fixture
async def env() -> AsyncIterator[tuple[World, ManualClock, httpx.AsyncClient]]:
    clock = ManualClock()
    world = World(roster=Roster.generate(clients=2, seed=0), now=clock, seed=0)
    async with FakeWorld(world, only=["x"]).client() as http:
        acc = world.roster.account("acme-x")
        r = await http.post(
            f"{WEB}/login", data={"username": acc.handle, "password": acc.credential.access_token}
        )
        assert r.status_code == 303
        yield world, clock, http


def posts_by_account(world: World) -> list[str]:
    return [str(e.account_id) for e in world.ledger.entries(action="post.created")]


async def test_a_crossed_session_serves_and_acts_as_another_user_until_its_window_ends(
    env: tuple[World, ManualClock, httpx.AsyncClient],
) -> None:
    world, clock, http = env
    now = clock()
    world.faults.add(
        {"kind": "web.session_crossed", "match": {"fake": "x"}, "start": now, "end": now + 60}
    )
    # a form posted before any page load is not crossed: the store hands over on a page load
    assert (await http.post(f"{WEB}/compose", data={"text": "first"})).status_code == 303
    page = await http.get(f"{WEB}/home")
    assert "@northwind_x" in page.text and "@acme_x" not in page.text
    assert (await http.post(f"{WEB}/compose", data={"text": "crossed"})).status_code == 303
    assert posts_by_account(world) == ["acme-x", "northwind-x"]
    clock.advance(61)
    page = await http.get(f"{WEB}/home")
    assert "@acme_x" in page.text
    assert (await http.post(f"{WEB}/compose", data={"text": "own again"})).status_code == 303
    assert posts_by_account(world)[-1] == "acme-x"


async def test_a_crossed_session_naming_no_account_of_the_world_hands_over_another_clients(
    env: tuple[World, ManualClock, httpx.AsyncClient],
) -> None:
    world, _clock, http = env
    world.faults.add(
        {
            "kind": "web.session_crossed",
            "match": {"fake": "x"},
            "params": {"as_account": "globex-x"},
        }
    )
    # two clients, acme and northwind: no globex to hand over, so northwind's session
    page = (await http.get(f"{WEB}/home")).text
    assert "@northwind_x" in page and "@globex_x" not in page


async def test_a_reply_made_in_the_web_ui_draws_the_echo_a_reply_through_the_api_does(
    env: tuple[World, ManualClock, httpx.AsyncClient],
) -> None:
    world, clock, http = env
    world.faults.add(
        {
            "kind": "x.reply_echo",
            "match": {"fake": "x"},
            "params": {"keyword": "price?", "delay_s": 5},
        }
    )
    r = await http.post(f"{WEB}/compose", data={"text": "Fresh bread today"})
    assert r.status_code == 303
    tid = r.headers["location"].rsplit("/", 1)[1]
    r = await http.post(f"{WEB}/reply", data={"target_id": tid, "text": "Thanks!"})
    assert r.status_code == 303 and "sent=" in r.headers["location"], r.text
    assert world.inbound.visible("x", account_id="acme-x") == []
    clock.advance(6)
    [echo] = world.inbound.visible("x", account_id="acme-x")
    assert "price?" in echo.text and echo.echo_of is not None
