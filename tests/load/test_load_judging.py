"""The load test is judged by the drills' judge (:func:`harness.judge.judgement.judge`): its
record names its invariants and reached checks as a scenario does. No server, no Locust: the
evidence a run collects is built by hand."""

from __future__ import annotations

from typing import Any

import pytest

from harness.judge.invariants import evaluate
from harness.judge.judgement import judge
from harness.judge.record import DrillRecord
from harness.load.run import Collected, LoadError, LoadOptions, judge_load, load_record

STORM = [
    {"kind": "x.rate_limited", "params": {"retry_after_s": 3.0}, "match": {"fake": "x"}},
    {"kind": "linkedin.rate_limited", "params": {"retry_after_s": 3.0}, "match": {}},
]


def _journal(*rows: tuple[float, int, str | None]) -> list[dict[str, Any]]:
    return [
        {
            "seq": i,
            "t": t,
            "fake": "x",
            "route": "tweets.create",
            "account_id": "acme-x",
            "status": status,
            "request_id": f"r{i}",
            "fault_id": fault_id,
        }
        for i, (t, status, fault_id) in enumerate(rows, 1)
    ]


def _job(i: int, t: float) -> dict[str, Any]:
    spec = {"kind": "publish", "client_id": "acme", "platform": "x", "account_id": "acme-x"}
    return {
        "id": f"j{i}",
        "state": "succeeded",
        "spec": {**spec, "idempotency_key": f"k{i}"},
        "created_at": t,
        "updated_at": t + 1,
        "attempts": 1,
        "last_error": None,
    }


def _collected(
    journal: list[dict[str, Any]],
    hits: dict[str, int],
    jobs: int,
    storm: list[dict[str, Any]] = STORM,
) -> Collected:
    installed = [{"id": rid, **f} for rid, f in zip(("f1", "f2"), storm, strict=True)]
    return Collected(
        base="http://127.0.0.1:1",
        platforms=["linkedin", "x"],
        targets=[{"client_id": "acme", "platform": "x", "account_id": "acme-x"}],
        faults=storm,
        fault_ids=["f1", "f2"],
        roster={"clients": [{"id": "acme", "accounts": [{"id": "acme-x", "platform": "x"}]}]},
        locust={},
        jobs=[_job(i, 0.5 + i) for i in range(jobs)],
        journal=journal,
        ledger=[],
        audit=[],
        installed=installed,
        history=[{**r, "hits": hits.get(r["id"], 0)} for r in installed],
        t_start=0.0,
        t_heal=8.0,
        t_end=10.0,
        drained_s=2.0,
    )


def test_the_load_record_names_its_invariants_and_one_reached_check_per_storm_rule() -> None:
    got = _collected(_journal((1.0, 429, "f1"), (4.5, 201, None)), {"f1": 1, "f2": 2}, jobs=3)
    record = load_record(LoadOptions(in_flight_s=0.4), got)
    verdict = judge(record, defaults=())
    assert [r.name for r in verdict.invariants] == [
        "rate_within_platform_limits",
        "no_duplicate_side_effects",
        "every_side_effect_audited",
    ]
    assert [(r.name, r.hit, r.count) for r in verdict.reached] == [
        ("x.rate_limited fired", True, 1),
        ("linkedin.rate_limited fired", True, 2),
        ("jobs submitted", True, 3),
    ]
    judged = judge_load(record)
    assert judged.verdict == verdict.verdict == "held"
    assert [r.get("fault_id") for r in judged.reached] == ["f1", "f2", None]


def test_two_rules_of_one_kind_are_counted_each_by_its_own_hits() -> None:
    routes = [{**STORM[0], "match": {"fake": "x", "route": r}} for r in ("tweets.create", "dm")]
    got = _collected([], {"f1": 0, "f2": 4}, jobs=1, storm=routes)
    judged = judge_load(load_record(LoadOptions(), got))
    assert judged.verdict == "vacuous"
    assert [(r["fault_id"], r["hit"], r["count"]) for r in judged.reached[:2]] == [
        ("f1", False, 0),
        ("f2", True, 4),
    ]


def test_a_storm_rule_that_never_fired_makes_the_load_test_vacuous_and_says_which() -> None:
    got = _collected(_journal((4.5, 201, None)), {"f1": 3}, jobs=2)
    judged = judge_load(load_record(LoadOptions(), got))
    assert judged.verdict == "vacuous"
    assert {r["name"]: r["hit"] for r in judged.reached} == {
        "x.rate_limited fired": True,
        "linkedin.rate_limited fired": False,
        "jobs submitted": True,
    }


def test_no_job_submitted_is_vacuous_and_an_early_request_is_violated_past_the_grace() -> None:
    nothing = judge_load(load_record(LoadOptions(), _collected([], {"f1": 1, "f2": 1}, jobs=0)))
    assert nothing.verdict == "vacuous"
    assert nothing.reached[-1] == {"name": "jobs submitted", "hit": False, "count": 0}
    journal = _journal((1.0, 429, "f1"), (1.1, 201, None), (2.0, 201, None))
    judged = judge_load(load_record(LoadOptions(), _collected(journal, {"f1": 1, "f2": 1}, 1)))
    assert judged.verdict == "violated"
    assert judged.violated == ["rate_within_platform_limits"]
    assert judged.in_flight == 1  # r2 came within the 0.25s grace, r3 did not


def test_a_spec_the_judge_cannot_use_is_a_harness_error_not_a_verdict() -> None:
    got = _collected([], {"f1": 1, "f2": 1}, jobs=1)
    record = load_record(LoadOptions(in_flight_s=-1.0), got)
    with pytest.raises(LoadError, match=r"judging the load test failed: .*in_flight_s"):
        judge_load(record)


def test_a_request_already_in_flight_when_a_429_is_served_is_not_counted_early() -> None:
    rule = {"id": "f1", "kind": "x.rate_limited", "params": {"retry_after_s": 3.0}, "hits": 1}
    record = DrillRecord(
        scenario={"id": "load"},
        drill_id="load",
        seed=0,
        start_t=0.0,
        end_t=10.0,
        journal=_journal((1.0, 429, "f1"), (1.05, 201, None), (2.0, 201, None), (4.5, 201, None)),
        fault_rules=[rule],
    )
    strict = evaluate("rate_within_platform_limits", record)
    assert strict.verdict == "violated" and strict.count == 2
    spec = {"name": "rate_within_platform_limits", "params": {"in_flight_s": 0.25}}
    served = evaluate(spec, record)
    assert served.verdict == "violated" and served.count == 1
    assert "r3" in served.detail and "r2" not in served.detail
