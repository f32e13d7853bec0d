"""A game day played by the autopilot through the console's HTTP API, on this process's sandbox.

``vibedrill gameday --autopilot`` as a subprocess at the acceptance's time scale (×120). Kept
apart from ``test_gameday_console.py`` and ``test_gameday_served.py``: each game day waits on its
scaled clock for about a minute, so in files of their own they run side by side on the
pytest-xdist workers instead of one after the other.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gameday_rig import start_gameday

pytestmark = [pytest.mark.slow, pytest.mark.served, pytest.mark.timeout(420)]


def test_the_autopilot_plays_the_automated_ops_lead_through_the_console_and_holds(
    tmp_path: Path,
) -> None:
    # the acceptance's own scale (×120): at ×240 a loaded machine's hiccups become minutes of
    # scenario time and the scenario's 2-minute detection deadline can be missed
    gd = start_gameday(tmp_path, "rb05_rate_limit_storm", "--autopilot", "--time-scale", "120")
    try:
        rc, out, err = gd.wait(timeout=400)
    finally:
        if gd.proc.poll() is None:
            gd.proc.kill()
    v = gd.verdict()
    # the detail (which request, which 429, at what offsets) makes a failure diagnosable after
    # pytest has cleaned its temporary folders
    missed = [
        f"{i['name']}: {i.get('detail')}" for i in v["invariants"] if i["verdict"] != "held"
    ] + [e["detail"] for e in v.get("expectations", []) if not e.get("met", True)]
    assert rc == 0, f"{out}{err}\nnot held: {missed}"
    assert gd.verdict()["verdict"] == "held"
    r = gd.rehearsal()
    assert r["grade"] == "contained"
    assert r["people"] == ["Autopilot (Ops Lead)", "Autopilot (Incident Commander)"]
    steps = r["measures"]["steps"]
    assert steps and all(s["done"] and s["by"] == "Autopilot (Ops Lead)" for s in steps)
    # every control went through the console's API as the autopilot, with a reason
    changes = [e for e in gd.timeline() if e["kind"] == "control.changed"]
    by_pilot = [e for e in changes if e["actor"] == "Autopilot (Ops Lead)"]
    assert by_pilot and all(e["data"]["reason"].startswith("RB-05 ") for e in by_pilot)
    md = (gd.report() / "postmortem.md").read_text()
    assert (
        "## 12) Rehearsal" in md
        and "Autopilot (Incident Commander) declared the incident mitigated" in md
    )
