"""The browser lane against the served fakes' web UI, with a real Chromium (one per module)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_rig import LaneRig, Served, StubScope, text

from sandbox.defects import Defects
from sandbox.errors import Ambiguous, Blocked, RateLimited


def _size(path: str) -> int:
    return Path(path).stat().st_size


def _read(path: str | Path) -> str:
    return Path(path).read_text()


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def _files(root: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in root.rglob(pattern) if p.is_file())


pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.served,
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest.fixture
def defects(rig: LaneRig) -> Iterator[object]:
    """Switch defects on for one test (the lanes share their deps)."""
    deps = rig.lane("x").d

    def on(*names: str) -> None:
        deps.defects = Defects(names)
        for lane in rig.comp.lanes.values():
            lane._picks = 0

    yield on
    deps.defects = Defects(())
    for lane in rig.comp.lanes.values():
        lane.halted = None
        lane.read_only = False


async def test_a_publish_through_the_web_ui_lands_in_the_ledger_as_web_and_the_api_finds_it(
    rig: LaneRig, served: Served
) -> None:
    cred = served.cred("acme", "x")
    body = text("publish")
    res = await rig.lane("x").publish(cred, body, StubScope())
    [entry] = [e for e in served.ledger(action="post.created") if e.resource_id == res.resource_id]
    assert (entry.channel, entry.account_id, entry.tenant_id) == ("web", "acme-x", "acme")
    async with httpx.AsyncClient() as http:
        r = await http.get(
            f"{served.doc['fakes']['x']}/2/tweets/{res.resource_id}",
            headers={"authorization": f"Bearer {cred.access_token}"},
        )
    assert r.json()["data"]["text"] == body
    assert res.permalink == f"https://x.com/acme_x/status/{res.resource_id}"
    proof = res.detail["evidence"]
    assert _size(proof["screenshot"]) > 1000 and "/web/post/" in proof["url"]
    assert res.resource_id in _read(proof["dom_snapshot"])
    look = await rig.lane("x").verify(cred, res.resource_id, StubScope())
    assert look.visible is True


async def test_an_instagram_share_through_the_web_ui_is_the_media_the_graph_api_finds(
    rig: LaneRig, served: Served
) -> None:
    cred = served.cred("northwind", "instagram")
    body = text("ig")
    res = await rig.lane("instagram").publish(cred, body, StubScope())
    [entry] = [
        e
        for e in served.ledger(action="post.created", fake="instagram")
        if e.resource_id == res.resource_id
    ]
    assert (entry.channel, entry.account_id) == ("web", "northwind-instagram")
    async with httpx.AsyncClient() as http:
        r = await http.get(
            f"{served.doc['fakes']['instagram']}/v21.0/{res.resource_id}",
            params={"fields": "caption,permalink", "access_token": cred.access_token},
        )
    assert r.json()["caption"] == body and r.json()["permalink"] == res.permalink


async def test_replies_and_dms_from_the_inbox_are_web_side_effects_and_inbound_is_ingested(
    rig: LaneRig, served: Served
) -> None:
    cred = served.cred("globex", "x")
    item = served.world.inbound.schedule(
        "x", "comment", "globex-x", "price?", author="@fan_a", at=0.0
    )
    dm_in = served.world.inbound.schedule(
        "x", "dm", "globex-x", "hello there", author="@fan_b", at=0.0
    )
    seen = await rig.lane("x").list_inbound(cred, StubScope())
    assert {m.id for m in seen} >= {item.id, dm_in.id}
    rep = await rig.lane("x").reply(cred, item.id, "It is 5 euros", StubScope())
    dm = await rig.lane("x").dm(
        cred, next(m.author_id for m in seen if m.id == dm_in.id), "Hi back", StubScope()
    )
    got = {(e.action, e.resource_id): e for e in served.ledger(account_id="globex-x")}
    assert got[("reply.created", rep.resource_id)].in_reply_to == item.id
    assert got[("dm.sent", dm.resource_id)].channel == "web"
    assert all(e.channel == "web" for e in got.values())


async def test_a_drift_that_defeats_every_locator_fails_loudly_and_safely(
    rig: LaneRig, served: Served
) -> None:
    cred, lane = served.cred("acme", "x"), rig.lane("x")
    await lane.publish(cred, text("before drift"), StubScope())
    served.fault("web.selector_drift", match={"fake": "x"})
    before = len(served.world.ledger)
    with pytest.raises(Blocked) as e:
        await lane.publish(cred, text("drifted"), StubScope())
    assert e.value.reason == "lane_unavailable" and "selector_miss" in e.value.error
    assert len(served.world.ledger) == before, "nothing may happen on the platform"
    assert any(a.name == "browser_selector_miss" for a in rig.alerts.fired)
    miss = next(ev for ev in reversed(lane.events) if ev["kind"] == "selector_miss")
    assert miss["target"] == "composer.text" and miss["ui_version"] == "v2"
    shots = _files(rig.artifacts, "*miss_composer.text.html")
    assert shots and 'data-ui-version="v2"' in _read(shots[-1])


async def test_a_drift_that_a_fallback_survives_keeps_working_and_reports_the_drift(
    rig: LaneRig, served: Served
) -> None:
    cred, lane = served.cred("acme", "x"), rig.lane("x")
    served.fault("web.selector_drift", params={"reword_labels": False}, match={"fake": "x"})
    res = await lane.publish(cred, text("fallback"), StubScope())
    assert [e for e in served.ledger(action="post.created") if e.resource_id == res.resource_id]
    assert {f["target"] for f in res.detail["fallbacks"]} >= {"composer.text", "composer.publish"}
    kinds = [ev["kind"] for ev in lane.events]
    assert "revealed" in kinds and "selector_fallback" in kinds
    assert any(a.name == "browser_selector_drift" for a in rig.alerts.fired)
    assert res.detail["evidence"]["ui_version"] == "v2"


async def test_with_brittle_selectors_the_same_drift_deletes_a_post_instead_of_publishing(
    rig: LaneRig, served: Served, defects: object
) -> None:
    defects("brittle_selectors")  # type: ignore[operator]
    cred, lane = (
        served.cred("northwind", "x"),
        rig.lane("x"),
    )
    first = await lane.publish(cred, text("brittle ok"), StubScope())
    served.fault("web.selector_drift", params={"reword_labels": False}, match={"fake": "x"})
    before = len(served.world.ledger)
    with pytest.raises(Ambiguous):
        await lane.publish(cred, text("brittle drifted"), StubScope())
    new = served.world.ledger.entries(since_seq=before)
    assert [(e.action, e.resource_id, e.channel) for e in new] == [
        ("post.deleted", first.resource_id, "web")
    ]


async def test_a_captcha_halts_browser_side_effects_and_escalates(
    rig: LaneRig, served: Served, defects: object
) -> None:
    cred, lane = served.cred("acme", "x"), rig.lane("x")
    served.fault("web.captcha", match={"fake": "x"})
    before = len(served.world.ledger)
    with pytest.raises(Blocked) as e:
        await lane.publish(cred, text("captcha"), StubScope())
    assert e.value.reason == "captcha" and lane.halted
    assert any(a.name == "browser_captcha" for a in rig.alerts.fired)
    served.clear_faults()
    journal = len(served.world.journal)
    with pytest.raises(Blocked) as e2:
        await lane.publish(cred, text("after captcha"), StubScope())
    assert e2.value.reason == "browser_halted"
    assert len(served.world.journal) == journal, "a halted lane does not even open the page"
    assert len(served.world.ledger) == before
    lane.resume()
    await lane.publish(cred, text("resumed"), StubScope())


async def test_an_interstitial_is_dismissed_and_a_slow_render_waited_for(
    rig: LaneRig, served: Served
) -> None:
    cred, lane = served.cred("acme", "x"), rig.lane("x")
    served.fault("web.interstitial", match={"fake": "x", "route": "web.home"})
    served.fault(
        "web.slow_render", params={"delay_ms": 800}, match={"fake": "x", "route": "web.home"}
    )
    res = await lane.publish(cred, text("modal"), StubScope())
    assert res.resource_id and any(ev["kind"] == "interstitial_dismissed" for ev in lane.events)


async def test_an_action_blocked_banner_stops_the_action_and_signals_rate_limiting(
    rig: LaneRig, served: Served
) -> None:
    cred, lane = served.cred("acme", "x"), rig.lane("x")
    served.fault("web.action_blocked", match={"fake": "x"})
    before = len(served.world.ledger)
    with pytest.raises(RateLimited):
        await lane.publish(cred, text("blocked"), StubScope())
    assert len(served.world.ledger) == before
    assert rig.telemetry.window("rate_limited:x", 3600) >= 1
    assert any(a.name == "browser_action_blocked" for a in rig.alerts.fired)


async def test_an_expired_session_is_logged_in_again(rig: LaneRig, served: Served) -> None:
    cred, lane = served.cred("acme", "x"), rig.lane("x")
    # a session to lose first (run alone, the profile is fresh and the fault would end the
    # session of the very login that made it)
    await lane.publish(cred, text("signed in"), StubScope())
    logins = sum(ev["kind"] == "login" for ev in lane.events)
    served.fault("web.session_expired", match={"fake": "x"}, first_n=1)
    await lane.publish(cred, text("relogin"), StubScope())
    assert sum(ev["kind"] == "login" for ev in lane.events) == logins + 1


async def test_a_session_that_ends_under_the_new_posts_page_leaves_the_send_ambiguous(
    rig: LaneRig, served: Served
) -> None:
    # the composer's form was taken, and only the post's page it led to asked for a login: the
    # post is live, so the send is ambiguous (looked for before a retry), not a plain failure
    cred, lane = served.cred("acme", "x"), rig.lane("x")
    before = len(served.world.ledger)
    served.fault("web.session_expired", match={"fake": "x", "route": "web.post"}, first_n=1)
    with pytest.raises(Ambiguous, match="session_expired"):
        await lane.publish(cred, text("made, then logged out"), StubScope())
    assert len(served.world.ledger) == before + 1


async def test_the_kill_switch_is_checked_again_right_before_the_click(
    rig: LaneRig, served: Served
) -> None:
    cred, lane = served.cred("acme", "x"), rig.lane("x")
    before = len(served.world.ledger)
    with pytest.raises(Blocked) as e:
        await lane.publish(cred, text("killed"), StubScope(kill_at_check=2))
    assert e.value.reason == "kill_switch"
    assert len(served.world.ledger) == before


async def test_read_only_mode_refuses_side_effects_and_still_ingests(
    rig: LaneRig, served: Served, defects: object
) -> None:
    cred, lane = served.cred("acme", "x"), rig.lane("x")
    lane.set_read_only(True)
    with pytest.raises(Blocked) as e:
        await lane.publish(cred, text("ro"), StubScope())
    assert e.value.reason == "browser_read_only"
    assert isinstance(await lane.list_inbound(cred, StubScope()), list)


async def test_profiles_are_kept_apart_per_client_and_account(rig: LaneRig, served: Served) -> None:
    lane = rig.lane("x")
    a = await lane.publish(served.cred("acme", "x"), text("acme"), StubScope())
    b = await lane.publish(served.cred("globex", "x"), text("globex"), StubScope())
    owners = {e.resource_id: e.account_id for e in served.ledger(action="post.created")}
    assert (owners[a.resource_id], owners[b.resource_id]) == ("acme-x", "globex-x")
    root = lane.d.browser.profiles_dir
    for client in ("acme", "globex"):
        state = root / client / f"{client}-x" / "storage-state.json"
        # a client's login cookies: readable by the platform's user alone
        assert state.exists() and stat.S_IMODE(state.stat().st_mode) == 0o600, state


async def test_the_profile_mixup_defect_posts_on_another_clients_account(
    rig: LaneRig, served: Served, defects: object
) -> None:
    defects("browser_profile_mixup")  # type: ignore[operator]
    lane = rig.lane("x")
    await lane.publish(served.cred("globex", "x"), text("own"), StubScope())
    res = await lane.publish(
        served.cred("northwind", "x"), text("meant for northwind"), StubScope()
    )
    [entry] = [e for e in served.ledger(action="post.created") if e.resource_id == res.resource_id]
    assert entry.tenant_id != "northwind" and entry.channel == "web"


async def test_no_credential_or_session_cookie_appears_in_any_artifact_or_event(
    rig: LaneRig, served: Served
) -> None:
    cookies = []
    for ctx in rig.comp.runtime._contexts.values():
        cookies += [c["value"] for c in await ctx.cookies()]
    assert cookies, "the lanes logged in, so there are session cookies"
    secrets = [s.access_token for s in served.secrets.values()] + [
        s.refresh_token for s in served.secrets.values() if s.refresh_token
    ]
    files = _files(rig.artifacts)
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".png" for p in files)
    events = json.dumps([rig.comp.lanes[p].events for p in rig.comp.lanes], default=str)
    alerts = json.dumps([a.message for a in rig.alerts.fired])
    blobs = {p: _bytes(p) for p in files}
    for p, data in blobs.items():
        for s in [*secrets, *cookies]:
            assert s.encode() not in data, f"{s[:6]}… found in {p}"
    for s in [*secrets, *cookies]:
        assert s not in events and s not in alerts
    # and the page text the lane sees never shows the cookie either
    ctx = next(iter(rig.comp.runtime._contexts.values()))
    page = await ctx.new_page()
    await page.goto(f"{rig.lane('x').base}/home")
    body = await page.inner_text("body") + await page.content()
    await page.close()
    assert not any(c in body for c in cookies)
