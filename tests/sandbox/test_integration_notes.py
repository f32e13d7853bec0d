"""Regressions of the platform problems in docs/integration-notes.md, one test per note."""

from __future__ import annotations

import asyncio

from platform_rig import Rig, rig, virtual

from sandbox.contract import JobSpec

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
