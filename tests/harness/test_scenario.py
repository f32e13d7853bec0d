"""Scenarios load from YAML, and a bad file gets one clear message: file, key path, value, choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.durations import DurationError, format_duration, format_offset, parse_duration
from harness.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
id: {id}
title: 429 storm on X
runbook: RB-05
severity: P2
incident_types: [RATE]
seed: 7
world: {{clients: 2, platforms: [x]}}
workload: {{duration: 1h, posts_per_hour: 60}}
faults:
  - {{kind: x.rate_limited, at: 20m, duration: 30m, params: {{retry_after_s: 60}}}}
invariants: [rate_within_platform_limits]
expect: {{time_to_detect: {{max: 2m}}}}
"""


def _write(tmp_path: Path, text: str, name: str = "rb05") -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(text)
    return p


def _error(tmp_path: Path, text: str, name: str = "rb05") -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, text, name))
    msg = str(info.value)
    assert "\n" not in msg.strip(), msg
    return msg


def test_a_good_scenario_loads_with_durations_in_seconds(tmp_path: Path) -> None:
    s = load_scenario(_write(tmp_path, GOOD.format(id="rb05")))
    assert s.id == "rb05" and s.workload.duration == 3600.0
    assert s.faults[0].at == 1200.0 and s.faults[0].duration == 1800.0
    assert s.expect.time_to_detect is not None and s.expect.time_to_detect.max == 120.0
    assert [c.name for c in s.reached_checks] == ["x.rate_limited served"]


def test_written_reached_checks_keep_a_check_for_each_fault_kind_they_do_not_name(
    tmp_path: Path,
) -> None:
    text = GOOD.format(id="rb05") + "reached:\n  - {probe: token.expired}\n"
    s = load_scenario(_write(tmp_path, text))
    assert [c.name for c in s.reached_checks] == ["token.expired observed", "x.rate_limited served"]


def test_a_fault_a_safe_platform_never_meets_may_ask_for_no_hits_beside_a_check_that_can_fail(
    tmp_path: Path,
) -> None:
    zero = "reached:\n  - {fault: x.rate_limited, min_hits: 0}\n"
    s = load_scenario(
        _write(tmp_path, GOOD.format(id="rb05") + zero + "  - {probe: fault.injected}\n")
    )
    assert [c.min_hits for c in s.reached_checks] == [0, 1]
    msg = _error(tmp_path, GOOD.format(id="rb05") + zero)
    assert "reached: every check asks for min_hits 0" in msg


def test_a_misspelt_fault_kind_names_file_path_value_and_suggestion(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(id="rb05").replace("x.rate_limited", "x.ratelimited"))
    assert msg.startswith(
        f"{tmp_path / 'rb05.yaml'}: faults[0].kind: 'x.ratelimited' is not a fault kind; did you mean 'x.rate_limited'?"
    )


def test_an_unknown_key_lists_the_valid_keys_and_the_closest(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(id="rb05").replace("seed: 7", "sead: 7"))
    assert ": sead: unknown key 'sead'; did you mean 'seed'?" in msg
    assert "valid keys: id, title, runbook" in msg


def test_an_unknown_nested_key_names_its_path(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(id="rb05").replace("posts_per_hour", "post_per_hour"))
    assert (
        "workload.post_per_hour: unknown key 'post_per_hour'; did you mean 'posts_per_hour'?" in msg
    )


def test_a_bad_enum_shows_the_value_and_the_choices(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(id="rb05").replace("severity: P2", "severity: P5"))
    assert "severity: 'P5' is not one of P0, P1, P2, P3" in msg
    msg = _error(tmp_path, GOOD.format(id="rb05").replace("[RATE]", "[RATES]"))
    assert "incident_types[0]: 'RATES' is not one of" in msg and "did you mean 'RATE'?" in msg


def test_a_text_model_the_providers_fake_does_not_serve_is_refused_with_the_catalogue(
    tmp_path: Path,
) -> None:
    world = "world: {clients: 2, platforms: [x]}"
    ok = GOOD.format(id="rb05").replace(
        world, "world: {clients: 2, platforms: [x], text_models: {openai: gpt-4o-2024-08-06}}"
    )
    assert load_scenario(_write(tmp_path, ok)).world.text_models == {"openai": "gpt-4o-2024-08-06"}
    msg = _error(
        tmp_path,
        GOOD.format(id="rb05").replace(
            world, "world: {clients: 2, platforms: [x], text_models: {openai: gpt-4-o}}"
        ),
    )
    assert (
        "world.text_models: " in msg
        and "openai: 'gpt-4-o' is not a model of the openai fake" in msg
    )
    assert "valid: " in msg and "gpt-4o-mini" in msg
    msg = _error(
        tmp_path,
        GOOD.format(id="rb05").replace(
            world, "world: {clients: 2, platforms: [x], text_models: {media: gpt-4o}}"
        ),
    )
    assert "world.text_models" in msg and "'media'" in msg


