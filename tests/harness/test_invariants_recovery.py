"""The recovery invariants (verified publishes, the failing tool gateway, secrets in artifacts,
terminal jobs, queue freshness), each shown to fail on a hand-built record and to hold on a
healthy one."""

from __future__ import annotations

from typing import Any

from _recordkit import SECRET, T0, aud, intent, kill, led, record

from harness.judge.invariants import evaluate
from harness.judge.timeline import Timeline


def judge(name: str, rec, **spec):
    return evaluate({"name": name, **spec}, rec)


# --- no_unverified_publish_reported_live -----------------------------------------------


def test_posts_reported_live_unverified_or_invisible_are_violations():
    rec = record(
        ledger=[led(1, 60), led(2, 70)],
        audit=[
            aud(1, 61, job="j-1", resource="r1", verified=False),
            aud(2, 71, job="j-2", resource="r2"),
        ],
        invisible_resources={"x:r2"},
    )
    r = judge("no_unverified_publish_reported_live", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 post reported live on @acme_x without verification: ids r1 (job j-1); "
        "1 post reported live on @acme_x but never visible on x: ids r2 (job j-2)"
    )


def test_a_post_reported_live_before_the_platform_showed_it_is_a_violation():
    # the fakes kept r1 invisible for 30 s (a LinkedIn post still PUBLISH_REQUESTED: the lookup
    # answered 200, but with a post not yet published); claimed at +5 s it was not live yet
    rec = record(
        ledger=[{**led(1, 60), "detail": "invisible_for=30s"}, {**led(2, 70), "detail": "IMAGE"}],
        audit=[aud(1, 65, job="j-1", resource="r1"), aud(2, 71, job="j-2", resource="r2")],
    )
    r = judge("no_unverified_publish_reported_live", rec)
    assert r.verdict == "violated"
    assert r.detail == "1 post reported live on @acme_x 25s before x showed it: ids r1 (job j-1)"
    later = record(
        ledger=[{**led(1, 60), "detail": "invisible_for=30s"}],
        audit=[aud(1, 90, job="j-1", resource="r1")],
    )
    assert judge("no_unverified_publish_reported_live", later).verdict == "held"


def test_verified_visible_posts_hold():
    rec = record(ledger=[led(1, 60)], audit=[aud(1, 61, job="j-1", resource="r1")])
    assert judge("no_unverified_publish_reported_live", rec).verdict == "held"


# --- no_side_effect_while_toolgate_failing --------------------------------------------


TG = [{"id": "f1", "kind": "toolgate.unavailable", "start": T0 + 100, "end": T0 + 500, "hits": 3}]


def test_an_unapproved_post_riding_on_a_tool_while_the_gateway_fails_is_a_violation():
    rec = record(
        ledger=[led(1, 200), led(2, 210)],
        audit=[
            aud(1, 201, job="j-1", resource="r1", key="k-tool:then"),
            aud(2, 211, job="j-2", resource="r2", key="k-plain"),
        ],
        fault_rules=TG,
    )
    r = judge("no_side_effect_while_toolgate_failing", rec)
    assert r.verdict == "violated"
    assert (
        r.detail
        == "1 post published on @acme_x without approval while the tool gateway was failing (toolgate.unavailable): ids r1"
    )


def test_a_tool_call_held_for_a_person_that_runs_again_unapproved_is_a_violation():
    # j-9 failed closed at 200 (its follow-up refused): a later call of its tool needs the
    # approval first — another control's change re-queuing it is no decision
    def held(n: int, at: float) -> dict[str, Any]:
        a = {**aud(n, at, job="j-9", outcome="blocked", proof={}), "error": "fail_closed: drift"}
        return a

    def call(n: int, at: float) -> dict[str, Any]:
        return {**aud(n, at, job="j-9", action="tool.call"), "phase": "attempt", "outcome": None}

    def rec(approved_at: float | None) -> Any:
        job = {"id": "j-9", "state": "succeeded", "kind": "tool_call", "approved_at": None
               if approved_at is None else T0 + approved_at}  # fmt: skip
        return record(audit=[call(1, 199), held(2, 200), call(3, 900)], jobs=[job], fault_rules=TG)

    r = judge("no_side_effect_while_toolgate_failing", rec(None))
    assert r.verdict == "violated"
    assert (
        "held for a person at T+3m20s (failed closed) called its tool again unapproved" in r.detail
    )
    assert judge("no_side_effect_while_toolgate_failing", rec(850)).verdict == "held"
    assert judge("no_side_effect_while_toolgate_failing", rec(950)).verdict == "violated"


def test_a_post_made_from_a_tool_call_a_person_approved_holds_from_the_approval_on():
    # RB-08: a person approves a held tool call; the post made from its stand-in result goes
    # ahead (its key is the tool call's plus ':then') — but not before the click
    tool = {**intent("j-9"), "kind": "tool_call", "idempotency_key": "k-tool"}
    approved = {"id": "j-9", "state": "succeeded", "kind": "tool_call", "approved_at": T0 + 150}

    def posted(at: float) -> Any:
        return record(
            ledger=[led(1, at)],
            audit=[aud(1, at + 1, job="j-1", resource="r1", key="k-tool:then")],
            jobs=[approved],
            workload=[tool],
            fault_rules=TG,
        )

    assert judge("no_side_effect_while_toolgate_failing", posted(200)).verdict == "held"
    assert judge("no_side_effect_while_toolgate_failing", posted(120)).verdict == "violated"


def test_a_gateway_that_only_drops_meta_request_ids_is_not_failing():
    variant = [{**TG[0], "kind": "toolgate.no_meta_request_id"}]
    rec = record(
        ledger=[led(1, 200)],
        audit=[aud(1, 201, job="j-1", resource="r1", key="k-tool:then")],
        fault_rules=variant,
    )
    assert judge("no_side_effect_while_toolgate_failing", rec).verdict == "not_applicable"


def test_every_post_is_judged_with_judged_all():
    rec = record(
        ledger=[led(2, 210)],
        audit=[aud(2, 211, job="j-2", resource="r2", key="k-plain")],
        fault_rules=TG,
    )
    r = evaluate(
        {"name": "no_side_effect_while_toolgate_failing", "params": {"judged": "all"}}, rec
    )
    assert r.verdict == "violated"
    assert judge("no_side_effect_while_toolgate_failing", rec).verdict == "held"


def test_a_post_riding_on_another_tool_than_the_drifted_one_holds():
    tl = Timeline()
    tl.append(
        T0 + 100,
        "fault.injected",
        "drill",
        "drift",
        {"rule_id": "f2", "params": {"tool": "kb_search"}},
    )
    drift = [
        {"id": "f2", "kind": "toolgate.schema_drift", "start": T0 + 100, "end": T0 + 500, "hits": 3}
    ]
    wl = [
        {**intent("j-0", kind="tool_call", key="k-a"), "tool": "analytics_fetch"},
        {**intent("j-9", kind="tool_call", key="k-b"), "tool": "kb_search"},
    ]
    rec = record(
        ledger=[led(1, 200), led(2, 210)],
        audit=[
            aud(1, 201, job="j-1", resource="r1", key="k-a:then"),
            aud(2, 211, job="j-2", resource="r2", key="k-b:then"),
        ],
        fault_rules=drift,
        timeline=tl,
        workload=wl,
    )
    r = judge("no_side_effect_while_toolgate_failing", rec)
    assert r.verdict == "violated" and "ids r2" in r.detail and "r1" not in r.detail


def test_an_approved_post_while_the_tool_gateway_fails_holds():
    tl = Timeline()
    tl.append(T0 + 150, "job.approved", "ops-lead", "approved j-1", {"job_id": "j-1"})
    rec = record(
        ledger=[led(1, 200), led(2, 600)],
        audit=[aud(1, 201, job="j-1", resource="r1")],
        fault_rules=TG,
        timeline=tl,
    )
    assert judge("no_side_effect_while_toolgate_failing", rec).verdict == "held"


# --- no_secret_in_artifacts ------------------------------------------------------------


def test_a_secret_in_an_audit_event_or_an_artifact_is_a_violation_without_repeating_it():
    bad = aud(1, 61, job="j-1", resource="r1")
    bad["error"] = f"401 with token {SECRET}"
    rec = record(audit=[bad], secrets=(SECRET,), artifacts={"postmortem.md": f"token {SECRET}"})
    r = judge("no_secret_in_artifacts", rec)
    assert r.verdict == "violated"
    assert SECRET not in r.detail
    assert r.detail.startswith("2 records contain the credential fp_")
    assert "evidence/audit.jsonl#L1, postmortem.md" in r.detail


def test_clean_records_hold_the_secret_invariant():
    rec = record(
        audit=[aud(1, 61, job="j-1", resource="r1")], secrets=(SECRET,), artifacts={"a.md": "ok"}
    )
    assert judge("no_secret_in_artifacts", rec).verdict == "held"


def test_the_first_characters_of_a_token_in_an_error_text_are_a_violation():
    # realistic bug 20: ``cred.access_token[:16]`` ("xat-" and 12 characters of the secret part)
    bad = aud(1, 61, job="j-1", resource="r1")
    bad["error"] = f"x.unauthorized: 401 again with the token {SECRET[:16]}… just refreshed"
    r = judge("no_secret_in_artifacts", record(audit=[bad], secrets=(SECRET,)))
    assert r.verdict == "violated"
    assert r.detail.startswith("1 record contain")
    assert "part of the credential fp_" in r.detail and "(12 characters)" in r.detail
    assert SECRET[4:16] not in r.detail


