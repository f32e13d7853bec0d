"""A game day end to end: people in a real Chromium, and nobody at all.

Each test runs ``vibedrill gameday`` as a subprocess (the console on 127.0.0.1, the drill on a
scaled clock) at a high time scale, so a one-hour scenario takes seconds. The autopilot's game
days are in ``test_gameday_autopilot.py`` and ``test_gameday_served.py``: each waits about a
minute on its scaled clock, so files of their own let them wait side by side.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from gameday_rig import start_gameday

from harness.platform_adapter import browser_choice

pytestmark = [pytest.mark.slow, pytest.mark.served, pytest.mark.timeout(420)]


def _people_section(md: str) -> str:
    return md.split("## 4) Timeline (UTC)", 1)[1].split("## 5)", 1)[0]


@pytest.mark.browser
def test_two_people_contain_a_cross_tenant_incident_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    # --linger: the console stays up until the facilitator closes it, so the outcome reaches
    # the pages (without it the server stopped 0.5 s after the report, and on a busy machine
    # the browser's event stream had not delivered the outcome yet: the page waited forever)
    gd = start_gameday(tmp_path, "rb01_cross_tenant_post", "--time-scale", "240", "--linger", "120")
    shots = tmp_path / "shots"
    shots.mkdir()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=browser_choice()[0], headless=True)
            views = {"viewport": {"width": 1400, "height": 1000}}
            ic = browser.new_context(**views).new_page()
            ops = browser.new_context(**views).new_page()
            fac = browser.new_context(**views).new_page()
            for page, name, role in ((ic, "Alice", "Incident Commander"), (ops, "Bob", "Ops Lead")):
                page.goto(gd.join)
                page.get_by_label("Your name").fill(name)
                page.get_by_role("radio", name=role).check()
                page.get_by_role("button", name="Join").click()
                expect(page.get_by_role("heading", name="Incident console")).to_be_visible()
                expect(page.locator("#me")).to_have_text(f"{name} ({role})")
            fac.goto(gd.facilitator)
            expect(fac.get_by_role("heading", name="Scenario and spoilers")).to_be_visible()
            expect(fac.locator("#people")).to_contain_text("Bob (Ops Lead)")
            # only the IC declares; only IC and Ops Lead pull controls; the Ops Lead has no notes
            expect(ic.get_by_role("button", name="Declare mitigated")).to_be_visible()
            expect(ops.get_by_role("button", name="Declare mitigated")).to_be_hidden()
            expect(ops.get_by_role("button", name="Engage kill switch")).to_be_visible()
            expect(ops.get_by_role("button", name="Add note")).to_be_hidden()
            fac.get_by_role("button", name="Start").click()

            fac.get_by_role("button", name="Pause").click()
            expect(ops.locator("#status")).to_have_text("paused")
            frozen = ops.locator("#clock").inner_text()
            fac.get_by_role("textbox", name="Hint").fill(
                "look at the audit feed's blocked outcomes"
            )
            fac.get_by_role("button", name="Send hint").click()
            expect(ops.locator("#hints")).to_contain_text(
                "look at the audit feed's blocked outcomes"
            )
            assert ops.locator("#clock").inner_text() == frozen  # a paused clock stands still
            fac.get_by_role("button", name="Resume").click()
            expect(ops.locator("#status")).to_have_text("running")
            ack = ops.get_by_role("button", name=re.compile(r"^Acknowledge page tenancy"))
            ack.first.click(timeout=90_000)
            expect(ops.locator("#pages")).to_contain_text("acknowledged by Bob (Ops Lead)")
            ops.get_by_label("Search runbooks by symptom").fill("wrong account")
            ops.get_by_role("button", name="Search").click()
            ops.get_by_role("button", name=re.compile(r"^Open RB-01 ")).click()
            step = ops.get_by_role("button", name="Global kill switch ON (side effects)")
            step.click()
            dialog = ops.get_by_role("dialog")
            expect(dialog).to_be_visible()
            dialog.get_by_label("Reason").fill(
                "wrong-tenant publishes refused; freezing side effects"
            )
            dialog.get_by_role("button", name="Send").click()
            expect(ops.locator("#controls")).to_contain_text("global", timeout=30_000)
            ic.get_by_label("Scribe note").fill("Bob froze side effects after the tenancy page")
            ic.get_by_role("button", name="Add note").click()
            ic.get_by_role("button", name="Declare mitigated").click()
            expect(ic.locator("#declared")).to_contain_text("Mitigated (declared by Alice")
            top = {"x": 0, "y": 0, "width": 1400, "height": 1700}
            ops.screenshot(path=str(shots / "gameday-participant.png"), full_page=True, clip=top)
            fac.screenshot(path=str(shots / "gameday-facilitator.png"), full_page=True, clip=top)
            fac.get_by_role("button", name="End game day").click()
            expect(ic.locator("#outcome")).to_contain_text(
                "Game day over: contained", timeout=120_000
            )
            fac.get_by_role("button", name="Close console").click()
            browser.close()
        rc, out, err = gd.wait(timeout=180)
    finally:
        if gd.proc.poll() is None:
            gd.proc.kill()
            gd.proc.wait()
    assert rc in (0, 1), out + err  # 1: a deadline missed on a busy machine's compressed clock
    for name in ("gameday-participant.png", "gameday-facilitator.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        keep = os.environ.get("GAMEDAY_SCREENSHOTS")
        if keep:
            shutil.copy(shots / name, Path(keep) / name)

    v = gd.verdict()
    assert v["verdict"] in ("held", "violated") and v["error"] is None, v
    judged = {i["name"]: i["verdict"] for i in v["invariants"]}
    # the incident's own invariants held; those judged in every drill held or had nothing to
    # judge here (no pacing set, no token refreshed, no engagement held back): none violated
    for name in ("every_side_effect_on_intended_account", "no_side_effects_while_killed"):
        assert judged[name] == "held", v["invariants"]
    assert judged["pacing_in_force"] == "not_applicable", v["invariants"]
    bad = {n: x for n, x in judged.items() if x not in ("held", "not_applicable")}
    assert not bad, v["invariants"]
    r = gd.rehearsal()
    assert r["grade"] == "contained"
    assert r["people"] == ["Alice (Incident Commander)", "Bob (Ops Lead)"]
    m = r["measures"]
    assert m["acknowledged_by"] == "Bob (Ops Lead)" and m["acknowledge_s"] is not None
    assert m["right_runbook_by"] == "Bob (Ops Lead)"
    assert m["contained"] and m["contained_by"] == "Bob (Ops Lead)"
    assert m["mitigated_by"] == "Alice (Incident Commander)"
    first = next(s for s in m["steps"] if s["step"] == "RB-01.immediate.1")
    assert first["done"] and first["by"] == "Bob (Ops Lead)"
    assert r["baseline"]["contained"] and r["baseline"]["steps_ok"] == len(r["baseline"]["steps"])
    # the kill switch went through the platform contract as Bob, with his reason
    kills = [
        e
        for e in gd.timeline()
        if e["kind"] == "control.changed" and e["data"]["control"] == "kill_switch"
    ]
    assert kills and kills[0]["actor"] == "Bob (Ops Lead)"
    assert kills[0]["data"]["reason"] == "wrong-tenant publishes refused; freezing side effects"
    md = (gd.report() / "postmortem.md").read_text()
    people = _people_section(md)
    assert "| Bob (Ops Lead) |" in people and "| Alice (Incident Commander) |" in people
    assert "## 12) Rehearsal" in md and "Grade: **contained**" in md
    assert "Bob froze side effects after the tenancy page" in md
    assert "look at the audit feed's blocked outcomes" in md  # the facilitator's hint
    kinds = [e["kind"] for e in gd.timeline() if e["actor"] == "facilitator"]
    assert kinds[:4] == ["gameday.started", "gameday.paused", "hint.sent", "gameday.resumed"]


def test_a_game_day_where_nobody_acts_is_graded_not_contained_with_the_harm_counted(
    tmp_path: Path,
) -> None:
    gd = start_gameday(tmp_path, "rb01_cross_tenant_post", "--time-scale", "240", "--no-lobby")
    try:
        rc, out, err = gd.wait(timeout=240)
    finally:
        if gd.proc.poll() is None:
            gd.proc.kill()
    # 0 held, 1 an expectation missed (a compressed clock on a busy machine can detect late)
    assert rc in (0, 1), out + err
    v = gd.verdict()
    assert all(i["verdict"] in ("held", "not_applicable") for i in v["invariants"]), v
    assert "game day over: not contained" in out
    # a verdict other than held says why, one line per reason
    assert (rc == 0) == ("why not held:" not in out), out
    assert rc == 0 or "why not held: expectation " in out, out
    r = gd.rehearsal()
    assert r["grade"] == "not contained" and r["people"] == []
    m = r["measures"]
    assert m["detection_signal"] and not m["contained"] and m["contained_by"] is None
    assert m["acknowledge_s"] is None and m["right_runbook_s"] is None and m["steps_done"] == 0
    assert m["time_to_mitigate_s"] is None
    # the harm: every side effect of the incident window went out with nothing contained
    window = m["harm"]["in_incident_window"]
    assert window["before"] is None and window["uncontained"] == window["total"] > 0
    assert m["harm"]["harmful"]["uncontained"] == m["harm"]["harmful"]["total"]
    # the automated Ops Lead, on the same scenario and seed, contained it
    b = r["baseline"]
    assert b["contained"] and b["harm"]["in_incident_window"]["uncontained"] == 0
    md = (gd.report() / "postmortem.md").read_text()
    assert "Grade: **not contained**" in md and "nobody joined" in md
    assert (
        f"| side effects in the incident window (ledger) | {window['total']} (never contained) |"
        in md
    )
    assert "| RB-01.immediate.1 | kill_switch.engage | not done |" in md