def test_a_duration_without_a_unit_is_refused_with_the_valid_shapes(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(id="rb05").replace("at: 20m", "at: 20 minutes"))
    assert "faults[0].at: '20 minutes' is not a duration" in msg and "'1h30m'" in msg


def test_an_operator_step_with_an_empty_reason_must_be_one_the_platform_refuses(
    tmp_path: Path,
) -> None:
    step = "operator:\n  - {at: 5m, do: kill_switch.engage, reason: ''%s}\n"
    msg = _error(tmp_path, GOOD.format(id="rb05") + step % "")
    assert "rb05.yaml: operator[0]: reason: '' is empty; give the operator's reason" in msg
    assert "or say refused: true" in msg
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "rb05.yaml").write_text(GOOD.format(id="rb05") + step % ", refused: true")
    assert load_scenario(ok / "rb05.yaml").operator[0].reason == ""


def test_an_unknown_defect_lists_the_catalogue(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(id="rb05") + "defects: [retry_after_ignord]\n")
    assert (
        "defects[0].name: 'retry_after_ignord' is not a defect; did you mean 'retry_after_ignored'?"
        in msg
    )


def test_an_unknown_invariant_suggests_the_closest(tmp_path: Path) -> None:
    msg = _error(
        tmp_path,
        GOOD.format(id="rb05").replace(
            "[rate_within_platform_limits]", "[rate_within_platform_limit]"
        ),
    )
    assert (
        "invariants[0].name: 'rate_within_platform_limit' is not an invariant; did you mean 'rate_within_platform_limits'?"
        in msg
    )


def test_bad_fault_params_name_the_parameter_of_that_kind(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(id="rb05").replace("retry_after_s: 60", "retry_after: 60"))
    assert (
        "faults[0].params: x.rate_limited takes no parameter 'retry_after'; did you mean 'retry_after_s'?"
        in msg
    )


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, "id: rb05\ntitle: [unclosed\nrunbook: RB-05\n")
    assert msg.startswith(f"{tmp_path / 'rb05.yaml'}:3:") and "YAML syntax error" in msg


def test_the_id_must_equal_the_file_stem(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(id="rb05_other"))
    assert "id: 'rb05_other' must equal the file name's stem 'rb05'" in msg


def test_an_unknown_runbook_lists_the_runbooks(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(id="rb05").replace("RB-05", "RB-13"))
    assert "runbook: 'RB-13' is not a runbook" in msg and "RB-12" in msg


def test_a_fault_on_a_platform_outside_the_world_is_refused(tmp_path: Path) -> None:
    msg = _error(
        tmp_path,
        GOOD.format(id="rb05")
        .replace("x.rate_limited", "instagram.rate_limited")
        .replace("retry_after_s: 60", "code: 4"),
    )
    assert (
        "faults[0].kind: instagram.rate_limited targets 'instagram', which is not in world.platforms (x)"
        in msg
    )


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_scenario_in_the_repository_validates(path: Path) -> None:
    s = load_scenario(path)
    assert s.id == path.stem and s.invariants


def test_the_scenarios_cover_every_runbook_and_every_incident_type() -> None:
    from harness.runbooks import INCIDENT_TYPES

    loaded = [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    assert {s.runbook for s in loaded} == {f"RB-{i:02d}" for i in range(1, 13)}
    assert {t for s in loaded for t in s.incident_types} == set(INCIDENT_TYPES)
    assert sum(1 for s in loaded if len(s.incident_types) > 1 and s.id.startswith("combo_")) >= 2


def test_every_defect_has_a_mutant_row_and_the_browser_lanes_are_not_deferred() -> None:
    from harness.catalogue import platform_defects
    from harness.mutants import DEFERRED_DEFECTS, coverage

    loaded = [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    uncovered, deferred = coverage(loaded, platform_defects())
    assert uncovered == [] and deferred == []
    api = [s for s in loaded if s.lane == "api"]
    browser = [s for s in loaded if s.lane != "api"]
    uncovered, deferred = coverage(api, platform_defects(), left_out=browser)
    assert uncovered == []
    browser_only = {"brittle_selectors", "browser_profile_mixup", "browser_challenge_ignored"}
    assert browser_only <= set(deferred)
    assert not browser_only & DEFERRED_DEFECTS


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20m", 1200.0),
        ("2h", 7200.0),
        ("1m30s", 90.0),
        ("250ms", 0.25),
        ("T+20m03s", 1203.0),
        (45, 45.0),
        ("1.5h", 5400.0),
    ],
)
def test_durations_parse_with_units(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["20", "20 minutes", "-5m", "1m1m", "", True, None, -1, "m"])
def test_durations_without_a_proper_unit_are_refused_showing_the_value(bad: object) -> None:
    with pytest.raises(DurationError, match="is not a duration"):
        parse_duration(bad)