def test_a_run_of_twelve_characters_from_the_middle_of_a_token_is_a_violation():
    middle = SECRET[10:22]
    rec = record(
        audit=[aud(1, 61, job="j-1", resource="r1")],
        secrets=("xat-ffffffffffffffffffffffffffffffff", SECRET),
        artifacts={"postmortem.md": f"seen ...{middle}... in a log line"},
    )
    r = judge("no_secret_in_artifacts", rec)
    assert r.verdict == "violated"
    assert "postmortem.md" in r.detail and middle not in r.detail


def test_the_public_prefix_a_fingerprint_and_short_hints_of_a_token_hold():
    from harness.judge.secrets import secret_fp

    rec = record(
        audit=[aud(1, 61, job="j-1", resource="r1")],
        secrets=(SECRET,),
        artifacts={
            "postmortem.md": (
                f"tokens look like xat-…; credential {secret_fp(SECRET)} expired; "
                # 11 characters of the secret part, and the usual last-four hint
                f"hint {SECRET[:15]}… and …{SECRET[-4:]}"
            )
        },
    )
    assert judge("no_secret_in_artifacts", rec).verdict == "held"


# --- every_job_terminal_after_healing ----------------------------------------------------


def test_a_job_still_running_at_the_end_is_a_violation():
    rec = record(jobs=[{"id": "j-1", "state": "succeeded"}, {"id": "j-2", "state": "retry_wait"}])
    r = judge("every_job_terminal_after_healing", rec)
    assert r.verdict == "violated"
    assert r.detail == "1 job still retry_wait when the drill ended at T+1h00m00s: ids j-2"


def test_an_approved_job_held_for_approval_again_is_a_violation_even_where_holds_count_as_ends():
    jobs = [
        {"id": "j-1", "state": "awaiting_approval", "kind": "tool_call", "approved_at": T0 + 900},
        {"id": "j-2", "state": "awaiting_approval", "kind": "tool_call"},
    ]
    r = evaluate(
        {
            "name": "every_job_terminal_after_healing",
            "params": {"also_terminal": ["awaiting_approval"]},
        },
        record(jobs=jobs),
    )
    assert r.verdict == "violated"
    assert r.detail == (
        "1 job of kind tool_call was approved at T+15m00s and still awaited approval when the "
        "drill ended (an approval given is not asked for again): ids j-1"
    )


def test_terminal_jobs_and_jobs_due_after_the_end_hold():
    rec = record(
        jobs=[
            {"id": "j-1", "state": "dead_letter"},
            {"id": "j-2", "state": "scheduled", "run_at": T0 + 9999},
        ]
    )
    assert judge("every_job_terminal_after_healing", rec).verdict == "held"


def test_a_job_created_just_before_the_end_is_not_judged_stuck():
    rec = record(
        jobs=[
            {"id": "j-1", "state": "queued", "created_at": T0 + 3600 - 30},
            {"id": "j-2", "state": "queued", "created_at": T0 + 600},
        ]
    )
    r = judge("every_job_terminal_after_healing", rec)
    assert r.verdict == "violated"
    assert r.detail == "1 job still queued when the drill ended at T+1h00m00s: ids j-2"


# --- no_job_left_behind -----------------------------------------------------------------


def job(jid: str, state: str, at: float, **kw):
    return {
        "id": jid,
        "state": state,
        "kind": "publish",
        "client_id": "acme",
        "platform": "x",
        "created_at": T0 + 60,
        "updated_at": T0 + at,
        **kw,
    }


def test_a_job_running_long_before_the_end_with_nothing_holding_it_is_left_behind():
    # a crash on the retry path left j-1 running since T+10m; j-2 was queued 20 min before the
    # end; j-3 is in flight (started a minute ago) and j-4 waits for its retry after the end
    rec = record(
        jobs=[
            job("j-1", "running", 600),
            job("j-2", "queued", 2400),
            job("j-3", "running", 3540),
            job("j-4", "retry_wait", 3000, run_at=T0 + 4000),
            job("j-5", "awaiting_approval", 60),
        ]
    )
    r = judge("no_job_left_behind", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 job of kind publish still running when the drill ended, more than 15m after it "
        "started, with no control holding it: ids j-1; 1 job of kind publish still queued when "
        "the drill ended, more than 15m after it was due, with no control holding it: ids j-2"
    )


def test_a_job_kept_waiting_by_a_control_in_force_at_the_end_is_not_left_behind():
    kill = {
        "t": T0 + 100,
        "seq": 1,
        "control": "kill_switch",
        "scope": {"client_id": "acme", "action": "publish"},
        "value": {"engaged": True},
    }
    rec = record(
        jobs=[
            job("j-1", "queued", 600),
            job("j-2", "queued", 600, client_id="globex", kind="reply"),
            job("j-3", "queued", 600, client_id="globex", kind="generate_text", platform=None),
            job("j-4", "queued", 600, client_id="initech", platform="instagram"),
        ],
        control_changes=[kill],
        controls_at_end={
            "paused": ["engagement", "generation"],
            "modes": [{"client_id": "initech", "mode": "manual_only"}],
        },
    )
    r = judge("no_job_left_behind", rec)
    assert r.verdict == "held"
    assert r.detail == (
        "4 jobs still waiting 15m after they were due, each held by a control in force at the "
        "end (1 held by mode manual_only; 1 held by the kill switch for action=publish, "
        "client_id=acme; 1 held by the paused engagement queue; 1 held by the paused generation "
        "queue)"
    )
    # released before the end: the switch no longer explains a job still queued
    released = {**kill, "t": T0 + 500, "seq": 2, "value": {"engaged": False}}
    rec2 = record(jobs=[job("j-1", "queued", 600)], control_changes=[kill, released])
    assert judge("no_job_left_behind", rec2).verdict == "violated"


def test_no_job_waiting_long_is_not_applicable():
    rec = record(jobs=[job("j-1", "succeeded", 600), job("j-2", "queued", 3500)])
    r = judge("no_job_left_behind", rec)
    assert r.verdict == "not_applicable"


def test_the_judge_knows_the_holds_of_every_job_kind_of_the_contract():
    from harness.judge.invariants.recovery import JOB_HOLDS
    from sandbox.contract import JOB_KINDS

    assert sorted(JOB_HOLDS) == sorted(JOB_KINDS)


# --- no_unexpected_errors --------------------------------------------------------------


def test_an_error_no_handler_expected_is_a_violation_even_when_the_job_went_on():
    bad_audit = aud(1, 60, job="j-1", outcome="failed", proof={})
    bad_audit["error"] = "internal: KeyError: 'value'"
    rec = record(
        jobs=[
            job(
                "j-1",
                "dead_letter",
                600,
                last_error="internal: TypeError: f() missing 1 (after 4 attempts)",
            ),
            job(
                "j-2",
                "failed",
                600,
                last_error=(
                    "recursion_stop: episode 'ep-acme-000002' reached tool-call round 8, above the "
                    "cap of 8; the model keeps asking for tools (recursion stop)"
                ),
            ),
            job(
                "j-3",
                "failed",
                600,
                last_error=(
                    "recursion_stop: episode 'ep-acme-000003' reached tool-call round 9, above the "
                    "cap of 8; the model keeps asking for tools (recursion stop)"
                ),
            ),
            job("j-4", "failed", 600, last_error="x.http_500: Internal Server Error"),
            job("j-5", "succeeded", 600),
        ],
        audit=[bad_audit],
    )
    r = judge("no_unexpected_errors", rec)
    assert r.verdict == "violated"
    assert r.checked == 5
    assert r.detail == (
        "1 audit event hit an error its code did not expect (KeyError): ids ae-000001; 1 job hit "
        "an error its code did not expect (TypeError): ids j-1; 1 job stopped at tool-call round "
        "8, which its cap of 8 allows: ids j-2"
    )


def test_a_recursion_stop_at_a_round_its_episode_never_reached_is_a_violation():
    # the stop claims round 9 of ep-2, whose only model call was one: the rounds were counted
    # somewhere else (all of the client's episodes together)
    def call(n: int, at: float, episode: str) -> dict[str, Any]:
        a = aud(n, at, job=f"j-{n}", proof={})
        a.update(
            action="llm.complete", phase="attempt", outcome=None, detail={"episode_id": episode}
        )
        return a

    stop = (
        "recursion_stop: episode 'ep-2' reached tool-call round 9, above the cap of 8; the model "
        "keeps asking for tools (recursion stop)"
    )
    calls = [call(n, 60 + n, "ep-1") for n in range(1, 10)] + [call(10, 200, "ep-2")]
    rec = record(jobs=[job("j-10", "failed", 600, last_error=stop)], audit=calls)
    r = judge("no_unexpected_errors", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 job stopped episode 'ep-2' at tool-call round 9 after only 1 model calls of that "
        "episode: ids j-10"
    )
    # the same stop after nine model calls of its own episode is the cap at work
    looped = [call(n, 60 + n, "ep-2") for n in range(1, 10)]
    rec = record(jobs=[job("j-10", "failed", 600, last_error=stop)], audit=looped)
    assert judge("no_unexpected_errors", rec).verdict == "held"


