"""Regressions of the platform problems in docs/integration-notes.md, one test per note."""

from __future__ import annotations

import asyncio

import pytest
from platform_rig import Rig, rig, virtual

from sandbox.contract import JobSpec, KillScope
from sandbox.errors import RateLimited

OPS = {"actor": "ops-lead", "reason": "drill"}


def _publish(r: Rig, client: str, platform: str, text: str | None = None, **kw: object) -> str:
    spec = JobSpec(
        kind="publish",
        client_id=client,
        platform=platform,
        payload={"text": text or f"{client} on {platform} #{len(r.platform.jobs)}"},
        **kw,  # type: ignore[arg-type]
    )
    return r.platform.submit(spec).id


# --- note 3 ------------------------------------------------------------------------------------
def test_the_age_of_the_oldest_due_waiting_job_of_each_class_is_a_metric() -> None:
    async def main() -> None:
        async with rig() as r:
            await r.client.set_queue_paused("publish", True, **OPS)
            _publish(r, "acme", "x")
            await asyncio.sleep(100)
            _publish(r, "acme", "linkedin")
            _publish(r, "acme", "x", run_at=r.platform.now() + 3600)  # not due: not counted
            await asyncio.sleep(200)
            m = await r.client.metrics()
            assert m['queue_oldest_age_s{job_class="publish"}'] == 300
            assert m['queue_oldest_age_s{job_class="generation"}'] == 0
            assert m["queue_oldest_age_s"] == 300  # the oldest of any class, not a sum
            assert b'queue_oldest_age_s{job_class="publish"} 300.0' in (
                r.platform.telemetry.exposition()
            )
            await r.client.set_queue_paused("publish", False, **OPS)
            await asyncio.sleep(60)
            assert (await r.client.metrics())['queue_oldest_age_s{job_class="publish"}'] == 0

    virtual(main)


# --- note 4 ------------------------------------------------------------------------------------
def _slow_media_publish(r: Rig) -> None:
    r.world.faults.add(
        {
            "kind": "http.latency",
            "params": {"ms": 32_000},  # > the 30 s timeout: the post is made, the response lost
            "match": {"fake": "instagram", "route": "media.publish"},
            "first_n": 1,
        }
    )


def test_an_instagram_publish_whose_response_was_lost_is_found_by_caption_and_audited() -> None:
    async def main() -> None:
        async with rig() as r:
            _slow_media_publish(r)
            jid = _publish(r, "acme", "instagram", "lost response, live post")
            await r.settle()
            job = r.platform.jobs.get(jid)
            posts = r.ledger("post.created", "instagram")
            assert len(posts) == 1, "the retry posted again"
            assert job.state == "succeeded" and job.result["resource_id"] == posts[0].resource_id
            claims = r.audit(job_id=jid, phase="outcome", outcome="success")
            assert [e.proof["resource_id"] for e in claims] == [posts[0].resource_id]

    virtual(main)


def test_a_published_container_whose_media_cannot_be_found_ends_audited_needs_human_confirm() -> (
    None
):
    async def main() -> None:
        async with rig() as r:
            _slow_media_publish(r)
            r.world.faults.add(
                {
                    "kind": "http.outage",
                    "params": {"status": 503},
                    "match": {"fake": "instagram", "route": "media.list"},
                }
            )
            jid = _publish(r, "acme", "instagram", "lost response, unlisted post")
            await r.settle()
            job = r.platform.jobs.get(jid)
            assert job.state == "needs_human_confirm"
            assert len(r.ledger("post.created", "instagram")) == 1
            [last] = r.audit(job_id=jid, phase="outcome")[-1:]
            assert last.outcome == "needs_human_confirm" and last.action == "post.create"
            assert last.proof["container_id"] == job.result["container_id"]
            assert "media id unknown" in (last.error or "")

    virtual(main)


