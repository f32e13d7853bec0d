"""Each core defect misbehaves against the fakes; the healthy platform's tests show the opposite."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from platform_rig import Rig, rig, virtual

from sandbox.contract import JobSpec, KillScope
from sandbox.defects import DEFECTS
from sandbox.errors import Blocked

OPS = {"actor": "ops-lead", "reason": "drill"}


def _publish(r: Rig, client: str, platform: str, text: str | None = None, **kw: object) -> str:
    payload = {"text": text or f"{client} on {platform} #{len(r.platform.jobs)}"}
    return r.platform.submit(
        JobSpec(kind="publish", client_id=client, platform=platform, payload=payload, **kw)
    ).id  # type: ignore[arg-type]


def _posts(r: Rig) -> list:
    return [e for e in r.world.ledger if e.action == "post.created"]


def test_every_core_defect_is_catalogued_with_its_runbook_and_what_is_broken() -> None:
    core = {
        "tenancy_guard_off", "credential_cross_wire", "retry_not_idempotent", "verification_skipped",
        "refresh_race", "retry_after_ignored", "fifo_queue", "audit_dropped", "kill_switch_ignored_by_engagement",
    }  # fmt: skip
    assert core <= set(DEFECTS)
    for name in core:
        d = DEFECTS[name].describe()
        assert d["runbook"].startswith("RB-") and d["summary"]


def test_credential_cross_wire_lands_posts_on_another_tenants_account() -> None:
    async def main() -> None:
        async with rig(defects=["credential_cross_wire"]) as r:
            # every 3rd X credential is cross-wired; the per-ref identity cache hides it once warm
            for i, c in enumerate(("acme", "northwind", "globex", "acme", "northwind", "acme")):
                _publish(r, c, "x", f"{c} post {i}")
                await asyncio.sleep(60)
            await r.settle()
            wrong = [e for e in _posts(r) if e.tenant_id != _owner(r, e.resource_id)]
            assert len(wrong) == 1 and _owner(r, wrong[0].resource_id) == "acme"
            assert [a.name for a in r.platform.alerts.fired] == [
                "tenancy_mismatch"
            ]  # the cold-cache one

    virtual(main)


def _owner(r: Rig, resource_id: str) -> str:
    job = next(j for j in r.platform.jobs.all() if j.result.get("resource_id") == resource_id)
    return job.spec.client_id


def test_tenancy_guard_off_lets_a_job_post_on_another_tenants_account() -> None:
    async def main() -> None:
        async with rig(defects=["tenancy_guard_off"]) as r:
            jid = _publish(r, "acme", "x", "acme speaking", account_id="northwind-x")
            await r.settle()
            assert r.platform.jobs.get(jid).state == "succeeded"
            (post,) = _posts(r)
            assert post.tenant_id == "northwind" and not r.platform.alerts.fired

    virtual(main)


def test_retry_not_idempotent_double_posts_after_a_timed_out_publish() -> None:
    async def main() -> None:
        async with rig(defects=["retry_not_idempotent"]) as r:
            r.world.faults.add(
                {
                    "kind": "http.latency",
                    "params": {"ms": 40_000},
                    "match": {"fake": "instagram", "route": "media.publish"},
                    "first_n": 1,
                }
            )
            _publish(r, "acme", "instagram", "one post only")
            await r.settle()
            assert Counter(e.account_id for e in _posts(r)) == {"acme-instagram": 2}

    virtual(main)


def test_verification_skipped_reports_an_invisible_post_as_succeeded() -> None:
    async def main() -> None:
        async with rig(defects=["verification_skipped"]) as r:
            r.world.faults.add({"kind": "x.post_invisible", "match": {"fake": "x"}})
            jid = _publish(r, "acme", "x")
            await r.settle()
            assert r.platform.jobs.get(jid).state == "succeeded"
            assert r.audit(outcome="success")[0].proof["verified"] is False
            assert not [j for j in r.world.journal.entries(fake="x") if j.route == "tweets.get"]

    virtual(main)


def _expire_and_publish_twice(r: Rig) -> list[str]:
    r.world.tokens.expire_account("acme-x")
    # refreshes take 2 s: both jobs meet the expired token before either refresh is answered
    # (a job that starts sending after a refresh takes the fresh token and never races)
    r.world.faults.add(
        {
            "kind": "http.latency",
            "params": {"ms": 2_000},
            "match": {"fake": "x", "route": "oauth2.token"},
        }
    )
    return [_publish(r, "acme", "x", "first"), _publish(r, "acme", "x", "second")]


def test_refresh_race_spends_a_single_use_refresh_token_twice_and_breaks_auth() -> None:
    async def main() -> None:
        async with rig(defects=["refresh_race"]) as r:
            ids = _expire_and_publish_twice(r)
            await r.settle()
            states = Counter(r.platform.jobs.get(i).state for i in ids)
            assert states["failed"] >= 1, states
            assert any("x.refresh_failed" in (r.platform.jobs.get(i).last_error or "") for i in ids)

    virtual(main)


def test_the_healthy_keyring_refreshes_once_and_both_jobs_post() -> None:
    async def main() -> None:
        async with rig() as r:
            ids = _expire_and_publish_twice(r)
            await r.settle()
            assert {r.platform.jobs.get(i).state for i in ids} == {"succeeded"}
            assert r.platform.keyring.refreshes == 1

    virtual(main)


def test_an_x_token_is_refreshed_ahead_of_the_expiry_its_credential_store_states() -> None:
    # the roster's tokens expire two hours in: a post at 1h56m is sent with a fresh token
    async def main() -> None:
        async with rig() as r:
            await asyncio.sleep(2 * 3600 - 240)
            jid = _publish(r, "acme", "x", "late in the afternoon")
            await r.settle()
            assert r.platform.jobs.get(jid).state == "succeeded"
            x = r.world.journal.entries(fake="x")
            assert not [j for j in x if j.status == 401]
            # every X account in use (the engagement poll reads them all) refreshed once
            refreshed = Counter(j.account_id for j in x if j.route == "oauth2.token")
            assert refreshed == {"acme-x": 1, "northwind-x": 1, "globex-x": 1}

    virtual(main)


def test_retry_after_ignored_comes_back_before_the_rate_limit_resets() -> None:
    async def main() -> None:
        async with rig(defects=["retry_after_ignored"]) as r:
            r.world.faults.add(
                {
                    "kind": "x.rate_limited",
                    "params": {"retry_after_s": 900},
                    "match": {"fake": "x", "route": "tweets.create"},
                    "first_n": 2,
                }
            )
            t0 = r.platform.now()
            _publish(r, "acme", "x")
            await r.settle()
            creates = [j for j in r.world.journal.entries(fake="x") if j.route == "tweets.create"]
            assert creates[1].status == 429 and creates[1].t - t0 < 900

    virtual(main)


def test_fifo_queue_lets_older_engagement_work_run_before_a_newer_publish() -> None:
    async def order(defects: list[str]) -> list[str]:
        async with rig(defects=defects, runner_concurrency=1) as r:
            await r.client.set_queue_paused("publish", True, **OPS)
            await r.client.set_queue_paused("engagement", True, **OPS)
            r.platform.submit(JobSpec(kind="auth_check", client_id="acme", platform="linkedin"))
            r.platform.submit(
                JobSpec(kind="like", client_id="acme", platform="x", payload={"target_id": "1"})
            )
            _publish(r, "acme", "x")
            started: list[str] = []
            r.platform.jobs.on_change.append(
                lambda j, old: j.state == "running" and started.append(j.kind)
            )
            await r.client.set_queue_paused("engagement", False, **OPS)
            await r.client.set_queue_paused("publish", False, **OPS)
            await r.settle()
            return started

    async def main() -> None:
        assert (await order([])).index("publish") < (await order([])).index("like")
        fifo = await order(["fifo_queue"])
        assert fifo.index("like") < fifo.index("publish")

    virtual(main)


def test_audit_dropped_leaves_side_effects_without_an_audit_event_and_raises_audit_gap() -> None:
    async def main() -> None:
        async with rig(defects=["audit_dropped"]) as r:
            for i in range(8):
                _publish(r, ("acme", "northwind")[i % 2], "linkedin", f"post {i}")
            await r.settle()
            audited = {e.proof.get("resource_id") for e in r.audit(outcome="success")}
            missing = [e for e in _posts(r) if e.resource_id not in audited]
            assert len(missing) == 2
            r.platform.evaluate_alerts()
            assert "audit_gap" in [a.name for a in r.platform.alerts.fired]

    virtual(main)


def test_kill_switch_ignored_by_engagement_lets_replies_through_the_switch() -> None:
    async def replies(defects: list[str]) -> int:
        async with rig(defects=defects) as r:
            jid = _publish(r, "acme", "x", "original")
            await r.settle()
            target = r.platform.jobs.get(jid).result["resource_id"]
            await r.client.set_kill_switch(KillScope(), True, **OPS)
            await r.client.set_queue_paused("engagement", True, **OPS)
            job = r.platform.submit(JobSpec(kind="reply", client_id="acme", platform="x"))
            scope = r.platform.scope(job, service="x", account_id="acme-x")
            scope.job.job_class = "engagement"
            lane, cred, _ = await r.platform.publishing.prepare(job)
            with contextlib.suppress(Blocked):
                await lane.reply(cred, target, "thanks!", scope)
            return len([e for e in r.world.ledger if e.action == "reply.created"])

    async def main() -> None:
        assert await replies([]) == 0
        assert await replies(["kill_switch_ignored_by_engagement"]) == 1

    virtual(main)