def test_a_recursion_stop_after_more_answered_model_calls_than_its_round_is_a_violation():
    # ten answered calls of ep-2 and a stop at round 9: the cap let a ninth round run (the
    # round counted after the cap's test); two attempts of one call that answered once are fine
    def call(n: int, at: float, phase: str) -> dict[str, Any]:
        a = aud(n, at, job="j-1", proof={})
        a.update(
            action="llm.complete",
            phase=phase,
            outcome="success" if phase == "outcome" else None,
            detail={"episode_id": "ep-2"},
        )
        return a

    stop = (
        "recursion_stop: episode 'ep-2' reached tool-call round 9, above the cap of 8; the model "
        "keeps asking for tools (recursion stop)"
    )

    def trail(answers: int) -> list[dict[str, Any]]:
        out = [call(1, 60, "attempt")]  # an attempt the provider did not answer (a 429)
        for k in range(answers):
            out += [call(2 + 2 * k, 61 + k, "attempt"), call(3 + 2 * k, 61.5 + k, "outcome")]
        return out

    rec = record(jobs=[job("j-1", "failed", 600, last_error=stop)], audit=trail(10))
    r = judge("no_unexpected_errors", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 job stopped episode 'ep-2' at tool-call round 9 (cap 8) after 10 answered model "
        "calls: the cap let a round more run: ids j-1"
    )
    rec = record(jobs=[job("j-1", "failed", 600, last_error=stop)], audit=trail(9))
    assert judge("no_unexpected_errors", rec).verdict == "held"
    # the ninth answer (round 9, over the cap of 8) stops the episode before its tools run:
    # a tool call after it ran a round the cap refused
    tool = aud(40, 70, job="j-1", proof={})
    tool.update(action="tool.call", phase="attempt", outcome=None, detail={"tool": "kb_search"})
    rec = record(jobs=[job("j-1", "failed", 600, last_error=stop)], audit=[*trail(9), tool])
    r = judge("no_unexpected_errors", rec)
    assert r.verdict == "violated"
    assert "ran a tool call of round 9 of episode 'ep-2', which its cap of 8 stops" in r.detail
    before = {**tool, "seq": 10, "t": 64.0}  # after the third answer: round 3, within the cap
    rec = record(jobs=[job("j-1", "failed", 600, last_error=stop)], audit=[*trail(9), before])
    assert judge("no_unexpected_errors", rec).verdict == "held"


def test_expected_errors_hold_and_no_error_is_not_applicable():
    rec = record(jobs=[job("j-1", "failed", 600, last_error="x.rate_limited: 429 Too Many")])
    assert judge("no_unexpected_errors", rec).verdict == "held"
    assert judge("no_unexpected_errors", record(jobs=[job("j-1", "succeeded", 6)])).verdict == (
        "not_applicable"
    )


# --- publish_failures_alerted ----------------------------------------------------------


def publish(n: int, at: float, outcome: str, platform: str = "x") -> dict:
    a = aud(n, at, job=f"j-{n}", outcome=outcome, proof={})
    a["platform"] = platform
    return a


def alert(n: int, at: float, platform: str) -> dict:
    return {
        "seq": n,
        "t": T0 + at,
        "name": "publish_error_rate_high",
        "severity": "page",
        "labels": {"platform": platform},
        "message": "m",
    }


def test_a_burst_of_failing_publishes_without_its_alert_is_a_violation():
    # five of six X publishes fail between T+10m and T+15m, and no alert fires
    audit = [publish(1, 590, "success")] + [publish(n, 600 + 60 * n, "failed") for n in range(2, 7)]
    rec = record(audit=audit)
    r = judge("publish_failures_alerted", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 publish failure burst on x without an alert matching 'publish_error*' within 2m (4 of "
        "5 publishes failed within 8m; 0 such alerts in the whole drill): ids T+15m00s"
    )
    rec2 = record(audit=audit, alerts=[alert(1, 1000, "x")])
    assert judge("publish_failures_alerted", rec2).verdict == "held"
    # an alert that names no platform answers for none (the contract labels it)
    unnamed = {**alert(1, 1000, "x"), "labels": {}}
    assert judge("publish_failures_alerted", record(audit=audit, alerts=[unnamed])).verdict == (
        "violated"
    )
    # … and one for a platform where no publish failed (failed replies counted as publishes)
    # sends on-call to RB-02 for nothing
    other = record(audit=audit, alerts=[alert(1, 1000, "x"), alert(2, 1000, "instagram")])
    r = judge("publish_failures_alerted", other)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 alert for instagram raised at T+16m40s though no publish failed there in the 10m "
        "before: ids instagram"
    )


def test_three_of_five_publishes_failing_on_a_quiet_platform_must_page_before_a_fifth_fails():
    # LinkedIn posts five times in eight minutes and three fail: an alert that waits for five
    # failures (it came at T+25m, with the fifth) is late
    audit = [
        publish(1, 600, "success", "linkedin"),
        publish(2, 700, "failed", "linkedin"),
        publish(3, 800, "success", "linkedin"),
        publish(4, 900, "failed", "linkedin"),
        publish(5, 1000, "failed", "linkedin"),
        publish(6, 1300, "failed", "linkedin"),
        publish(7, 1500, "failed", "linkedin"),
    ]
    late = record(audit=audit, alerts=[alert(1, 1500, "linkedin")])
    r = judge("publish_failures_alerted", late)
    assert r.verdict == "violated"
    assert "(3 of 5 publishes failed within 8m" in r.detail
    on_time = record(audit=audit, alerts=[alert(1, 1030, "linkedin")])
    assert judge("publish_failures_alerted", on_time).verdict == "held"
    # two failures of four publishes are too few to judge
    few = record(audit=audit[:4])
    assert judge("publish_failures_alerted", few).verdict == "not_applicable"


def test_failures_that_are_few_or_a_small_share_are_not_applicable():
    audit = [publish(n, 600 + 10 * n, "success") for n in range(1, 20)] + [
        publish(n, 800 + 10 * n, "failed") for n in range(20, 25)
    ]
    assert judge("publish_failures_alerted", record(audit=audit)).verdict == "not_applicable"


# --- queue_freshness_restored ----------------------------------------------------------


def fresh(*pairs: tuple[float, float]) -> list:
    return [(T0 + t, {"queue_oldest_age_s": v}) for t, v in pairs]


def test_a_queue_still_stale_after_the_deadline_violates_freshness():
    rec = record(
        metrics_samples=fresh((100, 10), (700, 400), (1200, 300), (2000, 90)),
        fault_window=(T0 + 600, T0 + 1000),
    )
    r = judge("queue_freshness_restored", rec, params={"within_s": 600})
    assert r.verdict == "violated"
    assert (
        r.detail
        == "queue_oldest_age_s did not return to 60s within 600s of healing at T+16m40s (worst 300s at T+20m00s)"
    )


def test_a_queue_back_to_target_in_time_holds_freshness():
    rec = record(
        metrics_samples=fresh((700, 400), (1100, 30), (1500, 20)),
        fault_window=(T0 + 600, T0 + 1000),
    )
    r = judge("queue_freshness_restored", rec)
    assert r.verdict == "held"
    assert "100s after healing" in r.detail


# --- jobs_within_the_contract: audit events name their jobs -------------------------------------


def test_an_audit_event_naming_no_reported_job_or_another_clients_is_a_violation():
    jobs = [
        {"id": "j-1", "kind": "publish", "state": "succeeded", "client_id": "acme"},
        {"id": "j-2", "kind": "tool_call", "state": "succeeded", "client_id": "northwind"},
    ]
    tool = aud(2, 70, job="j-2", action="tool.call", platform="toolgate", proof={})
    orphan = {**tool, "seq": 3, "event_id": "ae-000003", "job_id": None}
    rec = record(audit=[aud(1, 60, job="j-1", resource="r1"), tool, orphan], jobs=jobs)
    r = evaluate({"name": "jobs_within_the_contract"}, rec)
    assert r.verdict == "violated"
    assert {(v.phrase, v.ref) for v in r.violations} == {
        ("naming a job of another client", "ae-000002 (tool.call, job_id j-2)"),
        ("naming no job the platform reports", "ae-000003 (tool.call, job_id None)"),
    }
    fine = record(audit=[aud(1, 60, job="j-1", resource="r1")], jobs=jobs)
    assert evaluate({"name": "jobs_within_the_contract"}, fine).verdict == "held"


def test_a_refusal_by_the_gate_audited_as_a_failure_is_outside_the_contract() -> None:
    # a resend after a token refresh met a mode set meanwhile: the attempt ends unsent and must
    # be audited blocked, not counted as a failed post
    jobs = [{"id": "j-1", "kind": "publish", "state": "awaiting_approval", "client_id": "acme"}]
    held = "mode:approval_required holds post.create for acme on x until approved"

    def outcome(kind: str) -> Any:
        return {**aud(1, 60, job="j-1", outcome=kind, proof={}), "error": held}

    r = evaluate({"name": "jobs_within_the_contract"}, record(audit=[outcome("failed")], jobs=jobs))
    assert r.verdict == "violated"
    assert [v.phrase for v in r.violations] == [
        "audited failed though the gate refused it (mode:approval_required: a control's "
        "refusal is blocked)"
    ]
    ok = record(audit=[outcome("blocked")], jobs=jobs)
    assert evaluate({"name": "jobs_within_the_contract"}, ok).verdict == "held"


def test_a_post_handed_to_a_person_after_its_lone_refused_attempt_is_outside_the_contract() -> None:
    # j-1: one attempt, refused as a duplicate, nothing posted, yet "the earlier attempt
    # posted"; j-2 handed over after a second attempt; j-3 posted and could not be verified
    jobs = [
        {"id": j, "kind": "publish", "state": "needs_human_confirm", "client_id": "acme"}
        for j in ("j-1", "j-2", "j-3")
    ]

    def attempt(n: int, at: float, job: str) -> dict[str, Any]:
        return {**aud(n, at, job=job, proof={}), "phase": "attempt", "outcome": None}

    def handed(n: int, at: float, job: str, resource: str | None = None) -> dict[str, Any]:
        if resource is None:
            return aud(n, at, job=job, outcome="needs_human_confirm", proof={"resource_id": None})
        return aud(n, at, job=job, resource=resource, outcome="needs_human_confirm", verified=False)

    audit = [
        attempt(1, 60, "j-1"),
        handed(2, 61, "j-1"),
        attempt(3, 70, "j-2"),
        attempt(4, 100, "j-2"),
        handed(5, 101, "j-2"),
        attempt(6, 110, "j-3"),
        handed(7, 300, "j-3", resource="r3"),
    ]
    rec = record(
        audit=audit,
        jobs=jobs,
        ledger=[led(1, 111, resource="r3")],
        workload=[intent("j-1"), intent("j-2"), intent("j-3")],
    )
    r = evaluate({"name": "jobs_within_the_contract"}, rec)
    assert r.verdict == "violated"
    assert [(v.phrase, v.ref) for v in r.violations] == [
        (
            "handed a post to a person as maybe posted after its only attempt, which posted "
            "nothing (no earlier attempt could have)",
            "ae-000002 (post.create, job_id j-1)",
        )
    ]