# --- notes 1 and 2 -----------------------------------------------------------------------------
def _x_429(r: Rig, route: str, n: int, retry_after_s: float = 60) -> None:
    r.world.faults.add(
        {
            "kind": "x.rate_limited",
            "params": {"retry_after_s": retry_after_s},
            "match": {"fake": "x", "route": route},
            "first_n": n,
        }
    )


def _requests_after_429s_wait_retry_after(r: Rig, route: str, retry_after_s: float) -> int:
    calls = [j for j in r.world.journal.entries(fake="x") if j.route == route]
    by_account: dict[str, float] = {}
    refused = 0
    for c in calls:
        until = by_account.get(c.account_id)
        assert until is None or c.t >= until, f"{route} asked again {until - c.t:g}s early"
        if c.status == 429:
            refused += 1
            by_account[c.account_id] = c.t + retry_after_s
    return refused


def test_the_engagement_poller_leaves_a_rate_limited_inbox_alone_until_retry_after() -> None:
    async def main() -> None:
        async with rig(platforms=("x",)) as r:
            _x_429(r, "users.mentions", 1)
            await asyncio.sleep(300)  # ten polls, 30 s apart
            assert _requests_after_429s_wait_retry_after(r, "users.mentions", 60) == 1
            assert (
                len([j for j in r.world.journal.entries(fake="x") if j.route == "users.mentions"])
                >= 4
            )

    virtual(main)


def test_a_refused_lookup_waits_for_retry_after_and_does_not_use_up_the_verification() -> None:
    async def main() -> None:
        async with rig(platforms=("x",)) as r:
            _x_429(r, "tweets.get", 4)  # more refusals than verification attempts
            jid = _publish(r, "acme", "x", "live, lookups throttled")
            await r.settle()
            job = r.platform.jobs.get(jid)
            assert job.state == "succeeded", job.last_error
            assert _requests_after_429s_wait_retry_after(r, "tweets.get", 60) == 4
            assert r.audit(job_id=jid, phase="outcome", outcome="success")

    virtual(main)


def test_a_rate_limited_identity_check_waits_for_retry_after_before_asking_again() -> None:
    """Found by `vibedrill load --fault x.rate_limited`: GET /2/users/me was retried early."""

    async def main() -> None:
        async with rig(platforms=("x",)) as r:
            _x_429(r, "users.me", 2)
            ids = [_publish(r, "acme", "x", f"identity throttled {i}") for i in range(3)]
            await r.settle()
            assert [r.platform.jobs.get(i).state for i in ids] == ["succeeded"] * 3
            assert _requests_after_429s_wait_retry_after(r, "users.me", 60) >= 1

    virtual(main)


def test_a_throttled_identity_check_defers_the_posts_without_using_up_their_attempts() -> None:
    """Found by `rb05_x_identity_check_throttled`: ten minutes of 429s on GET /2/users/me
    dead-lettered each account's first post after four attempts, and paged nobody."""

    async def main() -> None:
        async with rig(platforms=("x",)) as r:
            _x_429(r, "users.me", 6, retry_after_s=120)  # 6 × 2 minutes: past 4 attempts
            ids = [_publish(r, "acme", "x", f"identity throttled long {i}") for i in range(3)]
            await r.settle()
            jobs = [r.platform.jobs.get(i) for i in ids]
            assert [j.state for j in jobs] == ["succeeded"] * 3
            assert max(j.attempts for j in jobs) == 1
            assert _requests_after_429s_wait_retry_after(r, "users.me", 120) == 6
            m = await r.client.metrics()
            assert m['rate_limit_hits_total{platform="x"}'] == 6

    virtual(main)


class _NoScope:
    """A read's scope outside any job (an engagement poll's headers only)."""

    def headers(self) -> dict[str, str]:
        return {}


