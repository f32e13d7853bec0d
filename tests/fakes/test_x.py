"""The X fake in-process: wire formats, rate-limit windows, OAuth refresh, ledger and every X fault."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import fakes
from fakes.core import ManualClock, World
from fakes.core.roster import Account
from fakes.x import create

API = "https://api.x.com"
ADMIN = "http://fakes/_fake"
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}
TOO_MANY = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}


class Env:
    """A world with only the X fake, a manual clock and a client on the real hostname."""

    def __init__(self, clock: ManualClock, fw: fakes.FakeWorld, client: httpx.AsyncClient) -> None:
        self.clock, self.fw, self.client = clock, fw, client
        self.world = fw.world
        self.acme, self.northwind = self.world.roster.accounts("x")[:2]
        self.tokens = {a.id: a.credential.access_token for a in (self.acme, self.northwind)}
        self.refresh_tokens = {
            a.id: str(a.credential.refresh_token) for a in (self.acme, self.northwind)
        }

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    def h(self, acc: Account | None = None) -> dict[str, str]:
        return self.auth(self.tokens[(acc or self.acme).id])

    async def renew(self, acc: Account | None = None) -> None:
        """Refresh an account's tokens (after the clock jumped past their two hours)."""
        aid = (acc or self.acme).id
        r = await self.refresh(self.refresh_tokens[aid])
        assert r.status_code == 200, r.text
        self.tokens[aid], self.refresh_tokens[aid] = (
            r.json()["access_token"],
            r.json()["refresh_token"],
        )

    async def post(self, text: str, acc: Account | None = None, **body: Any) -> httpx.Response:
        return await self.client.post(
            f"{API}/2/tweets", json={"text": text, **body}, headers=self.h(acc)
        )

    async def fault(self, kind: str, **spec: Any) -> str:
        r = await self.client.post(f"{ADMIN}/faults", json={"kind": kind, **spec})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def hits(self, kind: str) -> int:
        r = await self.client.get(f"{ADMIN}/faults")
        return sum(f["hits"] for f in r.json()["faults"] if f["kind"] == kind)

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.client.post(
            f"{API}/2/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": "vibedrill-app",
            },
        )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock()
    fw = fakes.FakeWorld(World(now=clock, seed=3), only=["x"])
    async with fw.client() as client:
        yield Env(clock, fw, client)


def custom(**options: Any) -> tuple[ManualClock, World, httpx.AsyncClient]:
    """The X fake alone with non-default options."""
    clock = ManualClock()
    world = World(now=clock, seed=3)
    svc = create(world, **options)
    world.faults.routes["x"] = tuple(svc.route_names)
    return (
        clock,
        world,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=svc.asgi()), base_url=API),
    )


# --- posts ------------------------------------------------------------------------------------


async def test_a_post_is_created_with_a_numeric_id_and_recorded_for_the_credentials_account(
    env: Env,
) -> None:
    r = await env.post("fresh bread at 7")
    assert r.status_code == 201
    data = r.json()["data"]
    assert data["id"].isdigit() and data["text"] == "fresh bread at 7"
    assert data["edit_history_tweet_ids"] == [data["id"]]
    [e] = env.world.ledger.entries(fake="x")
    assert (e.action, e.account_id, e.tenant_id, e.resource_id, e.channel) == (
        "post.created",
        "acme-x",
        "acme",
        data["id"],
        "api",
    )
    assert e.credential_fp and env.acme.credential.access_token not in str(e)
    led = (await env.client.get(f"{ADMIN}/ledger?fake=x&account=acme-x")).json()
    assert led["count"] == 1 and led["entries"][0]["tenant_id"] == "acme"


async def test_a_post_without_text_is_refused_with_an_invalid_request_problem(env: Env) -> None:
    r = await env.client.post(f"{API}/2/tweets", json={}, headers=env.h())
    assert r.status_code == 400
    assert r.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert len(env.world.ledger) == 0


async def test_a_post_is_found_by_id_with_requested_fields(env: Env) -> None:
    tid = (await env.post("hello")).json()["data"]["id"]
    r = await env.client.get(
        f"{API}/2/tweets/{tid}?tweet.fields=author_id,created_at,conversation_id", headers=env.h()
    )
    assert r.json() == {
        "data": {
            "id": tid,
            "text": "hello",
            "edit_history_tweet_ids": [tid],
            "author_id": env.acme.platform_user_id,
            "conversation_id": tid,
            "created_at": "2026-11-27T12:00:00.000Z",
        }
    }


