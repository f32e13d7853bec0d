"""The healthy platform against the in-process fakes: publish, verify, audit, and every control."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import httpx
import pytest
from platform_rig import Rig, rig, virtual

from sandbox.audit import Scrubber
from sandbox.contract import JobSpec, KillScope
from sandbox.controls import ControlError
from sandbox.defects import UnknownDefectError
from sandbox.settings import Settings

PLATFORMS = ("x", "instagram", "linkedin")
CLIENTS = ("acme", "northwind", "globex")
OPS = {"actor": "ops-lead", "reason": "drill"}


def _publish(r: Rig, client: str, platform: str, text: str | None = None) -> str:
    spec = JobSpec(
        kind="publish",
        client_id=client,
        platform=platform,
        payload={"text": text or f"{client} on {platform} #{len(r.platform.jobs)}"},
    )
    return r.platform.submit(spec).id


def _social_posts(r: Rig) -> list:
    return [e for e in r.world.ledger if e.action == "post.created"]


def _assert_one_success_audit_per_post(r: Rig) -> None:
    successes = Counter(
        (e.platform, e.proof.get("resource_id"))
        for e in r.audit(phase="outcome", outcome="success")
    )
    posts = _social_posts(r)
    assert posts, "no post reached the fakes"
    for e in posts:
        assert successes[(e.fake, e.resource_id)] == 1, (
            f"ledger post {e.fake}/{e.resource_id} has {successes[(e.fake, e.resource_id)]} success audit events"
        )
    assert sum(successes.values()) == len(posts)


def test_a_healthy_platform_publishes_and_verifies_every_post_on_the_intended_account() -> None:
    async def main() -> None:
        async with rig() as r:
            for c in CLIENTS:
                for p in PLATFORMS:
                    for _ in range(2):
                        _publish(r, c, p)
            await r.settle()
            jobs = r.platform.jobs.all()
            assert {j.state for j in jobs} == {"succeeded"}, [
                (j.id, j.state, j.last_error) for j in jobs
            ]
            assert all(j.result["verified"] for j in jobs)
            assert len(_social_posts(r)) == 18
            for e in _social_posts(r):
                job = next(j for j in jobs if j.result["resource_id"] == e.resource_id)
                assert e.account_id == f"{job.spec.client_id}-{job.spec.platform}"
                assert e.tenant_id == job.spec.client_id
            _assert_one_success_audit_per_post(r)
            m = await r.client.metrics()
            assert m["publish_success_total"] == 18 and m["publish_attempts_total"] == 18

    virtual(main)


def test_the_canary_publishes_one_post_and_verifies_it() -> None:
    async def main() -> None:
        async with rig() as r:
            out = await r.client.canary("acme", "instagram")
            assert out["ok"] and out["verified"] and out["resource_id"]
            assert [e.account_id for e in _social_posts(r)] == ["acme-instagram"]

    virtual(main)


def test_the_global_kill_switch_stops_every_side_effect_until_released() -> None:
    async def main() -> None:
        async with rig() as r:
            await r.client.set_kill_switch(KillScope(), True, **OPS)
            ids = [_publish(r, c, p) for c in CLIENTS for p in PLATFORMS]
            await asyncio.sleep(600)
            assert not _social_posts(r)
            assert {r.platform.jobs.get(i).state for i in ids} == {"blocked"}
            assert r.audit(outcome="blocked")
            assert (await r.client.metrics())['kill_switch_state{scope="global"}'] == 1
            await r.client.set_kill_switch(KillScope(), False, **OPS)
            await r.settle()
            assert len(_social_posts(r)) == 9
            assert {r.platform.jobs.get(i).state for i in ids} == {"succeeded"}

    virtual(main)


def test_a_run_a_kill_switch_refused_uses_up_none_of_the_retry_policys_attempts() -> None:
    async def main() -> None:
        # outages counted from the first failure (no outage window), so the count is exact
        async with rig(retry={"outage_window_s": 0}) as r:
            limit = r.platform.settings.retry.max_attempts
            await r.client.set_kill_switch(KillScope(), True, **OPS)
            jid = _publish(r, "acme", "x")
            await asyncio.sleep(600)
            job = r.platform.jobs.get(jid)
            assert job.state == "blocked" and job.attempts == 0
            # every attempt the policy allows still fails after the release: dead letter at 4
            r.world.faults.add(
                {"kind": "http.outage", "match": {"fake": "x", "route": "tweets.create"}}
            )
            await r.client.set_kill_switch(KillScope(), False, **OPS)
            await r.settle()
            assert job.state == "dead_letter" and job.attempts == limit
            creates = [j for j in r.world.journal.entries(fake="x") if j.route == "tweets.create"]
            assert len(creates) == limit

    virtual(main)


def _creates(r: Rig) -> list[float]:
    return [j.t for j in r.world.journal.entries(fake="x") if j.route == "tweets.create"]


def test_a_platform_outage_is_retried_through_it_with_back_off_and_no_attempt_used_up() -> None:
    # rb02 lost publishes to a 15-minute X outage: four quick attempts (2, 4, 8 s apart) were
    # spent before the Ops Lead could act, and the job was dead-lettered for the platform's fault
    async def main() -> None:
        async with rig() as r:
            limit = r.platform.settings.retry.max_attempts
            rule = r.world.faults.add(
                {"kind": "http.outage", "match": {"fake": "x", "route": "tweets.create"}}
            )
            jid = _publish(r, "acme", "x")
            await asyncio.sleep(900)
            job = r.platform.jobs.get(jid)
            assert job.state == "retry_wait" and job.attempts < limit, (job.state, job.attempts)
            tried = _creates(r)
            assert len(tried) > limit  # retried through the outage …
            gaps = [b - a for a, b in itertools.pairwise(tried)]
            assert gaps == sorted(gaps) and gaps[-1] > 4 * gaps[0]  # … backing off, not hammering
            r.world.faults.remove(rule.id)
            await r.settle()
            assert job.state == "succeeded" and job.attempts <= limit
            assert len(_social_posts(r)) == 1

    virtual(main)


def test_an_outage_longer_than_the_window_counts_against_the_attempts_and_dead_letters() -> None:
    async def main() -> None:
        async with rig(retry={"outage_window_s": 600}) as r:
            limit = r.platform.settings.retry.max_attempts
            r.world.faults.add(
                {"kind": "http.outage", "match": {"fake": "x", "route": "tweets.create"}}
            )
            jid = _publish(r, "acme", "x")
            await r.settle()
            job = r.platform.jobs.get(jid)
            assert job.state == "dead_letter" and job.attempts == limit
            late = [t for t in _creates(r) if t - _creates(r)[0] >= 600]
            assert 1 <= len(late) <= limit  # past the window only the policy's attempts are left
            assert (await r.client.controls())["retry"]["outage_window_s"] == 600

    virtual(main)


def test_the_dead_letter_that_completes_a_burst_pages_at_once_not_at_the_next_evaluation() -> None:
    # three dead letters 4m55s apart: the burst fits the 10-minute window only for seconds after
    # the third, less than the 30 s between two evaluations of the rules
    async def main() -> None:
        async with rig(retry={"outage_window_s": 0, "max_attempts": 1}) as r:
            r.world.faults.add(
                {"kind": "http.outage", "match": {"fake": "x", "route": "tweets.create"}}
            )
            for k in range(3):
                _publish(r, "acme", "x")
                await r.settle()
                if k < 2:
                    await asyncio.sleep(295)
            dead = [j for j in r.platform.jobs.all() if j.state == "dead_letter"]
            assert len(dead) == 3
            third = max(j.updated_at for j in dead)
            paged = [a for a in r.platform.alerts.fired if a.name == "dead_letters_rising"]
            assert paged, "no dead-letter page for three dead letters within ten minutes"
            assert paged[0].t <= third + 1.0

    virtual(main)


def test_a_kill_switch_engaged_mid_job_stops_the_side_effect_not_yet_sent() -> None:
    async def main() -> None:
        async with rig(pacing={"x": {"min_interval_s": 120}}) as r:
            first, second = _publish(r, "acme", "x"), _publish(r, "acme", "x")
            await asyncio.sleep(30)  # the first posted; the second waits in pacing
            await r.client.set_kill_switch(KillScope(client_id="acme"), True, **OPS)
            await asyncio.sleep(600)
            assert r.platform.jobs.get(first).state == "succeeded"
            assert r.platform.jobs.get(second).state == "blocked"
            assert len(_social_posts(r)) == 1

    virtual(main)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scope", "stopped"),
    [
        (KillScope(client_id="acme"), lambda c, p: c == "acme"),
        (KillScope(platform="instagram"), lambda c, p: p == "instagram"),
        (KillScope(client_id="northwind", platform="x"), lambda c, p: (c, p) == ("northwind", "x")),
        (KillScope(action="publish"), lambda c, p: True),
        (KillScope(action="reply"), lambda c, p: False),
    ],
    ids=["client", "platform", "client+platform", "action=publish", "action=reply"],
)
def test_a_scoped_kill_switch_stops_only_the_side_effects_it_covers(
    scope: KillScope, stopped: object
) -> None:
    async def main() -> None:
        async with rig() as r:
            await r.client.set_kill_switch(scope, True, **OPS)
            ids = {(c, p): _publish(r, c, p) for c in CLIENTS for p in PLATFORMS}
            await asyncio.sleep(1800)
            for (c, p), jid in ids.items():
                want = "blocked" if stopped(c, p) else "succeeded"  # type: ignore[operator]
                assert r.platform.jobs.get(jid).state == want, (
                    c,
                    p,
                    r.platform.jobs.get(jid).last_error,
                )
            landed = {(e.tenant_id, e.fake) for e in _social_posts(r)}
            assert landed == {k for k in ids if not stopped(*k)}  # type: ignore[operator]

    virtual(main)


@pytest.mark.parametrize("mode", ["approval_required", "manual_only"])
def test_a_fail_closed_mode_holds_jobs_until_an_operator_approves_them(mode: str) -> None:
    async def main() -> None:
        async with rig() as r:
            await r.client.set_mode(mode, platform="x", **OPS)  # type: ignore[arg-type]
            held, free = _publish(r, "acme", "x"), _publish(r, "acme", "linkedin")
            await asyncio.sleep(600)
            assert r.platform.jobs.get(held).state == "awaiting_approval"
            assert r.platform.jobs.get(free).state == "succeeded"
            assert [e.fake for e in _social_posts(r)] == ["linkedin"]
            job = await r.client.approve(held, **OPS)
            assert job.state == "queued"
            await r.settle()
            assert r.platform.jobs.get(held).state == "succeeded"
            assert sorted(e.fake for e in _social_posts(r)) == ["linkedin", "x"]

    virtual(main)


def test_read_only_mode_blocks_side_effects_and_releasing_it_resumes_them() -> None:
    async def main() -> None:
        async with rig() as r:
            await r.client.set_mode("read_only", client_id="globex", **OPS)
            jid = _publish(r, "globex", "linkedin")
            await asyncio.sleep(300)
            assert r.platform.jobs.get(jid).state == "blocked" and not _social_posts(r)
            await r.client.set_mode("auto", client_id="globex", **OPS)
            await r.settle()
            assert r.platform.jobs.get(jid).state == "succeeded"

    virtual(main)


@pytest.mark.slow
def test_pacing_holds_the_minimum_interval_and_the_daily_cap_per_account() -> None:
    async def main() -> None:
        async with rig() as r:
            await r.client.set_pacing(
                "instagram", min_interval_s=300, daily_caps={"publish": 3}, **OPS
            )
            ids = [_publish(r, "acme", "instagram") for _ in range(5)]
            await asyncio.sleep(3 * 3600)
            times = [e.t for e in _social_posts(r)]
            assert len(times) == 3, "the daily cap of 3 must hold"
            assert all(b - a >= 300 for a, b in itertools.pairwise(times)), times
            states = Counter(r.platform.jobs.get(i).state for i in ids)
            assert states == {"succeeded": 3, "scheduled": 2}

    virtual(main)


def test_paused_queue_consumers_start_no_job_of_that_class() -> None:
    async def main() -> None:
        async with rig() as r:
            await r.client.set_queue_paused("publish", True, **OPS)
            jid = _publish(r, "acme", "x")
            await asyncio.sleep(600)
            assert r.platform.jobs.get(jid).state == "queued" and not _social_posts(r)
            assert (await r.client.metrics())['queue_depth{job_class="publish"}'] == 1
            await r.client.set_queue_paused("publish", False, **OPS)
            await r.settle()
            assert r.platform.jobs.get(jid).state == "succeeded"

    virtual(main)


def test_retry_after_is_honoured_by_the_api_lane() -> None:
    async def main() -> None:
        async with rig() as r:
            r.world.faults.add(
                {
                    "kind": "x.rate_limited",
                    "params": {"retry_after_s": 900},
                    "match": {"fake": "x", "route": "tweets.create"},
                    "first_n": 1,
                }
            )
            t0 = r.platform.now()
            jid = _publish(r, "acme", "x")
            await r.settle()
            job = r.platform.jobs.get(jid)
            assert job.state == "succeeded" and job.attempts == 2
            creates = [j for j in r.world.journal.entries(fake="x") if j.route == "tweets.create"]
            assert [c.status for c in creates] == [429, 201]
            assert creates[1].t - t0 >= 900, "the retry came before x-rate-limit-reset"
            assert (await r.client.metrics())["rate_limit_hits_total"] == 1

    virtual(main)


def test_a_publish_not_visible_is_marked_needs_human_confirm_never_succeeded() -> None:
    async def main() -> None:
        async with rig() as r:
            r.world.faults.add({"kind": "linkedin.post_invisible", "match": {"fake": "linkedin"}})
            for c in CLIENTS:
                _publish(r, c, "linkedin")
            await r.settle()
            assert {j.state for j in r.platform.jobs.all()} == {"needs_human_confirm"}
            assert not r.audit(outcome="success")
            assert len(r.audit(outcome="needs_human_confirm")) == 3
            r.platform.evaluate_alerts()
            assert any(a.name == "verification_failed_high" for a in r.platform.alerts.fired)

    virtual(main)


def test_a_timed_out_publish_is_not_posted_twice_on_retry() -> None:
    async def main() -> None:
        async with rig() as r:
            r.world.faults.add(
                {
                    "kind": "http.reset",
                    "match": {"fake": "instagram", "route": "media.publish"},
                    "first_n": 1,
                }
            )
            r.world.faults.add(
                {
                    "kind": "http.reset",
                    "match": {"fake": "linkedin", "route": "posts.create"},
                    "first_n": 1,
                }
            )
            ig, li = _publish(r, "acme", "instagram"), _publish(r, "acme", "linkedin")
            await r.settle()
            assert Counter(e.fake for e in _social_posts(r)) == {"instagram": 1, "linkedin": 1}
            assert r.platform.jobs.get(ig).state in ("succeeded", "needs_human_confirm")
            assert r.platform.jobs.get(li).state in ("succeeded", "needs_human_confirm")

    virtual(main)


def test_a_throttled_check_whether_a_post_landed_waits_without_spending_attempts() -> None:
    # the first post lands but its answer is lost; every check of the account's posts is then
    # throttled six times running: a check is a question, not an attempt — the post is found
    # and claimed once X answers, not dead-lettered nor posted again
    async def main() -> None:
        async with rig() as r:
            r.world.faults.add(
                {"kind": "http.reset", "match": {"fake": "x", "route": "tweets.create"},
                 "params": {"committed": True}, "first_n": 1}
            )  # fmt: skip
            r.world.faults.add(
                {"kind": "x.rate_limited", "match": {"fake": "x", "route": "users.tweets"},
                 "params": {"retry_after_s": 30}, "first_n": 6}
            )  # fmt: skip
            job = _publish(r, "acme", "x")
            await r.settle()
            assert r.world.faults.hits_by_kind()["x.rate_limited"] == 6
            rec = r.platform.jobs.get(job)
            assert rec.state == "succeeded" and rec.attempts <= 2, (rec.state, rec.attempts)
            assert len([e for e in _social_posts(r) if e.fake == "x"]) == 1

    virtual(main)


def test_the_egress_guard_refuses_audits_and_alerts_an_unknown_host() -> None:
    async def main() -> None:
        async with rig() as r:
            with pytest.raises(
                httpx.ConnectError, match=r"egress refused: https://evil\.example\.com:443"
            ):
                await r.platform.http.get("https://evil.example.com/steal")
            assert r.audit(action="http.request", outcome="blocked")
            assert [a.name for a in r.platform.alerts.fired] == ["egress_refused"]

    virtual(main)


def test_a_job_for_another_tenants_account_is_blocked_by_the_tenancy_guard() -> None:
    async def main() -> None:
        async with rig() as r:
            jid = r.platform.submit(
                JobSpec(
                    kind="publish",
                    client_id="acme",
                    platform="x",
                    account_id="northwind-x",
                    payload={"text": "hi"},
                )
            ).id
            await r.settle()
            assert r.platform.jobs.get(jid).state == "blocked"
            assert not _social_posts(r)
            assert [a.name for a in r.platform.alerts.fired] == ["tenancy_mismatch"]

    virtual(main)


def test_the_scrubber_redacts_every_registered_secret_however_many_rotations() -> None:
    sc = Scrubber()
    tokens = [f"xtok{i:04d}-{'ab' * 12}" for i in range(5000)]  # rotations share prefixes
    for t in tokens:
        sc.register(t)
    sc.register("short")  # under 8 characters: not a secret the scrubber tracks
    sc.register("opaque-secret")
    sc.register("opaque-secret-longer")  # a secret another secret is a prefix of
    text = f"used {tokens[0]} then {tokens[4999]}; {{'k': 'opaque-secret-longer'}} opaque-secret"
    out = sc.text(text)
    assert out == "used [redacted] then [redacted]; {'k': '[redacted]'} [redacted]"
    assert sc.value({"a": [tokens[1234], "short"]}) == {"a": ["[redacted]", "short"]}
    assert sc.text("tok") == "tok"


def test_no_secret_reaches_the_audit_log_or_the_metrics() -> None:
    async def main() -> None:
        async with rig() as r:
            tok = r.world.roster.account("acme-x").credential.access_token
            r.platform.audit.record(
                client_id="acme",
                platform="x",
                account_id="acme-x",
                action="post.create",
                phase="attempt",
                trace_id="0" * 32,
                error=f"boom Bearer {tok}",
                detail={"token": tok},
            )
            _publish(r, "acme", "x")
            await r.settle()
            dump = (
                repr([e.model_dump() for e in r.platform.audit.events()])
                + r.platform.telemetry.exposition().decode()
            )
            for a in r.world.roster.accounts():
                assert a.credential.access_token not in dump
            assert "[redacted]" in dump

    virtual(main)


def test_an_error_quoting_a_credential_is_kept_scrubbed_in_the_job_and_its_result() -> None:
    """Found by `rb11_debug_gateway_echoes_tokens`: a gateway's error page echoed the request's
    Authorization header into Graph's message, which the job kept as its last error and the
    engagement poll in its result's ``errors`` — read by anyone who may list jobs."""

    async def main() -> None:
        async with rig(platforms=("instagram",)) as r:
            r.world.faults.add(
                {
                    "kind": "http.outage",
                    "params": {"status": 502, "echo_request": True},
                    "match": {"fake": "instagram", "route": "media.list"},
                }
            )
            poll = r.platform.submit(
                JobSpec(kind="engagement_poll", client_id="agency", idempotency_key="poll:t")
            )
            await r.settle()
            tokens = [a.credential.access_token for a in r.world.roster.accounts("instagram")]
            job = r.platform.jobs.get(poll.id)
            dump = repr((job.last_error, job.result))
            assert "[debug: GET" in dump and "[redacted]" in dump
            assert not any(t in dump for t in tokens)

    virtual(main)