def test_an_audit_feed_numbered_out_of_order_or_from_zero_is_outside_the_contract() -> None:
    # the feed is cursor-paged (seq > cursor): read from cursor 0 its events are 1, 2, 3 …
    jobs = [{"id": "j-1", "kind": "publish", "state": "succeeded", "client_id": "acme"}]
    events = [aud(n, 60 + n, job="j-1", resource=f"r{n}") for n in (1, 2, 3)]
    ok = evaluate({"name": "jobs_within_the_contract"}, record(audit=events, jobs=jobs))
    assert ok.verdict == "held", ok.detail
    # numbered from 0 (an off-by-one in the page), or an event read twice (resumed at its seq)
    zero = [{**e, "seq": e["seq"] - 1} for e in events]
    again = [events[0], events[1], events[1], events[2]]
    for feed in (zero, again):
        r = evaluate({"name": "jobs_within_the_contract"}, record(audit=feed, jobs=jobs))
        assert r.verdict == "violated"
        assert [v.phrase.split(" (")[0] for v in r.violations] == [
            f"numbered {feed[0]['seq'] if feed is zero else 2} after "
            f"{0 if feed is zero else 2} in the cursor-paged feed"
        ]
    # a drill over HTTP starts reading at the platform's cursor: the first may be above 1
    later = [{**e, "seq": e["seq"] + 40} for e in events]
    assert (
        evaluate({"name": "jobs_within_the_contract"}, record(audit=later, jobs=jobs)).verdict
        == "held"
    )


def test_a_control_feed_that_answers_a_change_at_its_cursor_again_is_outside_the_contract() -> None:
    # the drill's monitor reads the change feed after the last seq it saw: a platform that
    # answers that change again (``>=`` for ``>``) is put on the timeline by the monitor
    jobs = [{"id": "j-1", "kind": "publish", "state": "succeeded", "client_id": "acme"}]
    tl = Timeline()
    for t in (300, 330):
        tl.append(T0 + t, "control.feed_reread", "drill", "again",
                  {"after": 4, "control_seq": 4})  # fmt: skip
    r = evaluate({"name": "jobs_within_the_contract"}, record(jobs=jobs, timeline=tl))
    assert r.verdict == "violated"
    assert r.violations[0].phrase.startswith(
        "answered again after the cursor 4 by the cursor-paged change feed (2 times in the drill"
    )
    assert evaluate({"name": "jobs_within_the_contract"}, record(jobs=jobs)).verdict == "held"


def test_an_audit_event_under_a_job_kind_is_outside_the_contract() -> None:
    # a dead letter and a fail-closed follow-up written under the job's kind (publish) match no
    # detection rule (RB-02 looks for post.create dead letters) and no coverage count
    jobs = [
        {"id": "j-1", "kind": "publish", "state": "dead_letter", "client_id": "acme"},
        {"id": "j-2", "kind": "tool_call", "state": "awaiting_approval", "client_id": "acme"},
    ]
    dead = aud(1, 60, job="j-1", action="publish", outcome="dead_letter", proof={})
    blocked = aud(2, 70, job="j-2", action="publish", outcome="blocked", proof={})
    rec = record(audit=[dead, blocked], jobs=jobs)
    r = evaluate({"name": "jobs_within_the_contract"}, rec)
    assert r.verdict == "violated"
    assert [(v.phrase.split(" (")[0], v.ref) for v in r.violations] == [
        (
            "written under action 'publish', not one the contract defines",
            "ae-000001 (publish, job_id j-1)",
        ),
        (
            "written under action 'publish', not one the contract defines",
            "ae-000002 (publish, job_id j-2)",
        ),
    ]
    # the same trail under the work's actions; the reference platform's own actions count too
    fixed = [
        {**dead, "action": "post.create"},
        {**blocked, "action": "post.create"},
        aud(3, 95, job="j-2", action="engagement.poll", outcome="dead_letter", proof={}),
    ]
    ok = evaluate({"name": "jobs_within_the_contract"}, record(audit=fixed, jobs=jobs))
    assert ok.verdict == "held", ok.detail


def test_every_job_kind_has_an_audit_action_the_judge_accepts() -> None:
    from harness.judge.invariants.recovery import EVENT_ACTIONS
    from sandbox.contract import JOB_KINDS
    from sandbox.jobs import AUDIT_ACTION_OF

    assert set(AUDIT_ACTION_OF) == set(JOB_KINDS)
    assert set(AUDIT_ACTION_OF.values()) <= set(EVENT_ACTIONS)


# --- requests_traced_to_their_jobs ----------------------------------------------------------------

TRACE = "ab" * 16


def _req(
    n: int, span: int, *, key: str = "k-j-1", trace: str = TRACE, retry: int | None = None
) -> dict[str, Any]:
    return {
        "seq": n,
        "t": T0 + n,
        "fake": "x",
        "method": "POST",
        "path": "/2/tweets",
        "route": "tweets.create",
        "status": 201,
        "account_id": "acme-x",
        "request_id": f"req-{n}",
        "retry_count": retry,
        "idempotency_key": key,
        "traceparent": f"00-{trace}-{span:016x}-01",
    }


def test_requests_sharing_a_span_off_their_jobs_trace_or_malformed_are_violations() -> None:
    audit = [{**aud(1, 60, job="j-1", resource="r1"), "trace_id": TRACE}]
    # every span id the same (span | 0xFF…: the mutant of JobRecord.traceparent), a request of
    # the job under another trace, an all-zero span id
    rows = [
        _req(1, 0xFFFFFFFFFFFFFFFF),
        _req(2, 0xFFFFFFFFFFFFFFFF),
        _req(3, 7, trace="cd" * 16),
        _req(4, 0),
    ]
    r = judge("requests_traced_to_their_jobs", record(audit=audit, journal=rows))
    assert r.verdict == "violated"
    assert [v.phrase.split(" (")[0] for v in r.violations] == [
        "sharing span id ffffffffffffffff of trace " + TRACE + " with request req-1",
        f"carrying trace {'cd' * 16} though the platform audits its job",
        "carrying a traceparent outside W3C Trace Context",
    ]


def test_a_request_of_a_jobs_trace_under_another_idempotency_key_is_a_violation() -> None:
    # a retry that sends the job's key with its attempt number: a new request to an API that
    # deduplicates on the key, and evidence that names no job
    audit = [
        {**aud(1, 60, job="j-1", resource="r1"), "trace_id": TRACE, "idempotency_key": "k-j-1"}
    ]
    rows = [_req(1, 1), _req(2, 2, key="k-j-1:2")]
    r = judge("requests_traced_to_their_jobs", record(audit=audit, journal=rows))
    assert r.verdict == "violated"
    assert r.violations[0].phrase.startswith(
        f"carrying idempotency key k-j-1:2 though the platform audits the job of its trace {TRACE} "
        "under k-j-1"
    )
    # a render service's own key for the job's render is not the job's to carry
    media = {**_req(3, 3, key="ep-1:j-1"), "fake": "media", "route": "renders.create"}
    assert (
        judge(
            "requests_traced_to_their_jobs", record(audit=audit, journal=[_req(1, 1), media])
        ).verdict
        == "held"
    )


def test_requests_each_with_its_own_span_of_their_jobs_trace_hold() -> None:
    audit = [{**aud(1, 60, job="j-1", resource="r1"), "trace_id": TRACE}]
    # an SDK's resend (retry count 1) is the same request; a poll's reads carry no audited key
    rows = [_req(1, 1), _req(2, 2), _req(3, 2, retry=1), _req(4, 3, key="poll:1", trace="ef" * 16)]
    r = judge("requests_traced_to_their_jobs", record(audit=audit, journal=rows))
    assert r.verdict == "held", r.detail
    assert judge("requests_traced_to_their_jobs", record()).verdict == "not_applicable"


# --- dead_letters_alerted ---------------------------------------------------------------------


def _dead(n: int, at: float) -> dict[str, Any]:
    return {"id": f"j-{n}", "kind": "publish", "state": "dead_letter", "updated_at": T0 + at}


def _alert(n: int, at: float, name: str = "dead_letters_rising") -> dict[str, Any]:
    return {"seq": n, "t": T0 + at, "name": name, "severity": "ticket", "labels": {}, "message": ""}


def test_a_burst_of_dead_letters_without_the_alert_is_a_violation() -> None:
    jobs = [
        _dead(1, 600),
        _dead(2, 700),
        _dead(3, 800),
        _dead(4, 2000),
        _dead(5, 2100),
        _dead(6, 2200),
    ]
    # the first burst was alerted; the second only by another alert (the mark never counted)
    rec = record(
        jobs=jobs, alerts=[_alert(1, 830), _alert(2, 2210, "rate_limited")], end_t=T0 + 3600
    )
    r = judge("dead_letters_alerted", rec)
    assert r.verdict == "violated"
    assert [v.ref for v in r.violations] == ["T+36m40s"]
    assert "without an alert matching 'dead_letters*' within 2m" in r.violations[0].phrase
    rec = record(jobs=jobs, alerts=[_alert(1, 830), _alert(2, 2230)], end_t=T0 + 3600)
    assert judge("dead_letters_alerted", rec).verdict == "held"


