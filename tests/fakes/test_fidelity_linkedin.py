"""Fidelity: the LinkedIn fake driven by linkedin-api-client (LinkedIn's own Python client).

The client calls ``https://api.linkedin.com/rest`` and ``https://www.linkedin.com/oauth/v2``; a
transport adapter on its own sessions sends both to the served fake. It has no waiting of its
own: LinkedIn's daily-limit 429 carries no timing header, and the test shows the fake accepts
the member again at the next UTC midnight, when LinkedIn's documentation says the limit resets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from _fidelity import SocialWorld, served_social_world
from linkedin_api.clients.auth.client import AuthClient
from linkedin_api.clients.restli.client import RestliClient

pytestmark = pytest.mark.served

ACC = "acme-linkedin"


@pytest.fixture(scope="module")
def social() -> Iterator[SocialWorld]:
    with served_social_world() as sw:
        yield sw


@pytest.fixture
def sw(social: SocialWorld) -> SocialWorld:
    social.reset()
    return social


def version(sw: SocialWorld) -> str:
    """The current month as a LinkedIn-Version (YYYYMM), on the world's clock."""
    return time.strftime("%Y%m", time.gmtime(sw.clock()))


class Li:
    """The client plus what every call of this test passes."""

    def __init__(self, sw: SocialWorld, token: str | None = None) -> None:
        self.client = RestliClient()
        sw.session(self.client.session)
        acc = sw.account(ACC)
        self.token = token or acc.credential.access_token
        self.me = f"urn:li:person:{acc.platform_user_id}"
        self.v = version(sw)

    def kw(self) -> dict[str, Any]:
        return {"access_token": self.token, "version_string": self.v}

    def post(self, text: str) -> Any:
        return self.client.create(
            resource_path="/posts",
            entity={
                "author": self.me,
                "commentary": text,
                "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED"},
                "lifecycleState": "PUBLISHED",
            },
            **self.kw(),
        )


def test_the_client_publishes_finds_edits_reads_back_and_deletes_posts(sw: SocialWorld) -> None:
    li = Li(sw)
    made = li.post("Hiring bakers")
    assert made.status_code == 201
    urn = made.entity_id
    assert urn.startswith("urn:li:share:") and int(urn.rsplit(":", 1)[1]) > 0
    li.post("Second post")
    found = li.client.finder(
        resource_path="/posts",
        finder_name="author",
        query_params={"author": li.me, "count": 10},
        **li.kw(),
    )
    assert found.status_code == 200
    assert [e["commentary"] for e in found.elements] == ["Second post", "Hiring bakers"]
    assert found.paging.total == 2
    upd = li.client.partial_update(
        resource_path="/posts/{id}",
        path_keys={"id": urn},
        patch_set_object={"commentary": "Hiring bakers (2 roles)"},
        **li.kw(),
    )
    assert upd.status_code == 204
    got = li.client.get(resource_path="/posts/{id}", path_keys={"id": urn}, **li.kw())
    assert got.entity["commentary"] == "Hiring bakers (2 roles)"
    assert got.entity["lifecycleStateInfo"]["isEditedByAuthor"] is True
    gone = li.client.delete(resource_path="/posts/{id}", path_keys={"id": urn}, **li.kw())
    assert gone.status_code == 204
    again = li.client.get(resource_path="/posts/{id}", path_keys={"id": urn}, **li.kw())
    assert again.status_code == 404 and again.response.json()["code"] == "NOT_FOUND"
    rows = [(r["action"], r["resource_id"]) for r in sw.ledger("linkedin")]
    assert rows[0] == ("post.created", urn)
    assert rows[2:] == [("post.updated", urn), ("post.deleted", urn)]


def test_the_client_reads_inbound_comments_and_replies_to_them(sw: SocialWorld) -> None:
    li = Li(sw)
    urn = li.post("Open day on Friday").entity_id
    cid = sw.inbound(fake="linkedin", account=ACC, text="What time?", author="Pat Doe", post_id=urn)
    assert int(cid) > 0
    comments = li.client.get_all(
        resource_path="/socialActions/{id}/comments", path_keys={"id": urn}, **li.kw()
    )
    [inbound] = comments.elements
    assert inbound["message"]["text"] == "What time?" and inbound["id"] == cid
    reply = li.client.create(
        resource_path="/socialActions/{id}/comments",
        path_keys={"id": inbound["commentUrn"]},
        entity={
            "actor": li.me,
            "object": urn,
            "message": {"text": "From 10 am"},
            "parentComment": inbound["commentUrn"],
        },
        **li.kw(),
    )
    assert reply.status_code == 201
    rows = [(r["action"], r["in_reply_to"]) for r in sw.ledger("linkedin")]
    assert rows == [("post.created", None), ("reply.created", cid)]


def test_the_client_refreshes_an_expired_token_and_carries_on(sw: SocialWorld) -> None:
    sw.fault("linkedin.token_expired", first_n=1)
    acc = sw.account(ACC)
    li = Li(sw)
    denied = li.client.get(
        resource_path="/posts/{id}", path_keys={"id": "urn:li:share:1"}, **li.kw()
    )
    assert denied.status_code == 401 and denied.response.json()["serviceErrorCode"] == 65602
    auth = AuthClient(client_id="vibedrill-app", client_secret="s3cret")
    sw.session(auth.session)
    fresh = auth.exchange_refresh_token_for_access_token(acc.credential.refresh_token)
    assert fresh.status_code == 200 and fresh.expires_in == 60 * 86_400
    assert fresh.refresh_token == acc.credential.refresh_token
    assert Li(sw, fresh.access_token).post("Back online").status_code == 201
    bad = auth.exchange_refresh_token_for_access_token("not-a-token")
    assert bad.status_code == 400 and bad.response.json()["error"] == "invalid_request"


def test_a_throttled_member_is_let_back_in_at_the_next_utc_midnight(sw: SocialWorld) -> None:
    li = Li(sw)
    sw.fault("linkedin.rate_limited", match={"route": "posts.create"}, first_n=1)
    r = li.post("one")
    assert r.status_code == 429
    assert "retry-after" not in r.headers and r.response.json()["serviceErrorCode"] == 101
    assert li.post("two").status_code == 429  # the DAY limit does not lift between requests
    midnight = (sw.clock() // 86_400 + 1) * 86_400
    sw.clock.advance(midnight - sw.clock() - 1)
    assert li.post("three").status_code == 429
    sw.clock.advance(1)
    assert li.post("four").status_code == 201
    assert [j["status"] for j in sw.journal("linkedin")] == [429, 429, 429, 201]


def test_the_client_sees_linkedin_s_own_404_for_a_resource_the_fake_lacks_and_it_is_journaled(
    sw: SocialWorld,
) -> None:
    li = Li(sw)
    r = li.client.get(resource_path="/adAccounts/{id}", path_keys={"id": 1}, **li.kw())
    assert r.status_code == 404
    assert r.response.json() == {
        "message": "No virtual resource found",
        "serviceErrorCode": 0,
        "status": 404,
        "code": "NOT_FOUND",
    }
    [row] = sw.journal("linkedin")
    assert (row["route"], row["status"], row["account_id"]) == ("-", 404, ACC)
