"""The browser lane inside the platform: a publish job routed to the browser, audited with proof."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from browser_rig import Served

from sandbox import Platform, Settings
from sandbox.contract import JobSpec
from sandbox.lanes.browser_install import install
from sandbox.lanes.browser_settings import BrowserSettings
from sandbox.settings import VerificationPolicy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.served,
    pytest.mark.asyncio(loop_scope="module"),
]


def _exists(path: str) -> bool:
    return Path(path).is_file()


async def test_a_publish_job_routed_to_the_browser_is_verified_and_audited_with_its_evidence(
    served: Served, tmp_path: Path
) -> None:
    roster = served.world.roster.model_dump(mode="json")
    settings, secrets = Settings.from_world_ready(
        served.doc,
        roster,
        verification=VerificationPolicy(delay_s=0.05, attempts=2, interval_s=0.2),
    )
    platform = Platform(settings, secrets, transport=httpx.AsyncHTTPTransport(), seed=3)
    install(
        platform,
        BrowserSettings(artifacts_dir=tmp_path / "evidence", profiles_dir=tmp_path / "profiles"),
    )
    platform.controls.set_lane("x", "browser", actor="test", reason="browser lane under test")
    async with platform:
        job = platform.submit(
            JobSpec(
                kind="publish",
                client_id="acme",
                platform="x",
                payload={"text": "via the browser lane"},
            )
        )
        job = await asyncio.wait_for(platform.jobs.wait_settled(job.id), 60)
    assert job.state == "succeeded", job.last_error
    [out] = [e for e in platform.audit.events() if e.phase == "outcome" and e.job_id == job.id]
    assert (out.lane, out.outcome, out.proof["verified"]) == ("browser", "success", True)
    ev = out.proof["evidence"]
    assert _exists(ev["screenshot"]) and _exists(ev["dom_snapshot"]) and "/web/post/" in ev["url"]
    [entry] = [
        e for e in served.ledger(action="post.created") if e.resource_id == out.proof["resource_id"]
    ]
    assert (entry.channel, entry.account_id) == ("web", "acme-x")
