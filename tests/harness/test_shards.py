"""``vibedrill run --shard I/N`` splits the sorted catalogue exactly; ``--workers N`` (alias of
``--jobs``) gives the verdicts and timeline hashes of a serial run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.parallel import ShardError, parse_shard, shard_of
from harness.scenario_sources import ENV_VAR, load_catalogue

runner = CliRunner()

STORM = """\
id: {id}
title: a short 429 storm on X
runbook: RB-05
severity: P2
incident_types: [RATE]
seed: 7
world: {{clients: 3, platforms: [x, instagram]}}
workload: {{duration: 40m, posts_per_hour: 120}}
faults:
  - {{kind: x.rate_limited, at: 10m, duration: 15m, params: {{retry_after_s: 60}}, probability: 0.9}}
invariants: [rate_within_platform_limits, every_side_effect_audited]
mutants:
  - {{defect: retry_after_ignored, invariant: rate_within_platform_limits}}
"""


@pytest.fixture(autouse=True)
def _no_user_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def _storms(folder: Path, *ids: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for sid in ids:
        (folder / f"{sid}.yaml").write_text(STORM.format(id=sid))
    return folder


def _verdicts(reports: Path) -> dict[str, tuple[str, str]]:
    out = {}
    for folder in reports.iterdir():
        v = json.loads((folder / "verdict.json").read_text())
        out[v["scenario"]] = (v["verdict"], v["timeline_sha256"])
    return out


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 40])
def test_the_shards_partition_the_sorted_catalogue_exactly(count: int, tmp_path: Path) -> None:
    ids = load_catalogue(cwd=tmp_path, environ={}).ids()
    shards = [shard_of(ids, i, count, key=str) for i in range(1, count + 1)]
    assert sorted(x for s in shards for x in s) == ids  # every scenario, each exactly once
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    for k, sid in enumerate(ids):  # scenario k of the sorted list is in shard k mod N + 1
        assert sid in shards[k % count]
    assert (
        shard_of(list(reversed(ids)), 1, count, key=str) == shards[0]
    )  # order given is irrelevant


@pytest.mark.parametrize("value", ["0/2", "3/2", "1/0", "a/b", "2", "1/2/3", "", "-1/2"])
def test_a_bad_shard_is_a_usage_error_saying_the_form(value: str) -> None:
    with pytest.raises(ShardError, match=r"is not I/N with 1 ≤ I ≤ N"):
        parse_shard(value)
    res = runner.invoke(app, ["run", "--all", "--shard", value])
    assert res.exit_code == 2, res.output
    assert f"--shard: {value!r} is not I/N with 1 ≤ I ≤ N" in res.stderr


@pytest.mark.slow
def test_run_with_a_shard_runs_only_its_share_and_says_which(tmp_path: Path) -> None:
    folder = _storms(tmp_path / "mine", "storm_a", "storm_b", "storm_c")
    reports = tmp_path / "reports"
    res = runner.invoke(
        app,
        [
            "run",
            "storm_c",
            "storm_a",
            "storm_b",
            "--scenarios",
            str(folder),
            "--shard",
            "2/2",
            "--reports-dir",
            str(reports),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "shard 2/2: 1 of 3 scenario(s): storm_b" in res.stdout
    assert set(_verdicts(reports)) == {"storm_b"}


@pytest.mark.slow
def test_workers_2_gives_the_verdicts_and_timeline_hashes_of_workers_1(tmp_path: Path) -> None:
    folder = _storms(tmp_path / "mine", "storm_a")
    names = ["rb08_toolgate_down", "rb03_post_invisible_linkedin", "storm_a"]
    got = {}
    for workers in ("1", "2"):
        reports = tmp_path / f"w{workers}"
        res = runner.invoke(
            app,
            [
                "run",
                *names,
                "--scenarios",
                str(folder),
                "--defect",
                "retry_after_ignored",
                "--workers",
                workers,
                "--reports-dir",
                str(reports),
            ],
        )
        assert res.exit_code == 1, res.output  # storm_a is violated with Retry-After ignored
        # … and exit 1 is the verdict's, not a crash of the summary (CliRunner maps both to 1)
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        assert "drill(s) in" in res.output
        got[workers] = _verdicts(reports)
    assert set(got["1"]) == set(names)
    assert got["1"] == got["2"]
    assert got["1"]["storm_a"][0] == "violated"
    assert {got["1"][n][0] for n in names[:2]} == {"held"}


@pytest.mark.slow
def test_jobs_stays_an_alias_and_mutants_takes_workers(tmp_path: Path) -> None:
    folder = _storms(tmp_path / "mine", "storm_a")
    res = runner.invoke(
        app,
        [
            "mutants",
            "storm_a",
            "--scenarios",
            str(folder),
            "--workers",
            "2",
            "--reports-dir",
            str(tmp_path / "m"),
        ],
    )
    assert "1/1 mutants caught" in res.stdout, res.output
    assert "1/1 healthy runs held" in res.stdout
    res = runner.invoke(
        app,
        [
            "run",
            "storm_a",
            "--scenarios",
            str(folder),
            "-j",
            "1",
            "--reports-dir",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 0, res.output