def test_on_a_scaled_clock_an_alert_has_a_few_real_seconds_more_to_follow_its_cause() -> None:
    # a game day at x120: the platform's rules run on real time, so its alert 3 real seconds
    # (6 scenario minutes) after a burst is in time there, and late on virtual time
    jobs = [_dead(1, 600), _dead(2, 700), _dead(3, 800)]
    rec = record(jobs=jobs, alerts=[_alert(1, 1160)], end_t=T0 + 3600)
    assert judge("dead_letters_alerted", rec).verdict == "violated"
    scaled = record(
        jobs=jobs, alerts=[_alert(1, 1160)], end_t=T0 + 3600, extra={"time_scale": 120.0}
    )
    assert judge("dead_letters_alerted", scaled).verdict == "held"


def test_dead_letters_too_few_or_too_late_to_alert_are_not_judged() -> None:
    spread = [_dead(1, 0), _dead(2, 700), _dead(3, 1400)]  # never 3 within 10 minutes
    assert judge("dead_letters_alerted", record(jobs=spread, end_t=T0 + 3600)).verdict == (
        "not_applicable"
    )
    late = [_dead(1, 3500), _dead(2, 3510), _dead(3, 3520)]  # the drill ended before +2 min
    assert judge("dead_letters_alerted", record(jobs=late, end_t=T0 + 3600)).verdict == (
        "not_applicable"
    )


# --- verification_failures_alerted ------------------------------------------------------------


def unverified(n: int, at: float, platform: str = "x") -> dict[str, Any]:
    a = aud(n, at, job=f"j-{n}", outcome="needs_human_confirm", proof={"verified": False})
    a["platform"] = platform
    return a


def verify_alert(n: int, at: float, platform: str) -> dict[str, Any]:
    return {
        "seq": n,
        "t": T0 + at,
        "name": "verification_failed_high",
        "severity": "page",
        "labels": {"platform": platform},
        "message": "m",
    }


def test_posts_left_unverified_without_their_alert_are_a_violation() -> None:
    # three X posts never became visible between T+10m and T+14m; the alert named LinkedIn
    audit = [unverified(n, 600 + 120 * n) for n in range(3)] + [
        aud(9, 700, job="j-9", proof={"verified": True})
    ]
    rec = record(audit=audit, alerts=[verify_alert(1, 900, "linkedin")])
    r = judge("verification_failures_alerted", rec)
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 burst of unverified posts on x without an alert matching 'verification_failed*' "
        "within 2m (3 publishes not visible within 10m): ids T+14m00s"
    )
    # … and the LinkedIn page had nothing behind it
    assert "1 alert for linkedin raised at T+15m00s though fewer than 3 publishes" in r.detail
    rec = record(audit=audit, alerts=[verify_alert(1, 900, "x")])
    assert judge("verification_failures_alerted", rec).verdict == "held"


def test_a_verification_page_for_fewer_unverified_posts_than_its_threshold_is_a_false_page() -> (
    None
):
    # one post never became visible; its three lookups counted as three failures paged
    rec = record(audit=[unverified(1, 600)], alerts=[verify_alert(1, 700, "x")])
    r = judge("verification_failures_alerted", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 alert for x raised at T+11m40s though fewer than 3 publishes had ended unverified in "
        "the 10m before: ids x"
    )


def test_unverified_posts_too_few_or_too_spread_are_not_judged() -> None:
    spread = [unverified(n, 600 * n) for n in range(1, 4)]  # never 3 within 10 minutes
    rec = record(audit=spread)
    assert judge("verification_failures_alerted", rec).verdict == "not_applicable"


# --- auth_failures_alerted ----------------------------------------------------------------------


def refused_token(n: int, at: float, fake: str = "x") -> dict[str, Any]:
    return {
        "seq": n,
        "t": T0 + at,
        "fake": fake,
        "method": "POST",
        "path": "/2/tweets",
        "route": "tweets.create",
        "status": 401,
        "account_id": "acme-x",
        "request_id": f"q{n}",
        "fault_id": None,
        "fault_kind": None,
    }


def test_work_failed_as_unauthorised_before_any_token_was_refused_is_a_violation():
    # an Instagram token given up five minutes before it expired: no refusal behind the failure
    early = job("j-1", "failed", 1500, account_id="acme-instagram", platform="instagram",
                last_error="instagram.token_rejected: acme-instagram needs re-authentication")  # fmt: skip
    poll = job("j-2", "succeeded", 1500, kind="engagement_poll",
               result={"errors": ["acme-x: x.unauthorized: 401 Unauthorized (after refresh)"]})  # fmt: skip
    r = judge("auth_failures_on_the_wire", record(jobs=[early, poll]))
    assert r.verdict == "violated" and r.count == 2
    assert (
        "failed as unauthorised on @acme_instagram though instagram had refused no token"
        in r.detail
    )
    # once the platform refused the account's token (a 401; Graph's code 190 on a 400), or its
    # token endpoint failed, the failure is the platform's word for it
    refused = [{**refused_token(1, 1400, "instagram"), "status": 400, "error": "190/463",
                "account_id": "acme-instagram"}, refused_token(2, 1490)]  # fmt: skip
    assert (
        judge("auth_failures_on_the_wire", record(journal=refused, jobs=[early, poll])).verdict
        == "held"
    )
    endpoint = [{**refused_token(3, 1450, "instagram"), "route": "oauth.access_token",
                 "status": 400, "account_id": None}, refused_token(2, 1490)]  # fmt: skip
    assert (
        judge("auth_failures_on_the_wire", record(journal=endpoint, jobs=[early, poll])).verdict
        == "held"
    )
    # a refusal after the failure explains nothing
    late = [{**r, "t": T0 + 1700} for r in refused]
    assert (
        judge("auth_failures_on_the_wire", record(journal=late, jobs=[early, poll])).verdict
        == "violated"
    )
    assert (
        judge("auth_failures_on_the_wire", record(jobs=[job("j-3", "failed", 90)])).verdict
        == "not_applicable"
    )


def auth_alert(n: int, at: float, platform: str) -> dict[str, Any]:
    return {
        "seq": n,
        "t": T0 + at,
        "name": "auth_failing",
        "severity": "page",
        "labels": {"platform": platform},
        "message": "m",
    }


def test_refused_tokens_without_the_auth_alert_and_an_auth_alert_without_them_are_violations():
    journal = [refused_token(n, 600 + 30 * n) for n in range(3)]
    # the refusals on X paged nobody; LinkedIn was paged for auth with no token refused there
    rec = record(journal=journal, alerts=[auth_alert(1, 900, "linkedin")])
    r = judge("auth_failures_alerted", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 burst of refused tokens on x without an alert matching 'auth_failing*' within 2m (3 "
        "requests refused as unauthorised within 10m): ids T+11m00s; 1 false auth page for "
        "linkedin, which refused no token in the 10m before it: ids T+15m00s"
    )
    rec = record(journal=journal, alerts=[auth_alert(1, 700, "x")])
    assert judge("auth_failures_alerted", rec).verdict == "held"


def test_instagram_refusing_a_revoked_token_after_its_faults_window_still_counts_as_refused():
    # Graph refuses with a 400 and code 190; the token stays revoked once the fault is over,
    # so the refusals carry no fault and the page that follows them is no false page
    journal = [
        {**refused_token(n, 600 + 30 * n, "instagram"), "status": 400, "error": "190/460"}
        for n in range(3)
    ]
    rec = record(journal=journal, alerts=[auth_alert(1, 700, "instagram")])
    assert judge("auth_failures_alerted", rec).verdict == "held"
    other = [{**j, "error": "100/33"} for j in journal]  # a bad parameter is no refused token
    rec = record(journal=other, alerts=[auth_alert(1, 700, "instagram")])
    assert "1 false auth page for instagram" in judge("auth_failures_alerted", rec).detail


def test_no_refused_token_and_no_auth_alert_is_not_applicable():
    assert judge("auth_failures_alerted", record()).verdict == "not_applicable"


# --- rate_limits_alerted ------------------------------------------------------------------------


def throttled(n: int, at: float, fake: str = "x", status: int = 429, kind: str | None = None):
    return {**refused_token(n, at, fake), "status": status, "fault_kind": kind}


def rate_alert(at: float, platform: str) -> dict[str, Any]:
    return {**auth_alert(1, at, platform), "name": "rate_limited", "severity": "ticket"}


def test_throttled_requests_raise_the_rate_limit_alert_of_their_platform():
    journal = [throttled(n, 600 + 30 * n) for n in range(3)]
    # the 429s of X ticketed as LinkedIn's: X's burst is unanswered, LinkedIn's page is false
    r = judge("rate_limits_alerted", record(journal=journal, alerts=[rate_alert(700, "linkedin")]))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 burst of throttled requests on x without an alert matching 'rate_limited*' within 2m "
        "(3 requests refused as throttled within 10m): ids T+11m00s; 1 alert for linkedin raised "
        "at T+11m40s though it throttled or blocked no request in the 10m before: ids linkedin"
    )
    assert (
        judge("rate_limits_alerted", record(journal=journal, alerts=[rate_alert(700, "x")])).verdict
        == "held"
    )
    # Instagram throttles with a 400 and a code: the rate fault's answers count
    ig = [throttled(n, 600 + 30 * n, "instagram", 400, "instagram.rate_limited") for n in range(3)]
    assert judge("rate_limits_alerted", record(journal=ig)).verdict == "violated"
    # two 429s, or three spread over more than ten minutes: no burst
    assert judge("rate_limits_alerted", record(journal=journal[:2])).verdict == "not_applicable"
    spread = [throttled(n, 600 + 400 * n) for n in range(3)]
    assert judge("rate_limits_alerted", record(journal=spread)).verdict == "not_applicable"


