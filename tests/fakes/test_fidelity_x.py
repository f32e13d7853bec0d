"""Fidelity: the X fake driven by tweepy (a third-party X API v2 client), unmodified.

tweepy calls ``https://api.twitter.com``; a transport adapter on its own session sends that to
the served fake. Its rate-limit waits (``wait_on_rate_limit``) run on the world's clock, so a
15-minute wait costs nothing and shows exactly when the fake let the client back in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import tweepy
from _fidelity import SocialWorld, served_social_world

pytestmark = pytest.mark.served

ACC = "acme-x"


@pytest.fixture(scope="module")
def social() -> Iterator[SocialWorld]:
    with served_social_world() as sw:
        yield sw


@pytest.fixture
def sw(social: SocialWorld, monkeypatch: pytest.MonkeyPatch) -> SocialWorld:
    social.reset()
    # tweepy's waits (time.sleep) move the world's clock instead of blocking
    monkeypatch.setattr(tweepy.client, "time", social.clock)
    return social


def client(sw: SocialWorld, token: str | None = None, **kw: Any) -> tweepy.Client:
    c = tweepy.Client(bearer_token=token or sw.account(ACC).credential.access_token, **kw)
    sw.session(c.session)
    return c


def test_tweepy_publishes_reads_back_with_fields_and_expansions_and_deletes(
    sw: SocialWorld,
) -> None:
    c = client(sw)
    made = c.create_tweet(text="Fresh sourdough at 7", user_auth=False)
    tid = made.data["id"]
    assert int(tid) > 0
    got = c.get_tweet(
        tid,
        tweet_fields=["created_at", "public_metrics", "lang", "author_id", "conversation_id"],
        user_fields=["created_at", "public_metrics", "description"],
        expansions=["author_id"],
        user_auth=False,
    )
    assert got.data.text == "Fresh sourdough at 7"
    assert got.data.lang == "en" and got.data.public_metrics["reply_count"] == 0
    assert got.data.created_at is not None and got.data.conversation_id == int(tid)
    me = sw.account(ACC)
    assert [u.username for u in got.includes["users"]] == [me.handle.lstrip("@")]
    assert got.includes["users"][0].id == int(me.platform_user_id)
    assert c.delete_tweet(tid, user_auth=False).data == {"deleted": True}
    gone = c.get_tweet(tid, user_auth=False)
    assert gone.data is None and gone.errors[0]["title"] == "Not Found Error"
    rows = sw.ledger("x")
    assert [(r["action"], r["resource_id"], r["account_id"]) for r in rows] == [
        ("post.created", tid, ACC),
        ("post.deleted", tid, ACC),
    ]


def test_tweepy_reads_mentions_and_dm_events_with_numeric_ids_and_replies(
    sw: SocialWorld,
) -> None:
    c = client(sw)
    me = c.get_me(user_auth=False).data
    post = c.create_tweet(text="Ask us anything", user_auth=False).data["id"]
    cid = sw.inbound(fake="x", account=ACC, text="@acme_x price?", author="@fan1", post_id=post)
    sw.inbound(fake="x", kind="dm", account=ACC, text="hi there", author="@fan2")
    mentions = c.get_users_mentions(
        me.id, expansions=["author_id"], tweet_fields=["created_at"], user_auth=False
    )
    assert [t.id for t in mentions.data] == [int(cid)]
    assert mentions.data[0].in_reply_to_user_id == me.id
    assert mentions.includes["users"][0].username == "fan1"
    events = c.get_direct_message_events(user_auth=False)
    assert [e.text for e in events.data] == ["hi there"] and events.data[0].id > 0
    reply = c.create_tweet(text="It is 4 dollars", in_reply_to_tweet_id=cid, user_auth=False)
    thread = c.search_recent_tweets(
        f"conversation_id:{post}", tweet_fields=["in_reply_to_user_id"], user_auth=False
    )
    assert {t.id for t in thread.data} == {int(post), int(cid), int(reply.data["id"])}
    sw.clock.advance(1)
    dm = c.create_direct_message(
        participant_id=events.data[0].sender_id, text="hello!", user_auth=False
    )
    assert int(dm.data["dm_event_id"]) > 0
    thread_dms = c.get_direct_message_events(
        participant_id=events.data[0].sender_id, user_auth=False
    )
    assert [e.text for e in thread_dms.data] == ["hello!", "hi there"]
    c.like(cid, user_auth=False)
    mine = c.get_users_tweets(me.id, user_auth=False)
    assert [t.id for t in mine.data] == [int(reply.data["id"]), int(post)]
    actions = [(r["action"], r["in_reply_to"]) for r in sw.ledger("x")]
    assert actions == [
        ("post.created", None),
        ("reply.created", cid),
        ("dm.sent", None),
        ("like.created", None),
    ]


def test_tweepy_refreshes_the_token_after_a_401_and_the_new_token_works(sw: SocialWorld) -> None:
    acc = sw.account(ACC)
    sw.fault("x.token_expired", first_n=1)
    c = client(sw)
    with pytest.raises(tweepy.Unauthorized) as e:
        c.get_me(user_auth=False)
    assert e.value.response.status_code == 401
    oauth = tweepy.OAuth2UserHandler(
        client_id="vibedrill-app",
        redirect_uri="https://app.example/cb",
        scope=list(acc.credential.scopes),
    )
    sw.session(oauth)
    # a public client names itself in the body, as X's docs show
    fresh = oauth.refresh_token(
        "https://api.twitter.com/2/oauth2/token",
        refresh_token=acc.credential.refresh_token,
        client_id="vibedrill-app",
    )
    assert fresh["expires_in"] == 7200 and fresh["refresh_token"]
    me = client(sw, fresh["access_token"]).get_me(user_auth=False).data
    assert me.id == int(acc.platform_user_id)
    # the spent refresh token is refused: X's refresh tokens are single-use
    with pytest.raises(Exception, match="invalid_request"):
        oauth.refresh_token(
            "https://api.twitter.com/2/oauth2/token",
            refresh_token=acc.credential.refresh_token,
            client_id="vibedrill-app",
        )


def test_tweepy_waiting_on_a_429_gets_in_on_its_first_retry(sw: SocialWorld) -> None:
    sw.fault("x.rate_limited", params={"retry_after_s": 60}, first_n=1)
    start = sw.clock()
    c = client(sw, wait_on_rate_limit=True)
    made = c.create_tweet(text="after the storm", user_auth=False)
    assert int(made.data["id"]) > 0
    # one wait, as long as the reset header said (tweepy adds a second), then one retry
    assert len(sw.clock.slept) == 1 and 60 <= sw.clock.slept[0] <= 62
    statuses = [j["status"] for j in sw.journal("x")]
    assert statuses == [429, 201]
    assert sw.clock() - start < 63


def test_tweepy_waits_for_the_24_hour_window_not_a_15_minute_one(sw: SocialWorld) -> None:
    sw.fault(
        "x.rate_limited",
        params={"window": "24h", "retry_after_s": 5400},
        match={"route": "tweets.create"},
        first_n=1,
    )
    c = client(sw, wait_on_rate_limit=True)
    c.create_tweet(text="tomorrow's bake", user_auth=False)
    assert len(sw.clock.slept) == 1 and 5400 <= sw.clock.slept[0] <= 5400 + 2
    assert [j["status"] for j in sw.journal("x")] == [429, 201]


def test_tweepy_on_a_usage_cap_waits_until_the_cap_lifts_never_15_minutes(sw: SocialWorld) -> None:
    now = sw.clock()
    sw.fault("x.usage_capped", start=now, end=now + 3600)
    c = client(sw, wait_on_rate_limit=True)
    assert c.get_me(user_auth=False).data.username == "acme_x"
    assert len(sw.clock.slept) == 1 and 3600 <= sw.clock.slept[0] <= 3602
    assert [j["status"] for j in sw.journal("x")] == [429, 200]
    # without waiting, the client sees the cap as an error it can read
    sw.reset()
    sw.fault("x.usage_capped")
    with pytest.raises(tweepy.TooManyRequests) as e:
        client(sw).get_me(user_auth=False)
    assert e.value.response.json()["title"] == "UsageCapExceeded"
    assert int(e.value.response.headers["x-rate-limit-reset"]) - sw.clock() > 86_400


def test_tweepy_sees_x_s_own_404_for_an_endpoint_the_fake_lacks_and_it_is_journaled(
    sw: SocialWorld,
) -> None:
    c = client(sw)
    with pytest.raises(tweepy.NotFound) as e:
        c.request("GET", "/2/spaces/search", params={"query": "bread"})
    assert e.value.api_codes == [34]
    assert e.value.api_messages == ["Sorry, that page does not exist"]
    [row] = sw.journal("x")
    assert (row["path"], row["route"], row["status"], row["account_id"]) == (
        "/x/2/spaces/search",
        "-",
        404,
        ACC,
    )