async def test_an_unknown_tweet_field_is_refused_naming_the_value(env: Env) -> None:
    r = await env.client.get(f"{API}/2/tweets/1?tweet.fields=colour", headers=env.h())
    assert r.status_code == 400 and "[colour]" in r.json()["errors"][0]["message"]


async def test_lookup_of_missing_and_deleted_posts_returns_partial_errors_in_a_200(
    env: Env,
) -> None:
    keep = (await env.post("keep")).json()["data"]["id"]
    gone = (await env.post("gone")).json()["data"]["id"]
    d = await env.client.delete(f"{API}/2/tweets/{gone}", headers=env.h())
    assert d.json() == {"data": {"deleted": True}}
    r = await env.client.get(f"{API}/2/tweets", params={"ids": f"{keep},{gone},2"}, headers=env.h())
    assert r.status_code == 200
    body = r.json()
    assert [t["id"] for t in body["data"]] == [keep]
    assert body["errors"][1] == {
        "value": "2",
        "detail": "Could not find tweet with ids: [2].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "ids",
        "resource_id": "2",
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }
    assert body["errors"][0]["resource_id"] == gone


async def test_a_single_lookup_of_a_missing_post_is_a_not_found_partial_error(env: Env) -> None:
    r = await env.client.get(f"{API}/2/tweets/2", headers=env.h())
    assert r.status_code == 200
    assert r.json()["errors"][0]["detail"] == "Could not find tweet with id: [2]."
    assert "data" not in r.json()


async def test_more_than_a_hundred_ids_are_refused(env: Env) -> None:
    ids = ",".join(str(i) for i in range(101))
    r = await env.client.get(f"{API}/2/tweets", params={"ids": ids}, headers=env.h())
    assert r.status_code == 400


async def test_deleting_is_recorded_and_only_the_author_may_delete(env: Env) -> None:
    tid = (await env.post("mine")).json()["data"]["id"]
    other = await env.client.delete(f"{API}/2/tweets/{tid}", headers=env.h(env.northwind))
    assert other.status_code == 403
    ok = await env.client.delete(f"{API}/2/tweets/{tid}", headers=env.h())
    assert ok.json() == {"data": {"deleted": True}}
    again = await env.client.delete(f"{API}/2/tweets/{tid}", headers=env.h())
    assert again.json()["errors"][0]["resource_id"] == tid
    assert [e.action for e in env.world.ledger.entries(fake="x")] == [
        "post.created",
        "post.deleted",
    ]


async def test_a_reply_to_an_inbound_comment_is_recorded_with_in_reply_to(env: Env) -> None:
    tid = (await env.post("new menu")).json()["data"]["id"]
    item = env.world.inbound.schedule(
        "x", "comment", "acme-x", "@acme_x price?", author="@bob", post_id=tid
    )
    r = await env.post("DM us!", reply={"in_reply_to_tweet_id": item.id})
    assert r.status_code == 201
    rid = r.json()["data"]["id"]
    e = env.world.ledger.entries(action="reply.created")[0]
    assert (e.resource_id, e.in_reply_to, e.account_id) == (rid, item.id, "acme-x")
    got = (
        await env.client.get(
            f"{API}/2/tweets/{rid}?tweet.fields=conversation_id,referenced_tweets", headers=env.h()
        )
    ).json()
    assert got["data"]["conversation_id"] == tid
    assert got["data"]["referenced_tweets"] == [{"type": "replied_to", "id": item.id}]


async def test_a_reply_to_a_post_that_does_not_exist_is_refused(env: Env) -> None:
    r = await env.post("hi", reply={"in_reply_to_tweet_id": "42"})
    assert r.status_code == 403
    assert (
        r.json()["detail"]
        == "You attempted to reply to a Tweet that is deleted or not visible to you."
    )


async def test_identical_text_from_the_same_account_is_refused_as_a_duplicate(env: Env) -> None:
    assert (await env.post("same words")).status_code == 201
    again = await env.post("same words")
    assert again.status_code == 403 and again.json() == DUPLICATE
    assert (await env.post("same words", env.northwind)).status_code == 201
    env.clock.advance(86_400)
    await env.renew()
    assert (await env.post("same words")).status_code == 201
    assert len(env.world.ledger.entries(action="post.created")) == 3


# --- rate limits ------------------------------------------------------------------------------


