"""Drills of a platform over HTTP (``--platform-url --world --time-scale``), against real servers.

The fakes and the platform run as child processes on loopback (``harness.drill.served_pair``);
the drill reaches them over HTTP only. A short scenario at a high time scale keeps each drill to a
few seconds of wall time; what is judged is the same as in-process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.clock import run_scaled, scaled_now
from harness.drill.run import DrillOptions, run_drill
from harness.drill.served_pair import ServedPair, served_pair
from harness.scenario import load_scenario

pytestmark = pytest.mark.served

STORM = """
id: served_storm
title: a short 429 storm on X, drilled over HTTP
runbook: RB-05
severity: P2
incident_types: [RATE]
seed: 3
world: {clients: 2, platforms: [x]}
workload: {duration: 40m, steady_state: 5m, posts_per_hour: 60}
faults:
  - {kind: x.rate_limited, at: 10m, duration: 15m, params: {retry_after_s: 60}, probability: 0.9}
response: auto
invariants: [rate_within_platform_limits, no_duplicate_side_effects, every_side_effect_audited]
"""

SCALE = 120.0


@pytest.fixture(scope="module")
def storm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("scen") / "served_storm.yaml"
    p.write_text(STORM)
    load_scenario(p)  # a typo in the test's own scenario fails here, not in a drill
    return p


@pytest.fixture(scope="module")
def shared_pair(storm: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPair]:
    """One healthy served pair for the tests that only need one (each start costs seconds)."""
    with served_pair(
        load_scenario(storm), time_scale=SCALE, workdir=tmp_path_factory.mktemp("pair")
    ) as pair:
        yield pair


def _served(pair: object, reports: Path, **kw: object) -> DrillOptions:
    return DrillOptions(
        reports_dir=reports,
        platform_url=pair.platform_url,  # type: ignore[attr-defined]
        world=pair.world,  # type: ignore[attr-defined]
        time_scale=SCALE,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.slow
def test_a_healthy_platform_over_http_holds_and_its_report_says_served(
    storm: Path, tmp_path: Path
) -> None:
    s = load_scenario(storm)
    with served_pair(s, time_scale=SCALE, workdir=tmp_path / "pair") as pair:
        at_rest = httpx.get(f"{pair.platform_url}/controls", timeout=30).json()
        first = run_drill(s, _served(pair, tmp_path / "r1"))
        # the Ops Lead slowed X's pacing and paused engagement; the drill put them back after
        # its report, so the platform is at rest for the next drill
        assert httpx.get(f"{pair.platform_url}/controls", timeout=30).json() == at_rest
        assert any("pacing restored" in n for n in first.notes), first.notes
        # a second drill against the same running pair judges only its own window
        second = run_drill(s, _served(pair, tmp_path / "r2"))
    for r in (first, second):
        assert r.verdict == "held", r.verdict_json
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


@pytest.mark.slow
def test_the_same_drill_against_a_platform_with_a_defect_is_violated(
    storm: Path, tmp_path: Path
) -> None:
    s = load_scenario(storm)
    with served_pair(s, ("retry_after_ignored",), time_scale=SCALE, workdir=tmp_path / "p") as pair:
        r = run_drill(s, _served(pair, tmp_path / "r"))
    assert r.verdict == "violated"
    bad = [i["name"] for i in r.verdict_json["invariants"] if i["verdict"] == "violated"]
    assert "rate_within_platform_limits" in bad
    # the report names what was drilled: the defect the platform runs, though the drill set none
    assert r.verdict_json["defects"] == ["retry_after_ignored"]
    assert r.report_dir is not None
    assert "retry_after_ignored" in (r.report_dir / "postmortem.md").read_text()


@pytest.mark.slow
def test_a_scenario_needing_a_defect_the_platform_lacks_is_skipped_never_held(
    storm: Path, tmp_path: Path, shared_pair: ServedPair
) -> None:
    s = load_scenario(storm)
    pair = shared_pair
    r = run_drill(s, _served(pair, tmp_path / "r", defects=("retry_after_ignored",)))
    assert r.verdict == "skipped"
    assert "retry_after_ignored" in r.verdict_json["reason"]
    assert "--defect retry_after_ignored" in r.verdict_json["reason"]
    assert r.report_dir is not None
    assert json.loads((r.report_dir / "verdict.json").read_text())["verdict"] == "skipped"


def test_cli_refuses_a_time_scale_that_does_not_match_the_world(tmp_path: Path) -> None:
    world = tmp_path / "world.json"
    world.write_text(
        json.dumps(
            {
                "admin": "http://127.0.0.1:9/_fake",
                "fakes": {},
                "clock": {"time_scale": 60, "anchor": 1.0},
            }
        )
    )
    res = CliRunner().invoke(
        app,
        [
            "run",
            "rb05_rate_limit_storm",
            "--platform-url",
            "http://127.0.0.1:9",
            "--world",
            str(world),
            "--time-scale",
            "30",
        ],
    )
    assert res.exit_code == 2
    assert "--time-scale 30 does not match" in res.output and "time scale 60" in res.output


def test_cli_needs_world_with_platform_url() -> None:
    res = CliRunner().invoke(
        app, ["run", "rb05_rate_limit_storm", "--platform-url", "http://127.0.0.1:9"]
    )
    assert res.exit_code == 2
    assert "--platform-url and --world go together" in res.output


@pytest.mark.slow
def test_a_platform_that_does_not_answer_is_a_harness_error_with_a_message(
    storm: Path, tmp_path: Path, shared_pair: ServedPair
) -> None:
    s = load_scenario(storm)
    pair = shared_pair
    r = run_drill(
        s,
        DrillOptions(
            reports_dir=tmp_path / "r",
            platform_url="http://127.0.0.1:9",  # nothing listens on the discard port
            world=pair.world,
            time_scale=SCALE,
        ),
    )
    assert r.verdict == "error"
    events = (r.report_dir / "evidence" / "timeline.jsonl").read_text()
    assert "does not answer GET /health" in events


@pytest.mark.slow
def test_platform_serve_names_a_bad_settings_key(
    storm: Path, tmp_path: Path, shared_pair: ServedPair
) -> None:
    pair = shared_pair
    bad = tmp_path / "settings.yaml"
    bad.write_text("pacing:\n  x:\n    concurrency: 0\n")
    res = CliRunner().invoke(
        app,
        [
            "platform",
            "serve",
            "--world",
            str(pair.world),
            "--port",
            "0",
            "--settings",
            str(bad),
        ],
    )
    assert res.exit_code == 2, res.output
    assert "--settings" in res.output and "pacing.x.concurrency" in res.output
    res = CliRunner().invoke(
        app,
        ["platform", "serve", "--world", str(pair.world), "--port", "0", "--time-scale", "7"],
    )
    assert res.exit_code == 2
    assert "does not match the world" in res.output


@pytest.mark.slow
def test_served_fakes_and_the_drill_share_the_world_clock(
    storm: Path, tmp_path: Path, shared_pair: ServedPair
) -> None:
    pair = shared_pair
    doc = json.loads(pair.world.read_text())
    assert doc["clock"]["time_scale"] == SCALE
    anchor = doc["clock"]["anchor"]
    fakes_now = httpx.get(f"{doc['admin']}/health", timeout=10).json()["now"]
    assert abs(fakes_now - scaled_now(SCALE, anchor)) < 0.5 * SCALE  # within half a second


def test_scaled_loop_compresses_sleeps() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        t, w = loop.time(), time.perf_counter()
        await asyncio.sleep(60.0)
        return loop.time() - t, time.perf_counter() - w

    virtual, wall = run_scaled(main, scale=600.0)
    assert 60.0 <= virtual < 75.0
    assert 0.09 <= wall < 0.5


@pytest.mark.slow
def test_env_points_the_official_sdk_at_the_served_world(tmp_path: Path) -> None:
    # a deployment is pointed at the fakes by its environment alone: what `vibedrill env` prints
    import os
    import subprocess
    import sys

    from fakes.serve import ServedFakes

    with ServedFakes() as doc:
        world = tmp_path / "world.json"
        world.write_text(json.dumps(doc))
        res = CliRunner().invoke(app, ["env", "--world", str(world), "--secrets"])
        assert res.exit_code == 0, res.output
        env = {
            k: v
            for line in res.output.splitlines()
            for k, _, v in [line.removeprefix("export ").partition("=")]
        }
        assert env["OPENAI_BASE_URL"].strip("'") == doc["fakes"]["openai"]
        assert env["ANTHROPIC_BASE_URL"].strip("'") == doc["fakes"]["anthropic"]
        assert env["VIBEDRILL_X_BASE_URL"].strip("'") == doc["fakes"]["x"]
        script = (
            "import openai; c = openai.OpenAI(); "
            "r = c.chat.completions.create(model='gpt-4o-mini', "
            "messages=[{'role': 'user', 'content': 'hi'}]); print(r.choices[0].message.role)"
        )
        child_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))
        }
        child_env.update({k: v.strip("'") for k, v in env.items()})
        out = subprocess.run(
            [sys.executable, "-c", script],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr[-500:]
        assert out.stdout.strip() == "assistant"
        ledger = httpx.get(f"{doc['admin']}/ledger", params={"action": "llm.completion"}).json()
        assert ledger["count"] == 1  # the call landed on the fake, as the agency's account


@pytest.mark.slow
def test_the_pytest_plugin_drills_a_served_platform_from_a_scenario_folder(
    storm: Path, tmp_path: Path, shared_pair: ServedPair
) -> None:
    # another project's CI gate: `pytest --drill-scenarios DIR --drill-platform-url … --drill-world …`
    import os
    import subprocess
    import sys

    project = tmp_path / "project"
    (project / "drills").mkdir(parents=True)
    (project / "drills" / "served_storm.yaml").write_text(storm.read_text())
    (project / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    # the module's healthy pair: a drill judges only its own window (see the first test)
    pair = shared_pair
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--strict-markers",
            "--drill-scenarios",
            "drills",
            "--drill-platform-url",
            pair.platform_url,
            "--drill-world",
            str(pair.world),
            "--drill-reports-dir",
            "out",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "1 passed" in res.stdout
    verdicts = list((project / "out").glob("*/verdict.json"))
    assert len(verdicts) == 1
    assert json.loads(verdicts[0].read_text())["topology"] == "served-platform"
