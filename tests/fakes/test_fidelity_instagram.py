"""Fidelity: the Instagram fake driven by python-facebook-api (pyfacebook), unmodified.

pyfacebook calls ``https://graph.facebook.com`` (and ``graph.instagram.com`` for token refresh);
a transport adapter on its own session sends both to the served fake. Its usage-based pacing
(``sleep_seconds_mapping``) sleeps on the world's clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _fidelity import SocialWorld, served_social_world
from pyfacebook import BasicDisplayAPI, FacebookError, IGBusinessApi

pytestmark = pytest.mark.served

ACC = "acme-instagram"
V = "v21.0"


@pytest.fixture(scope="module")
def social() -> Iterator[SocialWorld]:
    with served_social_world() as sw:
        yield sw


@pytest.fixture
def sw(social: SocialWorld, monkeypatch: pytest.MonkeyPatch) -> SocialWorld:
    import pyfacebook.api.graph as graph

    social.reset()
    monkeypatch.setattr(graph, "time", social.clock)
    return social


def api(sw: SocialWorld, token: str | None = None, **kw: Any) -> IGBusinessApi:
    acc = sw.account(ACC)
    c = IGBusinessApi(
        access_token=token or acc.credential.access_token,
        instagram_business_id=acc.platform_user_id,
        version=V,
        **kw,
    )
    sw.session(c.session)
    return c


def publish(sw: SocialWorld, c: IGBusinessApi, caption: str) -> str:
    uid = sw.account(ACC).platform_user_id
    cid = c.post_object(
        uid, "media", data={"image_url": "https://cdn.example/a.jpg", "caption": caption}
    )["id"]
    assert c.container.get_info(cid).status_code == "IN_PROGRESS"
    sw.clock.advance(10)
    assert c.container.get_info(cid).status_code == "FINISHED"
    return str(c.post_object(uid, "media_publish", data={"creation_id": cid})["id"])


def test_pyfacebook_publishes_and_reads_back_media_with_its_default_fields(sw: SocialWorld) -> None:
    c = api(sw)
    mid = publish(sw, c, "Sourdough Saturday")
    assert int(mid) > 0
    media = c.media.get_info(mid)  # default fields include children{...}
    assert media.caption == "Sourdough Saturday" and media.media_type == "IMAGE"
    extra = c.get_object(mid, fields="is_comment_enabled,ig_id,thumbnail_url,owner")
    assert extra["is_comment_enabled"] is True and int(extra["ig_id"]) > 0
    assert "thumbnail_url" not in extra  # Graph omits it for images
    me = c.user.get_info()
    assert me.username == "acme_instagram" and me.media_count == 1
    assert c.get_object("me", fields="id,username")["id"] == sw.account(ACC).platform_user_id
    assert [m.id for m in c.user.get_media().data] == [mid]
    batch = c.media.get_batch(ids=[mid])
    assert batch[mid].caption == "Sourdough Saturday"
    s = sw.session()
    many = s.get(
        f"https://graph.facebook.com/{V}/",
        params={
            "ids": mid,
            "fields": "caption",
            "access_token": sw.account(ACC).credential.access_token,
        },
    )
    assert many.json() == {mid: {"caption": "Sourdough Saturday"}}
    assert [(r["action"], r["resource_id"]) for r in sw.ledger("instagram")] == [
        ("post.created", mid)
    ]


def test_pyfacebook_reads_comments_with_numeric_ids_replies_comments_and_deletes(
    sw: SocialWorld,
) -> None:
    c = api(sw)
    mid = publish(sw, c, "Ask away")
    cid = sw.inbound(fake="instagram", account=ACC, text="price?", author="fan1", post_id=mid)
    comments = c.media.get_comments(mid)
    assert [x.id for x in comments.data] == [cid] and int(cid) > 0
    assert comments.data[0].username == "fan1"
    rid = c.post_object(cid, "replies", data={"message": "4 dollars"})["id"]
    own = c.post_object(mid, "comments", data={"message": "Thanks all!"})["id"]
    assert {x.id for x in c.media.get_comments(mid).data} == {cid, own}
    assert [x.id for x in c.comment.get_replies(cid).data] == [rid]
    assert c.delete_object(rid) == {"success": True}
    with pytest.raises(FacebookError) as e:
        c.delete_object(rid)
    assert e.value.code == 100
    rows = [(r["action"], r["resource_id"], r["in_reply_to"]) for r in sw.ledger("instagram")]
    assert rows == [
        ("post.created", mid, None),
        ("reply.created", rid, cid),
        ("reply.created", own, mid),
        ("post.deleted", rid, None),
    ]


def test_pyfacebook_reads_inbound_dms_and_answers_them(sw: SocialWorld) -> None:
    c = api(sw)
    uid = sw.account(ACC).platform_user_id
    sw.inbound(fake="instagram", kind="dm", account=ACC, text="are you open today?", author="fan2")
    convs = c.get_connection(
        uid, "conversations", platform="instagram", fields="id,updated_time,messages"
    )
    [conv] = convs["data"]
    [msg] = conv["messages"]["data"]
    full = c.get_object(msg["id"], fields="id,created_time,from,to,message")
    assert full["message"] == "are you open today?" and full["from"]["username"] == "fan2"
    sender = full["from"]["id"]
    sent = c.post_object(
        uid,
        "messages",
        data={"recipient": json.dumps({"id": sender}), "message": json.dumps({"text": "Till 6!"})},
    )
    assert sent["recipient_id"] == sender
    thread = c.get_object(conv["id"], fields="messages")
    assert len(thread["messages"]["data"]) == 2
    assert [(r["action"], r["detail"]) for r in sw.ledger("instagram")] == [
        ("dm.sent", f"to={sender}")
    ]


def test_pyfacebook_on_an_expired_token_sees_190_then_refreshes_and_carries_on(
    sw: SocialWorld,
) -> None:
    sw.fault("instagram.token_expired", first_n=1)
    acc = sw.account(ACC)
    c = api(sw)
    with pytest.raises(FacebookError) as e:
        c.user.get_info()
    assert (e.value.code, e.value.error_subcode) == (190, 463)
    basic = BasicDisplayAPI(access_token=acc.credential.access_token)
    sw.session(basic.session)
    fresh = basic.refresh_access_token(acc.credential.access_token)
    assert fresh["token_type"] == "bearer" and fresh["expires_in"] > 86_400
    assert api(sw, fresh["access_token"]).user.get_info().username == "acme_instagram"


def test_pyfacebook_pacing_on_a_throttle_gets_in_on_its_first_retry(sw: SocialWorld) -> None:
    sw.fault("instagram.rate_limited", params={"retry_after_s": 300, "code": 80002}, first_n=1)
    c = api(sw, sleep_seconds_mapping={50: 0, 99: 1})
    with pytest.raises(FacebookError) as e:
        c.user.get_info()
    assert e.value.code == 80002
    # x-app-usage said 100 %: pyfacebook slept its 10 minutes before raising
    assert sw.clock.slept[-1] == 600
    assert c.user.get_info().username == "acme_instagram"
    assert [j["status"] for j in sw.journal("instagram")] == [400, 200]


def test_a_client_that_waits_the_regain_time_gets_in_on_its_first_retry(sw: SocialWorld) -> None:
    sw.fault("instagram.rate_limited", params={"retry_after_s": 150, "code": 80002}, first_n=1)
    acc = sw.account(ACC)
    c = api(sw)
    with pytest.raises(FacebookError):
        c.user.get_info()
    sw.clock.advance(60)
    with pytest.raises(FacebookError):  # still throttled, the regain time counts down
        c.user.get_info()
    usage = c.rate_limit.get_limit(object_id=acc.platform_user_id, rate_limit_type="instagram")
    regain = int(usage.estimated_time_to_regain_access or 0)
    assert regain == 2  # 90 s left, in whole minutes rounded up
    sw.clock.advance(regain * 60)
    assert c.user.get_info().username == "acme_instagram"


def test_graph_batch_runs_each_operation_without_a_redirect(sw: SocialWorld) -> None:
    acc = sw.account(ACC)
    s = sw.session()
    batch = [
        {"method": "GET", "relative_url": f"{acc.platform_user_id}?fields=username"},
        {"method": "GET", "relative_url": "nope/nothing/here"},
    ]
    r = s.post(
        f"https://graph.facebook.com/{V}/",
        data={"access_token": acc.credential.access_token, "batch": json.dumps(batch)},
        allow_redirects=False,
    )
    assert r.status_code == 200 and "location" not in r.headers
    first, second = r.json()
    assert first["code"] == 200 and json.loads(first["body"])["username"] == "acme_instagram"
    assert second["code"] == 400 and json.loads(second["body"])["error"]["code"] == 2500
    routes = [j["route"] for j in sw.journal("instagram")]
    assert sorted(routes) == ["-", "batch", "node.get"]


def test_pyfacebook_sees_graph_s_own_error_for_an_edge_the_fake_lacks_and_it_is_journaled(
    sw: SocialWorld,
) -> None:
    c = api(sw)
    uid = sw.account(ACC).platform_user_id
    with pytest.raises(FacebookError) as e:
        c.get_connection(uid, "live_media_sessions")
    assert e.value.code == 2500 and e.value.type == "OAuthException"
    [row] = sw.journal("instagram")
    assert (row["route"], row["status"], row["account_id"]) == ("-", 400, ACC)