async def test_rate_limit_headers_count_down_per_user_and_endpoint(env: Env) -> None:
    t0 = env.clock()
    a = await env.client.get(f"{API}/2/tweets/1", headers=env.h())
    b = await env.client.get(f"{API}/2/tweets/1", headers=env.h())
    assert (a.headers["x-rate-limit-limit"], a.headers["x-rate-limit-remaining"]) == ("900", "899")
    assert b.headers["x-rate-limit-remaining"] == "898"
    assert b.headers["x-rate-limit-reset"] == str(int(t0 + 900))
    other_route = await env.client.get(f"{API}/2/users/me", headers=env.h())
    assert (
        other_route.headers["x-rate-limit-limit"],
        other_route.headers["x-rate-limit-remaining"],
    ) == ("75", "74")
    other_user = await env.client.get(f"{API}/2/tweets/1", headers=env.h(env.northwind))
    assert other_user.headers["x-rate-limit-remaining"] == "899"


async def test_an_exhausted_window_answers_429_until_it_resets_on_the_injected_clock() -> None:
    clock, world, client = custom(limits={"users.me": 2})
    h = {"authorization": f"Bearer {world.roster.accounts('x')[0].credential.access_token}"}
    async with client:
        for _ in range(2):
            assert (await client.get("/2/users/me", headers=h)).status_code == 200
        r = await client.get("/2/users/me", headers=h)
        assert r.status_code == 429 and r.json() == TOO_MANY
        assert r.headers["x-rate-limit-remaining"] == "0"
        assert r.headers["x-rate-limit-reset"] == str(int(clock() + 900))
        clock.advance(900)
        ok = await client.get("/2/users/me", headers=h)
        assert ok.status_code == 200 and ok.headers["x-rate-limit-remaining"] == "1"


async def test_post_creation_carries_the_24_hour_headers_and_the_daily_cap_answers_429() -> None:
    clock, world, client = custom(user_24h_limit=2)
    h = {"authorization": f"Bearer {world.roster.accounts('x')[0].credential.access_token}"}
    async with client:
        first = await client.post("/2/tweets", json={"text": "one"}, headers=h)
        assert first.headers["x-user-limit-24hour-limit"] == "2"
        assert first.headers["x-user-limit-24hour-remaining"] == "1"
        assert first.headers["x-user-limit-24hour-reset"] == str(int(clock() + 86_400))
        assert (
            first.headers["x-app-limit-24hour-limit"],
            first.headers["x-app-limit-24hour-remaining"],
        ) == ("1667", "1666")
        await client.post("/2/tweets", json={"text": "two"}, headers=h)
        capped = await client.post("/2/tweets", json={"text": "three"}, headers=h)
        assert capped.status_code == 429 and capped.headers["x-user-limit-24hour-remaining"] == "0"
        assert len(world.ledger) == 2
        clock.advance(86_400)
        rt = world.roster.accounts("x")[0].credential.refresh_token
        tok = await client.post(
            "/2/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": rt, "client_id": "app"},
        )
        h = {"authorization": f"Bearer {tok.json()['access_token']}"}
        assert (
            await client.post("/2/tweets", json={"text": "three"}, headers=h)
        ).status_code == 201


def test_unknown_limit_names_are_refused_naming_the_valid_routes() -> None:
    with pytest.raises(ValueError, match=r"'tweets\.post' is not an X route"):
        create(World(now=ManualClock()), limits={"tweets.post": 3})


# --- tokens -----------------------------------------------------------------------------------


async def test_a_missing_or_unknown_token_gets_xs_401(env: Env) -> None:
    none = await env.client.get(f"{API}/2/users/me")
    bad = await env.client.get(f"{API}/2/users/me", headers=env.auth("nope"))
    assert none.status_code == bad.status_code == 401
    assert none.json() == bad.json() == UNAUTHORIZED
    assert "x-rate-limit-limit" not in none.headers


async def test_an_access_token_expires_after_two_hours_and_a_refresh_gives_a_working_one(
    env: Env,
) -> None:
    assert (await env.client.get(f"{API}/2/users/me", headers=env.h())).status_code == 200
    env.clock.advance(7200)
    expired = await env.client.get(f"{API}/2/users/me", headers=env.h())
    assert expired.status_code == 401 and expired.json() == UNAUTHORIZED
    rt = str(env.acme.credential.refresh_token)
    r = await env.refresh(rt)
    assert r.status_code == 200
    tok = r.json()
    assert (tok["token_type"], tok["expires_in"]) == ("bearer", 7200)
    assert "offline.access" in tok["scope"].split() and tok["refresh_token"] != rt
    me = await env.client.get(f"{API}/2/users/me", headers=env.auth(tok["access_token"]))
    assert me.json()["data"] == {
        "id": env.acme.platform_user_id,
        "name": "Acme Bakery",
        "username": "acme_x",
    }
    reused = await env.refresh(rt)
    assert reused.status_code == 400
    assert reused.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }
    env.clock.advance(7200)
    assert (
        await env.client.get(f"{API}/2/users/me", headers=env.auth(tok["access_token"]))
    ).status_code == 401