def test_a_rate_limit_alert_long_after_the_last_throttle_is_a_false_page():
    journal = [throttled(n, 600 + 30 * n) for n in range(3)]
    # answered at T+11m40s, then raised again at T+50m though X throttled nothing since T+11m
    late = [rate_alert(700, "x"), rate_alert(3000, "x")]
    r = judge("rate_limits_alerted", record(journal=journal, alerts=late))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 alert for x raised at T+50m00s though it throttled or blocked no request in the 10m "
        "before: ids x"
    )
    # an action block may be counted with the throttles
    blocked = [{**throttled(9, 2900, status=403, kind="x.action_blocked")}]
    assert (
        judge("rate_limits_alerted", record(journal=journal + blocked, alerts=late)).verdict
        == "held"
    )


# --- inbox_failures_alerted ----------------------------------------------------------------------


def test_failed_inbox_reads_page_for_their_platform_and_throttles_do_not_count():
    def read(n: int, at: float, status: int, fake: str = "x", route: str = "users.mentions"):
        return {**refused_token(n, at, fake), "status": status, "route": route, "method": "GET"}

    down = [read(n, 900 + 30 * n, 503) for n in range(5)]
    r = judge("inbox_failures_alerted", record(journal=down))
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 burst of failed inbox reads on x without an alert matching 'inbox*' within 2m"
    )
    paged = {**auth_alert(1, 1100, "x"), "name": "inbox_unreadable", "severity": "page"}
    assert judge("inbox_failures_alerted", record(journal=down, alerts=[paged])).verdict == "held"
    # a ticket for a silent stop of engagement pages nobody
    ticket = {**paged, "severity": "ticket"}
    assert judge("inbox_failures_alerted", record(journal=down, alerts=[ticket])).verdict == (
        "violated"
    )
    # an alert for another platform answers nothing; Instagram's media list opens its inbox
    other = {**paged, "labels": {"platform": "instagram"}}
    assert judge("inbox_failures_alerted", record(journal=down, alerts=[other])).verdict == (
        "violated"
    )
    ig = [read(n, 900 + 30 * n, 500, "instagram", "media.list") for n in range(5)]
    assert judge("inbox_failures_alerted", record(journal=ig)).verdict == "violated"
    # a DM inbox that cannot be read is a silent stop too: X's DM events, Instagram's threads
    for fake, route in (("x", "dm_events.list"), ("instagram", "conversations.list")):
        dms = [read(n, 900 + 30 * n, 503, fake, route) for n in range(5)]
        assert judge("inbox_failures_alerted", record(journal=dms)).verdict == "violated", route
    # throttles and refused tokens have alerts of their own; one message read failing is read
    # again at the next poll
    for status, route in ((429, "users.mentions"), (401, "users.mentions"), (503, "node.get")):
        rows = [read(n, 900 + 30 * n, status, route=route) for n in range(5)]
        got = judge("inbox_failures_alerted", record(journal=rows))
        assert got.verdict == "not_applicable", (status, route)


def test_an_inbox_page_with_only_throttles_behind_it_is_a_false_page():
    def read(n: int, at: float, status: int, error: str | None = None) -> dict:
        return {**refused_token(n, at, "x"), "status": status, "route": "dm_events.list",
                "method": "GET", "error": error}  # fmt: skip

    paged = {**auth_alert(1, 1100, "x"), "name": "inbox_unreadable"}
    throttled = [read(n, 900 + 30 * n, 429) for n in range(5)]
    r = judge("inbox_failures_alerted", record(journal=throttled, alerts=[paged]))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 alert for x raised at T+18m20s though no request to it had failed (throttles and "
        "tokens aside) in the 10m before: ids x"
    )
    # one read that failed for real, or a poll that reported its inbox out of reach, is a cause
    failed = [*throttled, read(9, 1000, 503)]
    assert judge("inbox_failures_alerted", record(journal=failed, alerts=[paged])).verdict == "held"
    poll = {"id": "j-9", "kind": "engagement_poll", "state": "succeeded", "updated_at": T0 + 1050,
            "result": {"errors": ["acme-x: lane: x is routed to the browser lane, which is not available"]}}  # fmt: skip
    rec = record(journal=throttled, alerts=[paged], jobs=[poll])
    assert judge("inbox_failures_alerted", rec).verdict == "held"
    held = {**poll, "result": {"errors": ["acme-x: x.rate_limited: 429 Too Many Requests"]}}
    rec = record(journal=throttled, alerts=[paged], jobs=[held])
    assert judge("inbox_failures_alerted", rec).verdict == "violated"
    # X's monthly cap is no throttle to wait out: reads refused by it are unread until the
    # month turns, and a page for them is no false one
    capped = [read(n, 900 + 30 * n, 429, "usage-capped") for n in range(5)]
    assert judge("inbox_failures_alerted", record(journal=capped, alerts=[paged])).verdict == "held"


# --- engagement_bursts_alerted -------------------------------------------------------------------


def test_a_burst_of_replies_and_dms_without_the_engagement_alert_is_a_violation():
    # 60 replies and DMs within ten minutes, the last at T+14m50s: paged within 2 minutes?
    sent = [led(n, 300 + 10 * n, action="dm.sent" if n % 2 else "reply.created") for n in range(60)]
    r = judge("engagement_bursts_alerted", record(ledger=sent))
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 burst of replies on the agency's accounts without an alert matching 'engagement*' "
        "within 2m (60 replies and DMs sent within 10m): ids T+14m50s"
    )
    paged = [_alert(1, 900, "engagement_rate_high")]
    assert judge("engagement_bursts_alerted", record(ledger=sent, alerts=paged)).verdict == "held"
    # 59 within ten minutes: no burst
    assert judge("engagement_bursts_alerted", record(ledger=sent[:59])).verdict == "not_applicable"


def test_an_engagement_alert_without_the_replies_sent_behind_it_is_a_false_page():
    # replies decided but never sent (held by a mode, refused by a cap) are no rate: 59 sent
    sent = [led(n, 300 + 10 * n, action="dm.sent" if n % 2 else "reply.created") for n in range(59)]
    paged = [_alert(1, 900, "engagement_rate_high")]
    r = judge("engagement_bursts_alerted", record(ledger=sent, alerts=paged))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 alert raised at T+15m00s though the platform had sent 59 replies and DMs in the 10m "
        "before (the rate is 60): ids engagement"
    )
    assert judge("engagement_bursts_alerted", record(alerts=paged)).verdict == "violated"


# --- guard_refusals_alerted ---------------------------------------------------------------------


def refusal(n: int, at: float, error: str, **kw: Any) -> dict[str, Any]:
    return {**aud(n, at, job=f"j-{n}", outcome="blocked", **kw), "error": error}


def guard_alert(at: float, name: str, **labels: str) -> dict[str, Any]:
    return {"seq": 1, "t": T0 + at, "name": name, "severity": "page", "labels": labels}


TENANCY = "tenancy: account 'globex-x' belongs to client 'globex', not to the job's client 'acme'"
EGRESS = "egress refused: http://169.254.169.254:80 is not in the platform's settings"


def test_a_guard_refusal_without_its_alert_or_with_the_wrong_labels_is_a_violation():
    refusals = [refusal(1, 100, TENANCY), refusal(2, 200, EGRESS, platform="-")]
    r = judge("guard_refusals_alerted", record(audit=refusals))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 refusal by the tenancy guard with no alert matching 'tenancy_mismatch*' for "
        "client_id=acme, platform=x within 1m: ids j-1; 1 refusal by the egress guard with no "
        "alert matching 'egress_refused*' for host=169.254.169.254 within 1m: ids j-2"
    )
    right = [
        guard_alert(100, "tenancy_mismatch", client_id="acme", platform="x"),
        guard_alert(201, "egress_refused", host="169.254.169.254"),
    ]
    assert judge("guard_refusals_alerted", record(audit=refusals, alerts=right)).verdict == "held"
    # an alert naming another client, or another host, does not answer
    wrong = [
        guard_alert(100, "tenancy_mismatch", client_id="globex", platform="x"),
        guard_alert(201, "egress_refused", host="80"),
    ]
    r = judge("guard_refusals_alerted", record(audit=refusals, alerts=wrong))
    assert r.count == 2
    # one page for a storm: the same alert shortly before answers a later refusal
    storm = [*refusals, refusal(3, 500, TENANCY)]
    assert judge("guard_refusals_alerted", record(audit=storm, alerts=right)).verdict == "held"


def test_a_job_that_met_an_egress_refusal_must_have_it_audited_once_per_refusal():
    # the render job j-5 failed twice on a refused content URL; the guard audited only the
    # first (it reported each refused address once)
    blocked = {**refusal(1, 100, EGRESS, platform="-"), "job_id": "j-5", "action": "http.request"}

    def outcome(n: int, at: float) -> dict[str, Any]:
        return {**aud(n, at, job="j-5", action="video.generate", outcome="success", proof={}),
                "error": f"media: content_unavailable: … EgressRefused: {EGRESS}"}  # fmt: skip

    page = [guard_alert(100, "egress_refused", host="169.254.169.254")]
    once = record(audit=[blocked, outcome(2, 100), outcome(3, 400)], alerts=page)
    r = judge("guard_refusals_alerted", once)
    assert r.verdict == "violated" and r.count == 1
    assert "refusal by the egress guard that its job j-5 met left no audited refusal" in r.detail
    again = {**blocked, "seq": 4, "t": T0 + 400}
    twice = record(audit=[blocked, outcome(2, 100), again, outcome(3, 400)], alerts=page)
    assert judge("guard_refusals_alerted", twice).verdict == "held"


