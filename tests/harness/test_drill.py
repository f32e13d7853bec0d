"""The drill: its pure parts (seeded workload, drill ids) and whole drills end to end.

The end-to-end tests read the run's matrix (fixture ``matrix``, :mod:`_drills`): every API-lane scenario ran
once healthy and once per mutant; only replay, a ``--defect`` run and the plugin run again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _drills import api_scenarios
from typer.testing import CliRunner

from harness.cli.main import app
from harness.drill.run import drill_id_for, run_for_pytest
from harness.drill.settings import RETIRED_KEYWORD, scenario_settings
from harness.drill.workload import plan_workload
from harness.judge.verdict import Verdict
from harness.mutants import DrillOutcome, Matrix
from harness.scenario import load_scenario

# the first test to read the matrix runs the whole campaign (every API-lane scenario healthy and
# once per mutant, in worker processes): on a shared 2-core machine that exceeds the default 300 s
pytestmark = pytest.mark.timeout(1800)

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ["acme", "northwind", "globex"]
ACCOUNTS = {(c, p): f"{c}-{p}" for c in CLIENTS for p in ("x", "instagram", "linkedin")}


def test_every_drill_ships_a_retired_blueprint_disabled_and_some_chatter_names_it() -> None:
    s = load_scenario(ROOT / "scenarios/rb10_reply_loop.yaml")
    shipped = scenario_settings(s, CLIENTS)["blueprints"]
    retired = [b for b in shipped if b["id"].endswith("-retired")]
    assert len(retired) == len(CLIENTS) * len(s.world.platforms)
    assert all(b["enabled"] is False and b["keywords"] == [RETIRED_KEYWORD] for b in retired)
    plan = plan_workload(s, 7, CLIENTS, ACCOUNTS)
    said = [i.text for i in plan.inbound]
    assert any(RETIRED_KEYWORD in t for t in said)
    assert not any(RETIRED_KEYWORD in t and s.workload.trigger_keyword in t for t in said)


def test_a_resubmission_is_the_same_spec_under_the_same_key_later_and_others_plan_as_before():
    s = load_scenario(ROOT / "scenarios/rb02_outage_outlasts_window.yaml")
    plan = plan_workload(s, 7, CLIENTS, ACCOUNTS)
    again = [j for j in plan.jobs if j.origin == "resubmit"]
    assert again
    first = {j.spec.idempotency_key: j for j in plan.jobs if j.origin != "resubmit"}
    for j in again:
        f = first[j.spec.idempotency_key]
        assert j.spec == f.spec and j.at == f.at + s.workload.resubmit_after
    assert [j.at for j in plan.jobs] == sorted(j.at for j in plan.jobs)
    # a plan without resubmissions draws exactly as before
    plain = s.model_copy(update={"workload": s.workload.model_copy(update={"resubmits": 0.0})})
    base = plan_workload(plain, 7, CLIENTS, ACCOUNTS)
    assert not [j for j in base.jobs if j.origin == "resubmit"]


def test_the_same_seed_plans_the_same_workload_and_another_seed_does_not() -> None:
    s = load_scenario(ROOT / "scenarios/rb05_rate_limit_storm.yaml")
    a, b = plan_workload(s, 7, CLIENTS, ACCOUNTS), plan_workload(s, 7, CLIENTS, ACCOUNTS)
    assert [(j.at, j.spec) for j in a.jobs] == [(j.at, j.spec) for j in b.jobs]
    assert a.inbound == b.inbound
    c = plan_workload(s, 8, CLIENTS, ACCOUNTS)
    assert [j.at for j in a.jobs] != [j.at for j in c.jobs]


def test_the_workload_follows_the_hourly_rates_roughly() -> None:
    s = load_scenario(ROOT / "scenarios/rb05_rate_limit_storm.yaml")
    plan = plan_workload(s, 7, CLIENTS, ACCOUNTS)
    posts = [j for j in plan.jobs if j.spec.kind == "publish"]
    assert 180 <= len(posts) <= 300  # 120/h for 2h
    assert all(j.spec.account_id == f"{j.spec.client_id}-{j.spec.platform}" for j in posts)
    assert all(0 <= j.at < 7200 for j in plan.jobs)


def test_the_keyword_share_and_the_number_of_fans_shape_the_inbound_messages() -> None:
    s = load_scenario(ROOT / "scenarios/rb10_dm_flood.yaml")
    assert (s.workload.keyword_share, s.workload.fans) == (0.8, 100_000)
    dms = [i for i in plan_workload(s, 71, CLIENTS, ACCOUNTS).inbound if i.kind == "dm"]
    keyword = [i for i in dms if i.text.startswith(s.workload.trigger_keyword)]
    assert 0.75 <= len(keyword) / len(dms) <= 0.85
    assert len({(i.account, i.author) for i in dms}) >= 0.95 * len(dms)  # most write once
    # the defaults (half with the keyword, @fan1 … @fan499) stay as every other drill has them
    few = s.model_copy(
        update={"workload": s.workload.model_copy(update={"keyword_share": 0.5, "fans": 499})}
    )
    again = [i for i in plan_workload(few, 71, CLIENTS, ACCOUNTS).inbound if i.kind == "dm"]
    assert {int(i.author.removeprefix("@fan")) for i in again} <= set(range(1, 500))
    assert (
        0.45
        <= sum(i.text.startswith(s.workload.trigger_keyword) for i in again) / len(again)
        <= 0.55
    )


def test_posts_leave_their_account_out_in_the_share_the_scenario_asks_and_plans_stay_put() -> None:
    s = load_scenario(ROOT / "scenarios/rb05_rate_limit_storm.yaml")
    full = plan_workload(s, 7, CLIENTS, ACCOUNTS)
    assert all(j.spec.account_id for j in full.jobs if j.spec.kind == "publish")
    half = s.model_copy(update={"workload": s.workload.model_copy(update={"accounts_named": 0.5})})
    plan = plan_workload(half, 7, CLIENTS, ACCOUNTS)
    posts = [j for j in plan.jobs if j.spec.kind == "publish"]
    unnamed = [j for j in posts if j.spec.account_id is None]
    assert 0.35 <= len(unnamed) / len(posts) <= 0.65
    # the rest still name their own client's account on their platform
    assert all(
        j.spec.account_id == f"{j.spec.client_id}-{j.spec.platform}"
        for j in posts
        if j.spec.account_id is not None
    )
    assert [(j.at, j.spec.idempotency_key) for j in plan.jobs] == [
        (j.at, j.spec.idempotency_key) for j in plan_workload(half, 7, CLIENTS, ACCOUNTS).jobs
    ]


def test_misrouted_surge_jobs_name_another_clients_account() -> None:
    s = load_scenario(ROOT / "scenarios/rb01_cross_tenant_post.yaml")
    plan = plan_workload(s, 1, CLIENTS, ACCOUNTS)
    bad = [j for j in plan.jobs if j.origin == "misrouted_publish"]
    assert bad and all(
        not (j.spec.account_id or "").startswith(j.spec.client_id + "-") for j in bad
    )
    assert all(1200 <= j.at < 1800 for j in bad)


def test_agency_surge_jobs_are_the_agencys_and_name_a_clients_account() -> None:
    s = load_scenario(ROOT / "scenarios/rb01_agency_job_names_a_client_account.yaml")
    plan = plan_workload(s, 1, CLIENTS, ACCOUNTS)
    agency = [j for j in plan.jobs if j.origin == "agency_publish"]
    assert agency and all(j.spec.client_id == "agency" for j in agency)
    owners = {a: c for (c, _p), a in ACCOUNTS.items()}
    assert all(owners.get(j.spec.account_id or "") in CLIENTS for j in agency)
    assert all(1200 <= j.at < 1800 for j in agency)
    assert all(j.spec.client_id != "agency" for j in plan.jobs if j.origin == "steady")


def test_drill_ids_name_scenario_virtual_start_and_seed() -> None:
    s = load_scenario(ROOT / "scenarios/rb05_rate_limit_storm.yaml")
    assert drill_id_for(s, 7) == "rb05-rate-limit-storm-20261127T120000Z-s7"


# --- whole drills ----------------------------------------------------------------------------

SECTIONS = (
    "1) Summary",
    "2) Impact",
    "3) Detection",
    "4) Timeline (UTC)",
    "5) Root cause(s)",
    "6) What went well",
    "7) What went poorly",
    "8) Where we got lucky",
    "9) Corrective actions",
    "10) Follow-up changes to docs/tests",
    "11) Appendix",
)
VERDICT_KEYS = {
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
}


def _healthy(matrix: Matrix, scenario_id: str) -> DrillOutcome:
    return next(h for h in matrix.healthy if h.scenario == scenario_id)


@pytest.mark.slow
@pytest.mark.parametrize("scenario_id", [s.id for s in api_scenarios()])
def test_every_api_lane_scenario_holds_on_the_healthy_platform(
    matrix: Matrix, scenario_id: str
) -> None:
    h = _healthy(matrix, scenario_id)
    doc = json.loads((Path(h.report_dir or "") / "verdict.json").read_text())
    broken = [
        f"{i['name']}: {i['detail']}" for i in doc["invariants"] if i["verdict"] == "violated"
    ]
    unmet = [x["detail"] for x in doc.get("expectations", []) if not x.get("met")]
    missed = [r["name"] for r in doc["reached"] if not r["hit"]]
    assert (h.verdict, broken, unmet, missed) == ("held", [], [], [])


@pytest.mark.slow
@pytest.mark.parametrize("scenario_id", [s.id for s in api_scenarios()])
def test_every_report_is_complete_with_a_postmortem_of_eleven_drill_specific_sections(
    matrix: Matrix, scenario_id: str
) -> None:
    h = _healthy(matrix, scenario_id)
    folder = Path(h.report_dir or "")
    for name in (
        "verdict.json",
        "postmortem.md",
        "postmortem.html",
        "junit.xml",
        "replay.json",
        "evidence/timeline.jsonl",
        "evidence/ledger.jsonl",
        "evidence/audit.jsonl",
        "evidence/bundle.json",
        "evidence/side-effects-per-minute.svg",
    ):
        assert (folder / name).is_file(), name
    doc = json.loads((folder / "verdict.json").read_text())
    assert set(doc) >= VERDICT_KEYS
    assert doc["scenario"] == scenario_id and doc["topology"] == "in-process"
    assert re.fullmatch(r"[0-9a-f]{64}", doc["timeline_sha256"])
    md = (folder / "postmortem.md").read_text()
    heads = re.findall(r"^##+ (\d+\).*)$", md, flags=re.M)
    assert tuple(heads) == SECTIONS
    bodies = re.split(r"^##+ \d+\).*$", md, flags=re.M)[1:]
    assert all(b.strip() for b in bodies), "every section has content"
    assert h.scenario.replace("_", "-") in md  # the drill's own id, not a template
    assert doc["runbook"] in md


@pytest.mark.slow
def test_replay_reruns_rb05_with_seed_7_and_confirms_the_timeline_hash(matrix: Matrix) -> None:
    h = _healthy(matrix, "rb05_rate_limit_storm")
    doc = json.loads((Path(h.report_dir or "") / "verdict.json").read_text())
    assert doc["seed"] == 7
    res = CliRunner().invoke(app, ["replay", str(h.report_dir)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert f"timeline hash matches: {doc['timeline_sha256']}" in res.output


@pytest.mark.slow
def test_a_run_with_a_defect_exits_1_and_names_the_expected_invariant(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "run",
            "rb01_cross_tenant_post",
            "--defect",
            "tenancy_guard_off",
            "--reports-dir",
            str(tmp_path),
        ],
        env={"COLUMNS": "250"},
    )
    assert res.exit_code == 1, res.output
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert folder.name.endswith("-tenancy-guard-off")
    doc = json.loads((folder / "verdict.json").read_text())
    assert doc["verdict"] == "violated" and doc["defects"] == ["tenancy_guard_off"]
    violated = {i["name"] for i in doc["invariants"] if i["verdict"] == "violated"}
    assert "every_side_effect_on_intended_account" in violated


@pytest.mark.slow
def test_the_plugin_runner_returns_the_verdict_of_a_scenario_id(
    matrix: Matrix, tmp_path: Path
) -> None:
    v = run_for_pytest("rb01_cross_tenant_post", seed=None, defects=(), reports_dir=tmp_path)
    assert isinstance(v, Verdict)
    assert (
        v.verdict == "held"
        and v.timeline_sha256 == _healthy(matrix, "rb01_cross_tenant_post").timeline_sha256
    )


def test_an_incident_from_the_first_second_has_no_steady_state_to_verify() -> None:
    # a drill judges "side effects succeeded before the incident" only when there is a before:
    # from T+0 there is none (in-process no job is out yet, served jobs already are — a check
    # that passed in one topology and failed the other proved nothing in either)
    from harness.drill.run import DrillOptions, run_drill
    from harness.judge.judgement import STEADY_STATE
    from harness.scenario import Scenario

    def reached(at: str) -> list[str]:
        s = Scenario.model_validate(
            {
                "id": "t",
                "title": "t",
                "runbook": "RB-05",
                "severity": "P2",
                "incident_types": ["RATE"],
                "world": {"clients": 1, "platforms": ["x"]},
                "workload": {"duration": "15m", "steady_state": "5m", "posts_per_hour": 60},
                "faults": [{"kind": "x.rate_limited", "at": at, "duration": "5m"}],
                "invariants": ["rate_within_platform_limits"],
            }
        )
        v = run_drill(s, DrillOptions(write=False)).verdict_obj
        assert v is not None
        return [r.name for r in v.reached]

    assert STEADY_STATE not in reached("0s")
    assert STEADY_STATE in reached("6m")


def test_comments_that_arrive_before_an_instagram_account_has_posted_are_judged_by_nobody() -> None:
    # an Instagram comment hangs off a post: before the account's first post it lands on none,
    # and no platform can read it — the judges used to blame the platform for not answering
    from harness.drill.run import DrillOptions, run_drill
    from harness.scenario import Scenario

    s = Scenario.model_validate(
        {
            "id": "t",
            "title": "t",
            "runbook": "RB-10",
            "severity": "P2",
            "incident_types": ["ENGAGE"],
            "world": {"clients": 1, "platforms": ["instagram"]},
            # no post at all: every comment of the hour lands on no post
            "workload": {
                "duration": "1h",
                "posts_per_hour": 0,
                "inbound_comments_per_hour": 120,
                "keyword_share": 0.9,
            },
            "invariants": ["engagement_loops_bounded"],
        }
    )
    v = run_drill(s, DrillOptions(write=False)).verdict_obj
    assert v is not None
    assert v.verdict == "held", [
        (r.name, r.detail) for r in v.invariants if r.verdict == "violated"
    ]
    judged = {r.name: r.verdict for r in v.invariants}
    assert judged["engagement_reaches_every_account"] == "not_applicable"


def test_comments_before_a_held_accounts_first_post_arrive_when_that_post_is_made() -> None:
    # a LinkedIn client killed from the first second posts nothing until the release: the
    # comments of the hold land on its first post, made in the release's wave, and nobody could
    # read them before — the judge used to count them as held back and blame the platform when
    # the wave's newer posts pushed that post out of the few it reads
    from harness.drill.run import DrillOptions, run_drill
    from harness.scenario import Scenario

    s = Scenario.model_validate(
        {
            "id": "t",
            "title": "t",
            "runbook": "RB-10",
            "severity": "P2",
            "incident_types": ["ENGAGE"],
            "world": {"clients": 1, "platforms": ["linkedin"]},
            "workload": {
                "duration": "1h",
                "posts_per_hour": 40,
                "inbound_comments_per_hour": 60,
                "keyword_share": 0.9,
            },
            "operator": [
                {"at": "0s", "do": "kill_switch.engage", "params": {"client_id": "{client:0}"}},
                {"at": "30m", "do": "kill_switch.release", "params": {"client_id": "{client:0}"}},
            ],
            "invariants": ["held_engagement_answered_after_release"],
        }
    )
    v = run_drill(s, DrillOptions(write=False)).verdict_obj
    assert v is not None
    judged = {r.name: (r.verdict, r.detail) for r in v.invariants}
    verdict, detail = judged["held_engagement_answered_after_release"]
    assert verdict == "not_applicable", detail


@pytest.mark.slow
def test_requests_the_platform_stopped_waiting_for_leave_no_traceback_on_stderr() -> None:
    # a hanging X: the lane stops waiting at its own timeout, the request ends later with the
    # client's read timeout — an error nobody awaited, which asyncio printed as "Task exception
    # was never retrieved" with a traceback (seven of them in this drill, 57 in a `run --all`)
    import gc
    import logging

    from harness.drill.run import DrillOptions, run_drill

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    keep = Keep()
    logging.getLogger("asyncio").addHandler(keep)
    try:
        run_drill(
            load_scenario(ROOT / "scenarios/rb02_x_posts_hang.yaml"), DrillOptions(write=False)
        )
        gc.collect()
    finally:
        logging.getLogger("asyncio").removeHandler(keep)
    assert not [m for m in seen if "never retrieved" in m], seen[:1]


def test_generation_jobs_come_in_episodes_of_one_client_when_the_scenario_asks() -> None:
    s = load_scenario(ROOT / "scenarios/rb12_cost_runaway.yaml")
    single = plan_workload(s, 7, CLIENTS, ACCOUNTS)
    gen = [j for j in single.jobs if j.spec.kind == "generate_text"]
    assert len({j.spec.episode_id for j in gen}) == len(gen)  # one job per episode by default
    fours = s.model_copy(update={"workload": s.workload.model_copy(update={"episode_jobs": 4})})
    plan = plan_workload(fours, 7, CLIENTS, ACCOUNTS)
    texts = [j for j in plan.jobs if j.spec.kind == "generate_text"]
    episodes: dict[str, list] = {}
    for j in texts:
        episodes.setdefault(str(j.spec.episode_id), []).append(j)
    assert len(texts) == len(gen)
    assert all(len(js) == 4 for js in list(episodes.values())[:-1])
    assert all(len({j.spec.client_id for j in js}) == 1 for js in episodes.values())
    # an episode's jobs follow one another
    ordered = [str(j.spec.episode_id) for j in texts]
    assert ordered == sorted(ordered, key=ordered.index)


def test_a_drill_that_waits_past_its_horizon_stops_with_an_error_that_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # something awaited decades ahead (a hold read from a unix time, a call that never answers)
    # must not walk the virtual clock there turn by turn: the drill stops at its horizon,
    # judged `error`, and still writes what it has
    import asyncio

    from harness.drill import engine as engine_module
    from harness.drill.run import DrillOptions, run_drill

    async def forever(self: object) -> None:
        await asyncio.sleep(30 * 365 * 86400.0)

    monkeypatch.setattr(engine_module.DrillEngine, "_drain", forever)
    scenario = load_scenario(Path("scenarios/rb01_x_wrong_user_after_refresh.yaml"))
    result = run_drill(scenario, DrillOptions(reports_dir=tmp_path))
    assert result.verdict == "error"
    assert "past its horizon" in result.verdict_json["error"]
    assert result.simulated_s < scenario.workload.duration + 2 * 86400
    assert result.report_dir is not None and (result.report_dir / "postmortem.md").exists()