def test_a_control_change_without_who_or_why_is_refused_and_changes_nothing() -> None:
    """Found by `ctl_kill_switch_scopes`: a release without a reason was refused after the setter
    had already released the switch — the platform answered an error, recorded no change, and
    let the client's side effects through."""

    async def main() -> None:
        async with rig() as r:
            scope = KillScope(client_id="acme")
            await r.client.set_kill_switch(scope, True, **OPS)
            for actor, reason in (("ops-lead", ""), ("", "drill"), ("ops-lead", "  ")):
                with pytest.raises(ControlError, match="must be a non-empty string"):
                    await r.client.set_kill_switch(scope, False, actor=actor, reason=reason)
            assert r.platform.controls.is_killed("acme", "x", "publish") is not None
            assert len(await r.client.control_changes()) == 1

    virtual(main)


def test_bad_control_input_names_the_field_the_value_and_the_valid_choices() -> None:
    async def main() -> None:
        async with rig() as r:
            with pytest.raises(
                ControlError,
                match=r"lane: 'browsr' is not a lane; did you mean 'browser'\?; valid: api, browser, hybrid",
            ):
                await r.client.set_lane("x", "browsr", **OPS)  # type: ignore[arg-type]
            with pytest.raises(ControlError, match="job_class: 'publishing'"):
                await r.client.set_queue_paused("publishing", True, **OPS)
            with pytest.raises(ControlError, match=r"scope\.client_id: .acme2. is not a client"):
                await r.client.set_kill_switch(KillScope(client_id="acme2"), True, **OPS)
            changes = await r.client.control_changes()
            assert changes == []

    virtual(main)


