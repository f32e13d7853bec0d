"""Hostile and careless input files: bombs, duplicate keys, other encodings, bad replay records.

Each test replays an attack that once broke the CLI (a 3 GB ``MemoryError`` traceback, a 34 MB
error message, a ``UnicodeDecodeError`` traceback with exit 1, a duplicate ``seed:`` kept silently, a
``replay.json`` whose unknown defect ran anyway) and asserts what a user now sees: exit 2, one short
message naming the file and where, and nothing run.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.safe_input import MAX_BYTES

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "scenarios" / "rb05_rate_limit_storm.yaml").read_text()


def _laughs(levels: int = 9, fan: int = 10) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join(f"*a{i - 1}" for _ in range(fan))
        lines.append(f"a{i}: &a{i} [{refs}]")
    return GOOD + "\n".join(lines).replace("a0:", "x_bomb0:", 1) + "\n"


def _validate(path: Path) -> tuple[int, str, float]:
    start = time.perf_counter()
    res = runner.invoke(app, ["validate", str(path)])
    return res.exit_code, res.output, time.perf_counter() - start


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_billion_laughs_scenario_is_refused_at_once_with_a_short_message(
    tmp_path: Path, command: str
) -> None:
    bomb = tmp_path / "rb05_rate_limit_storm.yaml"
    bomb.write_text(_laughs())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    args = [command, str(bomb)] + (
        ["--reports-dir", str(tmp_path / "r")] if command == "run" else []
    )
    res = runner.invoke(app, args)
    elapsed = time.perf_counter() - start
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert res.exit_code == 2, res.output
    assert "expands to more than" in res.output and str(bomb) in res.output
    assert len(res.output) < 2048
    assert elapsed < 5 and grown_mb < 200, (elapsed, grown_mb)


def test_a_huge_value_is_cut_in_the_message(tmp_path: Path) -> None:
    p = tmp_path / "rb05_rate_limit_storm.yaml"
    p.write_text(GOOD.replace("severity: P2", "severity: " + "P" * 300_000))
    code, out, _ = _validate(p)
    assert code == 2 and "severity" in out and "…" in out
    assert len(out) < 2048


def test_a_file_over_the_size_cap_is_refused_without_reading_it(tmp_path: Path) -> None:
    p = tmp_path / "rb05_rate_limit_storm.yaml"
    p.write_text(GOOD + "#" * (MAX_BYTES + 1) + "\n")
    code, out, _ = _validate(p)
    assert code == 2 and f"the limit is {MAX_BYTES:,}" in out


def test_a_duplicate_key_names_the_key_and_both_lines(tmp_path: Path) -> None:
    p = tmp_path / "rb05_rate_limit_storm.yaml"
    lines = GOOD.splitlines()
    seed_line = next(i for i, line in enumerate(lines) if line.startswith("seed:"))
    p.write_text(GOOD + "seed: 8\n")
    code, out, _ = _validate(p)
    assert code == 2, out
    assert "duplicate key 'seed'" in out
    assert f"first at line {seed_line + 1}, again at line {len(lines) + 1}" in out


def test_a_file_that_is_not_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    p = tmp_path / "rb05_rate_limit_storm.yaml"
    data = GOOD.encode().replace(b"title: ", b"title: caf\xe9 ", 1)
    p.write_bytes(data)
    code, out, _ = _validate(p)
    assert code == 2, out
    offset = data.index(b"\xe9")
    assert f"not UTF-8 text: byte 0xe9 at offset {offset}" in out


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "rb05_rate_limit_storm.yaml"
    p.write_text(GOOD + "deep: " + "[" * 200 + "]" * 200 + "\n")
    code, out, _ = _validate(p)
    assert code == 2 and "nesting deeper than" in out


def _replay_dir(tmp_path: Path, meta: object | str) -> Path:
    folder = tmp_path / "rb05_rate_limit_storm-s7"
    folder.mkdir()
    text = meta if isinstance(meta, str) else json.dumps(meta)
    (folder / "replay.json").write_text(text)
    return folder


def _meta(**over: object) -> dict[str, object]:
    import yaml

    meta: dict[str, object] = {
        "scenario": yaml.safe_load(GOOD),
        "seed": 7,
        "defects": [],
        "mode": "auto",
        "commit": None,
        "timeline_sha256": "0" * 64,
    }
    meta.update(over)
    return meta


@pytest.mark.parametrize(
    ("meta", "needle"),
    [
        ('{"scenario": ', "JSON error"),
        ('{"seed": 1, "seed": 2}', "duplicate key 'seed'"),
        ("[" * 100_000 + "]" * 100_000, "nesting deeper than"),
        ("[]", "must be a JSON object"),
    ],
)
def test_a_malformed_replay_record_exits_2_with_the_file_named(
    tmp_path: Path, meta: str, needle: str
) -> None:
    folder = _replay_dir(tmp_path, meta)
    res = runner.invoke(app, ["replay", str(folder)])
    assert res.exit_code == 2, res.output
    assert needle in res.output and "replay.json" in res.output


def test_a_replay_record_with_an_unknown_defect_is_refused_not_run(tmp_path: Path) -> None:
    folder = _replay_dir(tmp_path, _meta(defects=["retry_after_ignord"]))
    res = runner.invoke(app, ["replay", str(folder)])
    assert res.exit_code == 2, res.output
    assert "defects[0]: 'retry_after_ignord' is not a defect of this platform" in res.output
    assert [p.name for p in tmp_path.iterdir()] == [folder.name], "nothing was run or written"


def test_a_replay_record_with_a_bad_scenario_names_the_key(tmp_path: Path) -> None:
    import yaml

    scenario = yaml.safe_load(GOOD)
    scenario["faults"][0]["kind"] = "x.ratelimited"
    folder = _replay_dir(tmp_path, _meta(scenario=scenario))
    res = runner.invoke(app, ["replay", str(folder)])
    assert res.exit_code == 2, res.output
    assert "scenario.faults[0].kind: 'x.ratelimited' is not a fault kind" in res.output


def test_libyaml_and_pyyamls_own_parser_read_every_scenario_alike_and_a_refusal_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the files are parsed by libyaml where PyYAML has it (five times faster); what a file
    # means, and what a refusal says, must not depend on that
    from harness import safe_input

    fast = safe_input._FastLoader
    assert fast is not None, "this environment's PyYAML lacks libyaml"
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        text = path.read_text()
        assert safe_input._load(fast, text, path.name) == safe_input._load(
            safe_input._Loader, text, path.name
        ), path.name
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD + "faults: [unclosed\n")
    with pytest.raises(safe_input.UnsafeInput) as fast_said:
        safe_input.load_yaml_file(bad)
    monkeypatch.setattr(safe_input, "_FastLoader", None)  # PyYAML's own parser alone
    with pytest.raises(safe_input.UnsafeInput) as pure_said:
        safe_input.load_yaml_file(bad)
    assert str(fast_said.value) == str(pure_said.value)
