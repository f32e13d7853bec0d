"""A healthy platform over HTTP, drilled twice against the same served pair.

The fakes and the platform as child processes on loopback (``harness.drill.served_pair``), the
short storm of ``_served_storm`` at ×120: held, the platform's controls put back after each
drill, and the second drill judging only its own window. Kept apart from
``test_served_drill.py`` (the other served drills and their errors): its two drills wait about
a minute on the scaled clock, so in a file of its own it waits beside the others on the
pytest-xdist workers.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from _served_storm import SCALE, STORM, served_options

from harness.drill.run import run_drill
from harness.drill.served_pair import served_pair
from harness.scenario import load_scenario

pytestmark = pytest.mark.served


@pytest.fixture(scope="module")
def storm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("scen") / "served_storm.yaml"
    p.write_text(STORM)
    load_scenario(p)  # a typo in the test's own scenario fails here, not in a drill
    return p


@pytest.mark.slow
def test_a_healthy_platform_over_http_holds_and_its_report_says_served(
    storm: Path, tmp_path: Path
) -> None:
    s = load_scenario(storm)
    with served_pair(s, time_scale=SCALE, workdir=tmp_path / "pair") as pair:
        at_rest = httpx.get(f"{pair.platform_url}/controls", timeout=30).json()
        first = run_drill(s, served_options(pair, tmp_path / "r1"))
        # the Ops Lead slowed X's pacing and paused engagement; the drill put them back after
        # its report, so the platform is at rest for the next drill
        assert httpx.get(f"{pair.platform_url}/controls", timeout=30).json() == at_rest
        assert any("pacing restored" in n for n in first.notes), first.notes
        # a second drill against the same running pair judges only its own window
        second = run_drill(s, served_options(pair, tmp_path / "r2"))
    for r in (first, second):
        broken = [
            (i["name"], i["detail"])
            for i in r.verdict_json["invariants"]
            if i["verdict"] == "violated"
        ]
        assert r.verdict == "held", (r.verdict, broken, r.verdict_json.get("error"))
        assert r.verdict_json["topology"] == "served-platform"
        assert r.report_dir is not None and (r.report_dir / "postmortem.md").is_file()
        assert any(x["name"].startswith("x.rate_limited") for x in r.verdict_json["reached"])
    for r in (first, second):  # over HTTP, concurrent polls must not record anything twice
        ev = r.report_dir / "evidence"  # type: ignore[operator]
        seqs = [json.loads(x)["seq"] for x in (ev / "audit.jsonl").read_text().splitlines()]
        assert len(seqs) == len(set(seqs))
        changes = [
            e["data"]["control_seq"]
            for e in map(json.loads, (ev / "timeline.jsonl").read_text().splitlines())
            if e["kind"] == "control.changed"
        ]
        assert changes and len(changes) == len(set(changes))
    ledger1 = (first.report_dir / "evidence" / "ledger.jsonl").read_text().splitlines()
    ledger2 = (second.report_dir / "evidence" / "ledger.jsonl").read_text().splitlines()
    seqs1 = {json.loads(x)["seq"] for x in ledger1}
    seqs2 = {json.loads(x)["seq"] for x in ledger2}
    assert seqs1 and seqs2 and not seqs1 & seqs2  # no side effect judged twice
    # a one-hour-ish scenario at K=240 takes seconds, not an hour
    assert first.simulated_s / max(first.wall_s, 1e-3) > SCALE / 3