def test_an_unknown_defect_name_is_refused_with_a_suggestion() -> None:
    with pytest.raises(
        UnknownDefectError, match=r"'fifo_queu' is not a defect; did you mean 'fifo_queue'\?"
    ):
        from sandbox import Platform

        Platform(
            Settings(),
            {},
            transport=httpx.MockTransport(lambda r: httpx.Response(200)),
            now=lambda: 0.0,
            defects=["fifo_queu"],
        )


def test_every_control_change_is_recorded_with_actor_reason_and_time() -> None:
    async def main() -> None:
        async with rig() as r:
            await r.client.set_kill_switch(
                KillScope(platform="x"), True, actor="ic", reason="RB-01 step 1"
            )
            await r.client.set_provider_routing("text", ["anthropic", "openai"], **OPS)
            await r.client.set_budget(client_id="acme", client_usd=5.0, **OPS)
            await r.client.set_trigger_lock(True, **OPS)
            ch = await r.client.control_changes()
            assert [c.control for c in ch] == [
                "kill_switch",
                "provider_routing",
                "budget",
                "trigger_lock",
            ]
            assert (
                ch[0].actor == "ic"
                and ch[0].reason == "RB-01 step 1"
                and ch[0].scope == {"platform": "x"}
            )
            snap = await r.client.controls()
            assert snap["kill_switches"] == [{"platform": "x"}] and snap["provider_routing"][
                "text"
            ] == ["anthropic", "openai"]

    virtual(main)


