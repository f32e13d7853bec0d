"""``vibedrill coverage``: a control or guard counts as covered only by a drill whose evidence shows
it met work *and* whose verdict judged it; scenario operator steps are validated like runbook steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.coverage import ITEMS, NOT_DRILLED, coverage_map, fault_map, load_evidence
from harness.drill.operator import kill_scope
from harness.scenario import ScenarioError, load_scenario


def report(tmp: Path, name: str, invariants: list[dict[str, Any]], **evidence: list[dict]) -> Path:
    folder = tmp / name
    (folder / "evidence").mkdir(parents=True)
    (folder / "verdict.json").write_text(
        json.dumps({"scenario": name, "verdict": "held", "invariants": invariants})
    )
    for file, rows in evidence.items():
        (folder / "evidence" / f"{file}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows)
        )
    return folder


BLOCKED = {
    "phase": "outcome",
    "outcome": "blocked",
    "t": 1.0,
    "error": "kill_switch: post.create for acme on x stopped by the switch {'account_id': 'acme-x'}",
}
JUDGED = {"name": "no_side_effects_while_killed", "verdict": "held", "checked": 4}


def test_a_switch_that_blocked_work_in_a_judged_drill_covers_its_scope_only(tmp_path):
    ev = load_evidence(report(tmp_path, "s1", [JUDGED], audit=[BLOCKED]))
    assert ev is not None
    m = coverage_map([ev])
    by_id = {i["id"]: i for i in m["items"]}
    assert by_id["kill_switch.account"]["scenarios"] == [
        {"scenario": "s1", "evidence": 1, "judged_by": ["no_side_effects_while_killed"]}
    ]
    assert by_id["kill_switch.global"]["scenarios"] == []
    assert "kill_switch.global" in m["uncovered"]


def test_evidence_without_a_judging_verdict_covers_nothing(tmp_path):
    na = {**JUDGED, "verdict": "not_applicable", "checked": 0}
    ev = load_evidence(report(tmp_path, "s2", [na], audit=[BLOCKED]))
    assert ev is not None
    by_id = {i["id"]: i for i in coverage_map([ev])["items"]}
    assert by_id["kill_switch.account"]["scenarios"] == []


def test_a_fault_kind_no_drill_served_is_named_unless_it_is_listed_with_a_reason(tmp_path):
    served = {"kind": "x.rate_limited", "hits": 3}
    idle = {"kind": "linkedin.rate_limited", "hits": 0}  # installed, never answered a request
    ev = load_evidence(report(tmp_path, "s1", [JUDGED], faults=[served, idle]))
    assert ev is not None
    m = fault_map([ev])
    assert m["kinds"]["x.rate_limited"] == ["s1"]
    assert "linkedin.rate_limited" in m["unserved"] and "x.rate_limited" not in m["unserved"]
    # the kinds listed as not drilled here are not "unserved", and each says why
    assert not set(NOT_DRILLED) & set(m["unserved"])
    assert set(m["not_drilled"]) == set(NOT_DRILLED)
    assert all(why.strip() for why in NOT_DRILLED.values())


def test_a_kind_laid_as_a_trap_a_safe_platform_never_meets_is_not_unserved(tmp_path):
    trap = {"kind": "linkedin.version_withdrawn", "hits": 0}
    folder = report(tmp_path, "s1", [JUDGED], faults=[trap])
    verdict = json.loads((folder / "verdict.json").read_text())
    verdict["reached"] = [{"name": "linkedin.version_withdrawn served", "hit": True, "count": 0, "min": 0}]  # fmt: skip
    (folder / "verdict.json").write_text(json.dumps(verdict))
    ev = load_evidence(folder)
    assert ev is not None
    m = fault_map([ev])
    assert m["traps"] == {"linkedin.version_withdrawn": ["s1"]}
    assert "linkedin.version_withdrawn" not in m["unserved"]
    # … a kind installed without saying so is still unserved
    plain = load_evidence(report(tmp_path, "s2", [JUDGED], faults=[trap]))
    assert plain is not None
    assert "linkedin.version_withdrawn" in fault_map([plain])["unserved"]


def test_every_kind_listed_as_not_drilled_is_a_kind_of_the_catalogue():
    import fakes.core.faults  # noqa: F401
    from fakes.core.fault_kind import FAULT_KINDS

    assert set(NOT_DRILLED) <= set(FAULT_KINDS)


def test_the_map_names_every_control_and_guard_of_the_issue():
    ids = {i.id for i in ITEMS}
    for scope in ("global", "client", "platform", "account", "action", "lane"):
        assert f"kill_switch.{scope}" in ids
    for mode in ("auto", "approval_required", "manual_only", "read_only"):
        assert f"mode.{mode}" in ids
    assert {"queue.pause", "pacing.daily_caps", "blueprint.disable", "triggers.lock"} <= ids
    assert {"provider.routing", "budget.episode_usd", "budget.client_tokens"} <= ids
    assert {"guard.tenancy", "guard.refresh_lock", "guard.idempotency", "guard.egress"} <= ids
    assert {"guard.own_message", "guard.dedupe", "guard.recursion_cap"} <= ids
    assert {"guard.secret_scrubbing", "guard.toolgate_fail_closed"} <= ids


@pytest.mark.parametrize(
    ("switch", "scope"),
    [
        ("global", "global"),
        ("{'client_id': 'acme'}", "client"),
        ("{'platform': 'x'}", "platform"),
        ("{'action': 'reply', 'account_id': 'acme-x'}", "account"),
        ("{'client_id': 'acme', 'action': 'reply'}", "action"),
    ],
)
def test_the_scope_of_a_kill_switch_refusal_is_its_narrowest_field(switch, scope):
    assert (
        kill_scope(f"kill_switch: reply.create for acme on x stopped by the switch {switch}")
        == scope
    )


def test_an_operator_step_with_an_unknown_action_or_parameter_is_refused_clearly(tmp_path):
    src = Path(__file__).resolve().parents[2] / "scenarios" / "ctl_modes.yaml"
    text = src.read_text().replace("do: queue.pause", "do: queue.pasue", 1)
    bad = tmp_path / "ctl_modes.yaml"
    bad.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(bad)
    assert "'queue.pasue' is not a runbook action; did you mean 'queue.pause'?" in str(e.value)
    bad.write_text(src.read_text().replace("job_class: publish}", "jobclass: publish}", 1))
    with pytest.raises(ScenarioError) as e:
        load_scenario(bad)
    assert "queue.pause takes no parameter 'jobclass'" in str(e.value)