def test_an_instagram_throttle_holds_the_whole_account_and_its_posts_wait_without_attempts() -> (
    None
):
    """Found by `rb05_rate_limit_storm_instagram` once the judge held Instagram's throttle per
    account (its business-use-case limit counts every call): after an inbox read was throttled,
    posts still created containers into the throttle, and when the hold ended every waiting
    post went at once."""

    async def main() -> None:
        async with rig(platforms=("instagram",)) as r:
            r.world.faults.add(
                {
                    "kind": "instagram.rate_limited",
                    "params": {"retry_after_s": 600},
                    "match": {"fake": "instagram", "route": "media.list"},
                    "first_n": 1,
                }
            )
            p = r.platform
            client = p.settings.clients[0]
            acc = client.accounts[0]
            lane = p.lane_for("instagram")
            cred = p.keyring.resolve(client.client_id, acc)
            with pytest.raises(RateLimited):
                await lane.list_inbound(cred, _NoScope())
            throttled_at = p.now()
            ids = [_publish(r, client.client_id, "instagram", f"held post {i}") for i in range(3)]
            await r.settle()
            jobs = [p.jobs.get(i) for i in ids]
            assert [j.state for j in jobs] == ["succeeded"] * 3
            assert max(j.attempts for j in jobs) == 1
            sent = [
                j.t
                for j in r.world.journal.entries(fake="instagram")
                if j.account_id == acc.account_id and j.t > throttled_at
            ]
            assert sent and min(sent) >= throttled_at + 600

    virtual(main)


# --- note 5 ------------------------------------------------------------------------------------
def _expire_with_a_slow_token_endpoint(r: Rig) -> None:
    """acme-x's access tokens expire and refreshes take 2 s, so two workers' refreshes overlap."""
    r.world.tokens.expire_account("acme-x")
    r.world.faults.add(
        {
            "kind": "http.latency",
            "params": {"ms": 2_000},
            "match": {"fake": "x", "route": "oauth2.token"},
        }
    )


def _token_requests(r: Rig, account_id: str) -> list[tuple[float, int]]:
    """(time, status) of every request of ``account_id`` to X's token endpoint."""
    return [
        (j.t, j.status)
        for j in r.world.journal.entries(fake="x")
        if j.route == "oauth2.token" and j.account_id == account_id
    ]


def test_concurrent_workers_of_one_account_redeem_its_refresh_token_once() -> None:
    async def main() -> None:
        async with rig() as r:
            _expire_with_a_slow_token_endpoint(r)
            ids = [_publish(r, "acme", "x", f"expiry burst {i}") for i in range(3)]
            await r.settle()
            assert [r.platform.jobs.get(i).state for i in ids] == ["succeeded"] * 3
            # one redemption: the workers that lost the lock took the winner's token
            assert [st for _, st in _token_requests(r, "acme-x")] == [200]
            assert r.platform.keyring.refreshes == 1
            assert r.platform.keyring.refresh_failures == 0

    virtual(main)


def test_a_lane_sends_the_token_of_now_not_the_copy_a_refresh_replaced_meanwhile() -> None:
    async def main() -> None:
        async with rig() as r:
            p = r.platform
            client = p.settings.clients[0]
            acc = next(a for a in client.accounts if a.platform == "x")
            stale = p.keyring.resolve(client.client_id, acc)  # a job's copy, before it waits
            fresh = await p.keyring.refresh(stale)  # another job refreshed meanwhile
            assert fresh.access_token != stale.access_token
            r.world.tokens.expire_account(acc.account_id)  # … and then the old token aged out
            r.world.tokens.access[fresh.access_token].expires_at = p.now() + 7200
            _, used = await p.lane_for("x").send("GET", "/2/users/me", stale, _NoScope())
            assert used.access_token == fresh.access_token
            [me] = [j for j in r.world.journal.entries(fake="x") if j.route == "users.me"]
            assert (me.status, me.token_gen, me.token_replaced_at) == (200, 1, None)

    virtual(main)