async def test_the_platform_client_builds_the_requests_plain_httpx_builds() -> None:
    """Its URL cache hands httpx the URL it would have parsed: same URL, query and headers,
    the first time and from the cache; a URL httpx refuses still raises."""
    from sandbox.platform import _ApiClient

    def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    mine = _ApiClient(transport=httpx.MockTransport(ok))
    plain = httpx.AsyncClient(transport=httpx.MockTransport(ok))
    cases: list[tuple[str, dict[str, object] | None]] = [
        ("https://api.x.com/2/tweets?old=1", {"n": 1}),  # params replace the URL's query
        ("https://api.x.com/2/tweets", {"n": True}),  # 1, 1.0 and True are equal keys
        ("https://api.x.com/2/tweets", {"n": 1.0}),
        ("https://api.x.com/2/tweets", {"n": 1}),
        ("https://graph.facebook.com/v21.0/me", {"fields": "id,name", "q": "a b&c", "z": None}),
        ("https://api.x.com/2/tweets?z=1", {}),  # empty params drop the query
        ("https://api.x.com/2/tweets", {"ids": ["1", "2"]}),  # a list: not cached
        ("https://api.linkedin.com/rest/posts/urn%3Ali%3Ashare%3A7", None),
    ]
    for _ in range(2):
        for url, params in cases:
            a = mine.build_request("GET", url, params=params, headers={"a": "b"})
            b = plain.build_request("GET", url, params=params, headers={"a": "b"})
            assert (str(a.url), a.url.raw_path, a.headers.raw) == (
                str(b.url),
                b.url.raw_path,
                b.headers.raw,
            ), (url, params)
    # bodies, headers that replace the client's own (in any case), a timeout of the request's
    bodies: list[dict[str, Any]] = [
        {"json": {"text": "héllo", "n": [1, 2]}},
        {"data": {"grant_type": "refresh_token", "refresh_token": "r t"}},
        {"content": b"raw bytes"},
        {"json": None, "timeout": 2.5},
        {"timeout": httpx.Timeout(1.0, connect=0.5)},
    ]
    heads: list[Any] = [
        None,
        {},
        {"User-Agent": "rtv/1", "ACCEPT": "application/json", "traceparent": "00-ab-cd-01"},
        [("X-Dup", "1"), ("x-dup", "2"), ("Authorization", "Bearer t")],
        httpx.Headers({"Content-Type": "text/plain"}),
    ]
    built = mine.built_fast
    for body in bodies:
        for h in heads:
            for method in ("GET", "POST"):
                # as httpx's own request() calls it: every argument, the unused ones None
                full = {"files": None, "cookies": None, "extensions": None, **body}
                a = mine.build_request(method=method, url=cases[0][0], headers=h, **full)
                b = plain.build_request(method=method, url=cases[0][0], headers=h, **full)
                assert isinstance(a, httpx.Request) and mine.built_fast == built + 1
                built += 1
                assert (a.method, str(a.url), a.headers.raw, a.read(), a.extensions) == (
                    b.method,
                    str(b.url),
                    b.headers.raw,
                    b.read(),
                    b.extensions,
                ), (body, h)
    for bad in ("https://api.x.com/\x01", "https://api.x.com:abc/"):
        with pytest.raises(httpx.InvalidURL):
            mine.build_request("GET", bad)
        with pytest.raises(httpx.InvalidURL):
            mine.build_request("GET", bad)  # not kept: raises again
    await mine.aclose()
    await plain.aclose()


