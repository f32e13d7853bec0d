"""The Instagram fake in-process: containers on the injected clock, Graph errors, usage, every fault."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import fakes
from fakes.core import ManualClock, World
from fakes.core.roster import Account
from fakes.instagram import create

G = "https://graph.facebook.com/v21.0"
ADMIN = "http://fakes/_fake"


class Env:
    """A world with only the Instagram fake, a manual clock and a client on graph.facebook.com."""

    def __init__(self, clock: ManualClock, fw: fakes.FakeWorld, client: httpx.AsyncClient) -> None:
        self.clock, self.fw, self.client = clock, fw, client
        self.world = fw.world
        self.acme, self.northwind = self.world.roster.accounts("instagram")[:2]

    def h(self, acc: Account | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {(acc or self.acme).credential.access_token}"}

    @property
    def uid(self) -> str:
        return self.acme.platform_user_id

    async def container(self, caption: str = "fresh bread", acc: Account | None = None) -> str:
        a = acc or self.acme
        r = await self.client.post(
            f"{G}/{a.platform_user_id}/media",
            params={"image_url": "https://cdn.example/bread.jpg", "caption": caption},
            headers=self.h(a),
        )
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    async def publish(self, cid: str, acc: Account | None = None) -> httpx.Response:
        a = acc or self.acme
        return await self.client.post(
            f"{G}/{a.platform_user_id}/media_publish",
            params={"creation_id": cid},
            headers=self.h(a),
        )

    async def published(self, caption: str = "fresh bread") -> str:
        cid = await self.container(caption)
        self.clock.advance(10)
        r = await self.publish(cid)
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    async def status(self, cid: str) -> str:
        r = await self.client.get(
            f"{G}/{cid}", params={"fields": "status_code,status"}, headers=self.h()
        )
        return str(r.json()["status_code"])

    async def fault(self, kind: str, **spec: Any) -> None:
        r = await self.client.post(f"{ADMIN}/faults", json={"kind": kind, **spec})
        assert r.status_code == 201, r.text

    async def hits(self, kind: str) -> int:
        r = await self.client.get(f"{ADMIN}/faults")
        return sum(f["hits"] for f in r.json()["faults"] if f["kind"] == kind)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock()
    fw = fakes.FakeWorld(World(now=clock, seed=5), only=["instagram"])
    async with fw.client() as client:
        yield Env(clock, fw, client)


def error_of(r: httpx.Response) -> dict[str, Any]:
    err: dict[str, Any] = r.json()["error"]
    assert err["fbtrace_id"] and isinstance(err["is_transient"], bool) and err["type"]
    return err


# --- publishing -------------------------------------------------------------------------------


async def test_a_container_moves_from_in_progress_to_finished_then_published(env: Env) -> None:
    cid = await env.container()
    r = await env.client.get(f"{G}/{cid}", params={"fields": "status_code,status"}, headers=env.h())
    assert r.json() == {
        "status_code": "IN_PROGRESS",
        "status": "In Progress: Media is still being processed.",
    }
    env.clock.advance(9.9)
    assert await env.status(cid) == "IN_PROGRESS"
    env.clock.advance(0.1)
    assert await env.status(cid) == "FINISHED"
    pub = await env.publish(cid)
    mid = pub.json()["id"]
    assert pub.status_code == 200 and mid.isdigit() and mid != cid
    assert await env.status(cid) == "PUBLISHED"
    [e] = env.world.ledger.entries(fake="instagram")
    assert (e.action, e.account_id, e.tenant_id, e.resource_id, e.channel) == (
        "post.created",
        "acme-instagram",
        "acme",
        mid,
        "api",
    )


async def test_publishing_before_the_container_is_finished_is_error_9007_2207027(env: Env) -> None:
    cid = await env.container()
    r = await env.publish(cid)
    assert r.status_code == 400
    err = error_of(r)
    assert (err["code"], err["error_subcode"], err["type"], err["is_transient"]) == (
        9007,
        2207027,
        "OAuthException",
        False,
    )
    assert err["error_user_title"] == "Media ID is not available"
    assert len(env.world.ledger) == 0


async def test_an_unpublished_container_expires_after_24_hours(env: Env) -> None:
    cid = await env.container()
    env.clock.advance(86_400)
    assert await env.status(cid) == "EXPIRED"
    assert error_of(await env.publish(cid))["code"] == 9007


async def test_publishing_the_same_container_twice_is_refused(env: Env) -> None:
    cid = await env.container()
    env.clock.advance(10)
    assert (await env.publish(cid)).status_code == 200
    again = await env.publish(cid)
    assert error_of(again)["error_subcode"] == 2207027
    assert len(env.world.ledger) == 1


async def test_the_moving_24_hour_cap_answers_code_9_and_the_quota_endpoint_counts() -> None:
    clock = ManualClock()
    world = World(now=clock, seed=5)
    svc = create(world, publish_limit=2, processing_s=0)
    world.faults.routes["instagram"] = tuple(svc.route_names)
    acc = world.roster.accounts("instagram")[0]
    h = {"authorization": f"Bearer {acc.credential.access_token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=svc.asgi()), base_url=G) as c:

        async def post() -> httpx.Response:
            cid = (
                await c.post(f"/{acc.platform_user_id}/media", params={"image_url": "u"}, headers=h)
            ).json()["id"]
            return await c.post(
                f"/{acc.platform_user_id}/media_publish", params={"creation_id": cid}, headers=h
            )

        assert (await post()).status_code == 200
        clock.advance(3600)
        assert (await post()).status_code == 200
        capped = await post()
        err = error_of(capped)
        assert (err["code"], err["error_subcode"]) == (9, 2207042)
        q = await c.get(
            f"/{acc.platform_user_id}/content_publishing_limit",
            params={"fields": "quota_usage,config"},
            headers=h,
        )
        assert q.json() == {
            "data": [{"quota_usage": 2, "config": {"quota_total": 2, "quota_duration": 86400}}]
        }
        clock.advance(86_400 - 3600)
        assert (await post()).status_code == 200
        assert len(world.ledger) == 3


async def test_a_published_media_is_looked_up_with_its_fields(env: Env) -> None:
    mid = await env.published("hello")
    r = await env.client.get(
        f"{G}/{mid}", params={"fields": "id,caption,permalink,timestamp"}, headers=env.h()
    )
    body = r.json()
    assert body["id"] == mid and body["caption"] == "hello"
    assert body["permalink"].startswith("https://www.instagram.com/p/")
    assert body["timestamp"] == "2026-11-27T12:00:10+0000"
    bad = await env.client.get(f"{G}/{mid}", params={"fields": "colour"}, headers=env.h())
    assert error_of(bad)["code"] == 100 and "(colour)" in error_of(bad)["message"]


async def test_another_accounts_user_id_or_media_is_not_found(env: Env) -> None:
    r = await env.client.post(
        f"{G}/{env.northwind.platform_user_id}/media", params={"image_url": "u"}, headers=env.h()
    )
    err = error_of(r)
    assert (err["code"], err["error_subcode"], err["type"]) == (100, 33, "GraphMethodException")
    mid = await env.published()
    other = await env.client.get(f"{G}/{mid}", headers=env.h(env.northwind))
    assert error_of(other)["error_subcode"] == 33


async def test_a_container_needs_an_image_url(env: Env) -> None:
    r = await env.client.post(f"{G}/{env.uid}/media", params={"caption": "x"}, headers=env.h())
    assert error_of(r)["message"] == "(#100) The parameter image_url is required"


# --- versions, tokens, usage ------------------------------------------------------------------


async def test_any_version_prefix_and_no_prefix_reach_the_same_routes(env: Env) -> None:
    for base in (
        "https://graph.facebook.com/v19.0",
        "https://graph.facebook.com/v23.0",
        "https://graph.facebook.com",
    ):
        r = await env.client.get(
            f"{base}/{env.uid}", params={"fields": "id,username"}, headers=env.h()
        )
        assert r.json() == {"id": env.uid, "username": "acme_instagram"}
    bad = await env.client.get(f"https://graph.facebook.com/vX/{env.uid}", headers=env.h())
    assert error_of(bad)["code"] == 2500


async def test_the_token_is_accepted_from_query_form_or_bearer_and_required(env: Env) -> None:
    tok = env.acme.credential.access_token
    q = await env.client.get(f"{G}/{env.uid}", params={"access_token": tok})
    form = await env.client.post(
        f"{G}/{env.uid}/media", data={"image_url": "u", "access_token": tok}
    )
    assert q.status_code == 200 and form.status_code == 200
    none = await env.client.get(f"{G}/{env.uid}")
    assert (error_of(none)["code"], none.status_code) == (104, 400)
    bad = await env.client.get(f"{G}/{env.uid}", params={"access_token": "nope"})
    assert error_of(bad)["code"] == 190 and "error_subcode" not in bad.json()["error"]
    assert tok not in q.text + form.text + none.text


async def test_a_token_expires_on_the_injected_clock_and_a_refreshed_one_works(env: Env) -> None:
    env.clock.advance(59 * 86_400)
    r = await env.client.get(
        "https://graph.instagram.com/refresh_access_token",
        params={"grant_type": "ig_refresh_token"},
        headers=env.h(),
    )
    new = r.json()
    assert (new["token_type"], new["expires_in"]) == ("bearer", 60 * 86_400)
    env.clock.advance(86_400)
    expired = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    err = error_of(expired)
    assert (err["code"], err["error_subcode"]) == (190, 463)
    assert (
        "Session has expired" in err["message"]
        and "invalid_token" in expired.headers["www-authenticate"]
    )
    ok = await env.client.get(f"{G}/{env.uid}", params={"access_token": new["access_token"]})
    assert ok.status_code == 200


async def test_usage_headers_are_on_every_response_and_count_calls(env: Env) -> None:
    first = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    app = json.loads(first.headers["x-app-usage"])
    assert set(app) == {"call_count", "total_cputime", "total_time"}
    buc = json.loads(first.headers["x-business-use-case-usage"])
    assert list(buc) == [env.uid] and buc[env.uid][0]["type"] == "instagram"
    assert buc[env.uid][0]["estimated_time_to_regain_access"] == 0
    unauth = await env.client.get(f"{G}/{env.uid}")
    assert "x-app-usage" in unauth.headers


async def test_the_account_hourly_limit_answers_80002_with_usage_at_100() -> None:
    clock = ManualClock()
    world = World(now=clock, seed=5)
    svc = create(world, account_calls_per_hour=3)
    acc = world.roster.accounts("instagram")[0]
    h = {"authorization": f"Bearer {acc.credential.access_token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=svc.asgi()), base_url=G) as c:
        for _ in range(3):
            assert (await c.get(f"/{acc.platform_user_id}", headers=h)).status_code == 200
        r = await c.get(f"/{acc.platform_user_id}", headers=h)
        assert (error_of(r)["code"], error_of(r)["is_transient"]) == (80002, True)
        usage = json.loads(r.headers["x-business-use-case-usage"])[acc.platform_user_id][0]
        assert usage["call_count"] == 100 and usage["estimated_time_to_regain_access"] == 60
        clock.advance(3600)
        assert (await c.get(f"/{acc.platform_user_id}", headers=h)).status_code == 200


# --- comments, replies, messages --------------------------------------------------------------


async def test_comments_are_listed_and_a_reply_is_recorded_with_in_reply_to(env: Env) -> None:
    mid = await env.published()
    item = env.world.inbound.schedule(
        "instagram", "comment", "acme-instagram", "price?", author="bob", post_id=mid
    )
    listed = await env.client.get(
        f"{G}/{mid}/comments", params={"fields": "id,text,username"}, headers=env.h()
    )
    assert listed.json() == {"data": [{"id": item.id, "text": "price?", "username": "bob"}]}
    r = await env.client.post(
        f"{G}/{item.id}/replies", params={"message": "DM us"}, headers=env.h()
    )
    rid = r.json()["id"]
    e = env.world.ledger.entries(action="reply.created")[0]
    assert (e.resource_id, e.in_reply_to, e.account_id, e.tenant_id) == (
        rid,
        item.id,
        "acme-instagram",
        "acme",
    )
    nested = await env.client.post(
        f"{G}/{rid}/replies", params={"message": "again"}, headers=env.h()
    )
    assert error_of(nested)["error_subcode"] == 33
    other = await env.client.post(
        f"{G}/{item.id}/replies", params={"message": "hi"}, headers=env.h(env.northwind)
    )
    assert error_of(other)["error_subcode"] == 33
    assert len(env.world.ledger.entries(action="reply.created")) == 1


async def test_a_message_is_sent_and_recorded(env: Env) -> None:
    r = await env.client.post(
        f"{G}/{env.uid}/messages",
        json={"recipient": {"id": "9911"}, "message": {"text": "hi!"}},
        headers=env.h(),
    )
    assert r.json()["recipient_id"] == "9911"
    [e] = env.world.ledger.entries(action="dm.sent")
    assert (e.resource_id, e.account_id, e.detail) == (
        r.json()["message_id"],
        "acme-instagram",
        "to=9911",
    )


# --- faults -----------------------------------------------------------------------------------


async def test_rate_limited_fault_answers_the_throttle_code_with_usage_at_100(env: Env) -> None:
    await env.fault("instagram.rate_limited", params={"code": 17, "retry_after_s": 300})
    r = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    err = error_of(r)
    assert (r.status_code, err["code"], err["message"], err["is_transient"]) == (
        400,
        17,
        "(#17) User request limit reached",
        True,
    )
    assert json.loads(r.headers["x-app-usage"])["call_count"] == 100
    usage = json.loads(r.headers["x-business-use-case-usage"])[env.uid][0]
    assert (usage["call_count"], usage["estimated_time_to_regain_access"]) == (100, 5)
    assert await env.hits("instagram.rate_limited") == 1


async def test_a_throttle_without_headers_names_no_regain_time_and_still_holds(env: Env) -> None:
    await env.fault(
        "instagram.rate_limited", params={"code": 17, "retry_after_s": 300, "headers": False}
    )
    for _ in range(2):  # the first fires the rule, the second meets the hold it set
        r = await env.client.get(f"{G}/{env.uid}", headers=env.h())
        assert (r.status_code, error_of(r)["code"]) == (400, 17)
        # the usage headers go on as ever, counting nothing of this throttle: no regain time
        usage = json.loads(r.headers["x-business-use-case-usage"])[env.uid][0]
        assert (usage["call_count"], usage["estimated_time_to_regain_access"]) == (0, 0)
        assert json.loads(r.headers["x-app-usage"])["call_count"] == 0
        assert "retry-after" not in r.headers
    env.clock.advance(301)
    assert (await env.client.get(f"{G}/{env.uid}", headers=env.h())).status_code == 400  # again
    assert await env.hits("instagram.rate_limited") == 2


async def test_an_own_hourly_limit_raises_call_count_alone_and_throttles_with_80002(
    env: Env,
) -> None:
    await env.fault(
        "instagram.rate_limited",
        params={"calls_per_hour": 10, "code": 80002},
        match={"account": env.acme.id},
    )

    async def usage(r: httpx.Response, uid: str | None = None) -> dict[str, Any]:
        got: dict[str, Any] = json.loads(r.headers["x-business-use-case-usage"])[uid or env.uid][0]
        return got

    seen = []
    for _ in range(10):
        r = await env.client.get(f"{G}/{env.uid}", headers=env.h())
        assert r.status_code == 200, r.text
        seen.append(await usage(r))
        env.clock.advance(60)
    # call_count is the share of the 10 calls; the calls cost no more: cputime and time stay low
    assert [u["call_count"] for u in seen] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert {(u["total_cputime"], u["total_time"]) for u in seen} == {(0, 0)}
    assert seen[-1]["estimated_time_to_regain_access"] == 51  # the first call leaves at T+60m
    # served from 80 % on: three answers near the limit, none throttled yet
    assert await env.hits("instagram.rate_limited") == 3
    r = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    err = error_of(r)
    assert (r.status_code, err["code"], err["is_transient"]) == (400, 80002, True)
    assert err["message"].startswith("There have been too many calls to this Instagram account")
    (last,) = env.world.journal.entries(fake="instagram")[-1:]
    assert last.fault_kind == "instagram.rate_limited" and last.status == 400
    assert all(j.fault_kind is None for j in env.world.journal.entries(fake="instagram")[:-1])
    # another account keeps the usual limit
    other = await env.client.get(
        f"{G}/{env.northwind.platform_user_id}", headers=env.h(env.northwind)
    )
    assert other.status_code == 200
    assert (await usage(other, env.northwind.platform_user_id))["call_count"] == 0
    # a rolling hour (the throttled call counts too): a client that waits the regain time the
    # throttle announced gets in, once enough of the hour's calls have left it
    regain = (await usage(r))["estimated_time_to_regain_access"]
    assert regain == 51  # the second call, at T+1m, leaves at T+61m; this one was at T+10m
    env.clock.advance(regain * 60 - 1)
    assert (await env.client.get(f"{G}/{env.uid}", headers=env.h())).status_code == 400
    env.clock.advance(61)
    r = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    assert r.status_code == 200, r.text


async def test_token_expired_fault_answers_190_463(env: Env) -> None:
    await env.fault("instagram.token_expired", first_n=1)
    r = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    assert (error_of(r)["code"], error_of(r)["error_subcode"]) == (190, 463)
    assert (await env.client.get(f"{G}/{env.uid}", headers=env.h())).status_code == 200
    assert await env.hits("instagram.token_expired") == 1


async def test_token_revoked_fault_answers_190_460_and_the_token_stays_revoked(env: Env) -> None:
    await env.fault("instagram.token_revoked", first_n=1)
    r = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    assert (error_of(r)["code"], error_of(r)["error_subcode"]) == (190, 460)
    later = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    assert error_of(later)["error_subcode"] == 460
    assert all(
        r.revoked for r in env.world.tokens.refresh.values() if r.account_id == "acme-instagram"
    )
    assert await env.hits("instagram.token_revoked") == 1


async def test_scope_revoked_fault_refuses_writes_with_403_code_10(env: Env) -> None:
    await env.fault("instagram.scope_revoked")
    r = await env.client.post(f"{G}/{env.uid}/media", params={"image_url": "u"}, headers=env.h())
    assert (r.status_code, error_of(r)["code"]) == (403, 10)
    assert await env.hits("instagram.scope_revoked") == 1


@pytest.mark.parametrize("code,status", [(2, 400), (1, 500)])
async def test_graph_error_fault_fails_the_call_with_a_transient_error_and_no_subcode(
    env: Env, code: int, status: int
) -> None:
    mid = await env.published()
    await env.fault("instagram.graph_error", params={"code": code, "status": status})
    r = await env.client.get(f"{G}/{mid}", headers=env.h())
    err = error_of(r)
    assert r.status_code == status
    assert (err["code"], err["is_transient"], "error_subcode" in err) == (code, True, False)
    assert err["fbtrace_id"]
    assert await env.hits("instagram.graph_error") == 1


async def test_post_invisible_fault_returns_a_media_id_that_lookups_miss_for_a_while(
    env: Env,
) -> None:
    await env.fault("instagram.post_invisible", params={"for_s": 60})
    mid = await env.published()
    miss = await env.client.get(f"{G}/{mid}", headers=env.h())
    assert error_of(miss)["error_subcode"] == 33
    env.clock.advance(60)
    assert (await env.client.get(f"{G}/{mid}", headers=env.h())).json() == {"id": mid}
    assert "invisible_for=60s" in str(env.world.ledger.entries()[0].detail)
    assert await env.hits("instagram.post_invisible") == 1


async def test_duplicate_rejected_fault_answers_code_506(env: Env) -> None:
    await env.fault("instagram.duplicate_rejected")
    cid = await env.container()
    env.clock.advance(10)
    r = await env.publish(cid)
    assert error_of(r)["code"] == 506 and len(env.world.ledger) == 0
    assert await env.hits("instagram.duplicate_rejected") == 1


async def test_action_blocked_fault_answers_4_2207051(env: Env) -> None:
    await env.fault("instagram.action_blocked")
    cid = await env.container()
    env.clock.advance(10)
    err = error_of(await env.publish(cid))
    assert (err["code"], err["error_subcode"], err["error_user_title"]) == (
        4,
        2207051,
        "Action is blocked",
    )
    assert await env.hits("instagram.action_blocked") == 1


async def test_reply_echo_fault_draws_a_new_comment_on_the_same_media(env: Env) -> None:
    await env.fault("instagram.reply_echo", params={"keyword": "price?", "delay_s": 5})
    mid = await env.published()
    item = env.world.inbound.schedule(
        "instagram", "comment", "acme-instagram", "price?", author="bob", post_id=mid
    )
    rid = (
        await env.client.post(
            f"{G}/{item.id}/replies", params={"message": "DM us"}, headers=env.h()
        )
    ).json()["id"]
    url = f"{G}/{mid}/comments"
    assert len((await env.client.get(url, headers=env.h())).json()["data"]) == 1
    env.clock.advance(5)
    data = (
        await env.client.get(url, params={"fields": "id,text,username"}, headers=env.h())
    ).json()["data"]
    assert [d["text"] for d in data] == ["price?", "price?"] and data[0]["username"] != "bob"
    echo = env.world.inbound.get(data[0]["id"])
    assert echo is not None and echo.echo_of == rid
    assert await env.hits("instagram.reply_echo") == 1


async def test_duplicate_inbound_fault_lists_each_comment_twice(env: Env) -> None:
    await env.fault("instagram.duplicate_inbound")
    mid = await env.published()
    env.world.inbound.schedule(
        "instagram", "comment", "acme-instagram", "hi", author="bob", post_id=mid
    )
    data = (await env.client.get(f"{G}/{mid}/comments", headers=env.h())).json()["data"]
    assert len(data) == 2 and data[0] == data[1]
    assert await env.hits("instagram.duplicate_inbound") == 1


async def test_container_stuck_fault_keeps_a_container_in_progress_for_its_duration(
    env: Env,
) -> None:
    await env.fault("instagram.container_stuck", params={"for_s": 600}, first_n=1)
    cid = await env.container()
    env.clock.advance(599)
    assert await env.status(cid) == "IN_PROGRESS"
    env.clock.advance(1)
    assert await env.status(cid) == "FINISHED"
    assert await env.hits("instagram.container_stuck") == 1


async def test_container_stuck_fault_without_a_duration_ends_in_expired(env: Env) -> None:
    await env.fault("instagram.container_stuck")
    cid = await env.container()
    env.clock.advance(86_399)
    assert await env.status(cid) == "IN_PROGRESS"
    env.clock.advance(1)
    assert await env.status(cid) == "EXPIRED"
    assert await env.hits("instagram.container_stuck") == 1


async def test_container_error_fault_ends_the_container_in_error(env: Env) -> None:
    await env.fault("instagram.container_error")
    cid = await env.container()
    env.clock.advance(10)
    r = await env.client.get(f"{G}/{cid}", params={"fields": "status_code,status"}, headers=env.h())
    assert r.json()["status_code"] == "ERROR" and r.json()["status"].startswith("Error:")
    assert error_of(await env.publish(cid))["code"] == 9007
    assert await env.hits("instagram.container_error") == 1


async def test_a_post_its_owner_deletes_answers_code_100_and_leaves_the_list_unless_listed(
    env: Env,
) -> None:
    await env.fault("instagram.post_deleted", params={"after_s": 60}, first_n=1)
    gone = await env.published("deleted by hand")
    await env.fault("instagram.post_deleted", params={"after_s": 60, "listed": True}, first_n=1)
    stale = await env.published("deleted, still listed")
    kept = await env.published("still here")

    async def listed() -> list[str]:
        r = await env.client.get(f"{G}/{env.uid}/media", headers=env.h())
        return [m["id"] for m in r.json()["data"]]

    assert await listed() == [kept, stale, gone]
    env.clock.advance(61)
    assert await listed() == [kept, stale]
    for mid in (gone, stale):
        for url in (f"{G}/{mid}", f"{G}/{mid}/comments"):
            r = await env.client.get(url, headers=env.h())
            assert (r.status_code, error_of(r)["code"]) == (400, 100)
    assert (await env.client.get(f"{G}/{kept}/comments", headers=env.h())).status_code == 200


async def test_an_outage_serves_a_transient_graph_error(env: Env) -> None:
    await env.fault("http.outage", params={"status": 500}, match={"fake": "instagram"})
    r = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    err = error_of(r)
    assert (r.status_code, err["code"], err["is_transient"]) == (500, 2, True)
    assert await env.hits("http.outage") == 1


async def test_the_user_media_edge_lists_the_accounts_own_media_newest_first(env: Env) -> None:
    first = await env.published("first loaf")
    env.clock.advance(60)
    second = await env.published("second loaf")
    r = await env.client.get(
        f"{G}/{env.uid}/media", params={"fields": "id,caption,permalink"}, headers=env.h()
    )
    assert r.status_code == 200, r.text
    rows = r.json()["data"]
    assert [row["id"] for row in rows] == [second, first]
    assert rows[0]["caption"] == "second loaf" and rows[0]["permalink"].startswith("https://")
    assert set(rows[0]) == {"id", "caption", "permalink"}
    other = await env.client.get(f"{G}/{env.uid}/media", headers=env.h(env.northwind))
    assert other.status_code != 200, "another account's media must not be listed"
    limited = await env.client.get(f"{G}/{env.uid}/media", params={"limit": 1}, headers=env.h())
    assert [row["id"] for row in limited.json()["data"]] == [second]


async def test_an_app_hourly_limit_with_code_4_counts_every_accounts_calls_in_x_app_usage(
    env: Env,
) -> None:
    # the app's budget shared with another tool: every account's calls count towards it, over a
    # rolling hour, and the call beyond it is Graph's app throttle (code 4) for whichever account
    await env.fault("instagram.rate_limited", params={"calls_per_hour": 4, "code": 4})
    pct = []
    for acc in (env.acme, env.northwind, env.acme, env.northwind):
        r = await env.client.get(f"{G}/{acc.platform_user_id}", headers=env.h(acc))
        assert r.status_code == 200, r.text
        pct.append(json.loads(r.headers["x-app-usage"])["call_count"])
        env.clock.advance(60)
    assert pct == [25, 50, 75, 100]
    r = await env.client.get(f"{G}/{env.uid}", headers=env.h())
    err = error_of(r)
    assert (r.status_code, err["code"]) == (400, 4)
    # served from 80 % of the app's limit on: the call that took it to 100 %, the one beyond it
    assert await env.hits("instagram.rate_limited") == 2
    # no account's own limit moved: the business-use-case usage stays low
    usage = json.loads(r.headers["x-business-use-case-usage"])[env.uid][0]
    assert usage["call_count"] < 100
    env.clock.advance(3600)
    assert (await env.client.get(f"{G}/{env.uid}", headers=env.h())).status_code == 200