async def test_the_token_endpoint_requires_a_client_id_and_accepts_basic_auth(env: Env) -> None:
    rt = str(env.acme.credential.refresh_token)
    r = await env.client.post(
        f"{API}/2/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": rt}
    )
    assert r.json() == {
        "error": "invalid_request",
        "error_description": "Missing required parameter [client_id].",
    }
    ok = await env.client.post(
        f"{API}/2/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": rt},
        auth=("vibedrill-app", "secret"),
    )
    assert ok.status_code == 200 and "x-rate-limit-remaining" in ok.headers


# --- mentions, DMs, likes ---------------------------------------------------------------------


async def test_mentions_list_inbound_comments_as_threaded_posts_once_they_arrive(env: Env) -> None:
    tid = (await env.post("launch")).json()["data"]["id"]
    first = env.world.inbound.schedule(
        "x", "comment", "acme-x", "@acme_x love it", author="@bob", post_id=tid
    )
    env.world.inbound.schedule(
        "x", "comment", "acme-x", "@acme_x later", author="@carol", at=env.clock() + 60, post_id=tid
    )
    env.world.inbound.schedule("x", "comment", "northwind-x", "@northwind_x hi", author="@dan")
    url = f"{API}/2/users/{env.acme.platform_user_id}/mentions"
    body = (await env.client.get(url, headers=env.h())).json()
    assert body["data"] == [
        {
            "id": first.id,
            "text": "@acme_x love it",
            "edit_history_tweet_ids": [first.id],
            "author_id": body["includes"]["users"][0]["id"],
            "conversation_id": tid,
            "created_at": "2026-11-27T12:00:00.000Z",
            "in_reply_to_user_id": env.acme.platform_user_id,
            "referenced_tweets": [{"type": "replied_to", "id": tid}],
        }
    ]
    assert body["includes"]["users"][0]["username"] == "bob"
    assert body["meta"] == {"result_count": 1, "newest_id": first.id, "oldest_id": first.id}
    env.clock.advance(60)
    later = (await env.client.get(url, params={"since_id": first.id}, headers=env.h())).json()
    assert [t["text"] for t in later["data"]] == ["@acme_x later"]


async def test_direct_messages_are_sent_recorded_and_listed_with_inbound_ones(env: Env) -> None:
    env.world.inbound.schedule("x", "dm", "acme-x", "is it gluten free?", author="@eve")
    r = await env.client.post(
        f"{API}/2/dm_conversations/with/12345/messages", json={"text": "yes!"}, headers=env.h()
    )
    assert r.status_code == 201
    eid = r.json()["data"]["dm_event_id"]
    assert r.json()["data"]["dm_conversation_id"] == f"12345-{env.acme.platform_user_id}"
    [e] = env.world.ledger.entries(action="dm.sent")
    assert (e.resource_id, e.account_id) == (eid, "acme-x")
    events = (await env.client.get(f"{API}/2/dm_events", headers=env.h())).json()["data"]
    assert {ev["text"] for ev in events} == {"is it gluten free?", "yes!"}
    assert all(ev["event_type"] == "MessageCreate" for ev in events)


async def test_a_like_is_recorded_once_and_only_for_the_tokens_own_user(env: Env) -> None:
    tid = (await env.post("like me", env.northwind)).json()["data"]["id"]
    url = f"{API}/2/users/{env.acme.platform_user_id}/likes"
    for _ in range(2):
        r = await env.client.post(url, json={"tweet_id": tid}, headers=env.h())
        assert r.json() == {"data": {"liked": True}}
    assert [
        (e.account_id, e.resource_id) for e in env.world.ledger.entries(action="like.created")
    ] == [("acme-x", tid)]
    other = await env.client.post(
        f"{API}/2/users/{env.northwind.platform_user_id}/likes",
        json={"tweet_id": tid},
        headers=env.h(),
    )
    assert other.status_code == 403