def test_a_long_throttle_gives_the_runners_slot_back_and_a_short_one_is_waited_out() -> None:
    # LinkedIn's daily 429 holds an account until midnight UTC: a job that slept through it in
    # a runner slot would, with a few of its kind, starve every other platform, tool call and
    # poll (found by `vibedrill explore` on the healthy platform)
    import random

    from sandbox.controls import Controls
    from sandbox.defects import Defects
    from sandbox.errors import Deferred
    from sandbox.pacing import LONG_HOLD_S, Pacer

    clock = [1_000_000.0]
    pacer = Pacer(
        Controls(Settings(), lambda: clock[0]), lambda: clock[0], random.Random(1), Defects()
    )
    pacer.penalise("acme-li", clock[0] + 3 * 3600)
    with pytest.raises(Deferred) as e:
        asyncio.run(pacer.acquire("linkedin", "acme-li", "publish"))
    assert e.value.run_at == clock[0] + 3 * 3600
    # a short hold is waited out in the slot (it sleeps, it does not defer)
    pacer.penalise("acme-x", clock[0] + LONG_HOLD_S / 10)

    async def short() -> None:
        await asyncio.wait_for(pacer.acquire("x", "acme-x", "publish"), 0.05)

    with pytest.raises(TimeoutError):
        asyncio.run(short())


