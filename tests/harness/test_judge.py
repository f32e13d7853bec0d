"""The judge: verdicts, reached checks, expectations, metrics and verdict.json's keys."""

from __future__ import annotations

from _recordkit import T0, drill_record, record

from harness.judge.judgement import STEADY_STATE, judge
from harness.judge.verdict import exit_code

DESIGN_KEYS = [
    "drill_id",
    "scenario",
    "runbook",
    "severity",
    "seed",
    "commit",
    "topology",
    "mode",
    "defects",
    "verdict",
    "invariants",
    "reached",
    "metrics",
    "timeline_sha256",
]


def test_a_drill_with_wrong_account_posts_is_violated_and_names_the_invariant():
    v = judge(drill_record())
    assert v.verdict == "violated"
    assert [r.name for r in v.violated] == ["every_side_effect_on_intended_account"]
    assert exit_code([v]) == 1


def test_verdict_json_keeps_the_design_keys_first_and_in_order():
    data = judge(drill_record()).to_json()
    assert list(data)[: len(DESIGN_KEYS)] == DESIGN_KEYS
    assert list(data["metrics"])[:3] == [
        "time_to_detect_s",
        "time_to_contain_s",
        "side_effects_after_containment",
    ]
    assert data["reached"] == [
        {"name": "x.rate_limited served", "hit": True, "count": 1},
        {"name": STEADY_STATE, "hit": True, "count": 0},
    ]
    assert data["invariants"][0]["first_violation"]["evidence"] == "evidence/ledger.jsonl#L11"


def test_metrics_are_measured_from_the_fault_start_on_the_virtual_clock():
    m = judge(drill_record()).metrics
    assert m.time_to_detect_s == 41.0
    assert m.time_to_contain_s == 44.0
    assert m.time_to_mitigate_s == 600.0
    assert m.time_to_recover_s == 700.0
    assert m.side_effects_in_fault_window == 3
    assert m.side_effects_after_containment == 0
    assert m.detection_signal == "tenancy_mismatch"


def test_runbook_adherence_marks_a_late_step():
    m = judge(drill_record()).metrics
    steps = {s.step: s for s in m.runbook}
    assert steps["RB-01.1"].ok
    assert not steps["RB-01.2"].in_time
    assert m.runbook_adherence == 0.5


def test_a_healthy_drill_holds_and_exits_zero():
    v = judge(drill_record(leaked=False))
    assert v.verdict == "held", v.reasons()
    assert exit_code([v]) == 0


def test_a_missed_detection_deadline_violates_the_drill_even_when_invariants_hold():
    v = judge(drill_record(leaked=False, detected=False))
    assert v.verdict == "violated"
    assert [e.name for e in v.unmet] == ["time_to_detect", "side_effects_after_containment"]
    assert v.unmet[0].detail == "time to detect never happened (deadline 2m00s)"


def test_a_drill_whose_fault_never_fired_is_vacuous():
    rec = drill_record(
        leaked=False, fault_rules=[{"id": "f1", "kind": "x.rate_limited", "hits": 0}]
    )
    v = judge(rec)
    assert v.verdict == "vacuous"
    assert v.reasons() == ["reached check 'x.rate_limited served' never hit (count 0, needed 1)"]


def test_a_fault_that_never_fired_makes_the_drill_vacuous_beside_written_reached_checks():
    # a scenario that writes its own reached checks (a probe) still needs each fault kind it
    # names to fire: a drill whose render budget let no render through once "held" with its
    # fault on the render service never reached
    scenario = {
        "id": "s",
        "invariants": [],
        "reached": [{"probe": "budget.bit"}],
        "faults": [{"kind": "http.latency"}, {"kind": "x.rate_limited"}],
    }
    rules = [
        {"id": "f1", "kind": "http.latency", "hits": 0},
        {"id": "f2", "kind": "x.rate_limited", "hits": 3},
    ]
    rec = record(scenario=scenario, fault_rules=rules)
    rec.timeline.append(T0 + 5, "budget.bit", "platform", "a budget refused a call")
    v = judge(rec)
    assert v.verdict == "vacuous"
    assert v.reasons() == ["reached check 'http.latency served' never hit (count 0, needed 1)"]
    assert [r.name for r in v.reached] == [
        "budget.bit observed",
        "http.latency served",
        "x.rate_limited served",
    ]
    # a written check of a fault kind stands for that kind (its own min_hits)
    written = {
        **scenario,
        "reached": [{"fault": "http.latency", "min_hits": 1}, {"probe": "budget.bit"}],
    }
    fired = [{**rules[0], "hits": 2}, rules[1]]
    again = record(scenario=written, fault_rules=fired)
    again.timeline.append(T0 + 5, "budget.bit", "platform", "a budget refused a call")
    assert [r.name for r in judge(again).reached] == [
        "http.latency served",
        "budget.bit observed",
        "x.rate_limited served",
    ]
    assert judge(again).verdict == "held"


def test_a_bad_invariant_spec_is_a_harness_error_with_the_message():
    rec = record(scenario={"id": "s", "invariants": [{"name": "no_such_thing"}]})
    v = judge(rec)
    assert v.verdict == "error"
    assert "'no_such_thing' is not known" in v.error
    assert exit_code([v]) == 3


def test_probe_reached_checks_count_timeline_events():
    rec = record(
        scenario={
            "id": "s",
            "invariants": [],
            "reached": [{"probe": "token.expired", "min_hits": 2}],
        }
    )
    rec.timeline.append(T0 + 5, "token.expired", "fake", "token expired")
    v = judge(rec)
    assert v.verdict == "vacuous"
    assert v.reached[0].name == "token.expired observed"
    assert v.reached[0].count == 1


def test_a_drill_whose_steady_state_failed_is_vacuous_whatever_the_invariants_say():
    # a platform that lands nothing "holds" every invariant: without a steady state the drill
    # proves nothing (seen on a served platform that deduplicated a second run's jobs)
    healthy = judge(drill_record(leaked=False))
    assert healthy.verdict == "held"
    v = judge(drill_record(leaked=False, steady=False))
    assert {"name": STEADY_STATE, "hit": False, "count": 0} in v.to_json()["reached"]
    assert v.verdict == "vacuous"
    assert exit_code([v]) == 1
