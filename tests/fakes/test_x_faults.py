"""The X fake in-process: every X fault kind (the rest: test_x.py)."""

from __future__ import annotations

from _x_kit import ADMIN, API, DUPLICATE, TOO_MANY, UNAUTHORIZED, Env, env

__all__ = ["env"]  # the fixture, imported from the kit

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


async def test_rate_limited_fault_without_headers_holds_the_endpoint_and_says_nothing_of_when(
    env: Env,
) -> None:
    await env.fault("x.rate_limited", params={"retry_after_s": 120, "headers": False}, first_n=1)
    r = await env.post("blocked")
    assert r.status_code == 429 and r.json() == TOO_MANY
    assert not [h for h in r.headers if h.startswith("x-rate-limit") or h == "retry-after"]
    env.clock.advance(60)
    early = await env.post("too early")
    assert early.status_code == 429 and "x-rate-limit-reset" not in early.headers
    env.clock.advance(60)
    through = await env.post("through")
    assert through.status_code == 201 and through.headers["x-rate-limit-remaining"] != "0"
    assert await env.hits("x.rate_limited") == 1


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
    # the fault's one firing is over, and the refused token stays expired: only a refresh helps
    again = await env.client.get(f"{API}/2/users/me", headers=env.h())
    assert again.status_code == 401
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


async def test_token_wrong_user_fault_acts_as_the_other_user_everywhere(env: Env) -> None:
    # acme's token was granted by another client's X user: the identity endpoint says so, and
    # what the token posts lands on that user's account (the ledger and the journal name it)
    other = next(
        a
        for c in env.world.roster.clients
        if c.id not in ("acme", "agency")
        for a in c.accounts
        if a.platform == "x"
    )
    me = await env.client.get(f"{API}/2/users/me", headers=env.h())
    assert me.json()["data"]["id"] == env.acme.platform_user_id
    await env.fault("x.token_wrong_user", match={"account": "acme-x"})
    me = await env.client.get(f"{API}/2/users/me", headers=env.h())
    assert me.status_code == 200
    assert me.json()["data"]["id"] == other.platform_user_id != env.acme.platform_user_id
    assert (await env.post("meant for acme")).status_code == 201
    assert [e.account_id for e in env.world.ledger.entries()] == [other.id]
    assert await env.hits("x.token_wrong_user") == 2


async def test_token_wrong_user_fault_names_its_user_with_as_account(env: Env) -> None:
    xs = [a.id for c in env.world.roster.clients for a in c.accounts if a.platform == "x"]
    last = [a for a in xs if a != "acme-x"][-1]
    await env.fault("x.token_wrong_user", match={"account": "acme-x"}, params={"as_account": last})
    assert (await env.post("as the last client")).status_code == 201
    assert [e.account_id for e in env.world.ledger.entries()] == [last]


async def test_scope_revoked_fault_refuses_writes_with_403(env: Env) -> None:
    await env.fault("x.scope_revoked")
    r = await env.post("write")
    assert r.status_code == 403 and r.json()["title"] == "Forbidden"
    assert (await env.client.get(f"{API}/2/users/me", headers=env.h())).status_code == 200
    assert await env.hits("x.scope_revoked") == 1
    assert len(env.world.ledger) == 0


async def test_a_revoked_read_scope_refuses_reads_of_posts_and_the_write_scope_does_not(
    env: Env,
) -> None:
    r = await env.post("mine")
    tid = r.json()["data"]["id"]
    me = (await env.client.get(f"{API}/2/users/me", headers=env.h())).json()["data"]["id"]
    reads = [f"{API}/2/users/{me}/tweets", f"{API}/2/tweets/{tid}", f"{API}/2/tweets?ids={tid}"]
    rid = await env.fault("x.scope_revoked", params={"scope": "tweet.write"})
    assert [(await env.client.get(u, headers=env.h())).status_code for u in reads] == [200] * 3
    await env.client.delete(f"{ADMIN}/faults/{rid}")
    await env.fault("x.scope_revoked", params={"scope": "tweet.read"})
    got = [await env.client.get(u, headers=env.h()) for u in reads]
    assert [g.status_code for g in got] == [403] * 3
    assert got[0].json()["title"] == "Forbidden"


async def test_a_token_without_users_read_cannot_say_whose_it_is_and_still_posts(
    env: Env,
) -> None:
    await env.fault("x.scope_revoked", params={"scope": "users.read"})
    me = await env.client.get(f"{API}/2/users/me", headers=env.h())
    assert me.status_code == 403 and me.json()["title"] == "Forbidden"
    assert (await env.post("still allowed")).status_code == 201
    # the grant is the token's: it refuses even when the token acts as another user
    await env.fault("x.token_wrong_user")
    assert (await env.client.get(f"{API}/2/users/me", headers=env.h())).status_code == 403
    assert await env.hits("x.scope_revoked") == 2


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


async def test_reply_echo_with_dms_has_the_recipient_of_each_dm_write_back(env: Env) -> None:
    # an auto-responder on the other side: the person a DM went to answers with the keyword
    env.world.inbound.schedule("x", "dm", "acme-x", "price?", author="@bot")
    url = f"{API}/2/dm_events"
    [first] = (await env.client.get(url, headers=env.h())).json()["data"]
    send = f"{API}/2/dm_conversations/with/{first['sender_id']}/messages"
    assert (
        await env.client.post(send, json={"text": "9 to 5"}, headers=env.h())
    ).status_code == 201
    assert len((await env.client.get(url, headers=env.h())).json()["data"]) == 2  # ours, theirs
    await env.fault("x.reply_echo", params={"keyword": "how much?", "delay_s": 5, "dms": True})
    r = await env.client.post(send, json={"text": "9 to 5"}, headers=env.h())
    eid = r.json()["data"]["dm_event_id"]
    env.clock.advance(5)
    data = (await env.client.get(url, headers=env.h())).json()["data"]
    assert [(d["text"], d["sender_id"]) for d in data[:1]] == [("how much?", first["sender_id"])]
    assert env.world.inbound.get(data[0]["id"]).echo_of == eid  # type: ignore[union-attr]


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


async def test_a_usage_cap_behind_an_edge_names_no_reset_on_any_request(env: Env) -> None:
    await env.fault("x.usage_capped", params={"headers": False})
    for text in ("capped", "still capped"):
        r = await env.post(text)
        assert r.status_code == 429
        assert r.json()["title"] == "UsageCapExceeded"
        assert not [h for h in r.headers if h.startswith(("x-rate-limit-", "x-user-limit-"))]
    assert await env.hits("x.usage_capped") == 1


async def test_an_id_with_path_leads_the_next_url_elsewhere_while_the_post_is_made(
    env: Env,
) -> None:
    await env.fault("x.id_with_path")
    r = await env.post("made all the same")
    assert r.status_code == 201
    tid = r.json()["data"]["id"]
    assert tid.endswith("/../../_fake/state") and tid.split("/")[0].isdigit()
    # the post was made under its real id: the ledger names that, not what the answer said
    made = [e for e in env.world.ledger if e.action == "post.created"]
    assert [e.resource_id for e in made] == [tid.split("/")[0]]
    assert await env.hits("x.id_with_path") == 1


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