def test_each_platform_process_on_a_store_sends_its_restored_jobs_spans_from_a_range_of_its_own(
    tmp_path: Any,
) -> None:
    # a job the old process was running runs again with the same attempt number: without a
    # range of its own, the new process would send span 1, 2 … again (one span, two requests)
    from sandbox.jobs import JobRecord
    from sandbox.scope import JobScope
    from sandbox.storage import SqliteStore

    store = SqliteStore(tmp_path / "platform.db")
    assert [store.next_boot() for _ in range(2)] == [1, 2]
    store.close()
    again = SqliteStore(tmp_path / "platform.db")
    assert again.next_boot() == 3  # counted in the file, across processes
    again.close()
    job = JobRecord.__new__(JobRecord)
    job.seq, job.spans, job.trace_id, job.idempotency_key = 7, 3 << 24, "ab" * 16, "k"
    scope = JobScope.__new__(JobScope)
    scope.job = job
    assert scope.headers()["traceparent"] == f"00-{'ab' * 16}-{(7 << 32) | (3 << 24) | 1:016x}-01"


def test_a_fact_a_running_job_notes_is_stored_before_the_request_that_follows(
    tmp_path: Any,
) -> None:
    # an Instagram container made, then its media_publish cut by a crash: the process that
    # takes over must know the container (else it makes a fresh one and posts twice)
    from sandbox.audit import AuditLog
    from sandbox.jobs import JobStore
    from sandbox.storage import SqliteStore

    store = SqliteStore(tmp_path / "platform.db")
    jobs = JobStore(lambda: 0.0, lambda: "ab" * 16)
    store.attach(jobs, AuditLog(lambda: 0.0))
    spec = JobSpec(kind="publish", client_id="acme", platform="instagram", payload={"text": "hi"})
    rec, _ = jobs.submit(spec)
    jobs.set_state(rec, "running")
    rec.result.setdefault("notes", {})["ig_container"] = "17800000000000001"
    jobs.noted(rec)
    store.close()
    [back] = SqliteStore(tmp_path / "platform.db").jobs()
    assert back.state == "running"  # when the process died: it runs again on restart …
    assert back.result["notes"] == {"ig_container": "17800000000000001"}  # … knowing its container