def test_offsets_render_as_t_plus_with_padded_fields() -> None:
    assert format_offset(1203) == "T+20m03s"
    assert format_offset(7262) == "T+2h01m02s"
    assert format_offset(41) == "T+41s"
    assert (
        format_duration(90) == "1m30s"
        and format_duration(3600) == "1h"
        and format_duration(0) == "0s"
    )


def test_a_scenarios_text_models_reach_the_platforms_settings() -> None:
    from fakes.core.roster import Roster
    from harness.drill.settings import scenario_settings
    from harness.platform_adapter import platform_settings

    s = load_scenario(ROOT / "scenarios" / "rb12_premium_model_budget.yaml")
    doc = scenario_settings(s, ["acme"])
    assert doc["text_models"] == {"openai": "gpt-4o"}
    roster = Roster.generate(clients=1, seed=1).model_dump(mode="json")
    settings, _ = platform_settings(roster, **doc)
    assert settings.text_models == {"openai": "gpt-4o"}
    plain = scenario_settings(load_scenario(ROOT / "scenarios" / "rb12_cost_runaway.yaml"), [])
    assert "text_models" not in plain


def test_a_scenarios_world_pacing_reaches_the_platforms_settings_in_seconds() -> None:
    from fakes.core.roster import Roster
    from harness.drill.settings import scenario_settings
    from harness.platform_adapter import platform_settings

    s = load_scenario(ROOT / "scenarios" / "ctl_daily_caps.yaml")
    doc = scenario_settings(s, ["acme"])
    assert doc["pacing"] == {"instagram": {
        "concurrency": 4, "min_interval_s": 0.0, "jitter_s": 0.0,
        "daily_caps": {"publish": 5, "reply": 3},
    }}  # fmt: skip
    roster = Roster.generate(clients=1, seed=1).model_dump(mode="json")
    settings, _ = platform_settings(roster, **doc)
    assert settings.pacing_for("instagram").daily_caps == {"publish": 5, "reply": 3}
    assert "pacing" not in scenario_settings(
        load_scenario(ROOT / "scenarios" / "rb12_cost_runaway.yaml"), []
    )


def test_a_world_pacing_cap_of_an_unknown_action_names_the_key_path(tmp_path: Path) -> None:
    text = GOOD.format(id="rb05").replace(
        "platforms: [x]}", "platforms: [x], pacing: {x: {daily_caps: {tweet: 3}}}}", 1
    )
    msg = _error(tmp_path, text)
    assert "world.pacing.x.daily_caps" in msg and "tweet" in msg, msg


def test_a_scenario_may_start_at_another_time_and_the_drill_runs_from_it(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from fakes.core.clock import DEFAULT_EPOCH
    from harness.drill import drill_id_for

    plain = load_scenario(_write(tmp_path, GOOD.format(id="rb05")))
    assert plain.start is None and plain.start_t == DEFAULT_EPOCH
    assert drill_id_for(plain, 7) == "rb05-20261127T120000Z-s7"
    text = GOOD.format(id="rb05").replace("seed: 7", "seed: 7\nstart: 2026-12-31T23:20:00Z")
    eve = load_scenario(_write(tmp_path, text))
    assert eve.start_t == datetime(2026, 12, 31, 23, 20, tzinfo=UTC).timestamp()
    assert drill_id_for(eve, 7) == "rb05-20261231T232000Z-s7"
    assert drill_id_for(eve, 7, start=DEFAULT_EPOCH) == "rb05-20261127T120000Z-s7"
    # a time without its zone could be read two ways: refused, showing the value and the shape
    msg = _error(tmp_path, text.replace("23:20:00Z", "23:20:00"))
    assert "start:" in msg and "2026-12-31T23:20:00 has no time zone" in msg and "Z" in msg


def test_a_drill_runs_on_its_scenarios_clock_across_the_turn_of_the_year() -> None:
    from datetime import UTC, datetime

    from harness.drill import DrillOptions, run_drill

    s = load_scenario(ROOT / "scenarios" / "rb05_new_year_linkedin.yaml")
    midnight = datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    assert s.start_t < midnight < s.start_t + s.workload.duration
    result = run_drill(s, DrillOptions(write=False))
    assert result.verdict == "held", result.verdict_json
    assert result.verdict_json["drill_id"] == "rb05-new-year-linkedin-20261231T232000Z-s57"
    # the posts LinkedIn refused before midnight went out after it (in January's API version)
    [terminal] = [
        i
        for i in result.verdict_json["invariants"]
        if i["name"] == "every_job_terminal_after_healing"
    ]
    assert terminal["verdict"] == "held" and terminal["checked"] > 0
