"""A game day against a platform served in other processes (``--platform-url --world``).

The sandbox served by ``vibedrill platform serve`` beside ``vibedrill serve`` (a served pair at
×120), the game day on the world's clock, the autopilot playing the Ops Lead over HTTP. A file of
its own so that it waits on its clock beside the other game days (see
``test_gameday_autopilot.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gameday_rig import ROOT, start_gameday

pytestmark = [pytest.mark.slow, pytest.mark.served, pytest.mark.timeout(420)]


def test_a_game_day_drives_a_platform_served_in_other_processes_over_http(
    tmp_path: Path,
) -> None:
    # the team's own platform: here the sandbox served by `vibedrill platform serve`, reached
    # only over HTTP; the game day takes the world's clock (scale from its ready file)
    from harness.drill.served_pair import served_pair
    from harness.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "rb05_rate_limit_storm.yaml")
    # ×120, as the autopilot's game day: at ×240 an engagement poll that takes a loaded machine a
    # second of real time spans four scenario minutes, and one still running at the end was
    # judged left behind (every_job_terminal_after_healing), twice in full-suite runs
    with served_pair(sc, time_scale=120.0, workdir=tmp_path / "pair") as pair:
        gd = start_gameday(
            tmp_path,
            "rb05_rate_limit_storm",
            "--autopilot",
            "--no-baseline",
            "--platform-url",
            pair.platform_url,
            "--world",
            str(pair.world),
        )
        try:
            rc, out, err = gd.wait(timeout=300)
        finally:
            if gd.proc.poll() is None:
                gd.proc.kill()
    assert "×120" in out, out
    assert rc == 0, out + err
    v = gd.verdict()
    assert v["verdict"] == "held" and v["topology"] == "served-platform"
    assert gd.rehearsal()["grade"] == "contained"