# --- faults -----------------------------------------------------------------------------------


async def test_rate_limited_fault_serves_problem_json_with_reset_at_now_plus_retry_after(
    env: Env,
) -> None:
    await env.fault("x.rate_limited", params={"retry_after_s": 120}, first_n=1)
    r = await env.post("blocked")
    assert r.status_code == 429 and r.json() == TOO_MANY
    assert r.headers["x-rate-limit-remaining"] == "0"
    reset = r.headers["x-rate-limit-reset"]
    assert reset == str(int(env.clock() + 120))
    env.clock.advance(119)
    early = await env.post("too early")
    assert early.status_code == 429 and early.headers["x-rate-limit-reset"] == reset
    env.clock.advance(1)
    assert (await env.post("through")).status_code == 201
    assert await env.hits("x.rate_limited") == 1
    assert len(env.world.ledger) == 1


async def test_rate_limited_fault_in_v1_style_serves_code_88(env: Env) -> None:
    await env.fault("x.rate_limited", params={"style": "v1"})
    r = await env.client.get(f"{API}/2/users/me", headers=env.h())
    assert r.status_code == 429 and r.json() == {
        "errors": [{"code": 88, "message": "Rate limit exceeded"}]
    }
    assert await env.hits("x.rate_limited") == 1


async def test_rate_limited_fault_on_the_24_hour_window_zeroes_the_daily_headers(env: Env) -> None:
    await env.fault(
        "x.rate_limited",
        params={"window": "24h", "retry_after_s": 3600},
        match={"route": "tweets.create"},
    )
    r = await env.post("daily")
    assert r.status_code == 429
    assert r.headers["x-user-limit-24hour-remaining"] == "0"
    assert r.headers["x-user-limit-24hour-reset"] == str(int(env.clock() + 3600))
    assert await env.hits("x.rate_limited") == 1


async def test_token_expired_fault_answers_401_and_a_refresh_recovers(env: Env) -> None:
    await env.fault("x.token_expired", first_n=1, match={"account": "acme-x"})
    r = await env.client.get(f"{API}/2/users/me", headers=env.h())
    assert r.status_code == 401 and r.json() == UNAUTHORIZED
    assert (await env.refresh(str(env.acme.credential.refresh_token))).status_code == 200
    assert await env.hits("x.token_expired") == 1


async def test_token_revoked_fault_revokes_the_refresh_token_too(env: Env) -> None:
    await env.fault("x.token_revoked", first_n=1)
    r = await env.post("anyone?")
    assert r.status_code == 401 and r.json() == UNAUTHORIZED
    assert (await env.client.get(f"{API}/2/users/me", headers=env.h())).status_code == 401
    refresh = await env.refresh(str(env.acme.credential.refresh_token))
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_request"
    assert await env.hits("x.token_revoked") == 1


async def test_scope_revoked_fault_refuses_writes_with_403(env: Env) -> None:
    await env.fault("x.scope_revoked")
    r = await env.post("write")
    assert r.status_code == 403 and r.json()["title"] == "Forbidden"
    assert (await env.client.get(f"{API}/2/users/me", headers=env.h())).status_code == 200
    assert await env.hits("x.scope_revoked") == 1
    assert len(env.world.ledger) == 0


async def test_a_token_without_the_write_scope_cannot_post(env: Env) -> None:
    env.world.tokens.drop_scope("acme-x", "tweet.write")
    assert (await env.post("nope")).status_code == 403


async def test_post_invisible_fault_accepts_the_post_but_lookups_miss_it_for_a_while(
    env: Env,
) -> None:
    await env.fault("x.post_invisible", params={"for_s": 30}, first_n=1)
    r = await env.post("ghost")
    assert r.status_code == 201
    tid = r.json()["data"]["id"]
    miss = await env.client.get(f"{API}/2/tweets/{tid}", headers=env.h())
    assert miss.status_code == 200 and miss.json()["errors"][0]["resource_id"] == tid
    env.clock.advance(30)
    assert (await env.client.get(f"{API}/2/tweets/{tid}", headers=env.h())).json()["data"][
        "id"
    ] == tid
    assert env.world.ledger.entries(action="post.created")[0].detail == "invisible_for=30s"
    assert await env.hits("x.post_invisible") == 1