def test_refresh_race_redeems_the_same_refresh_token_twice_and_breaks_the_accounts_auth() -> None:
    async def main() -> None:
        async with rig(defects=["refresh_race"]) as r:
            _expire_with_a_slow_token_endpoint(r)
            ids = [_publish(r, "acme", "x", f"expiry burst {i}") for i in range(2)]
            await r.settle()
            # both workers spent the refresh token they resolved, at once: the fake refused one
            (t1, first), (t2, second), *rest = _token_requests(r, "acme-x")
            assert (first, second) == (200, 400) and t1 == t2
            assert {st for _, st in rest} <= {400}
            errors = [r.platform.jobs.get(i).last_error or "" for i in ids]
            assert any("x.refresh_failed: HTTP 400 invalid_request" in e for e in errors), errors
            # the loser saved its copy over the winner's tokens: the stored refresh token is spent
            slot = r.platform.keyring._slot(r.platform.settings.account("acme-x")[1].credential_ref)
            assert r.world.tokens.refresh[slot.refresh_token].spent
            later = _publish(r, "acme", "x", "after the race")
            await r.settle()
            assert r.platform.jobs.get(later).state == "failed"
            assert _token_requests(r, "acme-x")[-1][1] == 400

    virtual(main)


def test_a_resend_refused_after_a_successful_refresh_is_retried_not_failed() -> None:
    async def main() -> None:
        async with rig() as r:
            await r.settle()
            _publish(r, "acme", "x", "before the storm")  # the identity check is cached
            await r.settle()
            now = r.world.now()
            r.world.faults.add(
                {
                    "kind": "x.token_expired",
                    "match": {"fake": "x", "account": "acme-x"},
                    "start": now,
                    "end": now + 100,
                }
            )
            jid = _publish(r, "acme", "x", "during an expiry storm")
            await asyncio.sleep(1)
            job = r.platform.jobs.get(jid)
            assert job.state == "retry_wait", job.last_error
            assert "401 again with the token just refreshed" in (job.last_error or "")
            assert job.run_at - r.platform.now() >= 59
            await r.settle()
            job = r.platform.jobs.get(jid)
            assert job.state == "succeeded", job.last_error
            assert len(r.ledger("post.created", "x")) == 2

    virtual(main)


async def _publish_into_a_slow_refresh(r: Rig, text: str) -> str:
    """A publish on acme-x whose first send meets a 401 while X's token endpoint takes 5 s:
    returns its job id once the 401 came back and the refresh is on the wire."""
    await r.settle()
    _publish(r, "acme", "x", "before the storm")  # the identity check is cached
    await r.settle()
    now = r.world.now()
    r.world.faults.add(
        {
            "kind": "x.token_expired",
            "match": {"fake": "x", "account": "acme-x"},
            "start": now,
            "end": now + 1,
        }
    )
    r.world.faults.add(
        {
            "kind": "http.latency",
            "match": {"fake": "x", "route": "oauth2.token"},
            "params": {"ms": 5000},
        }
    )
    jid = _publish(r, "acme", "x", text)
    await asyncio.sleep(2)
    return jid


def test_a_resend_held_by_a_mode_set_during_the_refresh_closes_its_attempt_in_the_audit() -> None:
    # served rb04: the Ops Lead set manual_only while a publish was refreshing its token; the
    # resend was held, and the attempt audited before the first send was never closed
    async def main() -> None:
        async with rig() as r:
            jid = await _publish_into_a_slow_refresh(r, "held while refreshing")
            await r.client.set_mode(
                "manual_only", client_id="acme", platform="x", actor="ops-lead", reason="RB-04"
            )
            await asyncio.sleep(30)
            job = r.platform.jobs.get(jid)
            assert job.state == "awaiting_approval", (job.state, job.last_error)
            rows = [e for e in r.platform.audit.events() if e.job_id == jid]
            assert [(e.phase, e.outcome) for e in rows] == [
                ("attempt", None),
                ("outcome", "blocked"),
            ]
            assert rows[1].error.startswith("mode:manual_only holds post.create")
            assert len(r.ledger("post.created", "x")) == 1  # only the post before the storm

    virtual(main)


