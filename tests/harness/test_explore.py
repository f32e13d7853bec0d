"""``vibedrill explore``: the drawn space, the search, shrinking, minimality, reproducibility, CLI.

Small budgets only: a drill costs about a second of CPU here, so each search test runs a handful.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from typer.testing import CliRunner

from fakes.core.faults import FAULT_KINDS
from harness.cli import app
from harness.explore import SearchConfig, Space, evaluate, explore, scenarios, without_fault
from harness.explore.loop import _pregenerate
from harness.explore.space import incident_of, invariants_for, runbook_of
from harness.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
FOUND = ROOT / "scenarios" / "found"
runner = CliRunner()
FAST = settings(
    max_examples=60,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@FAST
@given(scenarios(Space()))
def test_every_draw_is_a_valid_short_scenario_of_api_lane_faults(s: Scenario) -> None:
    assert 1 <= len(s.faults) <= 4
    # a render flood needs an hour to drain after it; every other draw is 20 or 30 minutes
    assert s.workload.duration in (1200, 1800, 3600) and s.world.clients <= 3
    for f in s.faults:
        assert not f.kind.startswith("web.")
        assert f.target() in (*s.world.platforms, "openai", "anthropic", "media", "toolgate")
        assert f.at < s.workload.duration
        FAULT_KINDS[f.kind].Params.model_validate(f.params)
    names = [i.name for i in s.invariants]
    assert "every_side_effect_audited" in names and "every_job_terminal_after_healing" in names
    assert s.response in ("auto", "observe")
    # what a user's `vibedrill validate` checks: the dump reloads into the same scenario
    assert Scenario.model_validate(s.model_dump(mode="json")) == s


@FAST
@given(scenarios(Space(types=("RATE",), platforms=("instagram",))))
def test_types_and_platforms_narrow_the_faults_drawn(s: Scenario) -> None:
    assert s.world.platforms == ("instagram",)
    for f in s.faults:
        assert incident_of(f.kind, f.target()) == "RATE"
        assert f.target() == "instagram"


def test_runbook_and_incident_type_of_a_fault() -> None:
    assert runbook_of("x.post_invisible", "x") == "RB-03"
    assert runbook_of("http.outage", "openai") == "RB-09"
    assert runbook_of("openai.token_bloat", "openai") == "RB-12"
    assert incident_of("linkedin.token_expired", "linkedin") == "AUTH"
    assert incident_of("http.latency", "media") == "QUEUE"


def terminal(raw: dict[str, Any]) -> dict[str, Any]:
    """The parameters explore gives ``every_job_terminal_after_healing`` for a drawn schedule."""
    return next(
        i["params"]
        for i in invariants_for(raw)
        if isinstance(i, dict) and i["name"] == "every_job_terminal_after_healing"
    )


def head(runbook: str, incident: str) -> dict[str, object]:
    """The identity keys every hand-built scenario mapping of these tests shares."""
    return {
        "id": "t",
        "title": "t",
        "runbook": runbook,
        "severity": "P2",
        "incident_types": [incident],
    }


def test_publish_must_succeed_only_when_a_token_expiry_is_the_only_social_trouble() -> None:
    base = {"world": {"platforms": ["x"]}, "workload": {}}
    expiry = {**base, "faults": [{"kind": "x.token_expired", "at": 600, "duration": 300}]}
    revoked = {**base, "faults": [{"kind": "x.token_revoked", "at": 600, "duration": 300}]}

    assert terminal(expiry)["must_succeed"] == ["publish"]
    assert "must_succeed" not in terminal(revoked)
    outage = {**base, "faults": [{"kind": "http.outage", "at": 600, "match": {"fake": "openai"}}]}
    assert terminal(outage)["must_succeed"] == ["generate_text"]


def test_the_same_seed_draws_the_same_schedules_and_another_seed_does_not() -> None:
    cfg = SearchConfig(seed=5, budget=8, db_dir=None)
    a = _pregenerate(cfg, scenarios(cfg.space, seed=5))
    b = _pregenerate(cfg, scenarios(cfg.space, seed=5))
    c = _pregenerate(SearchConfig(seed=6, budget=8, db_dir=None), scenarios(cfg.space, seed=6))
    assert a == b and len(a) == 8
    assert a != c


@pytest.mark.slow
def test_a_defect_is_found_shrunk_written_and_replayed_the_same_with_one_or_two_workers(
    tmp_path: Path,
) -> None:
    runs = []
    for workers in (1, 2):
        cfg = SearchConfig(
            seed=1,
            budget=4,
            workers=workers,
            defects=("audit_dropped",),
            max_shrinks=4,
            db_dir=None,
        )
        runs.append(
            explore(
                cfg,
                reports_dir=tmp_path / f"r{workers}",
                found_dir=tmp_path / f"f{workers}",
                search_id="t",
            )
        )
    one, two = runs
    assert one.result.invariant == two.result.invariant == "every_side_effect_audited"
    assert one.result.found_at == two.result.found_at
    assert one.result.minimal == two.result.minimal
    assert one.reproduced and one.healthy_holds
    found = load_scenario(one.scenario)  # valid for `vibedrill validate`
    assert "seed 1" in found.description and "vibedrill run" in found.description
    assert [(m.defect, m.invariant) for m in found.mutants] == [
        ("audit_dropped", "every_side_effect_audited")
    ]
    doc = json.loads((one.summary_dir / "summary.json").read_text())
    assert doc["draws"] == one.result.draws and doc["violation"]["reproduced_from_file"] is True
    assert (one.summary_dir / "summary.md").read_text().startswith("# vibedrill explore t")


def _found_with_faults() -> list[Path]:
    out = []
    for p in sorted(FOUND.glob("*.yaml")):
        s = load_scenario(p)
        if s.faults and s.mutants:
            out.append(p)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", _found_with_faults()[:1], ids=lambda p: p.stem)
def test_a_found_scenario_is_minimal_removing_any_fault_makes_it_hold(path: Path) -> None:
    s = load_scenario(path)
    m = s.mutants[0]
    assert m.invariant in evaluate(s.model_dump_json(), (m.defect,)).violated
    for i in range(len(s.faults)):
        smaller = without_fault(s, i)
        assert m.invariant not in evaluate(smaller.model_dump_json(), (m.defect,)).violated, i


def test_there_is_a_found_scenario_with_faults_to_check_minimality_on() -> None:
    assert _found_with_faults(), "scenarios/found/ holds no explored scenario that needs a fault"


@pytest.mark.slow
@pytest.mark.drill_explore(budget=2, seed=1, defects=("audit_dropped",), max_shrinks=2)
def test_the_pytest_fixture_runs_a_search_and_fails_a_test_on_a_violation(
    drill_explore: object,
) -> None:
    run = drill_explore
    assert run.result.found  # type: ignore[attr-defined]
    with pytest.raises(pytest.fail.Exception, match="every_side_effect_audited violated"):
        run.assert_nothing_found()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--defect", "audit_droped"], "did you mean 'audit_dropped'"),
        (["--types", "RATES"], "'RATES' is not an incident type"),
        (["--platforms", "tiktok"], "'tiktok' is not a social platform"),
        (["--runbook", "RB-99"], "'RB-99' is not a runbook"),
        (["--mode", "panic"], "'panic' is not a mode"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["explore", *args])
    assert res.exit_code == 2
    assert message in res.output


def test_every_found_scenario_validates_and_says_what_was_found_and_how_to_reproduce() -> None:
    paths = sorted(FOUND.glob("*.yaml"))
    assert paths
    res = runner.invoke(app, ["validate", *map(str, paths)])
    assert res.exit_code == 0, res.output
    for p in paths:
        s = load_scenario(p)
        assert "Found by `vibedrill explore` (seed" in s.description
        assert f"Reproduce: vibedrill run scenarios/found/{p.name}" in s.description


@pytest.mark.parametrize("path", sorted(FOUND.glob("found_healthy_*.yaml")), ids=lambda p: p.stem)
def test_a_bug_found_on_the_healthy_platform_stays_fixed(path: Path) -> None:
    # a found_healthy_* scenario broke an invariant on the healthy sandbox; the sandbox was fixed
    # and the scenario is kept as the regression: it must hold, and its faults must fire
    res = evaluate(load_scenario(path).model_dump_json(), ())
    assert res.violated == (), res.violated
    assert res.verdict == "held", res


def test_minimising_drops_every_fault_and_all_traffic_the_violation_does_not_need() -> None:
    from harness.explore.loop import minimise_faults, minimise_workload

    raw = {
        **head("RB-05", "RATE"),
        "world": {"clients": 3, "platforms": ["x", "instagram"]},
        "workload": {
            "duration": 1200,
            "posts_per_hour": 60,
            "inbound_comments_per_hour": 60,
            "dms_per_hour": 30,
            "surges": [{"job": "publish", "at": 400, "duration": 300, "per_hour": 60}],
        },
        "faults": [
            {"kind": "x.rate_limited", "at": 600, "duration": 300},
            {"kind": "instagram.token_expired", "at": 600, "duration": 300},
        ],
        "invariants": ["rate_within_platform_limits"],
    }
    s = Scenario.model_validate(raw)

    def blame(j: str) -> tuple[str, ...]:  # violated iff the X 429s and inbound comments remain
        d = json.loads(j)
        needed = any(f["kind"] == "x.rate_limited" for f in d["faults"])
        return (
            ("rate_within_platform_limits",)
            if needed and d["workload"]["inbound_comments_per_hour"]
            else ()
        )

    fewer, proof = minimise_faults(s, "rate_within_platform_limits", blame)
    assert [f.kind for f in fewer.faults] == ["x.rate_limited"]
    assert proof == [{"fault": 0, "kind": "x.rate_limited", "violated_without": False}]
    small = minimise_workload(fewer, "rate_within_platform_limits", blame)
    assert small.world.platforms == ("x",) and small.world.clients == 1
    assert small.workload.surges == () and small.workload.dms_per_hour == 0
    assert small.workload.posts_per_hour == 30 and small.workload.inbound_comments_per_hour == 60


def test_minimising_gives_back_the_controls_and_alerting_the_violation_does_not_need() -> None:
    from harness.explore.loop import minimise_workload

    raw = {
        **head("RB-10", "ENGAGE"),
        "world": {"clients": 1, "platforms": ["x"]},
        "workload": {"duration": 1200, "posts_per_hour": 30, "inbound_comments_per_hour": 120},
        "faults": [{"kind": "x.reply_echo", "at": 600, "duration": 600}],
        "detection": {"rules": [{"name": "r", "source": "audit", "action": "reply.create"}]},
        "runbook_overrides": {"skip": ["lock_triggers", "unlock_triggers"]},
        "invariants": ["no_side_effects_while_killed"],
    }

    def needs(skip: bool, watch: bool) -> Callable[[str], tuple[str, ...]]:
        def blame(j: str) -> tuple[str, ...]:
            d = json.loads(j)
            ok = (not skip or d["runbook_overrides"]["skip"]) and (
                not watch or d["detection"]["rules"]
            )
            return ("no_side_effects_while_killed",) if ok else ()

        return blame

    s = Scenario.model_validate(raw)
    both = minimise_workload(s, "no_side_effects_while_killed", needs(True, True))
    assert both.runbook_overrides.skip and both.detection.rules
    skip_only = minimise_workload(s, "no_side_effects_while_killed", needs(True, False))
    assert skip_only.runbook_overrides.skip and not skip_only.detection.rules
    neither = minimise_workload(s, "no_side_effects_while_killed", needs(False, False))
    assert not neither.runbook_overrides.skip and not neither.detection.rules


@functools.cache
def _drawn(n: int, seed: int) -> tuple[str, ...]:
    """The first ``n`` draws of the search with ``seed``, as JSON: drawn once per test process
    (they take seconds), each test validating its own fresh models."""
    cfg = SearchConfig(seed=seed, budget=n, db_dir=None)
    return tuple(_pregenerate(cfg, scenarios(cfg.space, seed=seed)))


def _draws(n: int = 300, seed: int = 1) -> list[Scenario]:
    return [Scenario.model_validate_json(r) for r in _drawn(n, seed)]


def test_packages_draw_faults_together_the_way_incidents_line_up() -> None:
    draws = _draws()
    storms = floods = echoes = 0
    for s in draws:
        routes = {(f.kind, f.match.route if f.match else None): f for f in s.faults}
        expiry = routes.get(("x.token_expired", None))
        slow = routes.get(("http.latency", "oauth2.token"))
        if expiry and slow and expiry.at == slow.at:
            storms += 1
            # the burst of posts that needs a fresh token at the moment tokens expire
            assert any(x.job == "publish" and x.at == expiry.at for x in s.workload.surges)
            publish = next(i for i in s.invariants if i.name == "every_job_terminal_after_healing")
            social = [f for f in s.faults if f.target() in ("x", "instagram", "linkedin")]
            misrouted = any(x.job == "misrouted_publish" for x in s.workload.surges)
            timed = all(f.duration is not None for f in s.faults)
            if social == [expiry, slow] and timed and not misrouted:
                tools = s.workload.tool_calls_per_hour
                assert ("publish" in publish.params.get("must_succeed", [])) == (not tools)
        flood = [x for x in s.workload.surges if x.job == "generate_video" and x.per_hour == 3000]
        slow_media = [f for f in s.faults if f.kind == "http.latency" and f.target() == "media"]
        if flood and any(
            f.at == flood[0].at and f.duration == flood[0].duration for f in slow_media
        ):
            floods += 1
            assert s.workload.duration == 3600  # the backlog gets time to drain
        if any(f.kind.endswith("reply_echo") for f in s.faults):
            echoes += 1
            assert s.workload.inbound_comments_per_hour >= 60
    assert storms >= 5 and floods >= 5 and echoes >= 5, (storms, floods, echoes)


def test_some_draws_make_a_runbook_control_unavailable_or_alert_early_but_never_a_kill_switch() -> (
    None
):
    from harness.explore.space import CONTROL_FAMILIES, WATCHFULNESS
    from harness.runbooks import runbooks

    draws = _draws()
    skipped = watchful = 0
    for s in draws:
        rb = runbooks()[s.runbook]
        if s.runbook_overrides.skip:
            skipped += 1
            actions = {rb.step(i).action for i in s.runbook_overrides.skip}
            # one family of controls, never the kill switches the drill is there to judge
            assert any(actions <= set(fam) for fam in CONTROL_FAMILIES.values()), actions
        if s.detection.rules:
            watchful += 1
            assert [r.name for r in s.detection.rules] == [r.name for r in rb.symptoms]
            for mine, theirs in zip(s.detection.rules, rb.symptoms, strict=True):
                if theirs.source != "alert":
                    assert mine.threshold == max(theirs.threshold * min(WATCHFULNESS), 1.0)
    assert 30 <= skipped <= 270 and 30 <= watchful <= 270, (skipped, watchful)


def test_the_written_scenario_keeps_the_watchful_alerting_and_the_unavailable_control(
    tmp_path: Path,
) -> None:
    # what the search found with the trigger lock unavailable and early alerting must replay
    # with them: a file without them is another schedule (it held where the search saw a
    # violation)
    from harness.explore.loop import Outcome, SearchResult
    from harness.explore.output import write_found

    raw = {
        **head("RB-10", "ENGAGE"),
        "seed": 1,
        "world": {"clients": 1, "platforms": ["x"]},
        "workload": {"duration": 1200, "posts_per_hour": 30, "inbound_comments_per_hour": 120},
        "faults": [],
        "detection": {"rules": [{"name": "r", "source": "audit", "action": "reply.create"}]},
        "runbook_overrides": {"skip": ["lock_triggers", "unlock_triggers"]},
        "invariants": ["no_side_effects_while_killed"],
    }
    s = Scenario.model_validate(raw)
    out = Outcome("violated", ("no_side_effects_while_killed",), {}, {}, None, 1.0)
    cfg = SearchConfig(
        seed=1, budget=3, db_dir=None, defects=("kill_switch_ignored_by_engagement",)
    )
    res = SearchResult(cfg, draws=1, found_at=1, invariant="no_side_effects_while_killed")
    res.first = res.minimal = s
    res.minimal_outcome = out
    written = load_scenario(write_found(res, tmp_path, healthy_holds=True))
    assert written.detection == s.detection
    assert written.runbook_overrides == s.runbook_overrides
    assert written.workload == s.workload and written.world == s.world


def test_a_new_finding_never_overwrites_another_of_the_same_name(tmp_path: Path) -> None:
    # the healthy search of one seed found two bugs of one invariant in two sessions: the second
    # file must not replace the first (a regression of a fixed bug)
    from harness.explore.loop import Outcome, SearchResult
    from harness.explore.output import write_found

    def result(duration: int, draw: int) -> SearchResult:
        s = Scenario.model_validate(
            {
                **head("RB-02", "PUBLISH"),
                "seed": 1,
                "world": {"clients": 1, "platforms": ["x"]},
                "workload": {"duration": duration, "posts_per_hour": 30},
                "invariants": ["every_side_effect_audited"],
            }
        )
        res = SearchResult(SearchConfig(seed=1, budget=3, db_dir=None), found_at=draw)
        res.invariant = "every_side_effect_audited"
        res.first = res.minimal = s
        res.minimal_outcome = Outcome("violated", (res.invariant,), {}, {}, None, 1.0)
        return res

    first = write_found(result(1200, 3), tmp_path)
    assert write_found(result(1200, 3), tmp_path) == first  # the same finding: the same file
    second = write_found(result(1800, 12), tmp_path)
    assert second != first and second.stem == f"{first.stem}_d12"
    assert load_scenario(first).workload.duration == 1200