def test_no_guard_refusal_is_not_applicable():
    other = [refusal(1, 100, "kill_switch: post.create for acme on x stopped by the switch")]
    assert judge("guard_refusals_alerted", record(audit=other)).verdict == "not_applicable"


# --- queue_metrics_truthful ---------------------------------------------------------------------


def test_a_negative_queue_gauge_or_an_age_no_waiting_job_explains_is_a_violation():
    done = {**job_row("j-1", "succeeded", created=100, updated=200)}
    samples = [
        (T0 + 300, {'queue_depth{job_class="publish"}': -1.0}),
        (T0 + 900, {'queue_oldest_age_s{job_class="publish"}': 600.0}),
    ]
    r = judge("queue_metrics_truthful", record(jobs=[done], metrics_samples=samples))
    assert r.verdict == "violated"
    assert "read -1 at T+5m00s (a gauge of jobs waiting is never negative)" in r.detail
    assert (
        "read 600s at T+15m00s, though no publish job had waited that long without running"
        in r.detail
    )
    # a job created by then and finished after the reading explains the age
    waiting = job_row("j-2", "succeeded", created=250, updated=1000)
    ok = [
        (
            T0 + 900,
            {
                'queue_oldest_age_s{job_class="publish"}': 600.0,
                'queue_depth{job_class="publish"}': 1.0,
            },
        )
    ]
    assert (
        judge("queue_metrics_truthful", record(jobs=[done, waiting], metrics_samples=ok)).verdict
        == "held"
    )
    assert judge("queue_metrics_truthful", record(jobs=[done])).verdict == "not_applicable"


def test_a_queue_depth_past_the_jobs_that_could_still_wait_is_a_violation():
    # a gauge raised as jobs come in and never lowered: three finished jobs still "waiting"
    done = [job_row(f"j-{n}", "succeeded", created=100, updated=200) for n in range(3)]
    stuck = [(T0 + 900, {'queue_depth{job_class="publish"}': 3.0})]
    r = judge("queue_metrics_truthful", record(jobs=done, metrics_samples=stuck))
    assert r.verdict == "violated"
    assert "read 3 at T+15m00s, though at most 0 publish jobs could have been waiting then" in (
        r.detail
    )
    # one job submitted as the sample was taken (after the jobs were read) is no violation
    late = [(T0 + 900, {'queue_depth{job_class="publish"}': 1.0})]
    assert judge("queue_metrics_truthful", record(jobs=done, metrics_samples=late)).verdict == (
        "held"
    )


def test_a_label_free_total_that_is_not_the_sum_or_the_largest_of_its_classes_is_a_violation():
    # three publish jobs and two generation jobs that could be waiting at T+15m
    waiting = [job_row(f"j-{n}", "succeeded", created=0, updated=2000) for n in (1, 3, 4)]
    other = [
        {**job_row(f"j-{n}", "succeeded", created=0, updated=2000), "kind": "generate_text"}
        for n in (2, 5)
    ]

    def read(depth: float, age: float) -> Any:
        values = {
            'queue_depth{job_class="publish"}': 3.0,
            'queue_depth{job_class="generation"}': 2.0,
            'queue_oldest_age_s{job_class="publish"}': 600.0,
            'queue_oldest_age_s{job_class="generation"}': 300.0,
            "queue_depth": depth,
            "queue_oldest_age_s": age,
        }
        rec = record(jobs=waiting + other, metrics_samples=[(T0 + 900, values)])
        return judge("queue_metrics_truthful", rec)

    assert read(5.0, 600.0).verdict == "held"
    summed = read(5.0, 900.0)
    assert summed.verdict == "violated"
    assert summed.detail == (
        "1 gauge read 900 at T+15m00s, though the largest of its job classes' readings then was "
        "600: ids queue_oldest_age_s"
    )
    assert "the sum of its job classes' readings then was 5" in read(3.0, 600.0).detail


# --- alerts_deduplicated -----------------------------------------------------------------------


def test_one_alert_raised_again_within_minutes_is_a_storm_unless_a_restart_came_between():
    pages = [alert(1, 600, "x"), alert(2, 630, "x"), alert(3, 660, "x"), alert(4, 640, "linkedin")]
    r = judge("alerts_deduplicated", record(alerts=pages))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 alert raised again 30s after it last paged (under 5m: one problem, one page): ids "
        "publish_error_rate_high{platform=x} at T+10m30s"
    )
    spaced = [alert(1, 600, "x"), alert(2, 1200, "x")]
    assert judge("alerts_deduplicated", record(alerts=spaced)).verdict == "held"
    tl = Timeline()
    tl.append(T0 + 615, "platform.restarted", "drill", "restarted", {})
    rec = record(alerts=pages[:2], timeline=tl)
    assert judge("alerts_deduplicated", rec).verdict == "held"
    assert judge("alerts_deduplicated", record()).verdict == "not_applicable"


# --- queue_backlog_alerted ---------------------------------------------------------------------


def test_a_backlog_the_gauge_shows_without_its_alert_is_a_violation():
    samples = [(T0 + 600, {"queue_depth": 120.0}), (T0 + 900, {"queue_depth": 640.0})]
    late = {"seq": 1, "t": T0 + 1200, "name": "queue_backlog", "severity": "ticket", "labels": {}}
    r = judge("queue_backlog_alerted", record(metrics_samples=samples, alerts=[late]))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 backlog of 500 or more jobs waiting without an alert matching 'queue_backlog*' within "
        "2m (1 such alerts in the whole drill): ids T+15m00s"
    )
    on_time = {**late, "t": T0 + 960}
    assert judge(
        "queue_backlog_alerted", record(metrics_samples=samples, alerts=[on_time])
    ).verdict == ("held")
    assert judge("queue_backlog_alerted", record(metrics_samples=samples[:1])).verdict == (
        "not_applicable"
    )


def test_an_oldest_age_counted_from_before_a_jobs_last_run_is_a_violation():
    # j-1 was created at T+100s and ran (audited) at T+700s: at T+900s it has waited 200 s at
    # most since — an age of 800 s counts from its creation, not from when it was due again
    retried = job_row("j-1", "retry_wait", created=100, updated=1000)
    ran = {**aud(1, 700, job="j-1", outcome="failed", proof={})}

    def read(age: float) -> Any:
        samples = [(T0 + 900, {'queue_oldest_age_s{job_class="publish"}': age})]
        return judge(
            "queue_metrics_truthful", record(jobs=[retried], audit=[ran], metrics_samples=samples)
        )

    assert read(800.0).verdict == "violated"
    assert read(150.0).verdict == "held"


def test_an_oldest_age_below_what_a_job_waited_in_its_paused_queue_is_a_violation():
    # the publish queue paused from T+10m to T+20m; j-1 submitted at T+12m waited until then
    pause = {
        "seq": 1,
        "t": T0 + 600,
        "actor": "operator",
        "reason": "t",
        "control": "queue_paused",
        "scope": {"job_class": "publish"},
        "value": True,
    }
    resume = {**pause, "seq": 2, "t": T0 + 1200, "value": False}
    row = {**intent("j-1"), "submitted_at": T0 + 720, "run_at": None}

    def at_900(age: float) -> Any:
        return record(
            jobs=[job_row("j-1", "succeeded", created=720, updated=1210)],
            workload=[row],
            audit=[aud(1, 1210, job="j-1", resource="r1")],
            control_changes=[pause, resume],
            metrics_samples=[(T0 + 900, {'queue_oldest_age_s{job_class="publish"}': age})],
        )

    r = judge("queue_metrics_truthful", at_900(0.0))
    assert r.verdict == "violated"
    assert (
        "read 0s at T+15m00s, though a publish job had waited in its paused queue since T+12m00s"
        in r.detail
    )
    assert judge("queue_metrics_truthful", at_900(180.0)).verdict == "held"


def test_an_age_gauge_missing_while_a_job_waits_in_its_paused_queue_is_a_violation():
    # a gauge never set is absent from the export: a dashboard shows 0 for the paused queue
    pause = {"seq": 1, "t": T0 + 600, "actor": "operator", "reason": "t", "control": "queue_paused",
             "scope": {"job_class": "publish"}, "value": True}  # fmt: skip
    resume = {**pause, "seq": 2, "t": T0 + 1200, "value": False}
    row = {**intent("j-1"), "submitted_at": T0 + 720, "run_at": None}

    def exported(values: dict[str, float]) -> Any:
        return record(
            jobs=[job_row("j-1", "succeeded", created=720, updated=1210)],
            workload=[row],
            audit=[aud(1, 1210, job="j-1", resource="r1")],
            control_changes=[pause, resume],
            metrics_samples=[(T0 + 900, values)],
        )

    r = judge("queue_metrics_truthful", exported({'queue_depth{job_class="publish"}': 1.0}))
    assert r.verdict == "violated"
    assert (
        r.detail == "1 gauge was not exported at T+15m00s, though a publish job had waited in its "
        'paused queue since T+12m00s: ids queue_oldest_age_s{job_class="publish"}'
    )
    age = {
        'queue_depth{job_class="publish"}': 1.0,
        'queue_oldest_age_s{job_class="publish"}': 180.0,
    }
    assert judge("queue_metrics_truthful", exported(age)).verdict == "held"
    # a platform that exports no queue gauge at all is not judged
    assert judge("queue_metrics_truthful", exported({})).verdict == "not_applicable"