def test_a_platform_started_on_its_storage_counts_again_the_publishes_of_the_last_hour() -> None:
    # found by ctl_restart_mid_incident: failures just before a deploy were forgotten with the
    # process's in-memory windows, and the publish error page stayed silent after it
    async def main() -> None:
        async with rig() as r:
            p = r.platform
            now = p.now()
            for i in range(5):
                common = {"client_id": "acme", "platform": "x", "account_id": "acme-x"}
                common |= {"action": "post.create", "trace_id": f"{i:032x}", "job_id": f"j{i}"}
                p.audit.record(**common, phase="attempt")
                if i < 3:
                    p.audit.record(**common, phase="outcome", outcome="failed", error="x.http_503")
            p.audit.record(
                client_id="acme",
                platform="linkedin",
                account_id="acme-linkedin",
                action="reply.create",
                phase="attempt",
                trace_id="f" * 32,
            )
            p.telemetry._windows.clear()  # what a new process holds before it reads its store
            p._recount_publishes()
            assert p.telemetry.window("publish_attempt:x", 600) == 5
            assert p.telemetry.window("publish_failed:x", 600) == 3
            assert p.telemetry.window("publish_attempt:linkedin", 600) == 0
            p.evaluate_alerts()
            assert [a.name for a in p.alerts.fired] == ["publish_error_rate_high"]
            assert p.now() == now

    virtual(main)