def test_a_resend_stopped_by_a_kill_switch_during_the_refresh_is_audited_blocked_once() -> None:
    # found by ctl_kill_switch_meets_a_refused_post: the re-check before the resend audited the
    # refusal ``blocked`` and the side effect then audited the same attempt ``failed`` as well
    async def main() -> None:
        async with rig() as r:
            jid = await _publish_into_a_slow_refresh(r, "stopped while refreshing")
            await r.client.set_kill_switch(
                KillScope(platform="x", action="publish"), True, actor="ops-lead", reason="RB-04"
            )
            await asyncio.sleep(30)
            rows = [e for e in r.platform.audit.events() if e.job_id == jid]
            assert [(e.phase, e.outcome) for e in rows][:2] == [
                ("attempt", None),
                ("outcome", "blocked"),
            ]
            assert [e.outcome for e in rows].count("failed") == 0, rows
            assert rows[1].error.startswith("kill_switch: post.create for acme on x")
            assert len(r.ledger("post.created", "x")) == 1  # only the post before the storm

    virtual(main)


def test_a_dm_inbox_that_cannot_be_read_counts_towards_the_inbox_alert() -> None:
    """Found by `rb10_x_dm_inbox_outage`: X's DM events and Instagram's DM threads answering 503
    were taken for empty inboxes — no failed read counted, no `inbox_unreadable` page (the
    mentions and comments read beside them still come back: the poll goes on)."""

    async def main() -> None:
        async with rig(platforms=("x", "instagram")) as r:
            for fake, route in (("x", "dm_events.list"), ("instagram", "conversations.list")):
                r.world.faults.add(
                    {
                        "kind": "http.outage",
                        "params": {"status": 503},
                        "match": {"fake": fake, "route": route},
                    }
                )
            p = r.platform
            client = p.settings.clients[0]
            for platform in ("x", "instagram"):
                acc = next(a for a in client.accounts if a.platform == platform)
                lane = p.lane_for(platform)
                cred = p.keyring.resolve(client.client_id, acc)
                before = p.telemetry.window(f"engagement_poll_failed:{platform}", 600)
                got = await lane.list_inbound(cred, _NoScope())
                assert all(m.kind != "dm" for m in got)
                after = p.telemetry.window(f"engagement_poll_failed:{platform}", 600)
                assert after == before + 1, platform

    virtual(main)


def test_a_token_refused_while_the_token_endpoint_hangs_is_refreshed_before_it_is_sent_again() -> (
    None
):
    # found by rb04_token_endpoint_hangs: each retry sent the post again with the token X had
    # refused, drew another 401 and audited another attempt, while the refresh kept timing out
    async def main() -> None:
        async with rig() as r:
            await r.settle()
            _publish(r, "acme", "x", "before the outage")  # the identity check is cached
            await r.settle()
            now = r.world.now()
            for kind, match in (
                ("x.token_expired", {"fake": "x", "account": "acme-x"}),
                ("http.hang", {"fake": "x", "route": "oauth2.token"}),
            ):
                r.world.faults.add({"kind": kind, "match": match, "start": now, "end": now + 900})
            jid = _publish(r, "acme", "x", "during the token outage")
            await asyncio.sleep(800)
            posts = [
                j
                for j in r.world.journal.entries(fake="x")
                if j.route == "tweets.create" and j.t >= now
            ]
            assert [j.status for j in posts] == [401]  # sent once; then refreshed first, unsent
            job = r.platform.jobs.get(jid)
            assert job.state == "retry_wait" and "refresh_unreachable" in (job.last_error or "")
            await r.settle()
            assert r.platform.jobs.get(jid).state == "succeeded"

    virtual(main)