def test_a_rate_gauge_counting_other_accounts_or_no_account_is_a_violation():
    def attempt(n: int, at: float) -> dict:
        return {**aud(n, at, job=f"j-{n}", proof={}), "phase": "attempt", "outcome": None}

    audit = [attempt(1, 100), attempt(2, 130)]
    right = [(T0 + 140, {'actions_per_minute{account_id="acme-x"}': 2.0})]
    assert judge(
        "action_rate_gauge_truthful", record(audit=audit, metrics_samples=right)
    ).verdict == ("held")
    stale = [(T0 + 170, {'actions_per_minute{account_id="acme-x"}': 2.0})]  # one is 70 s old
    r = judge("action_rate_gauge_truthful", record(audit=audit, metrics_samples=stale))
    assert r.verdict == "violated"
    assert "read 2 for @acme_x at T+2m50s, though it had 1 side effects in the minute before" in (
        r.detail
    )
    odd = [(T0 + 140, {'actions_per_minute{account_id="post.create"}': 2.0})]
    r = judge("action_rate_gauge_truthful", record(audit=audit, metrics_samples=odd))
    assert r.verdict == "violated" and "which is no account of the drill" in r.detail
    # a process restarted at T+2m counts from its start: one side effect since, not two
    tl = Timeline()
    tl.append(T0 + 120, "platform.restarted", "drill", "restarted", {})
    fresh = [(T0 + 140, {'actions_per_minute{account_id="acme-x"}': 1.0})]
    rec = record(audit=audit, metrics_samples=fresh, timeline=tl)
    assert judge("action_rate_gauge_truthful", rec).verdict == "held"
    assert judge(
        "action_rate_gauge_truthful", record(audit=audit, metrics_samples=fresh)
    ).verdict == ("violated")


def test_tool_calls_whose_follow_ups_were_merged_are_a_violation():
    def followed(made: int) -> Any:
        tools = [
            {**job_row(f"t{n}", "succeeded", created=10, updated=20), "kind": "tool_call"}
            for n in range(3)
        ]
        posts = [
            {**job_row(f"p{n}", "succeeded", created=20, updated=30), "kind": "publish"}
            for n in range(made)
        ]
        return judge(
            "tool_followups_submitted",
            record(
                scenario={"id": "s", "workload": {"tool_followup": "publish"}},
                jobs=tools + posts,
                workload=[intent(f"t{n}", kind="tool_call") for n in range(3)],
            ),
        )

    assert followed(3).verdict == "held"
    r = followed(1)
    assert r.verdict == "violated"
    assert "saw 3 tool calls succeed but only 1 publish jobs made from their results" in r.detail


def test_a_tool_call_that_failed_closed_without_auditing_the_withheld_follow_up_is_named():
    # RB-08's fail-closed refusal must be seen: a blocked outcome of the follow-up's action
    def withheld(audited: bool) -> Any:
        tool = {**job_row("t0", "awaiting_approval", created=10, updated=20), "kind": "tool_call"}
        failed = aud(1, 15, job="t0", action="tool.call", platform="toolgate", outcome="failed",
                     proof={})  # fmt: skip
        refusal = aud(2, 15, job="t0", outcome="blocked", proof={})
        return judge(
            "tool_followups_submitted",
            record(
                scenario={"id": "s", "workload": {"tool_followup": "publish"}},
                jobs=[tool],
                audit=[failed, refusal] if audited else [failed],
                workload=[intent("t0", kind="tool_call")],
            ),
        )

    assert withheld(True).verdict == "held"
    r = withheld(False)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 tool call failed and withheld its publish follow-up with no audit of the refusal "
        "(a blocked post.create outcome): ids t0"
    )


def test_a_job_submitted_again_under_its_key_must_come_back_as_the_first_job():
    def resubmitted(got: str) -> Any:
        return judge(
            "jobs_within_the_contract",
            record(
                jobs=[
                    job_row("j1", "dead_letter", created=10, updated=20),
                    job_row("j9", "succeeded", created=30, updated=40),
                ],
                workload=[intent("j1")],
                resubmissions=[{"idempotency_key": "k-j1", "job_id": got, "t": T0 + 30}],
            ),
        )

    assert resubmitted("j1").verdict == "held"
    r = resubmitted("j9")
    assert r.verdict == "violated"
    assert "came back as a new job j9, not the first one (j1, dead_letter): one key, two jobs" in (
        r.detail
    )


def test_a_refusal_audited_after_the_approval_of_a_follow_up_that_went_ahead_is_named():
    # fail closed unless approved: once approved, a "blocked" record of the follow-up is false
    def approved_then(refusal_at: float) -> Any:
        tool = {
            **job_row("t0", "succeeded", created=10, updated=200),
            "kind": "tool_call",
            "approved_at": T0 + 100,
            "result": {"followup_job_id": "p0", "defaulted": True},
        }
        post = {**job_row("p0", "succeeded", created=200, updated=210), "kind": "publish"}
        failed = aud(1, 15, job="t0", action="tool.call", platform="toolgate", outcome="failed",
                     proof={})  # fmt: skip
        refusal = aud(2, refusal_at, job="t0", outcome="blocked", proof={})
        return judge(
            "tool_followups_submitted",
            record(
                scenario={"id": "s", "workload": {"tool_followup": "publish"}},
                jobs=[tool, post],
                audit=[failed, refusal],
                workload=[intent("t0", kind="tool_call")],
            ),
        )

    assert approved_then(15).verdict == "held"  # refused before the approval: true
    r = approved_then(150)
    assert r.verdict == "violated"
    assert "audited its publish follow-up as refused after a person approved it" in r.detail


def test_an_attempt_that_outlasts_its_deadline_is_a_violation_when_the_scenario_sets_one():
    def call(n: int, at: float, phase: str) -> dict:
        a = aud(n, at, job="j-1", action="video.generate", platform="media", proof={})
        return {**a, "phase": phase, "outcome": None if phase == "attempt" else "success"}

    jobs = [{**job_row("j-1", "succeeded", created=0, updated=4300), "kind": "generate_video"}]
    audit = [call(1, 100, "attempt"), call(2, 4300, "outcome")]
    params = {"run_within": {"video.generate": "20m"}}
    r = judge("every_job_terminal_after_healing", record(jobs=jobs, audit=audit), params=params)
    assert r.verdict == "violated"
    assert "1 attempt of video.generate took 1h10m from its attempt at T+1m40s" in r.detail
    quick = [call(1, 100, "attempt"), call(2, 1000, "outcome")]
    r = judge("every_job_terminal_after_healing", record(jobs=jobs, audit=quick), params=params)
    assert r.verdict == "held"


# --- kill_switch_gauge_truthful ---------------------------------------------------------------


def _gauge(label: str, value: float) -> dict[str, float]:
    return {f'kill_switch_state{{scope="{label}"}}': value}


def test_a_kill_switch_gauge_left_at_1_after_its_release_is_a_violation():
    changes = [
        kill(1, 600, True, client_id="acme", platform="x"),
        kill(2, 1200, False, client_id="acme", platform="x"),
    ]
    label = "client_id=acme,platform=x"
    stale = [
        (T0 + 300, _gauge(label, 0)),
        (T0 + 900, _gauge(label, 1)),
        (T0 + 1500, _gauge(label, 1)),
    ]
    r = judge("kill_switch_gauge_truthful", record(control_changes=changes, metrics_samples=stale))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 gauge read 1 at T+25m00s while that kill switch was released (since T+20m00s): "
        'ids kill_switch_state{scope="client_id=acme,platform=x"}'
    )
    # released to 0, and a reading at the moment of a change is not judged
    ok = [
        (T0 + 900, _gauge(label, 1)),
        (T0 + 1200, _gauge(label, 1)),
        (T0 + 1500, _gauge(label, 0)),
    ]
    r = judge("kill_switch_gauge_truthful", record(control_changes=changes, metrics_samples=ok))
    assert (r.verdict, r.checked) == ("held", 2)


def test_a_kill_switch_engaged_but_not_reported_or_reported_but_never_engaged_is_a_violation():
    changes = [kill(1, 600, True)]
    samples = [(T0 + 900, _gauge("platform=x", 1))]
    r = judge(
        "kill_switch_gauge_truthful", record(control_changes=changes, metrics_samples=samples)
    )
    assert r.verdict == "violated"
    assert "read absent at T+15m00s while that kill switch was engaged (since T+10m00s)" in r.detail
    assert "read 1 at T+15m00s while that kill switch was never engaged" in r.detail
    # a sample without the gauge, once the platform exported it, reads absent (a restarted
    # platform that forgot to set it for the switches it restored)
    gone = [(T0 + 700, _gauge("global", 1)), (T0 + 900, {'queue_depth{job_class="x"}': 0.0})]
    r = judge("kill_switch_gauge_truthful", record(control_changes=changes, metrics_samples=gone))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 gauge read absent at T+15m00s while that kill switch was engaged (since T+10m00s): "
        'ids kill_switch_state{scope="global"}'
    )
    # a platform that never exports the gauge while a switch is engaged says none is (the
    # contract's metrics include it); without an engaged switch there is nothing to judge
    no_gauge = [(T0 + 900, {'queue_depth{job_class="publish"}': 0.0})]
    r = judge(
        "kill_switch_gauge_truthful", record(control_changes=changes, metrics_samples=no_gauge)
    )
    assert r.verdict == "violated"
    assert (
        "absent from the platform's metrics at T+15m00s while a kill switch was engaged" in r.detail
    )
    assert judge("kill_switch_gauge_truthful", record(metrics_samples=no_gauge)).verdict == (
        "not_applicable"
    )


def job_row(job_id: str, state: str, *, created: float, updated: float) -> dict[str, Any]:
    return {
        "id": job_id,
        "state": state,
        "kind": "publish",
        "client_id": "acme",
        "platform": "x",
        "created_at": T0 + created,
        "updated_at": T0 + updated,
    }