async def test_post_invisible_fault_without_a_duration_hides_the_post_forever(env: Env) -> None:
    await env.fault("x.post_invisible")
    tid = (await env.post("never")).json()["data"]["id"]
    env.clock.advance(10 * 86_400)
    await env.renew()
    r = await env.client.get(f"{API}/2/tweets", params={"ids": tid}, headers=env.h())
    assert "data" not in r.json() and r.json()["errors"][0]["resource_id"] == tid
    assert await env.hits("x.post_invisible") == 1


async def test_duplicate_rejected_fault_refuses_a_first_post_with_the_duplicate_body(
    env: Env,
) -> None:
    await env.fault("x.duplicate_rejected", first_n=1)
    r = await env.post("brand new")
    assert r.status_code == 403 and r.json() == DUPLICATE
    assert await env.hits("x.duplicate_rejected") == 1
    assert len(env.world.ledger) == 0


async def test_action_blocked_fault_answers_the_spam_403(env: Env) -> None:
    await env.fault("x.action_blocked")
    r = await env.post("buy now")
    assert r.status_code == 403
    assert r.json()["detail"].startswith("This request looks like it might be automated.")
    assert await env.hits("x.action_blocked") == 1


async def test_reply_echo_fault_draws_a_new_comment_with_the_keyword_after_the_delay(
    env: Env,
) -> None:
    await env.fault("x.reply_echo", params={"keyword": "how much?", "delay_s": 5})
    tid = (await env.post("new")).json()["data"]["id"]
    first = env.world.inbound.schedule(
        "x", "comment", "acme-x", "@acme_x price?", author="@bob", post_id=tid
    )
    rid = (await env.post("DM us", reply={"in_reply_to_tweet_id": first.id})).json()["data"]["id"]
    url = f"{API}/2/users/{env.acme.platform_user_id}/mentions"
    assert len((await env.client.get(url, headers=env.h())).json()["data"]) == 1
    env.clock.advance(5)
    data = (await env.client.get(url, headers=env.h())).json()["data"]
    echo = data[0]
    assert echo["text"] == "@acme_x how much?" and echo["referenced_tweets"] == [
        {"type": "replied_to", "id": rid}
    ]
    assert echo["conversation_id"] == tid and echo["author_id"] != data[1]["author_id"]
    assert env.world.inbound.get(echo["id"]).echo_of == rid  # type: ignore[union-attr]
    assert await env.hits("x.reply_echo") == 1


async def test_duplicate_inbound_fault_lists_each_mention_twice(env: Env) -> None:
    await env.fault("x.duplicate_inbound")
    env.world.inbound.schedule("x", "comment", "acme-x", "@acme_x hi", author="@bob")
    data = (
        await env.client.get(f"{API}/2/users/{env.acme.platform_user_id}/mentions", headers=env.h())
    ).json()["data"]
    assert len(data) == 2 and data[0] == data[1]
    assert await env.hits("x.duplicate_inbound") == 1


async def test_refresh_failed_fault_refuses_a_valid_refresh_token_without_spending_it(
    env: Env,
) -> None:
    await env.fault("x.refresh_failed", params={"error": "invalid_grant"}, first_n=1)
    rt = str(env.acme.credential.refresh_token)
    r = await env.refresh(rt)
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_grant",
        "error_description": "Value passed for the token was invalid.",
    }
    assert (await env.refresh(rt)).status_code == 200
    assert await env.hits("x.refresh_failed") == 1


async def test_usage_capped_fault_answers_the_usage_cap_problem(env: Env) -> None:
    await env.fault("x.usage_capped")
    r = await env.post("capped")
    assert r.status_code == 429
    assert r.json()["type"] == "https://api.twitter.com/2/problems/usage-capped"
    assert r.json()["title"] == "UsageCapExceeded"
    assert await env.hits("x.usage_capped") == 1


async def test_an_outage_serves_xs_problem_body(env: Env) -> None:
    await env.fault("http.outage", params={"status": 503}, match={"fake": "x"})
    r = await env.post("down")
    assert r.status_code == 503
    assert r.json() == {
        "title": "Service Unavailable",
        "type": "about:blank",
        "status": 503,
        "detail": "Service Unavailable",
    }
    assert await env.hits("http.outage") == 1


async def test_reset_forgets_posts_and_windows(env: Env) -> None:
    tid = (await env.post("before reset")).json()["data"]["id"]
    await env.client.post(f"{ADMIN}/reset")
    r = await env.client.get(f"{API}/2/tweets/{tid}", headers=env.h())
    assert "errors" in r.json() and r.headers["x-rate-limit-remaining"] == "899"
    assert (await env.post("before reset")).status_code == 201
