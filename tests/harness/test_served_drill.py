"""Drills of a platform over HTTP (``--platform-url --world --time-scale``), against real servers.

The fakes and the platform run as child processes on loopback (``harness.drill.served_pair``);
the drill reaches them over HTTP only. A short scenario at a high time scale keeps each drill to a
few seconds of wall time; what is judged is the same as in-process. The storm is
``_served_storm``'s; the healthy drill twice against one pair is in ``test_served_twice.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _served_storm import SCALE, STORM, served_options
from typer.testing import CliRunner

from harness.cli.main import app
from harness.clock import run_scaled, scaled_now
from harness.drill.run import DrillOptions, run_drill
from harness.drill.served_pair import ServedPair, served_pair
from harness.scenario import load_scenario

pytestmark = pytest.mark.served


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


@pytest.mark.slow
def test_the_same_drill_against_a_platform_with_a_defect_is_violated(
    storm: Path, tmp_path: Path
) -> None:
    s = load_scenario(storm)
    with served_pair(s, ("retry_after_ignored",), time_scale=SCALE, workdir=tmp_path / "p") as pair:
        r = run_drill(s, served_options(pair, tmp_path / "r"))
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
    r = run_drill(s, served_options(pair, tmp_path / "r", defects=("retry_after_ignored",)))
    assert r.verdict == "skipped"
    assert "retry_after_ignored" in r.verdict_json["reason"]
    assert "--defect retry_after_ignored" in r.verdict_json["reason"]
    assert r.report_dir is not None
    assert json.loads((r.report_dir / "verdict.json").read_text())["verdict"] == "skipped"


def test_a_scenario_that_restarts_the_platform_is_skipped_on_a_served_one(
    tmp_path: Path, shared_pair: ServedPair
) -> None:
    """The drill cannot restart a platform someone else runs: skipped, saying why, never held."""
    s = load_scenario(
        Path(__file__).resolve().parents[2] / "scenarios" / "ctl_restart_mid_incident.yaml"
    )
    r = run_drill(s, served_options(shared_pair, tmp_path / "r"))
    assert r.verdict == "skipped"
    assert "platform.restart" in r.verdict_json["reason"]
    assert "without --platform-url" in r.verdict_json["reason"]


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
    # the sleep lasts its 60 virtual seconds, and virtual time runs 600 times real time: a
    # busy machine may wake the loop late (more of both), never early and never unscaled
    assert virtual >= 60.0
    assert wall >= 0.099
    assert virtual == pytest.approx(wall * 600.0, rel=0.05)
    assert wall < 6.0  # an unscaled sleep would take 60 s


@pytest.mark.slow
def test_the_lag_probe_measures_how_late_a_busy_loop_fires_its_timers() -> None:
    # a served drill's in-flight allowance grows with how busy the machine is: the probe must see
    # a 0.3 s stall of the loop as ~0.3 s late (×120 in the world's seconds), and an idle loop as
    # far less
    from harness.clock import LagProbe

    async def main(stall: float) -> float:
        probe = LagProbe(0.01 * 120.0)
        task = asyncio.ensure_future(probe.run())
        await asyncio.sleep(0.05 * 120.0)
        time.sleep(stall)  # noqa: ASYNC251 — the machine (here: this loop) busy elsewhere
        await asyncio.sleep(0.05 * 120.0)
        task.cancel()
        assert probe.samples >= 2
        return probe.worst_s

    busy = run_scaled(lambda: main(0.3), scale=120.0)
    assert busy >= 0.25 * 120.0
    idle = run_scaled(lambda: main(0.0), scale=120.0)
    assert idle < busy


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
    verdict = json.loads(verdicts[0].read_text())
    assert verdict["topology"] == "served-platform"
    # the allowance for requests on the wire together: 100 real ms, or twice the measured lag
    assert verdict["in_flight_s"] >= max(0.1 * SCALE, 2 * verdict["loop_lag_s"]) - 1e-9
