"""The game day's parts without a drill: the pausable scaled clock, runbook search, the
console's refusals (roles, reasons, the facilitator's token) and the grades' arithmetic."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from harness.clock import ScaledTimeLoop
from harness.gameday.app import build_app
from harness.gameday.grading import compare
from harness.gameday.search import search_runbooks
from harness.gameday.state import GameDay
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def _run(loop: ScaledTimeLoop, coro: object) -> object:
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro)  # type: ignore[arg-type]
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_a_paused_scaled_clock_freezes_its_timers_and_resumes_where_it_stopped() -> None:
    # bounds with wide real-time slack (a loaded machine delays any wake-up), each still far from
    # what a clock that did not freeze, or did not scale, would give
    loop = ScaledTimeLoop(1000.0)

    async def main() -> tuple[float, float, float]:
        lp = asyncio.get_running_loop()
        assert isinstance(lp, ScaledTimeLoop)
        lp.pause()
        frozen = lp.time()
        slept = asyncio.ensure_future(asyncio.sleep(10.0))  # 10 ms of real time when running
        await asyncio.to_thread(time.sleep, 0.3)  # real time passes; the clock does not
        assert not slept.done() and lp.time() == frozen
        lp.resume()
        w = time.perf_counter()
        await slept
        real = time.perf_counter() - w
        advanced = lp.time() - frozen
        lp.set_scale(100_000.0)
        w2 = time.perf_counter()
        await asyncio.sleep(10_000.0)  # 0.1 s of real time at 100,000x; 10 s at 1,000x
        return advanced, real, time.perf_counter() - w2

    advanced, real, fast = _run(loop, main())  # type: ignore[misc]
    # 10 s, not the 300 s more the 0.3 s pause would add (slack: 0.15 s of real time)
    assert 10.0 <= advanced < 160.0
    assert real < 3.0  # 10 ms scaled, not the 10 s of an unscaled clock
    assert fast < 5.0  # the new scale took effect: not the 10 s of the old one


def test_runbooks_are_found_by_symptom() -> None:
    assert [h.runbook.id for h in search_runbooks("wrong account")][:1] == ["RB-01"]
    assert search_runbooks("429")[0].runbook.id == "RB-05"
    assert search_runbooks("queue depth")[0].runbook.id == "RB-07"
    assert search_runbooks("zzzz-nothing") == []
    assert len(search_runbooks("")) == 12


@pytest.fixture
def gd() -> GameDay:
    return GameDay(load_scenario(ROOT / "scenarios" / "rb01_cross_tenant_post.yaml"))


async def test_the_console_refuses_what_a_role_may_not_do_and_a_wrong_token(gd: GameDay) -> None:
    gd.clock = {"pause": lambda: None, "resume": lambda: None, "end": lambda: None}
    app = build_app(gd)
    t = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=t, base_url="http://console") as scribe,
        httpx.AsyncClient(transport=t, base_url="http://console") as anon,
    ):
        r = await anon.post("/api/join", json={"name": "Eve", "role": "Janitor"})
        assert r.status_code == 400 and "valid: Incident Commander, Ops Lead" in r.json()["error"]
        r = await anon.post(
            "/api/join", content=b"name=Eve", headers={"content-type": "text/plain"}
        )
        assert r.status_code == 415
        assert (await anon.get("/api/state")).status_code == 401
        r = await scribe.post("/api/join", json={"name": "Carol", "role": "Scribe"})
        assert r.status_code == 200 and r.json()["joined"]["actor"] == "Carol (Scribe)"
        r = await scribe.post("/api/join", json={"name": "Carol", "role": "Scribe"})
        assert r.status_code == 409
        # in the lobby nothing may be done yet
        r = await scribe.post("/api/notes", json={"text": "hello"})
        assert r.status_code == 409 and "not started" in r.json()["error"]
        # the facilitator's console and API want the secret token
        assert (await anon.get("/facilitator?token=nope")).status_code == 403
        r = await anon.post("/api/facilitator/start", json={}, headers={"X-Facilitator-Token": "x"})
        assert r.status_code == 403
        ok = {"X-Facilitator-Token": gd.token}
        assert (await anon.get(f"/facilitator?token={gd.token}")).status_code == 200
        r = await anon.post("/api/facilitator/resume", json={}, headers=ok)
        assert r.status_code == 409 and "lobby" in r.json()["error"]
        r = await anon.post("/api/facilitator/start", json={}, headers=ok)
        assert r.status_code == 200 and gd.status == "running"
        # started, but the platform is not up (no drill here): refused, saying so
        r = await scribe.post("/api/declare", json={"status": "mitigated"})
        assert r.status_code == 409 and "platform is still starting" in r.json()["error"]
        page = await scribe.get("/console")
        assert page.status_code == 200 and "Carol (Scribe)" in page.text


def test_a_runbook_step_in_the_console_names_its_action_and_deadline(gd: GameDay) -> None:
    app = build_app(gd)

    async def main() -> dict[str, object]:
        t = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=t, base_url="http://console") as c:
            await c.post("/api/join", json={"name": "Bob", "role": "Ops Lead"})
            r = await c.get("/api/runbooks/RB-01")
            assert (await c.get("/api/runbooks/RB-99")).status_code == 404
            return dict(r.json())

    rb = asyncio.run(main())
    steps = rb["steps"]
    assert isinstance(steps, list)
    first = steps[0]
    assert first["action"] == "kill_switch.engage" and first["params"] == {}
    assert first["deadline_s"] == 120.0 and first["text"].startswith("Global kill switch ON")
    # the browser-only step is not offered in an API-lane scenario
    assert all(s["id"] != "browser_runners_off" for s in steps)


def test_grades_compare_people_with_the_automated_ops_lead() -> None:
    def split(before: int | None, after: int | None, unc: int, total: int) -> dict[str, object]:
        return {"before": before, "after": after, "uncontained": unc, "total": total}

    people = {
        "acknowledge_s": 90.0,
        "acknowledged_by": "Bob (Ops Lead)",
        "right_runbook_s": None,
        "time_to_contain_s": None,
        "time_to_mitigate_s": None,
        "wrong_runbooks": ["RB-05"],
        "steps": [{"ok": False}],
        "steps_ok": 0,
        "steps_done": 0,
        "contained": False,
        "harm": {"harmful": split(None, None, 3, 3), "in_incident_window": split(None, None, 9, 9)},
    }
    auto = {
        "acknowledge_s": 5.0,
        "right_runbook_s": 5.0,
        "time_to_contain_s": 20.0,
        "time_to_mitigate_s": None,
        "steps": [{"ok": True}],
        "steps_ok": 1,
        "harm": {"harmful": split(1, 0, 0, 1), "in_incident_window": split(1, 8, 0, 9)},
    }
    g = compare(people, auto)
    assert g["grade"] == "not contained"
    rows = {r["measure"]: r for r in g["rows"]}
    ack = rows["time to acknowledge the page"]
    assert ack["people"] == "1m30s (Bob (Ops Lead))" and ack["grade"].startswith("1m25s slower")
    assert rows["time to open the right runbook"]["grade"] == "not done"
    assert rows["other runbooks opened"]["people"] == "RB-05"
    harm = rows["harmful side effects (ledger)"]
    assert (
        harm["people"] == "3 (never contained)" and harm["auto"] == "1 before / 0 after containment"
    )
    assert harm["grade"] == "3 after containment or uncontained, 0 with the automated Ops Lead"
    win = rows["side effects in the incident window (ledger)"]
    assert win["grade"] == "never contained; +1 uncontained vs the automated Ops Lead"
