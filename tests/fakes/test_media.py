"""Contract tests of the media fake (async render jobs), in process on a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import fakes
from fakes import World
from fakes.core.clock import ManualClock

RENDERS = "https://api.media.vibedrill.test/v1/renders"
ADMIN = "http://fakes/_fake"
SCRIPT = "Fresh croissants every Saturday morning at the Acme Bakery, come early and say hello."


@dataclass
class Media:
    clock: ManualClock
    http: httpx.AsyncClient
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}"}

    async def submit(self, **body: Any) -> httpx.Response:
        return await self.http.post(
            RENDERS,
            json={"kind": "video", "script": SCRIPT, "client_id": "acme", **body},
            headers=self.auth,
        )

    async def get(self, rid: str) -> dict[str, Any]:
        r = await self.http.get(f"{RENDERS}/{rid}", headers=self.auth)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def content(self, rid: str) -> httpx.Response:
        return await self.http.get(f"{RENDERS}/{rid}/content", headers=self.auth)

    async def fault(self, kind: str, **params: Any) -> str:
        r = await self.http.post(f"{ADMIN}/faults", json={"kind": kind, "params": params})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def hits(self, rule_id: str) -> int:
        rules = (await self.http.get(f"{ADMIN}/faults")).json()["faults"]
        return int({f["id"]: f for f in rules}[rule_id]["hits"])

    async def ledger(self) -> list[dict[str, Any]]:
        return list(
            (await self.http.get(f"{ADMIN}/ledger", params={"fake": "media"})).json()["entries"]
        )


@pytest.fixture
async def media() -> AsyncIterator[Media]:
    clock = ManualClock()
    world = World(now=clock)
    async with fakes.FakeWorld(world, only=["media"]).client() as http:
        yield Media(clock, http, world.roster.account("agency-media").credential.access_token)


async def test_a_render_goes_queued_processing_succeeded_on_the_clock_and_is_billed_once(
    media: Media,
) -> None:
    r = await media.submit(duration_s=12)
    assert r.status_code == 202 and r.headers["x-request-id"]
    job = r.json()
    assert (job["status"], job["kind"], job["client_id"], job["duration_s"]) == (
        "queued",
        "video",
        "acme",
        12.0,
    )
    assert job["content_url"] is None and job["cost_usd"] is None
    media.clock.advance(5)
    assert (await media.get(job["id"]))["status"] == "processing"
    media.clock.advance(12)  # 24 s of rendering for 12 s of clip: half done
    assert (await media.get(job["id"]))["progress"] == 0.5
    media.clock.advance(12)
    done = await media.get(job["id"])
    assert done["status"] == "succeeded" and done["progress"] == 1.0
    assert done["content_url"] == f"{RENDERS}/{job['id']}/content"
    assert done["cost_usd"] == pytest.approx(0.60)
    clip = await media.content(job["id"])
    assert (
        clip.status_code == 200
        and clip.headers["content-type"] == "video/mp4"
        and clip.content[4:8] == b"ftyp"
    )
    (entry,) = await media.ledger()
    assert (entry["action"], entry["resource_id"], entry["request_id"]) == (
        "video.generated",
        job["id"],
        r.headers["x-request-id"],
    )
    assert (entry["account_id"], entry["cost_usd"], entry["detail"]) == (
        "agency-media",
        0.6,
        "video;12s;client=acme",
    )


async def test_content_before_the_render_succeeded_is_409_not_ready(media: Media) -> None:
    job = (await media.submit(kind="avatar", avatar_id="av_anna")).json()
    r = await media.content(job["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_ready"
    assert await media.ledger() == []


async def test_a_clip_without_duration_lasts_as_long_as_its_script_takes_to_say(
    media: Media,
) -> None:
    job = (await media.submit()).json()
    assert job["duration_s"] == round(len(SCRIPT.split()) / 2.5, 1)


async def test_an_idempotency_key_returns_the_same_job_instead_of_a_second_render(
    media: Media,
) -> None:
    a = await media.http.post(
        RENDERS,
        json={"kind": "video", "script": SCRIPT, "client_id": "acme"},
        headers={**media.auth, "idempotency-key": "k1"},
    )
    b = await media.http.post(
        RENDERS,
        json={"kind": "video", "script": SCRIPT, "client_id": "acme"},
        headers={**media.auth, "idempotency-key": "k1"},
    )
    assert (a.status_code, b.status_code) == (202, 200) and a.json()["id"] == b.json()["id"]


async def test_bad_requests_name_the_field_and_bad_keys_are_401(media: Media) -> None:
    r = await media.submit(kind="gif")
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "invalid_request",
        "param": "kind",
        "message": "kind: 'gif' is not a render kind; valid: avatar, video",
    }
    r = await media.submit(colour="red")
    assert r.status_code == 422 and r.json()["error"]["param"] == "colour"
    r = await media.http.post(
        RENDERS,
        json={"kind": "video", "script": SCRIPT, "client_id": "acme"},
        headers={"authorization": "Bearer nope"},
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = await media.http.get(f"{RENDERS}/rnd_missing", headers=media.auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_job_stuck_forever_keeps_the_job_processing_and_unbilled(media: Media) -> None:
    rid = await media.fault("media.job_stuck")
    job = (await media.submit(duration_s=10)).json()
    media.clock.advance(24 * 3600)
    view = await media.get(job["id"])
    assert view["status"] == "processing" and view["progress"] == 0.95
    assert (await media.content(job["id"])).status_code == 409
    assert await media.ledger() == []
    assert await media.hits(rid) == 1


async def test_job_stuck_for_a_while_delays_success_by_that_long(media: Media) -> None:
    rid = await media.fault("media.job_stuck", for_s=600)
    job = (await media.submit(duration_s=10)).json()
    media.clock.advance(5 + 20 + 599)
    assert (await media.get(job["id"]))["status"] == "processing"
    media.clock.advance(1)
    assert (await media.get(job["id"]))["status"] == "succeeded"
    assert len(await media.ledger()) == 1
    assert await media.hits(rid) == 1


async def test_job_failed_ends_in_failed_with_an_error_and_bills_nothing(media: Media) -> None:
    rid = await media.fault("media.job_failed")
    job = (await media.submit(duration_s=10)).json()
    media.clock.advance(60)
    view = await media.get(job["id"])
    assert (
        view["status"] == "failed"
        and view["error"]["code"] == "render_failed"
        and view["cost_usd"] is None
    )
    r = await media.content(job["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "render_failed"
    assert await media.ledger() == []
    assert await media.hits(rid) == 1


async def test_a_render_the_provider_canceled_ends_canceled_with_its_own_error_unbilled(
    media: Media,
) -> None:
    rid = await media.fault("media.job_failed", status="canceled")
    job = (await media.submit(duration_s=10)).json()
    media.clock.advance(60)
    view = await media.get(job["id"])
    assert (view["status"], view["error"]["code"], view["cost_usd"], view["progress"]) == (
        "canceled",
        "render_canceled",
        None,
        1.0,
    )
    assert view["finished_at"] is not None
    r = await media.content(job["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "render_canceled"
    assert await media.ledger() == []
    assert await media.hits(rid) == 1


async def test_an_outage_is_the_media_5xx_body(media: Media) -> None:
    rid = await media.fault("http.outage", status=502)
    r = await media.submit()
    assert r.status_code == 502 and r.json()["error"]["code"] == "internal_error"
    assert await media.hits(rid) == 1


async def test_reset_forgets_every_job(media: Media) -> None:
    job = (await media.submit()).json()
    await media.http.post(f"{ADMIN}/reset")
    r = await media.http.get(f"{RENDERS}/{job['id']}", headers=media.auth)
    assert r.status_code == 404
