"""The LinkedIn fake in-process: versions, Rest.li errors, posts, comments, daily limits, every fault."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import fakes
from fakes.core import ManualClock, World
from fakes.core.roster import Account
from fakes.linkedin import create

API = "https://api.linkedin.com"
ADMIN = "http://fakes/_fake"
VERSION = "202610"


class Env:
    """A world with only the LinkedIn fake, a manual clock and a client on api.linkedin.com."""

    def __init__(self, clock: ManualClock, fw: fakes.FakeWorld, client: httpx.AsyncClient) -> None:
        self.clock, self.fw, self.client = clock, fw, client
        self.world = fw.world
        self.acme, self.northwind = self.world.roster.accounts("linkedin")[:2]

    def h(self, acc: Account | None = None, version: str | None = VERSION) -> dict[str, str]:
        out = {
            "authorization": f"Bearer {(acc or self.acme).credential.access_token}",
            "x-restli-protocol-version": "2.0.0",
        }
        if version is not None:
            out["linkedin-version"] = version
        return out

    @staticmethod
    def person(acc: Account) -> str:
        return f"urn:li:person:{acc.platform_user_id}"

    async def post(
        self, text: str = "We are hiring bakers", acc: Account | None = None, **headers: str
    ) -> httpx.Response:
        a = acc or self.acme
        body = {
            "author": self.person(a),
            "commentary": text,
            "visibility": "PUBLIC",
            "lifecycleState": "PUBLISHED",
        }
        return await self.client.post(
            f"{API}/rest/posts", json=body, headers={**self.h(a), **headers}
        )

    async def posted(self, text: str = "We are hiring bakers") -> str:
        r = await self.post(text)
        assert r.status_code == 201, r.text
        return r.headers["x-restli-id"]

    async def comment(self, target: str, text: str = "Thanks!", **body: Any) -> httpx.Response:
        payload = {
            "actor": self.person(self.acme),
            "object": target,
            "message": {"text": text},
            **body,
        }
        return await self.client.post(
            f"{API}/rest/socialActions/{quote(target)}/comments", json=payload, headers=self.h()
        )

    async def fault(self, kind: str, **spec: Any) -> None:
        r = await self.client.post(f"{ADMIN}/faults", json={"kind": kind, **spec})
        assert r.status_code == 201, r.text

    async def hits(self, kind: str) -> int:
        r = await self.client.get(f"{ADMIN}/faults")
        return sum(f["hits"] for f in r.json()["faults"] if f["kind"] == kind)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock()
    fw = fakes.FakeWorld(World(now=clock, seed=9), only=["linkedin"])
    async with fw.client() as client:
        yield Env(clock, fw, client)


def assert_error(r: httpx.Response, status: int, service_code: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = r.json()
    assert r.status_code == status == body["status"], r.text
    assert isinstance(body["message"], str) and isinstance(body["serviceErrorCode"], int)
    if service_code is not None:
        assert body["serviceErrorCode"] == service_code
    return body


# --- posts ------------------------------------------------------------------------------------


async def test_a_post_is_created_with_its_urn_in_the_restli_id_header_and_recorded(
    env: Env,
) -> None:
    r = await env.post()
    assert r.status_code == 201 and r.content == b""
    urn = r.headers["x-restli-id"]
    assert urn.startswith("urn:li:share:")
    [e] = env.world.ledger.entries(fake="linkedin")
    assert (e.action, e.account_id, e.tenant_id, e.resource_id, e.channel) == (
        "post.created",
        "acme-linkedin",
        "acme",
        urn,
        "api",
    )
    got = await env.client.get(f"{API}/rest/posts/{quote(urn)}", headers=env.h())
    body = got.json()
    assert (body["id"], body["author"], body["commentary"], body["lifecycleState"]) == (
        urn,
        env.person(env.acme),
        "We are hiring bakers",
        "PUBLISHED",
    )
    assert body["createdAt"] == int(env.clock() * 1000)


async def test_a_post_is_deleted_by_its_author_only(env: Env) -> None:
    urn = await env.posted()
    other = await env.client.delete(f"{API}/rest/posts/{quote(urn)}", headers=env.h(env.northwind))
    assert_error(other, 403, 100)
    r = await env.client.delete(f"{API}/rest/posts/{quote(urn)}", headers=env.h())
    assert r.status_code == 204
    assert_error(await env.client.get(f"{API}/rest/posts/{quote(urn)}", headers=env.h()), 404)
    assert [e.action for e in env.world.ledger.entries()] == ["post.created", "post.deleted"]


async def test_posting_as_another_member_is_refused(env: Env) -> None:
    body = {
        "author": env.person(env.northwind),
        "commentary": "hi",
        "visibility": "PUBLIC",
        "lifecycleState": "PUBLISHED",
    }
    r = await env.client.post(f"{API}/rest/posts", json=body, headers=env.h())
    assert "Not enough permissions" in assert_error(r, 403, 100)["message"]
    assert len(env.world.ledger) == 0


async def test_a_post_without_an_author_is_a_422(env: Env) -> None:
    r = await env.client.post(f"{API}/rest/posts", json={"commentary": "x"}, headers=env.h())
    assert assert_error(r, 422)["message"].startswith("ERROR :: /author ::")


async def test_identical_commentary_is_refused_as_a_duplicate(env: Env) -> None:
    urn = await env.posted("same")
    r = await env.post("same")
    assert assert_error(r, 422)["message"] == f"Content is a duplicate of {urn}"


# --- versions and protocol --------------------------------------------------------------------


async def test_a_missing_version_header_is_a_400_version_missing(env: Env) -> None:
    r = await env.client.post(f"{API}/rest/posts", json={}, headers=env.h(version=None))
    assert assert_error(r, 400)["code"] == "VERSION_MISSING"


@pytest.mark.parametrize("version", ["202511", "202201", "202612", "2026-10", "202613"])
async def test_an_inactive_or_malformed_version_is_a_426(env: Env, version: str) -> None:
    r = await env.post(**{"linkedin-version": version})
    body = assert_error(r, 426)
    assert body == {
        "message": f"Requested version {version} is not active",
        "serviceErrorCode": 0,
        "status": 426,
        "code": "NONEXISTENT_VERSION",
    }


async def test_versions_age_out_as_the_injected_clock_moves(env: Env) -> None:
    assert (await env.post("one", **{"linkedin-version": "202512"})).status_code == 201
    env.clock.advance(5 * 86_400)
    assert (await env.post("two", **{"linkedin-version": "202512"})).status_code == 426
    assert (await env.post("two", **{"linkedin-version": "202612.01"})).status_code == 201


async def test_a_withdrawn_version_is_a_426_while_older_versions_still_answer(env: Env) -> None:
    # by default the version withdrawn is the month before the current one: what a client that
    # picks its version by the calendar sends
    await env.fault("linkedin.version_withdrawn")
    body = assert_error(await env.post("one"), 426)
    assert body["code"] == "NONEXISTENT_VERSION"
    assert (await env.post("two", **{"linkedin-version": "202609"})).status_code == 201
    # a named version is withdrawn instead, and the month before answers again
    await env.fault("linkedin.version_withdrawn", params={"version": "202609"})
    assert (await env.post("three", **{"linkedin-version": "202608"})).status_code == 201
    assert assert_error(await env.post("four", **{"linkedin-version": "202609"}), 426)


async def test_writes_need_the_restli_protocol_2_header(env: Env) -> None:
    r = await env.post(**{"x-restli-protocol-version": "1.0.0"})
    assert "2.0.0" in assert_error(r, 400)["message"]


# --- tokens and limits ------------------------------------------------------------------------


async def test_missing_invalid_and_expired_tokens_get_linkedins_401s(env: Env) -> None:
    none = await env.client.get(f"{API}/rest/posts/x", headers={"linkedin-version": VERSION})
    assert_error(none, 401, 65604)
    bad = await env.client.get(
        f"{API}/rest/posts/x", headers={**env.h(), "authorization": "Bearer nope"}
    )
    assert_error(bad, 401, 65600)
    env.clock.advance(60 * 86_400)
    expired = await env.post(**{"linkedin-version": "202612"})
    assert (
        assert_error(expired, 401, 65602)["message"] == "The token used in the request has expired"
    )


async def test_the_daily_member_limit_answers_429_without_rate_headers_and_resets_at_midnight_utc() -> (
    None
):
    clock = ManualClock(1_795_824_000.0 - 60)  # 2026-11-27T23:59:00Z
    world = World(now=clock, seed=9)
    svc = create(world, member_daily={"posts.create": 2})
    world.faults.routes["linkedin"] = tuple(svc.route_names)
    acc = world.roster.accounts("linkedin")[0]
    h = {
        "authorization": f"Bearer {acc.credential.access_token}",
        "linkedin-version": VERSION,
        "x-restli-protocol-version": "2.0.0",
    }

    def body(n: int) -> dict[str, str]:
        return {
            "author": f"urn:li:person:{acc.platform_user_id}",
            "commentary": f"post {n}",
            "visibility": "PUBLIC",
            "lifecycleState": "PUBLISHED",
        }

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=svc.asgi()), base_url=API) as c:
        for n in range(2):
            assert (await c.post("/rest/posts", json=body(n), headers=h)).status_code == 201
        r = await c.post("/rest/posts", json=body(2), headers=h)
        assert_error(r, 429, 101)
        assert not [k for k in r.headers if "rate" in k or k == "retry-after"]
        clock.advance(60)
        assert (await c.post("/rest/posts", json=body(2), headers=h)).status_code == 201


# --- comments ---------------------------------------------------------------------------------


async def test_comments_list_inbound_ones_and_a_reply_is_recorded_with_in_reply_to(
    env: Env,
) -> None:
    urn = await env.posted()
    item = env.world.inbound.schedule(
        "linkedin", "comment", "acme-linkedin", "Salary?", author="Bob Smith", post_id=urn
    )
    listed = (
        await env.client.get(f"{API}/rest/socialActions/{quote(urn)}/comments", headers=env.h())
    ).json()
    [el] = listed["elements"]
    assert (el["id"], el["message"]["text"], el["object"]) == (item.id, "Salary?", urn)
    assert (
        el["commentUrn"] == f"urn:li:comment:({urn},{item.id})" and listed["paging"]["total"] == 1
    )
    r = await env.comment(el["commentUrn"], "DM us")
    assert r.status_code == 201
    curn = r.headers["x-restli-id"]
    assert r.json()["parentComment"] == el["commentUrn"]
    e = env.world.ledger.entries(action="reply.created")[0]
    assert (e.resource_id, e.in_reply_to, e.account_id) == (curn, item.id, "acme-linkedin")
    top = await env.comment(urn, "Thanks all")
    assert (
        env.world.ledger.entries(action="reply.created")[1].in_reply_to == urn
        and top.status_code == 201
    )


async def test_social_metadata_batch_get_counts_each_posts_comments_and_names_a_missing_one(
    env: Env,
) -> None:
    quiet, busy = await env.posted("A quiet post"), await env.posted("A busy post")
    for n in range(3):
        env.world.inbound.schedule(
            "linkedin", "comment", "acme-linkedin", f"price? #{n}", author="Bob", post_id=busy
        )
    first = (
        await env.client.get(f"{API}/rest/socialActions/{quote(busy)}/comments", headers=env.h())
    ).json()["elements"][0]
    await env.comment(first["commentUrn"], "DM us")  # a reply: a comment, not a top-level one
    ids = ",".join(quote(u, safe="") for u in (quiet, busy, "urn:li:share:1"))
    r = await env.client.get(f"{API}/rest/socialMetadata?ids=List({ids})", headers=env.h())
    assert r.status_code == 200
    doc = r.json()
    assert doc["results"][quiet]["commentSummary"] == {"count": 0, "topLevelCount": 0}
    assert doc["results"][busy]["commentSummary"] == {"count": 4, "topLevelCount": 3}
    assert doc["errors"]["urn:li:share:1"]["status"] == 404
    assert doc["statuses"] == {quiet: 200, busy: 200}
    # the count is the same the comments list pages through
    listed = await env.client.get(
        f"{API}/rest/socialActions/{quote(busy)}/comments", headers=env.h()
    )
    assert listed.json()["paging"]["total"] == 4
    bad = await env.client.get(f"{API}/rest/socialMetadata?ids={quote(busy)}", headers=env.h())
    assert_error(bad, 400)


async def test_a_comment_on_a_missing_post_or_parent_is_a_404(env: Env) -> None:
    assert_error(await env.comment("urn:li:share:1"), 404)
    urn = await env.posted()
    assert_error(await env.comment(f"urn:li:comment:({urn},lic9999999)"), 404)


# --- faults -----------------------------------------------------------------------------------


async def test_rate_limited_fault_answers_429_with_no_headers(env: Env) -> None:
    await env.fault("linkedin.rate_limited")
    r = await env.post()
    assert_error(r, 429, 101)
    assert not [k for k in r.headers if "rate" in k or k == "retry-after"]
    assert await env.hits("linkedin.rate_limited") == 1


async def test_token_expired_fault_answers_65602(env: Env) -> None:
    await env.fault("linkedin.token_expired", first_n=1)
    assert_error(await env.post(), 401, 65602)
    assert (await env.post()).status_code == 201
    assert await env.hits("linkedin.token_expired") == 1


async def test_token_revoked_fault_answers_65601_and_stays_revoked(env: Env) -> None:
    await env.fault("linkedin.token_revoked", first_n=1)
    assert_error(await env.post(), 401, 65601)
    assert_error(await env.post(), 401, 65601)
    assert await env.hits("linkedin.token_revoked") == 1


async def test_scope_revoked_fault_refuses_writes_with_403(env: Env) -> None:
    await env.fault("linkedin.scope_revoked")
    assert_error(await env.post(), 403, 100)
    assert await env.hits("linkedin.scope_revoked") == 1


async def test_scope_revoked_naming_the_read_scope_refuses_reads_and_leaves_writes(
    env: Env,
) -> None:
    urn = await env.posted()
    await env.fault("linkedin.scope_revoked", params={"scope": "r_member_social"})
    assert_error(await env.client.get(f"{API}/rest/posts/{quote(urn)}", headers=env.h()), 403, 100)
    comments = await env.client.get(
        f"{API}/rest/socialActions/{quote(urn)}/comments", headers=env.h()
    )
    assert_error(comments, 403, 100)
    assert (await env.post("Our ovens are hot again")).status_code == 201
    assert await env.hits("linkedin.scope_revoked") == 2


async def test_post_invisible_fault_gives_a_urn_that_reads_do_not_find_for_a_while(
    env: Env,
) -> None:
    await env.fault("linkedin.post_invisible", params={"for_s": 120})
    urn = await env.posted()
    assert_error(await env.client.get(f"{API}/rest/posts/{quote(urn)}", headers=env.h()), 404)
    env.clock.advance(120)
    assert (
        await env.client.get(f"{API}/rest/posts/{quote(urn)}", headers=env.h())
    ).status_code == 200
    assert env.world.ledger.entries()[0].detail == "invisible_for=120s"
    assert await env.hits("linkedin.post_invisible") == 1


async def test_post_deleted_fault_makes_the_post_and_its_comments_404_once_the_member_deletes_it(
    env: Env,
) -> None:
    await env.fault("linkedin.post_deleted", params={"after_s": 300}, first_n=1)
    gone, kept = await env.posted("Deleted later"), await env.posted("Kept")
    comments = f"{API}/rest/socialActions/{quote(gone)}/comments"
    assert (await env.client.get(comments, headers=env.h())).status_code == 200
    env.clock.advance(300)
    assert_error(await env.client.get(f"{API}/rest/posts/{quote(gone)}", headers=env.h()), 404)
    assert_error(await env.client.get(comments, headers=env.h()), 404)
    assert_error(await env.comment(gone), 404)
    ids = ",".join(quote(u, safe="") for u in (gone, kept))
    doc = (
        await env.client.get(f"{API}/rest/socialMetadata?ids=List({ids})", headers=env.h())
    ).json()
    assert doc["errors"][gone]["status"] == 404 and list(doc["results"]) == [kept]
    # a new comment lands on a post that is still there
    env.world.inbound.schedule("linkedin", "comment", "acme-linkedin", "price? now")
    listed = await env.client.get(
        f"{API}/rest/socialActions/{quote(kept)}/comments", headers=env.h()
    )
    assert [c["message"]["text"] for c in listed.json()["elements"]] == ["price? now"]
    assert [e.detail for e in env.world.ledger.entries()] == ["deleted_by_member_after=300s", None]
    assert await env.hits("linkedin.post_deleted") == 1


async def test_id_header_dropped_fault_makes_the_post_and_names_it_nowhere(env: Env) -> None:
    await env.fault("linkedin.id_header_dropped", first_n=1)
    r = await env.post("Made, not named")
    assert r.status_code == 201 and r.content == b""
    assert "x-restli-id" not in r.headers and "x-linkedin-id" not in r.headers
    made = env.world.ledger.entries()[0]
    assert made.action == "post.created"
    # it is live: the account's own posts list it, and its lookup answers
    listed = await env.client.get(
        f"{API}/rest/posts/{quote(str(made.resource_id))}", headers=env.h()
    )
    assert listed.status_code == 200
    # the next post is named as always
    assert (await env.post("Named")).headers["x-restli-id"].startswith("urn:li:share:")
    assert await env.hits("linkedin.id_header_dropped") == 1


async def test_post_invisible_fault_with_a_lifecycle_state_serves_the_unpublished_post(
    env: Env,
) -> None:
    # the post exists (200) but LinkedIn has not published it: still processing, then PUBLISHED
    await env.fault(
        "linkedin.post_invisible", params={"for_s": 30, "lifecycle_state": "PUBLISH_REQUESTED"}
    )
    urn = await env.posted()
    body = (await env.client.get(f"{API}/rest/posts/{quote(urn)}", headers=env.h())).json()
    assert (body["id"], body["lifecycleState"]) == (urn, "PUBLISH_REQUESTED")
    assert "publishedAt" not in body
    listed = await env.client.get(
        f"{API}/rest/posts",
        params={"q": "author", "author": env.person(env.acme)},
        headers=env.h(),
    )
    assert listed.json()["elements"] == []  # not in the author's feed before it is published
    env.clock.advance(30)
    body = (await env.client.get(f"{API}/rest/posts/{quote(urn)}", headers=env.h())).json()
    assert body["lifecycleState"] == "PUBLISHED" and "publishedAt" in body
    # failed for good: PUBLISH_FAILED on every lookup, and the ledger says it was never visible
    await env.client.delete(f"{ADMIN}/faults")
    await env.fault("linkedin.post_invisible", params={"lifecycle_state": "PUBLISH_FAILED"})
    failed = await env.posted("second post")
    got = await env.client.get(f"{API}/rest/posts/{quote(failed)}", headers=env.h())
    assert got.status_code == 200 and got.json()["lifecycleState"] == "PUBLISH_FAILED"
    assert [e.detail for e in env.world.ledger.entries()] == ["invisible_for=30s", "invisible"]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("XXPUBLISHEDXX", '"XXPUBLISHEDXX" is not an enum symbol'),
        ("published", '"published" is not an enum symbol'),
        ("DRAFT", "PUBLISHED is the only value accepted when a post is created"),
        ("PUBLISH_REQUESTED", "PUBLISHED is the only value accepted when a post is created"),
    ],
)
async def test_a_post_is_created_only_in_lifecycle_state_published(
    env: Env, state: str, message: str
) -> None:
    body = {
        "author": env.person(env.acme),
        "commentary": "hello",
        "visibility": "PUBLIC",
        "lifecycleState": state,
    }
    r = await env.client.post(f"{API}/rest/posts", json=body, headers=env.h())
    got = assert_error(r, 422)["message"]
    assert got.startswith("ERROR :: /lifecycleState :: ") and message in got
    assert len(env.world.ledger) == 0


@pytest.mark.parametrize(
    ("distribution", "message"),
    [
        (
            {"feeddistribution": "MAIN_FEED"},
            "ERROR :: /distribution/feeddistribution :: unrecognized field found but not allowed",
        ),
        (
            {"targetEntities": []},
            "ERROR :: /distribution/feedDistribution :: field is required but not found",
        ),
        (
            {"feedDistribution": "EVERYWHERE"},
            'ERROR :: /distribution/feedDistribution :: "EVERYWHERE" is not an enum symbol',
        ),
        ("MAIN_FEED", "ERROR :: /distribution :: expected a record"),
    ],
)
async def test_a_post_whose_distribution_rest_li_would_refuse_is_a_422(
    env: Env, distribution: object, message: str
) -> None:
    body = {
        "author": env.person(env.acme),
        "commentary": "hello",
        "visibility": "PUBLIC",
        "lifecycleState": "PUBLISHED",
        "distribution": distribution,
    }
    r = await env.client.post(f"{API}/rest/posts", json=body, headers=env.h())
    assert assert_error(r, 422)["message"].startswith(message)
    assert len(env.world.ledger) == 0
    body["distribution"] = {"feedDistribution": "NONE", "thirdPartyDistributionChannels": []}
    ok = await env.client.post(f"{API}/rest/posts", json=body, headers=env.h())
    assert ok.status_code == 201


async def test_duplicate_rejected_fault_answers_422(env: Env) -> None:
    await env.fault("linkedin.duplicate_rejected")
    r = await env.post("brand new")
    assert assert_error(r, 422)["message"].startswith("Content is a duplicate of urn:li:share:")
    assert len(env.world.ledger) == 0 and await env.hits("linkedin.duplicate_rejected") == 1


async def test_action_blocked_fault_answers_403(env: Env) -> None:
    await env.fault("linkedin.action_blocked")
    assert "restricted" in assert_error(await env.post(), 403)["message"]
    assert await env.hits("linkedin.action_blocked") == 1


async def test_reply_echo_fault_draws_a_new_comment_on_the_same_post(env: Env) -> None:
    await env.fault("linkedin.reply_echo", params={"keyword": "link?", "delay_s": 3})
    urn = await env.posted()
    item = env.world.inbound.schedule(
        "linkedin", "comment", "acme-linkedin", "link?", author="Bob", post_id=urn
    )
    curn = (await env.comment(f"urn:li:comment:({urn},{item.id})", "See bio")).headers[
        "x-restli-id"
    ]
    env.clock.advance(3)
    els = (
        await env.client.get(f"{API}/rest/socialActions/{quote(urn)}/comments", headers=env.h())
    ).json()["elements"]
    echo = els[-1]
    assert echo["message"]["text"] == "link?" and echo["actor"] != els[0]["actor"]
    got = env.world.inbound.get(echo["id"])
    assert got is not None and got.echo_of == curn
    assert await env.hits("linkedin.reply_echo") == 1


async def test_duplicate_inbound_fault_lists_each_comment_twice(env: Env) -> None:
    await env.fault("linkedin.duplicate_inbound")
    urn = await env.posted()
    env.world.inbound.schedule(
        "linkedin", "comment", "acme-linkedin", "hi", author="Bob", post_id=urn
    )
    els = (
        await env.client.get(f"{API}/rest/socialActions/{quote(urn)}/comments", headers=env.h())
    ).json()["elements"]
    assert len(els) == 2 and els[0] == els[1]
    assert await env.hits("linkedin.duplicate_inbound") == 1


async def test_an_outage_serves_linkedins_error_body(env: Env) -> None:
    await env.fault("http.outage", params={"status": 502}, match={"fake": "linkedin"})
    r = await env.post()
    assert assert_error(r, 502)["message"] == "Bad Gateway"
    assert await env.hits("http.outage") == 1


async def test_userinfo_names_the_tokens_member(env: Env) -> None:
    r = await env.client.get(
        f"{API}/v2/userinfo", headers={"authorization": env.h()["authorization"]}
    )
    assert r.json()["sub"] == env.acme.platform_user_id


async def test_a_comment_by_the_account_itself_carries_its_own_member_urn(env: Env) -> None:
    # LinkedIn names a commenter by URN only (no handle): a comment the member wrote on its own
    # post carries the member's own URN, the only sign an engagement engine has that it is an echo
    urn = await env.posted()
    acc = env.world.roster.account("acme-linkedin")
    env.world.inbound.schedule(
        "linkedin", "comment", acc.id, "price?", author=acc.handle, post_id=urn
    )
    env.world.inbound.schedule("linkedin", "comment", acc.id, "price?", author="Bob", post_id=urn)
    els = (
        await env.client.get(f"{API}/rest/socialActions/{quote(urn)}/comments", headers=env.h())
    ).json()["elements"]
    assert [e["actor"] for e in els][:1] == [env.person(acc)]
    assert els[1]["actor"].startswith("urn:li:person:") and els[1]["actor"] != env.person(acc)
