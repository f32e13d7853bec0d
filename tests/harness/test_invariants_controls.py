"""The control invariants (modes, kill-switch release, own messages, triggers), the daily caps and
per-platform back-off of ``rate_within_platform_limits``, the lookup rule of verification and the
invariants every drill is judged by: each shown to fail on a hand-built record and to hold on a
healthy one. (``test_slips`` shows each one catching a real slip of the sandbox.)"""

from __future__ import annotations

from typing import Any

from _recordkit import SECRET, T0, aud, intent, kill, led, record

from harness.judge.invariants import evaluate
from harness.judge.judgement import DEFAULT_INVARIANTS, judge
from harness.judge.timeline import Timeline


def verdict(name: str, rec: Any, **spec: Any):
    return evaluate({"name": name, **spec}, rec)


def change(n: int, at: float, control: str, value: Any, **scope: Any) -> dict[str, Any]:
    return {
        "seq": n,
        "t": T0 + at,
        "actor": "operator",
        "reason": "test",
        "control": control,
        "scope": scope,
        "value": value,
    }


def job(job_id: str, state: str = "succeeded", approved_at: float | None = None, **kw: Any):
    return {
        "id": job_id,
        "state": state,
        "kind": kw.get("kind", "publish"),
        "client_id": kw.get("client", "acme"),
        "platform": "x",
        "approved_at": None if approved_at is None else T0 + approved_at,
        "updated_at": T0 + 3000,
        "last_error": kw.get("error"),
    }


def test_a_job_state_or_kind_outside_the_contract_is_a_violation():
    rec = record(jobs=[job("j-1"), job("j-2", "SCHEDULED"), job("j-3", kind="repost")])
    r = verdict("jobs_within_the_contract", rec)
    assert r.verdict == "violated"
    assert r.count == 2
    assert "state 'SCHEDULED'" in r.detail and "kind 'repost'" in r.detail
    assert verdict("jobs_within_the_contract", record(jobs=[job("j-1")])).verdict == "held"
    assert verdict("jobs_within_the_contract", record()).verdict == "not_applicable"


# --- approvals_let_work_go ------------------------------------------------------------------


def _attempt(n: int, at: float, j: str) -> dict[str, Any]:
    return {**aud(n, at, job=j), "phase": "attempt", "outcome": None}


def test_an_approved_post_left_waiting_until_its_mode_is_lifted_is_a_violation():
    # manual_only from 10m to 40m; j-1 and j-2 approved at 20m; j-1 goes at 21m, j-2 only once
    # the mode is lifted (an approval that let nothing go)
    modes = [change(1, 600, "mode", "manual_only", client_id="acme"),
             change(2, 2400, "mode", "auto", client_id="acme")]  # fmt: skip
    jobs = [job("j-1", approved_at=1200), job("j-2", approved_at=1200)]
    audit = [_attempt(1, 1260, "j-1"), _attempt(2, 2410, "j-2")]
    r = verdict("approvals_let_work_go", record(control_changes=modes, jobs=jobs, audit=audit))
    assert r.verdict == "violated" and [v.ref for v in r.violations] == ["j-2"]
    assert (
        "approved at T+20m00s under manual_only waited until its mode was lifted at T+40m00s "
        "with no attempt: the approval let nothing go"
    ) in r.violations[0].phrase
    # attempted in time: held
    ok = [_attempt(1, 1260, "j-1"), _attempt(2, 1500, "j-2")]
    assert verdict("approvals_let_work_go", record(control_changes=modes, jobs=jobs, audit=ok)).verdict == "held"  # fmt: skip
    # something else that may hold it meanwhile (a paused queue, a kill switch, read_only), an
    # approval the mode outlived by less than the settle, or no mode at all: not judged
    for extra in (
        [change(3, 1800, "queue_paused", True, job_class="publish")],
        [change(3, 1800, "kill_switch", True, client_id="acme")],
        [change(3, 1800, "mode", "read_only", platform="x")],
    ):
        rec = record(control_changes=[*modes, *extra], jobs=jobs, audit=audit)
        assert verdict("approvals_let_work_go", rec).verdict == "not_applicable", extra
    late = [job("j-2", approved_at=2300)]
    assert verdict("approvals_let_work_go", record(control_changes=modes, jobs=late)).verdict == "not_applicable"  # fmt: skip
    assert verdict("approvals_let_work_go", record(jobs=jobs)).verdict == "not_applicable"


def test_an_approved_job_found_waiting_for_approval_again_lost_its_approval():
    # a restart that forgot the approval: j-1 was approved at 20m and ends awaiting approval
    # again — whatever else the drill held, an approval is the job's until it ends
    lost = job("j-1", approved_at=1200, state="awaiting_approval")
    for rec in (record(jobs=[lost]), record(jobs=[{**lost, "kind": "reply"}])):
        r = verdict("approvals_let_work_go", rec)
        assert r.verdict == "violated" and [v.ref for v in r.violations] == ["j-1"]
        assert "approved at T+20m00s was held for approval again" in r.violations[0].phrase
    kept = job("j-1", approved_at=1200, state="retry_wait")
    assert verdict("approvals_let_work_go", record(jobs=[kept])).verdict == "not_applicable"
    waiting = job("j-2", state="awaiting_approval")  # never approved: waiting is right
    assert verdict("approvals_let_work_go", record(jobs=[waiting])).verdict == "not_applicable"


# --- side_effects_only_as_the_mode_allows ---------------------------------------------------


def test_a_post_under_manual_only_without_an_approval_is_a_violation_naming_the_mode():
    rec = record(
        ledger=[led(1, 700), led(2, 900)],
        audit=[aud(1, 701, job="j-1", resource="r1"), aud(2, 901, job="j-2", resource="r2")],
        workload=[intent("j-1"), intent("j-2")],
        jobs=[job("j-1", approved_at=650), job("j-2")],
        control_changes=[change(1, 600, "mode", "manual_only", client_id="acme")],
    )
    r = verdict("side_effects_only_as_the_mode_allows", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 post published on @acme_x under manual_only without an approval "
        "(in force since T+10m00s): ids r2"
    )


def test_an_approval_given_while_no_mode_held_the_job_approves_nothing():
    # a console a release had overtaken: X back on auto at T+10m, the stale approval at T+10m03s,
    # then approval_required again from T+15m — the post under it had no approval of its own
    changes = [
        change(1, 300, "mode", "approval_required", platform="x"),
        change(2, 600, "mode", "auto", platform="x"),
        change(3, 900, "mode", "approval_required", platform="x"),
    ]

    def rec(approved_at: float) -> Any:
        return record(
            ledger=[led(1, 1000)],
            audit=[aud(1, 1001, job="j-1", resource="r1")],
            workload=[intent("j-1")],
            jobs=[job("j-1", approved_at=approved_at)],
            control_changes=changes,
        )

    stale = verdict("side_effects_only_as_the_mode_allows", rec(603))
    assert stale.verdict == "violated"
    assert "under approval_required without an approval" in stale.detail
    # the same post approved while a mode held it (before the release, or after the new mode)
    assert verdict("side_effects_only_as_the_mode_allows", rec(590)).verdict == "held"
    assert verdict("side_effects_only_as_the_mode_allows", rec(950)).verdict == "held"


def test_read_only_refuses_even_an_approved_job_and_a_read_only_lane_counts_as_read_only():
    rec = record(
        ledger=[led(1, 700), led(2, 2000)],
        audit=[aud(1, 701, job="j-1", resource="r1"), aud(2, 2001, job="j-2", resource="r2")],
        workload=[intent("j-1"), intent("j-2")],
        jobs=[job("j-1", approved_at=650), job("j-2")],
        control_changes=[
            change(1, 600, "mode", "read_only", platform="x"),
            change(2, 1200, "mode", "auto", platform="x"),
            change(3, 1800, "lane_read_only", True, platform="x", lane="api"),
        ],
    )
    r = verdict("side_effects_only_as_the_mode_allows", rec)
    assert r.verdict == "violated"
    assert r.count == 2
    assert "under read_only" in r.detail


def test_a_canary_needs_no_approval_but_read_only_refuses_it_too():
    def canary_under(mode: str) -> Any:
        return record(
            ledger=[led(1, 700)],
            audit=[aud(1, 701, job="j-1", resource="r1")],
            workload=[intent("j-1")],
            jobs=[job("j-1", kind="canary")],
            control_changes=[change(1, 600, "mode", mode, platform="x")],
        )

    assert verdict("side_effects_only_as_the_mode_allows", canary_under("manual_only")).verdict == (
        "held"
    )
    r = verdict("side_effects_only_as_the_mode_allows", canary_under("read_only"))
    assert r.verdict == "violated" and "under read_only" in r.detail, r.detail


def test_approved_posts_in_flight_posts_and_other_clients_hold_under_a_mode():
    rec = record(
        ledger=[led(1, 602), led(2, 700), led(3, 800, account="northwind-x")],
        audit=[
            aud(1, 603, job="j-1", resource="r1"),
            aud(2, 701, job="j-2", resource="r2"),
            aud(3, 801, job="j-3", resource="r3", client="northwind", account="northwind-x"),
        ],
        workload=[intent("j-1"), intent("j-2"), intent("j-3", client="northwind")],
        jobs=[job("j-1"), job("j-2", approved_at=650), job("j-3", client="northwind")],
        control_changes=[change(1, 600, "mode", "approval_required", client_id="acme")],
    )
    r = verdict("side_effects_only_as_the_mode_allows", rec)
    assert r.verdict == "held", r.detail


def test_a_side_effect_through_another_lane_than_the_routed_one_is_a_violation():
    # X routed to its browser lane at T+10m (none is there: posts must wait), back at T+20m
    rec = record(
        ledger=[
            led(1, 603),  # in flight at the change
            led(2, 700),  # through the API while routed to the browser
            {**led(3, 800), "channel": "web"},  # through the browser: fine
            led(4, 1300),
        ],
        control_changes=[
            change(1, 600, "lane", "browser", platform="x"),
            change(2, 1200, "lane", "api", platform="x"),
        ],
    )
    r = verdict("side_effects_through_the_routed_lane", rec)
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 post published on @acme_x through the api lane while x was routed to its browser "
        "lane (since T+10m00s)"
    ), r.detail
    assert verdict("side_effects_through_the_routed_lane", record(ledger=[led(1, 10)])).verdict == (
        "not_applicable"
    )


def test_without_a_mode_change_the_mode_invariant_does_not_apply():
    r = verdict("side_effects_only_as_the_mode_allows", record(ledger=[led(1, 10)]))
    assert r.verdict == "not_applicable"


# --- nothing_lost_or_doubled_across_release ---------------------------------------------------


def blocked(n: int, at: float, job_id: str) -> dict[str, Any]:
    a = aud(n, at, job=job_id, outcome="blocked", proof={})
    a["error"] = "kill_switch: post.create for acme on x stopped by the switch global"
    return a


def test_a_stopped_job_left_blocked_and_one_that_landed_twice_are_both_violations():
    rec = record(
        ledger=[led(1, 1600, content="c1"), led(2, 1601, content="c1"), led(3, 1700)],
        audit=[
            blocked(1, 1300, "j-1"),
            blocked(2, 1310, "j-2"),
            aud(3, 1600, job="j-1", resource="r1"),
            aud(4, 1601, job="j-9", resource="r2"),
        ],
        workload=[intent("j-1"), intent("j-2")],
        jobs=[job("j-1"), job("j-2", state="blocked"), job("j-9")],
        control_changes=[kill(1, 1200, True), kill(2, 1500, False)],
    )
    r = verdict("nothing_lost_or_doubled_across_release", rec)
    assert r.verdict == "violated"
    assert "1 job stopped by a kill switch landed more than once after its release: ids j-1" in (
        r.detail
    )
    assert "never ran after its release (ended blocked): ids j-2" in r.detail


def test_a_stopped_job_that_gave_up_while_parked_is_lost_and_one_that_failed_after_trying_is_not():
    # j-1 was refused again and again while the switch was engaged and dead-lettered before the
    # release; j-2 ran after the release and failed there (the platform's answer, not the switch)
    attempt = {**aud(5, 1600, job="j-2", outcome="failed", proof={}), "phase": "attempt"}
    rec = record(
        audit=[blocked(1, 1300, "j-1"), blocked(2, 1310, "j-2"), blocked(3, 1400, "j-1"), attempt],
        workload=[intent("j-1"), intent("j-2")],
        jobs=[job("j-1", state="dead_letter"), job("j-2", state="dead_letter")],
        control_changes=[kill(1, 1200, True), kill(2, 1500, False)],
    )
    r = verdict("nothing_lost_or_doubled_across_release", rec)
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 job stopped by a kill switch never ran after its release (ended dead_letter): ids j-1"
    ), r.detail


def test_every_stopped_job_running_once_after_the_release_holds():
    rec = record(
        ledger=[led(1, 1600)],
        audit=[blocked(1, 1300, "j-1"), aud(2, 1600, job="j-1", resource="r1")],
        workload=[intent("j-1")],
        jobs=[job("j-1")],
        control_changes=[kill(1, 1200, True), kill(2, 1500, False)],
    )
    assert verdict("nothing_lost_or_doubled_across_release", rec).verdict == "held"


def test_a_release_whose_stopped_work_waits_for_another_control_is_late():
    # the runner re-queued the stopped job only when a mode changed ten minutes after the release
    def rec(resumed_at: float) -> Any:
        return record(
            ledger=[led(1, resumed_at)],
            audit=[blocked(1, 1300, "j-1"), aud(2, resumed_at, job="j-1", resource="r1")],
            workload=[intent("j-1")],
            jobs=[job("j-1")],
            control_changes=[kill(1, 1200, True), kill(2, 1500, False)],
        )

    r = verdict("nothing_lost_or_doubled_across_release", rec(2100))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 release left the work it freed waiting more than 120s: ids kill switch (global) "
        "released at T+25m00s: the first of 1 stopped jobs started again at T+35m00s"
    )
    assert verdict("nothing_lost_or_doubled_across_release", rec(1560)).verdict == "held"
    r = verdict("nothing_lost_or_doubled_across_release", rec(1560), params={"resume_within_s": 30})
    assert r.verdict == "violated"


def test_work_still_covered_by_another_switch_at_a_release_may_wait_for_that_one():
    rec = record(
        ledger=[led(1, 2400)],
        audit=[blocked(1, 1300, "j-1"), aud(2, 2400, job="j-1", resource="r1")],
        workload=[intent("j-1")],
        jobs=[job("j-1")],
        control_changes=[
            kill(1, 1200, True),
            kill(2, 1250, True, client_id="acme"),
            kill(3, 1500, False),
            kill(4, 2390, False, client_id="acme"),
        ],
    )
    assert verdict("nothing_lost_or_doubled_across_release", rec).verdict == "held"


def test_work_another_switch_does_not_cover_must_not_wait_for_that_one():
    # acme's switch released at 25m while northwind's X switch still holds: acme's stopped post
    # (no switch covers it any more) resumes only at 40m, with northwind's release — late
    def rec(resumed_at: float) -> Any:
        return record(
            ledger=[led(1, resumed_at)],
            audit=[blocked(1, 1300, "j-1"), aud(2, resumed_at, job="j-1", resource="r1")],
            workload=[intent("j-1")],
            jobs=[job("j-1")],
            control_changes=[
                kill(1, 1200, True, client_id="acme"),
                kill(2, 1250, True, client_id="northwind", platform="x"),
                kill(3, 1500, False, client_id="acme"),
                kill(4, 2400, False, client_id="northwind", platform="x"),
            ],
        )

    r = verdict("nothing_lost_or_doubled_across_release", rec(2400))
    assert r.verdict == "violated"
    assert "kill switch (client_id=acme) released at T+25m00s" in r.detail
    assert verdict("nothing_lost_or_doubled_across_release", rec(1530)).verdict == "held"


def test_a_switch_never_released_or_never_met_does_not_apply():
    rec = record(ledger=[led(1, 10)], control_changes=[kill(1, 1200, True)])
    assert verdict("nothing_lost_or_doubled_across_release", rec).verdict == "not_applicable"


# --- engagement_never_answers_itself, no_reply_while_triggers_off -----------------------------

INBOUND = [
    {"id": "c1", "fake": "x", "account_id": "acme-x", "author": "@ACME_X", "post_id": "p1"},
    {"id": "c2", "fake": "x", "account_id": "acme-x", "author": "@fan1", "post_id": "p1"},
]


def test_a_reply_to_the_accounts_own_comment_is_a_violation():
    rec = record(
        ledger=[led(1, 100, action="reply.created", in_reply_to="c1")],
        inbound=INBOUND,
    )
    r = verdict("engagement_never_answers_itself", rec)
    assert r.verdict == "violated"
    assert r.detail == "1 reply sent on @acme_x answering its own message: ids r1 (to c1)"


def test_replies_to_others_hold_and_without_own_comments_the_guard_does_not_apply():
    rec = record(ledger=[led(1, 100, action="reply.created", in_reply_to="c2")], inbound=INBOUND)
    assert verdict("engagement_never_answers_itself", rec).verdict == "held"
    rec = record(ledger=[led(1, 100, action="reply.created")], inbound=INBOUND[1:])
    assert verdict("engagement_never_answers_itself", rec).verdict == "not_applicable"


def test_replies_while_triggers_are_locked_or_the_blueprint_is_off_are_violations():
    rec = record(
        ledger=[
            led(1, 700, action="reply.created"),
            led(2, 1300, action="reply.created"),
            led(3, 2000, action="reply.created"),
        ],
        control_changes=[
            change(1, 600, "trigger_lock", True, client_id="acme"),
            change(2, 900, "trigger_lock", False, client_id="acme"),
            change(3, 1200, "blueprint_enabled", False, blueprint_id="bp-acme-x"),
            change(4, 1500, "blueprint_enabled", True, blueprint_id="bp-acme-x"),
        ],
    )
    r = verdict("no_reply_while_triggers_off", rec)
    assert r.verdict == "violated"
    assert r.count == 2
    assert "while the triggers of acme was off" in r.detail
    assert "while the blueprint bp-acme-x was off" in r.detail


def test_replies_of_other_clients_and_blueprints_hold_while_one_is_off():
    rec = record(
        ledger=[led(1, 700, action="reply.created", account="northwind-x")],
        control_changes=[
            change(1, 600, "trigger_lock", True, client_id="acme"),
            change(2, 650, "blueprint_enabled", False, blueprint_id="bp-acme-x"),
        ],
    )
    assert verdict("no_reply_while_triggers_off", rec).verdict == "held"


SHIPPED = (
    {"id": "bp-acme-x", "client_id": "acme", "platform": "x", "keywords": ["price?"]},
    {
        "id": "bp-acme-x-retired",
        "client_id": "acme",
        "platform": "x",
        "keywords": ["spring sale code"],
        "enabled": False,
    },
)
RETIRED_INBOUND = [
    {
        "id": "c3",
        "fake": "x",
        "account_id": "acme-x",
        "author": "@fan2",
        "text": "spring sale code #3",
    },
    {"id": "c4", "fake": "x", "account_id": "acme-x", "author": "@fan3", "text": "love this #4"},
    {
        "id": "c5",
        "fake": "x",
        "account_id": "acme-x",
        "author": "@fan4",
        "text": "price? spring sale code",
    },
]


def test_a_reply_only_a_blueprint_shipped_disabled_answers_is_a_violation():
    rec = record(
        ledger=[led(1, 700, action="reply.created", in_reply_to="c3")],
        inbound=RETIRED_INBOUND,
        blueprints=SHIPPED,
    )
    r = verdict("no_reply_while_triggers_off", rec)
    assert r.verdict == "violated"
    assert "only blueprint bp-acme-x-retired answers it, and the settings ship it disabled" in (
        r.detail
    )


def test_a_retired_keyword_beside_a_live_one_or_a_blueprint_an_operator_enabled_holds():
    rec = record(
        ledger=[
            led(1, 700, action="reply.created", in_reply_to="c5"),
            led(2, 900, action="reply.created", in_reply_to="c3"),
            led(3, 950, action="reply.created", in_reply_to="c4", account="northwind-x"),
        ],
        inbound=RETIRED_INBOUND,
        blueprints=SHIPPED,
        control_changes=[
            change(1, 800, "blueprint_enabled", True, blueprint_id="bp-acme-x-retired")
        ],
    )
    assert verdict("no_reply_while_triggers_off", rec).verdict == "held"


def test_controls_that_call_a_blueprint_shipped_disabled_enabled_at_the_start_are_a_violation():
    rec = record(
        blueprints=SHIPPED,
        controls_at_start={"blueprints": {"bp-acme-x": True, "bp-acme-x-retired": True}},
    )
    r = verdict("no_reply_while_triggers_off", rec)
    assert r.verdict == "violated"
    assert "the controls call blueprint bp-acme-x-retired enabled at the start" in r.detail
    rec = record(
        blueprints=SHIPPED,
        controls_at_start={"blueprints": {"bp-acme-x": True, "bp-acme-x-retired": False}},
    )
    assert verdict("no_reply_while_triggers_off", rec).verdict == "held"


# --- rate_within_platform_limits: daily caps, Instagram and LinkedIn ---------------------------


def jr(n: int, at: float, fake: str, status: int = 200, fault: str | None = None) -> dict:
    return {
        "seq": n,
        "t": T0 + at,
        "fake": fake,
        "method": "POST",
        "path": "/p",
        "route": "posts.create",
        "status": status,
        "account_id": "acme-x",
        "request_id": f"q{n}",
        "idempotency_key": None,
        "fault_id": fault,
        "fault_kind": f"{fake}.rate_limited" if fault else None,
    }


def test_more_side_effects_than_the_daily_cap_is_a_violation():
    caps = {"concurrency": 4, "min_interval_s": 0, "jitter_s": 0, "daily_caps": {"publish": 2}}
    rec = record(
        ledger=[led(i, 100 * i) for i in range(1, 4)],
        control_changes=[change(1, 0, "pacing", caps, platform="x")],
    )
    r = verdict("rate_within_platform_limits", rec)
    assert r.verdict == "violated"
    assert r.detail == "1 side effect made on @acme_x beyond its daily cap of 2 publish: ids r3"
    rec = record(
        ledger=[led(i, 100 * i) for i in range(1, 3)],
        control_changes=[change(1, 0, "pacing", caps, platform="x")],
    )
    assert verdict("rate_within_platform_limits", rec).verdict == "held"


def test_work_deferred_for_a_daily_cap_not_yet_used_in_full_is_a_violation():
    caps = {"concurrency": 4, "min_interval_s": 0, "jitter_s": 0, "daily_caps": {"publish": 3}}
    waiting = job("j-9", "scheduled", error="pacing: daily cap of 3 publish reached for acme-x")
    early = record(
        ledger=[led(i, 100 * i) for i in range(1, 3)],
        control_changes=[change(1, 0, "pacing", caps, platform="x")],
        jobs=[waiting],
    )
    r = verdict("daily_caps_used_in_full", early)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 publish job deferred to the next day on @acme_x with 2 of its daily cap of 3 publish "
        "used: ids j-9"
    )
    full = record(
        ledger=[led(i, 100 * i) for i in range(1, 4)],
        control_changes=[change(1, 0, "pacing", caps, platform="x")],
        jobs=[waiting],
    )
    assert verdict("daily_caps_used_in_full", full).verdict == "held"
    # an attempt that went out and failed used its unit too
    tried = record(
        ledger=[led(i, 100 * i) for i in range(1, 3)],
        audit=[{**aud(i, 100 * i, job=f"j-{i}"), "phase": "attempt", "outcome": None, "proof": {}}
               for i in range(1, 4)],
        control_changes=[change(1, 0, "pacing", caps, platform="x")],
        jobs=[waiting],
    )  # fmt: skip
    assert verdict("daily_caps_used_in_full", tried).verdict == "held"
    assert verdict("daily_caps_used_in_full", record()).verdict == "not_applicable"


def test_instagram_throttles_without_a_429_and_holds_for_its_regain_time_in_whole_minutes():
    rules = [{"id": "f1", "kind": "instagram.rate_limited", "params": {"retry_after_s": 90}}]
    early = record(
        journal=[jr(1, 100, "instagram", 400, "f1"), jr(2, 200, "instagram")], fault_rules=rules
    )
    assert verdict("rate_within_platform_limits", early).verdict == "violated"
    late = record(
        journal=[jr(1, 100, "instagram", 400, "f1"), jr(2, 221, "instagram")], fault_rules=rules
    )
    assert verdict("rate_within_platform_limits", late).verdict == "held"


def test_an_instagram_throttle_holds_every_route_of_the_account_and_other_jobs_in_its_instant():
    # the business-use-case limit counts every call of the account: a throttled inbox read holds
    # its container creation too (X's and LinkedIn's throttles hold one route)
    rules = [{"id": "f1", "kind": "instagram.rate_limited", "params": {"retry_after_s": 600}}]
    read = {
        **jr(1, 100, "instagram", 400, "f1"),
        "route": "media.list",
        "idempotency_key": "poll:3",
    }
    create = {**jr(2, 400, "instagram"), "route": "media.create", "idempotency_key": "wl-1"}
    r = verdict("rate_within_platform_limits", record(journal=[read, create], fault_rules=rules))
    assert r.verdict == "violated"
    assert "1 request sent to instagram for @acme_x before Retry-After elapsed" in r.detail
    # another job's request of the very instant of the throttle was sent with it (no audited
    # attempt orders them); the same job's came after its own answer
    other = {**create, "t": T0 + 100}
    same = {**other, "idempotency_key": "poll:3"}
    assert (
        verdict(
            "rate_within_platform_limits", record(journal=[read, other], fault_rules=rules)
        ).verdict
        == "held"
    )
    assert (
        verdict(
            "rate_within_platform_limits", record(journal=[read, same], fault_rules=rules)
        ).verdict
        == "violated"
    )


def test_a_linkedin_daily_429_holds_until_midnight_utc_and_a_removed_rule_keeps_its_params():
    tl = Timeline()
    tl.append(T0, "fault.injected", "drill", "x", {"rule_id": "f1", "params": {}})
    history = [{"id": "f1", "kind": "linkedin.rate_limited"}]
    rec = record(
        journal=[jr(1, 100, "linkedin", 429, "f1"), jr(2, 3600, "linkedin")],
        fault_history=history,
        timeline=tl,
    )
    r = verdict("rate_within_platform_limits", rec)
    assert r.verdict == "violated", r.detail


# --- no_unverified_publish_reported_live: a lookup that errored proves nothing ----------------


def lookup(n: int, at: float, status: int) -> dict[str, Any]:
    return {
        **jr(n, at, "x", status),
        "method": "GET",
        "path": "/2/tweets/r1",
        "route": "tweets.get",
    }


def test_a_post_reported_live_after_only_failed_lookups_is_a_violation():
    rec = record(
        ledger=[led(1, 60)],
        audit=[aud(1, 70, job="j-1", resource="r1")],
        journal=[lookup(1, 65, 503)],
    )
    r = verdict("no_unverified_publish_reported_live", rec)
    assert r.verdict == "violated"
    assert "though no lookup of it on x succeeded" in r.detail
    rec = record(
        ledger=[led(1, 60)],
        audit=[aud(1, 70, job="j-1", resource="r1")],
        journal=[lookup(1, 65, 503), lookup(2, 66, 200)],
    )
    assert verdict("no_unverified_publish_reported_live", rec).verdict == "held"


# --- judged in every drill --------------------------------------------------------------------


def test_the_secret_audit_egress_and_retry_invariants_are_judged_even_when_a_scenario_does_not_list_them():
    assert set(DEFAULT_INVARIANTS) == {
        "action_rate_gauge_truthful",
        "alerts_deduplicated",
        "approvals_let_work_go",
        "audit_proofs_match_the_fakes",
        "auth_failures_alerted",
        "auth_failures_on_the_wire",
        "budgets_used_in_full",
        "comments_answered",
        "controls_as_requested",
        "controls_survive_restart",
        "cooldowns_delay_answers_not_drop_them",
        "dms_answered",
        "engagement_bursts_alerted",
        "engagement_polls_braked",
        "engagement_put_up_for_approval",
        "engagement_reaches_every_account",
        "every_side_effect_audited",
        "guard_refusals_alerted",
        "guard_refusals_stay_refused",
        "held_engagement_answered_after_release",
        "inbox_failures_alerted",
        "inbox_pages_advance",
        "holds_stay_on_their_account",
        "jobs_within_the_contract",
        "kill_switch_gauge_truthful",
        "marked_jobs_left_alone",
        "no_job_left_behind",
        "no_needless_token_refresh",
        "no_placeholder_published",
        "no_reply_while_triggers_off",
        "no_secret_in_artifacts",
        "no_side_effects_while_paused",
        "no_unexpected_errors",
        "no_web_side_effects_after_a_challenge",
        "nothing_reaches_a_host_it_was_not_given",
        "operator_calls_answered",
        "pacing_in_force",
        "pause_holds_only_its_class",
        "publish_failures_alerted",
        "queue_backlog_alerted",
        "queue_metrics_truthful",
        "rate_limits_alerted",
        "refusals_only_while_a_control_holds",
        "refused_tokens_not_resent",
        "requests_traced_to_their_jobs",
        "requests_well_formed",
        "retries_within_policy",
        "runbook_steps_applied",
        "runner_concurrency_kept",
        "side_effects_not_before_due",
        "side_effects_through_the_routed_lane",
        "spend_alerted",
        "tokens_refreshed_before_expiry",
        "usage_caps_lift_with_the_world",
        "tool_followups_submitted",
        "tools_as_the_job_allows",
        "verification_failures_alerted",
    }
    rec = record(
        scenario={
            "id": "s",
            "title": "s",
            "runbook": "RB-01",
            "severity": "P1",
            "incident_types": ["SAFETY"],
            "invariants": ["no_duplicate_side_effects"],
        },
        ledger=[led(1, 60)],
        jobs=[job("j-1", state="failed", error=f"x.unauthorized: token {SECRET}")],
        secrets=(SECRET,),
    )
    v = judge(rec)
    names = {i.name: i.verdict for i in v.invariants}
    assert names["no_secret_in_artifacts"] == "violated"
    assert names["every_side_effect_audited"] == "violated"
    assert names["nothing_reaches_a_host_it_was_not_given"] == "not_applicable"  # no journal
    assert v.verdict == "violated"


# --- retries_within_policy --------------------------------------------------------------------

POLICY = {"max_attempts": 4, "base_delay_s": 2.0, "max_delay_s": 600.0, "jitter": 0.2}


def tried(job_id: str, attempts: int, state: str = "succeeded") -> dict[str, Any]:
    return {**job(job_id, state=state), "attempts": attempts}


def test_a_job_run_more_often_than_the_stated_policy_is_a_violation_naming_both_numbers():
    rec = record(
        retry_policy=POLICY,
        jobs=[tried("j-1", 1), tried("j-2", 4, "dead_letter"), tried("j-3", 5, "dead_letter")],
    )
    r = verdict("retries_within_policy", rec)
    assert r.verdict == "violated"
    assert r.count == 1
    assert "ran 5 times (dead_letter), the retry policy allows 4" in r.detail
    assert "j-3" in r.detail


def test_a_retry_that_waits_past_the_policys_longest_back_off_is_a_violation():
    def req(n: int, at: float, status: int, key: str = "k1", route: str = "tweets.create") -> dict:
        return {"seq": n, "t": T0 + at, "started": T0 + at, "fake": "x", "method": "POST",
                "route": route, "status": status, "account_id": "acme-x", "request_id": f"q{n}",
                "idempotency_key": key}  # fmt: skip

    # max_delay_s 600 with jitter 0.2: at most 720 s, and 150 s for the runner's queue
    late = [req(1, 100, 503), req(2, 1100, 201)]
    r = verdict(
        "retries_within_policy", record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=late)
    )
    assert r.verdict == "violated"
    assert "waited 1000s after a failed request before its next one, longer than the policy's back-off allows (600s at most, jitter 0.2)" in r.detail  # fmt: skip
    on_time = [req(1, 100, 503), req(2, 900, 201)]
    ok = record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=on_time)
    assert verdict("retries_within_policy", ok).verdict == "held"
    # a control changed meanwhile, or a token refresh failed on the way: not the back-off's wait
    held = record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=late,
                  control_changes=[{"t": T0 + 500, "control": "kill_switch", "value": True}])  # fmt: skip
    assert verdict("retries_within_policy", held).verdict == "held"
    refresh = {**req(3, 800, 503, key=None, route="oauth2.token"), "method": "POST"}
    rec = record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=[*late, refresh])
    assert verdict("retries_within_policy", rec).verdict == "held"


def test_a_job_that_retried_thousands_of_times_is_judged_not_crashed_on():
    # the back-off's floor for n retries was summed as base · 2^k: past k ≈ 1,000 the float
    # overflowed and the judge crashed (a harness error hid the platform's hammering)
    many = [{"seq": n, "t": T0 + n, "started": T0 + n, "fake": "x", "method": "POST",
             "route": "tweets.create", "status": 503, "account_id": "acme-x",
             "request_id": f"q{n}", "idempotency_key": "k1"} for n in range(1500)]  # fmt: skip
    r = verdict(
        "retries_within_policy", record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=many)
    )
    assert r.verdict == "violated" and "faster than the back-off allows" in r.detail


def test_a_provider_call_refused_as_invalid_is_not_sent_again_by_the_same_job():
    trace = "0af7651916cd43dd8448eb211c80319c"

    def call(n: int, at: float, status: int, fake: str = "openai", tr: str = trace) -> dict:
        return {"seq": n, "t": T0 + at, "started": T0 + at, "fake": fake, "method": "POST",
                "route": "chat.completions", "status": status, "account_id": "agency-openai",
                "request_id": f"r{n}", "traceparent": f"00-{tr}-00f067aa0ba902b7-01"}  # fmt: skip

    other = "4bf92f3577b34da6a3ce929d0e0e4736"
    again = [call(1, 60, 400), call(2, 62, 400, tr=other), call(3, 180, 200)]
    r = verdict(
        "retries_within_policy", record(retry_policy=POLICY, jobs=[tried("j-1", 2)], journal=again)
    )
    assert r.verdict == "violated" and r.count == 1
    assert "sent chat.completions to openai again after its 400 at T+1m" in r.detail
    assert "ids r3" in r.detail
    # a failover to the other provider is no retry of the same request there; a 429 is no 400
    fine = [call(1, 60, 400), call(2, 61, 200, fake="anthropic"), call(3, 70, 429, tr=other),
            call(4, 90, 200, tr=other)]  # fmt: skip
    ok = record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=fine)
    assert verdict("retries_within_policy", ok).verdict == "held"


def test_a_job_whose_audit_shows_more_attempts_than_its_policy_allows_is_a_violation():
    # a restart started j-1's count over: the platform says 2, its audit shows 6 attempts of
    # the post, two more than the policy's four
    attempts = [
        {**aud(n, 60 * n, job="j-1", outcome="failed", proof={}), "phase": "attempt"}
        for n in range(1, 7)
    ]
    rec = record(retry_policy=POLICY, jobs=[tried("j-1", 2)], audit=attempts)
    r = verdict("retries_within_policy", rec)
    assert r.verdict == "violated"
    assert "attempted its side effect 6 times by its audit, the retry policy allows 4 (the " in (
        r.detail
    )
    assert "platform counts 2)" in r.detail
    ok = record(retry_policy=POLICY, jobs=[tried("j-1", 4)], audit=attempts[:4])
    assert verdict("retries_within_policy", ok).verdict == "held"
    # with an outage window, retries through an outage use no attempts: not judged by the audit
    keyed = [{**a, "idempotency_key": "k1"} for a in attempts]
    down = {"seq": 1, "t": T0 + 60, "fake": "x", "method": "POST", "route": "tweets.create",
            "status": 503, "account_id": "acme-x", "request_id": "q1", "idempotency_key": "k1"}  # fmt: skip
    policy = {**POLICY, "outage_window_s": 600.0}
    rec = record(retry_policy=policy, jobs=[tried("j-1", 2)], audit=keyed, journal=[down])
    assert verdict("retries_within_policy", rec).verdict == "held"


def test_an_attempt_cut_by_a_restart_is_no_outage_and_counts_by_the_audit():
    # the post's second request got no answer because the platform itself crashed at T+2m:
    # that attempt was spent (and may have landed), so five audited attempts are one too many
    # even with an outage window, whatever the restarted platform counts
    attempts = [
        {**aud(n, 60 * n, job="j-1", outcome="failed", proof={}), "phase": "attempt",
         "idempotency_key": "k1"}
        for n in range(1, 6)
    ]  # fmt: skip
    cut = {"seq": 1, "t": T0 + 120, "fake": "x", "method": "POST", "route": "tweets.create",
           "status": 0, "account_id": "acme-x", "request_id": "q1", "idempotency_key": "k1"}  # fmt: skip
    tl = Timeline()
    tl.append(T0, "drill.started", "drill", "drill started")
    tl.append(T0 + 120, "platform.restarted", "operator", "platform crashed and restarted",
              {"restart": 1, "crash": True})  # fmt: skip
    policy = {**POLICY, "outage_window_s": 600.0}
    rec = record(
        retry_policy=policy, jobs=[tried("j-1", 4, "dead_letter")], audit=attempts,
        journal=[cut], timeline=tl,
    )  # fmt: skip
    r = verdict("retries_within_policy", rec)
    assert r.verdict == "violated"
    assert "attempted its side effect 5 times by its audit, the retry policy allows 4" in r.detail
    # the same unanswered request with no restart then is an outage: not judged by the audit
    calm = record(
        retry_policy=policy, jobs=[tried("j-1", 4, "dead_letter")], audit=attempts, journal=[cut]
    )
    assert verdict("retries_within_policy", calm).verdict == "held"


def test_a_tool_call_refused_by_the_gateway_more_often_than_the_policy_allows_is_a_violation():
    # a missing tool is the gateway's answer, not an outage: each refused call used an attempt,
    # so a job that met six of them was retried past its four (the platform counted one)
    def refused(n: int, failure: str) -> dict[str, Any]:
        return {**aud(n, 60 * n, job="j-1", action="tool.call", outcome="failed", proof={}),
                "detail": {"tool": "kb_search", "failure": failure}}  # fmt: skip

    missing = [refused(n, "tool_missing") for n in range(1, 7)]
    policy = {**POLICY, "outage_window_s": 3600.0}
    r = verdict(
        "retries_within_policy", record(retry_policy=policy, jobs=[tried("j-1", 1)], audit=missing)
    )
    assert r.verdict == "violated"
    assert (
        "had its tool call refused by the gateway 6 times by its audit, the retry policy"
        in r.detail
    )
    # the gateway down (unavailable) is an outage: retries through it use no attempts
    down = [refused(n, "unavailable") for n in range(1, 7)]
    ok = record(retry_policy=policy, jobs=[tried("j-1", 1)], audit=down)
    assert verdict("retries_within_policy", ok).verdict == "held"


def test_a_dead_letter_before_the_attempts_are_used_is_a_violation():
    rec = record(retry_policy=POLICY, jobs=[tried("j-1", 3, "dead_letter")])
    r = verdict("retries_within_policy", rec)
    assert r.verdict == "violated"
    assert "dead-lettered after 3 of the 4 attempts the policy allows" in r.detail


def test_a_dead_letter_whose_audit_shows_fewer_failures_than_the_policy_is_named_when_asked():
    # a post held for approval, approved, then refused by a storm: with the held run counted as
    # a failure the platform says 4, its audit shows 3 failed attempts
    def failed(n: int, at: float, j: str) -> dict[str, Any]:
        return {**aud(n, at, job=j, outcome="failed"), "proof": {}}

    audit = [failed(1, 60, "j-1"), failed(2, 120, "j-1"), failed(3, 700, "j-1")]
    audit += [failed(4 + i, 60 + 60 * i, "j-2") for i in range(4)]
    jobs = [tried("j-1", 4, "dead_letter"), tried("j-2", 4, "dead_letter")]
    rec = record(retry_policy=POLICY, jobs=jobs, audit=audit)
    # not asked: a run may fail before the wire (a refresh that cannot be had)
    assert verdict("retries_within_policy", rec).verdict == "held"
    r = verdict("retries_within_policy", rec, params={"failures_on_the_wire": True})
    assert r.verdict == "violated" and [v.ref for v in r.violations] == ["j-1"]
    assert (
        "was dead-lettered with 3 failed attempts in its audit of the 4 the policy allows "
        "(the platform counted 4: a run that sent nothing counted as a failure)"
    ) in r.violations[0].phrase


def test_retries_within_the_policy_hold_and_a_platform_without_a_policy_is_not_judged():
    jobs = [tried("j-1", 1), tried("j-2", 4, "dead_letter"), tried("j-3", 3), tried("j-4", 0)]
    r = verdict("retries_within_policy", record(retry_policy=POLICY, jobs=jobs))
    assert r.verdict == "held"
    assert r.checked == 3
    assert (
        r.detail == "all 3 jobs that ran stayed within 4 attempts; 1 dead-lettered after exactly 4"
    )
    assert verdict("retries_within_policy", record(jobs=jobs)).verdict == "not_applicable"
    bad = record(retry_policy={"max_attempts": "many"}, jobs=jobs)
    assert verdict("retries_within_policy", bad).verdict == "not_applicable"


def acting(n: int, at: float, status: int | None, key: str = "k1", method: str = "POST") -> dict:
    return {
        "seq": n,
        "t": T0 + at,
        "started": T0 + at,
        "fake": "x",
        "method": method,
        "route": "tweets.create",
        "status": status,
        "account_id": "acme-x",
        "request_id": f"q{n}",
        "idempotency_key": key,
    }


def test_retries_of_a_failed_request_faster_than_the_stated_back_off_are_a_violation():
    # 2 s doubling: four retries need at least 2+4 (attempts) + 2+4 (outage retries) = 12 s
    def judged(times: list[float], statuses: list[int | None]) -> Any:
        journal = [
            acting(i, at, st) for i, (at, st) in enumerate(zip(times, statuses, strict=True))
        ]
        return verdict(
            "retries_within_policy",
            record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=journal),
        )

    flat = judged([0, 2, 4, 6, 8], [503, 503, None, 429, 201])
    assert flat.verdict == "violated"
    assert "retried 4 failed requests in 8.0s, faster than the back-off allows" in flat.detail
    assert "k1" in flat.detail
    doubling = judged([0, 2, 6, 14, 30], [503, 503, 503, 503, 201])
    assert doubling.verdict == "held"
    assert doubling.detail.endswith("1 jobs retried failed requests no faster than the back-off")
    # a success, a 4xx or a lookup (GET) in between is not a failure worth retrying
    assert judged([0, 1, 2, 3], [201, 400, 401, 201]).verdict == "held"
    lookups = [acting(i, i, 503, method="GET") for i in range(6)]
    rec = record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=lookups)
    assert verdict("retries_within_policy", rec).verdict == "held"


def test_runs_of_a_failing_job_faster_than_the_back_off_are_a_violation_from_the_audit():
    # a render that keeps failing: its requests carry no idempotency key, the audit shows the
    # runs — three retries need at least 2+4 (attempts) + 2 (outage retries) = 8 s
    def judged(gaps: list[float], error: str = "media: render_failed") -> Any:
        audit, t, n = [], 0.0, 0
        for gap in [*gaps, None]:
            n += 1
            audit.append({**aud(n, t, job="j-1", action="video.generate"), "phase": "attempt",
                          "outcome": None})  # fmt: skip
            t += 60
            n += 1
            audit.append({**aud(n, t, job="j-1", action="video.generate", outcome="failed"),
                          "error": error})  # fmt: skip
            if gap is not None:
                t += gap
        return verdict(
            "retries_within_policy",
            record(retry_policy=POLICY, jobs=[tried("j-1", 4, "dead_letter")], audit=audit),
        )

    fast = judged([1.0, 1.0, 1.0])
    assert fast.verdict == "violated"
    assert "ran again 3 times after failed runs within 3.0s in all" in fast.detail
    assert judged([2.1, 4.3, 8.2]).verdict == "held"
    # a throttle's own wait governs the next try: not timed here
    assert judged([1.0, 1.0, 1.0], "openai.rate_limited: 429").verdict == "held"


def test_generation_runs_that_failed_on_their_own_are_counted_as_attempts_or_a_violation():
    # a run that fails on every provider it tries for the request's own reasons (a render that
    # failed, a 400) uses an attempt; one that met an outage (no answer, a 5xx, a 529) may not
    def judged(runs: list[list[tuple[str, str | None]]], attempts: int, state: str) -> Any:
        audit, t, n = [], 0.0, 0
        for run in runs:
            for provider, failure in run:
                n += 1
                audit.append({**aud(n, t, job="j-1", action="llm.complete"), "phase": "attempt",
                              "platform": provider, "outcome": None})  # fmt: skip
                t += 5
                n += 1
                row = aud(n, t, job="j-1", action="llm.complete",
                          outcome="failed" if failure else "success")  # fmt: skip
                audit.append({**row, "platform": provider,
                              "detail": {"failure": failure} if failure else {}})  # fmt: skip
            t += 120
        return verdict(
            "retries_within_policy",
            record(retry_policy=WINDOWED, jobs=[tried("j-1", attempts, state)], audit=audit),
        )

    refused = [("openai", "openai.http_400"), ("anthropic", "anthropic.http_400")]
    down = [("openai", "openai.http_503"), ("anthropic", "anthropic.http_400")]
    ok = [("openai", None)]
    rendered = [("media", "media.render_failed")]
    # two runs refused everywhere, a third that succeeded: three attempts counted — held
    assert judged([refused, refused, ok], 3, "succeeded").verdict == "held"
    # … counted as one: the refusals were retried as if they were an outage
    r = judged([rendered, rendered, [("media", None)]], 1, "succeeded")
    assert r.verdict == "violated"
    assert "ran 2 times to a failure of the request's own" in r.detail and "counts 1" in r.detail
    # runs whose failover provider was down are outage retries: they need no attempt
    assert judged([down, down, down, ok], 1, "succeeded").verdict == "held"
    # a provider tried again within one run (tool rounds) after it answered is the same run
    rounds = [("openai", None), ("openai", None)]
    assert judged([rounds, rendered], 1, "failed").verdict == "held"


def test_a_job_that_keeps_sending_into_401s_or_throttles_past_its_attempts_is_a_violation():
    def judged(statuses: list[int]) -> Any:
        journal = [acting(i, 60.0 * i, st) for i, st in enumerate(statuses)]
        return verdict(
            "retries_within_policy",
            record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=journal),
        )

    # a 401, a refresh, the fresh token's 401 in each of 4 attempts: held; a ninth is a loop
    assert judged([401] * 8).verdict == "held"
    r = judged([401] * 9)
    assert r.verdict == "violated" and "sent its request 9 times into a 401" in r.detail
    # four attempts allowed: four throttles, then a success is fine, a fifth is one too many
    assert judged([429, 429, 429, 429, 201]).verdict == "held"
    r = judged([429, 429, 429, 429, 429, 201])
    assert r.verdict == "violated" and "throttled 5 times" in r.detail, r.detail


WINDOWED = {**POLICY, "outage_window_s": 3600.0}


def test_a_job_that_keeps_retrying_past_its_outage_window_is_a_violation():
    # first outage failure at 0; after the hour every failure counts: four may fail, then no
    # more requests (the job is dead-lettered)
    times = [0, 600, 1200, 1800, 2400, 3000, 3700, 4300, 4900, 5500]
    late = [acting(i, at, 503) for i, at in enumerate(times)]
    rec = record(
        retry_policy=WINDOWED,
        end_t=T0 + 9000,
        jobs=[tried("j-1", 4, "dead_letter")],
        journal=late,
    )
    assert verdict("retries_within_policy", rec).verdict == "held"
    # … one more request after the fourth failure past the window: the window restarted
    again = [*late, acting(10, 6100, 201)]
    rec = record(retry_policy=WINDOWED, end_t=T0 + 9000, jobs=[tried("j-1", 1)], journal=again)
    r = verdict("retries_within_policy", rec)
    assert r.verdict == "violated"
    assert "sent another request after 4 failures past its outage window" in r.detail
    assert "window 1h" in r.detail
    # a throttle (429) does not open an outage window; no window stated: not judged
    throttled = [acting(i, at, 429) for i, at in enumerate(times)] + [acting(10, 6100, 201)]
    rec = record(retry_policy=WINDOWED, end_t=T0 + 9000, jobs=[tried("j-1", 1)], journal=throttled)
    assert "outage window" not in verdict("retries_within_policy", rec).detail
    rec = record(retry_policy=POLICY, end_t=T0 + 9000, jobs=[tried("j-1", 1)], journal=again)
    assert verdict("retries_within_policy", rec).verdict == "held"


def outage(fake: str = "x", **kw: Any) -> dict[str, Any]:
    return {
        "id": "f1",
        "kind": "http.outage",
        "params": {"status": 503},
        "match": {"fake": fake},
        "probability": 1.0,
        "installed_at": T0 + 600,
        "removed_at": T0 + 8000,
        **kw,
    }


def test_a_dead_letter_inside_the_outage_window_of_a_whole_outage_is_a_violation():
    def judged(fault: dict[str, Any], died_at: float, created_at: float = 0.0) -> Any:
        dead = {
            **tried("j-1", 4, "dead_letter"),
            "created_at": T0 + created_at,
            "updated_at": T0 + died_at,
        }
        rec = record(retry_policy=WINDOWED, end_t=T0 + 9000, jobs=[dead], fault_history=[fault])
        return verdict("retries_within_policy", rec)

    early = judged(outage(), died_at=1800)
    assert early.verdict == "violated"
    assert "was dead-lettered 20m into an outage of x (from T+10m00s)" in early.detail
    assert "inside the 1h outage window" in early.detail
    # after the window (from the later of the job's creation and the outage's start): held
    assert judged(outage(), died_at=600 + 3600 + 900).verdict == "held"
    assert judged(outage(), died_at=4500, created_at=1200).verdict == "violated"
    # another platform's outage, a partial one, or one already over: not this job's window
    assert judged(outage("linkedin"), died_at=1800).verdict == "held"
    assert judged(outage(probability=0.5), died_at=1800).verdict == "held"
    assert (
        judged(outage(match={"fake": "x", "route": "tweets.create"}), died_at=1800).verdict
        == "held"
    )
    assert judged(outage(first_n=3), died_at=1800).verdict == "held"
    assert judged(outage(removed_at=T0 + 1200), died_at=1800).verdict == "held"


# --- runbook_steps_applied and the audit's own contract ---------------------------------------


def steps(*events: tuple[str, float, dict[str, Any]]) -> Timeline:
    tl = Timeline()
    for kind, at, data in events:
        tl.append(T0 + at, kind, "ops_lead", f"step {kind}", {"id": "route-away", **data})
    return tl


def test_a_runbook_step_the_platform_could_not_apply_is_a_violation_with_the_error():
    tl = steps(
        ("runbook_step.completed", 60, {}),
        ("runbook_step.missed", 90, {"reason": "TypeError: _record() missing 'reason'"}),
    )
    r = verdict("runbook_steps_applied", record(timeline=tl))
    assert r.verdict == "violated" and r.checked == 2
    assert "failed: TypeError: _record() missing 'reason'" in r.detail
    ok = steps(("runbook_step.completed", 60, {}))
    assert verdict("runbook_steps_applied", record(timeline=ok)).verdict == "held"
    assert verdict("runbook_steps_applied", record()).verdict == "not_applicable"


def test_a_step_nobody_attempted_is_the_rehearsals_grade_not_a_broken_toolbox():
    # a game day marks the steps nobody did as missed, with no refusal to report
    nobody_tried = {
        "id": "global_freeze",
        "reason": "not done during the game day",
        "attempted": False,
    }
    tl = steps(
        ("runbook_step.completed", 60, {}),
        ("runbook_step.missed", 3600, nobody_tried),
    )
    r = verdict("runbook_steps_applied", record(timeline=tl))
    assert r.verdict == "held" and r.checked == 1
    nobody = steps(("runbook_step.missed", 3600, nobody_tried))
    assert verdict("runbook_steps_applied", record(timeline=nobody)).verdict == "not_applicable"


def test_an_audit_event_with_a_phase_or_outcome_outside_the_contract_is_a_violation():
    bad_phase = {**aud(1, 70, job="j-1", resource="r1"), "phase": "XXattemptXX", "outcome": None}
    bad_outcome = {**aud(2, 71, job="j-2", resource="r2"), "outcome": "succeeded"}
    rec = record(
        ledger=[led(1, 60)], audit=[aud(1, 61, job="j-1", resource="r1"), bad_phase, bad_outcome]
    )
    r = verdict("every_side_effect_audited", rec)
    assert r.verdict == "violated" and r.count == 2
    assert "outside the contract (phase 'XXattemptXX'" in r.detail


def test_an_audit_gap_page_in_a_drill_whose_audit_is_whole_is_a_false_page():
    page = {"t": T0 + 90, "name": "audit_gap", "labels": {}, "message": "1 successful side effects have no outcome AuditEvent"}  # fmt: skip
    whole = record(ledger=[led(1, 60)], audit=[aud(1, 61, job="j-1", resource="r1")], alerts=[page])
    r = verdict("every_side_effect_audited", whole)
    assert r.verdict == "violated" and r.count == 1
    assert (
        "audit_gap raised at T+1m30s though every side effect had its outcome AuditEvent"
        in r.detail
    )
    # … a page for a gap that is there is the page doing its job (the gap is the violation)
    gap = record(ledger=[led(1, 60), led(2, 70)], audit=[aud(1, 61, job="j-1", resource="r1")], alerts=[page])  # fmt: skip
    r = verdict("every_side_effect_audited", gap)
    assert "false page" not in r.detail and "no AuditEvent" in r.detail


def test_a_job_left_blocked_without_an_audited_refusal_is_a_violation():
    # a kill switch stopped a generation job: the refusal is a decision the audit must show
    refusal = {**aud(2, 90, job="j-2", action="llm.complete", outcome="blocked"),
               "error": "kill_switch: stopped by the switch {'action': 'generate'}"}  # fmt: skip
    jobs = [job("j-1"), job("j-2", "blocked", kind="generate_text")]
    base = {"ledger": [led(1, 60)], "jobs": jobs}
    silent = record(audit=[aud(1, 61, job="j-1", resource="r1")], **base)
    r = verdict("every_side_effect_audited", silent)
    assert r.verdict == "violated"
    assert "left blocked (generate_text) with no AuditEvent of its refusal" in r.detail
    told = record(audit=[aud(1, 61, job="j-1", resource="r1"), refusal], **base)
    assert verdict("every_side_effect_audited", told).verdict == "held"


def test_a_job_that_ended_succeeded_after_its_last_step_failed_is_a_violation():
    # a tool call the gateway refused (the tool is gone), its job ended succeeded all the same
    failed = {**aud(1, 61, job="j-1", action="tool.call", platform="toolgate",
                    outcome="failed"), "error": "toolgate.tool_missing: kb_search"}  # fmt: skip
    tried = {**aud(0, 60, job="j-1", action="tool.call", platform="toolgate"), "phase": "attempt",
             "outcome": None}  # fmt: skip
    tool_job = {**job("j-1", "succeeded", kind="tool_call"), "updated_at": T0 + 62}
    r = verdict("every_side_effect_audited", record(audit=[tried, failed], jobs=[tool_job]))
    assert r.verdict == "violated"
    assert (
        "ended succeeded (tool_call) though its last audited outcome was a failure (tool.call: "
        "toolgate.tool_missing: kb_search)" in r.detail
    )
    # a person approved it after the failure: it went ahead on their decision
    approved = {**tool_job, "approved_at": T0 + 61.5}
    rec = record(audit=[tried, failed], jobs=[approved])
    assert verdict("every_side_effect_audited", rec).verdict != "violated"
    # its retry succeeded: the last outcome is the success
    again = aud(2, 62, job="j-1", action="tool.call", platform="toolgate")
    retried = {**tried, "seq": 3, "event_id": "ae-000003", "t": T0 + 61.8}
    rec = record(audit=[tried, failed, retried, again], jobs=[tool_job])
    assert "though its last audited outcome" not in verdict("every_side_effect_audited", rec).detail


def test_a_job_audited_under_two_trace_ids_is_a_violation():
    one = aud(1, 61, job="j-1", resource="r1")
    refusal = {**aud(2, 62, job="j-1", outcome="blocked"), "error": "egress: refused"}
    rec = record(ledger=[led(1, 60)], audit=[one, refusal])
    assert verdict("every_side_effect_audited", rec).verdict == "held"
    elsewhere = {**refusal, "trace_id": "f" * 32}
    r = verdict("every_side_effect_audited", record(ledger=[led(1, 60)], audit=[one, elsewhere]))
    assert r.verdict == "violated"
    assert "audited under 2 trace ids" in r.detail


def test_a_provider_call_retried_past_the_sdks_limit_is_a_violation():
    def call(n: int, retry: int) -> dict[str, Any]:
        return {"seq": n, "t": T0 + n, "started": T0 + n, "fake": "openai", "method": "POST",
                "route": "chat.completions", "status": 503, "request_id": f"q{n}",
                "retry_count": retry}  # fmt: skip

    def judged(retries: list[int], **params: Any) -> Any:
        journal = [call(i, r) for i, r in enumerate(retries)]
        rec = record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=journal)
        return verdict("retries_within_policy", rec, params=params)

    assert judged([0, 1, 2]).verdict == "held"
    r = judged([0, 1, 2, 3])
    assert r.verdict == "violated"
    assert "as its SDK's retry 3 of one call (the SDK retries at most 2 times" in r.detail
    assert judged([0, 1, 2, 3], sdk_max_retries=3).verdict == "held"


def test_a_provider_call_retried_sooner_than_the_sdks_back_off_is_a_violation():
    # one call's tries under one job's trace: 529, then retries; another job's try in between
    def call(n: int, at: float, retry: int, status: int = 529, trace: str = "ab") -> dict:
        return {"seq": n, "t": T0 + at, "started": T0 + at, "fake": "anthropic",
                "method": "POST", "route": "messages", "status": status,
                "request_id": f"q{n}", "retry_count": retry,
                "traceparent": f"00-{trace * 16}-{n:016x}-01"}  # fmt: skip

    def judged(journal: list[dict]) -> Any:
        rec = record(retry_policy=POLICY, jobs=[tried("j-1", 1)], journal=journal)
        return verdict("retries_within_policy", rec)

    # waits of 0.4 s and 0.8 s: within the SDKs' 0.5·2^n less a quarter of jitter
    assert judged([call(1, 10, 0), call(2, 10.4, 0, trace="cd"), call(3, 10.4, 1),
                   call(4, 11.2, 2, 200)]).verdict == "held"  # fmt: skip
    # retried at once (a back-off of base·2·n: 0 s before the first retry)
    r = judged([call(1, 10, 0), call(2, 10.4, 0, trace="cd"), call(3, 10.0, 1),
                call(4, 10.5, 2, 200)])  # fmt: skip
    assert r.verdict == "violated" and r.count == 2, r.detail
    assert "retry 1 of one call 0.00s after the try it repeats (answered 529) was sent" in r.detail
    # a 429's own Retry-After governs its retry; a try of another trace is not the one repeated
    assert judged([call(1, 10, 0, 429), call(2, 10.1, 1, 200)]).verdict == "held"
    assert judged([call(1, 10, 0, trace="cd"), call(2, 10.1, 1, 200)]).verdict == "held"


def test_a_job_put_off_for_decades_is_work_stopped_and_one_put_off_to_next_month_is_not():
    later = {**job("j-1", "retry_wait", kind="generate_text"), "created_at": T0,
             "updated_at": T0 + 60, "run_at": T0 + 60 + 20 * 86_400}  # fmt: skip
    assert verdict("every_job_terminal_after_healing", record(jobs=[later])).verdict == "held"
    # a provider's hold read as the time it ends: the retry is scheduled 57 years ahead
    never = {**later, "run_at": 2 * (T0 + 60), "last_error": "generation_failed: held"}
    r = verdict("every_job_terminal_after_healing", record(jobs=[never]))
    assert r.verdict == "violated"
    assert "of kind generate_text was put off" in r.detail
    assert "longer than any reset it could wait for (32 days)" in r.detail


def test_a_job_lost_to_a_transient_fault_is_a_violation_and_an_unconfirmed_one_is_not():
    jobs = [
        {**job("j-1", "failed", error="x.unauthorized: 401"), "created_at": T0},
        {**job("j-2", "needs_human_confirm"), "created_at": T0},
        {**job("j-3", "dead_letter", kind="engagement_poll"), "created_at": T0},
    ]
    r = verdict(
        "every_job_terminal_after_healing", record(jobs=jobs), params={"never_fail": ["publish"]}
    )
    assert r.verdict == "violated" and r.count == 1
    assert "of kind publish ended failed although the fault was transient" in r.detail
    assert verdict("every_job_terminal_after_healing", record(jobs=jobs)).verdict == "held"


def test_on_a_scaled_clock_the_last_real_seconds_of_work_may_be_unfinished_or_unaudited():
    # a game day at x120: a poll started 207 scenario seconds (1.7 real seconds) before the end
    # is still running, and a reply made 100 s before the end has no outcome audited yet
    poll = {**job("j-1", "running", kind="engagement_poll"), "created_at": T0 + 3600 - 207}
    reply = led(1, 3500, action="reply.created")
    scaled = {"time_scale": 120.0}
    assert (
        verdict("every_job_terminal_after_healing", record(jobs=[poll], extra=scaled)).verdict
        == "held"
    )
    assert verdict("every_job_terminal_after_healing", record(jobs=[poll])).verdict == "violated"
    assert (
        verdict("every_side_effect_audited", record(ledger=[reply], extra=scaled)).verdict == "held"
    )
    assert verdict("every_side_effect_audited", record(ledger=[reply])).verdict == "violated"


def test_work_a_healthy_alternative_serves_must_not_wait_out_the_fault():
    # a text job that sat out OpenAI's 15-minute hold instead of failing over to Anthropic
    jobs = [
        {**job("j-1", "succeeded", kind="generate_text"), "created_at": T0, "updated_at": T0 + 965},
        {**job("j-2", "succeeded", kind="generate_text"), "created_at": T0, "updated_at": T0 + 60},
        {
            **job("j-3", "succeeded", kind="generate_image"),
            "created_at": T0,
            "updated_at": T0 + 965,
        },
    ]
    params = {"succeed_within": {"generate_text": "5m"}}
    r = verdict("every_job_terminal_after_healing", record(jobs=jobs), params=params)
    assert r.verdict == "violated" and r.count == 1
    assert r.detail == (
        "1 job of kind generate_text took 16m5s to succeed although a healthy alternative "
        "could serve it (within 5m): ids j-1"
    )


def test_a_confirmation_naming_no_post_claims_the_one_its_jobs_key_made_and_no_other():
    # j-1's first attempt posted (req-1, answered 502); its retry was refused as a duplicate, so
    # it hands the post to a person without its id: that claims req-1's post, not req-2's
    confirm = {
        **aud(2, 200, job="j-1", outcome="needs_human_confirm", proof={"resource_id": None}),
        "idempotency_key": "k-j-1",
    }
    sent = {
        "seq": 1,
        "t": T0 + 100,
        "fake": "x",
        "method": "POST",
        "route": "tweets.create",
        "status": 502,
        "request_id": "req-1",
        "idempotency_key": "k-j-1",
    }
    other = {**sent, "seq": 2, "request_id": "req-2", "idempotency_key": "k-j-2", "status": 201}
    rec = record(ledger=[led(1, 100), led(2, 150)], audit=[confirm], journal=[sent, other])
    r = verdict("every_side_effect_audited", rec)
    assert r.verdict == "violated" and r.count == 1, r.detail
    assert "1 post published on @acme_x with no AuditEvent claiming it: ids r2" in r.detail


def test_a_render_is_claimed_by_its_id_whichever_request_got_it_back():
    # req-1 ordered render rnd-1 (answered 502 after it was taken); its retry under the same
    # Idempotency-Key (req-2) got rnd-1 back: the success names req-2 and rnd-1 — one render,
    # claimed. A second render ordered by a retry (rnd-2) is claimed by nobody
    render = {
        **led(1, 100, action="video.generated", fake="media", resource="rnd-1"),
        "account_id": "agency-media",
    }
    ok = {
        **aud(1, 130, job="j-1", action="video.generate", platform="media"),
        "account_id": "agency-media",
        "proof": {"request_id": "req-2", "resource_id": "rnd-1"},
    }
    tried = {
        **ok,
        "seq": 0,
        "event_id": "ae-000000",
        "t": T0 + 99,
        "phase": "attempt",
        "outcome": None,
        "proof": {},
    }
    answered = [
        {"seq": 1, "t": T0 + 100, "fake": "media", "request_id": "req-1"},
        {"seq": 2, "t": T0 + 101, "fake": "media", "request_id": "req-2"},
    ]
    rec = record(ledger=[render], audit=[tried, ok], journal=answered)
    assert verdict("every_side_effect_audited", rec).verdict == "held"
    assert verdict("audit_proofs_match_the_fakes", rec).verdict == "held"
    second = {**render, "seq": 2, "request_id": "req-2", "resource_id": "rnd-2"}
    ok2 = {**ok, "proof": {"request_id": "req-2", "resource_id": "rnd-2"}}
    r = verdict(
        "every_side_effect_audited",
        record(ledger=[render, second], audit=[tried, ok2], journal=answered),
    )
    assert r.verdict == "violated" and "ids rnd-1" in r.detail, r.detail


def test_a_post_called_unknown_after_its_jobs_own_lookup_answered_is_a_violation():
    # the post landed at T+100s (a 502 after it was taken); the job's lookup of the account's
    # posts answered 200 at T+150s — it listed the post — and still the job handed it over
    trace = "0af7651916cd43dd8448eb211c80319c"
    confirm = {
        **aud(2, 200, job="j-1", outcome="needs_human_confirm", proof={"resource_id": None}),
        "idempotency_key": "k-j-1",
        "trace_id": trace,
    }
    sent = {
        "seq": 1,
        "t": T0 + 100,
        "fake": "x",
        "method": "POST",
        "route": "tweets.create",
        "status": 502,
        "request_id": "req-1",
        "idempotency_key": "k-j-1",
    }

    def lookup(status: int) -> dict[str, Any]:
        return {
            "seq": 2,
            "t": T0 + 150,
            "started": T0 + 150,
            "fake": "x",
            "method": "GET",
            "route": "users.tweets",
            "status": status,
            "request_id": "req-2",
            "traceparent": f"00-{trace}-0000000100000002-01",
        }

    def judged(status: int, detail: str | None = None) -> Any:
        post = {**led(1, 100), "detail": detail}
        rec = record(ledger=[post], audit=[confirm], journal=[sent, lookup(status)])
        return verdict("audit_proofs_match_the_fakes", rec)

    r = judged(200)
    assert r.verdict == "violated"
    assert "calling a post unknown (a person to confirm it) although its job's lookup" in r.detail
    assert judged(429).verdict == "held"
    # a post the platform kept from view until after the lookup could not be listed by it
    assert judged(200, "invisible_for=600s").verdict == "held"
    assert judged(200, "invisible_for=30s").verdict == "violated"


def test_an_attempt_never_closed_by_an_outcome_is_a_violation_unless_the_drill_just_ended():
    attempt = {**aud(1, 60, job="j-1", resource="r1"), "phase": "attempt", "outcome": None}
    late = {**aud(3, 3500, job="j-3", resource="r3"), "phase": "attempt", "outcome": None}
    closed = {**aud(4, 100, job="j-4", resource="r4"), "phase": "attempt", "outcome": None}
    rec = record(audit=[attempt, late, closed, {**aud(5, 101, job="j-4"), "outcome": "failed"}])
    r = verdict("every_side_effect_audited", rec)
    assert r.verdict == "violated" and r.count == 1
    assert "attempt without an outcome (post.create on x, job j-1)" in r.detail


def test_a_tool_or_provider_call_made_without_its_attempt_is_a_violation_a_refusal_is_not():
    def call(n: int, at: float, action: str, outcome: str, phase: str = "outcome") -> dict:
        a = aud(n, at, job=f"j-{n % 10}", action=action, platform="toolgate", outcome=outcome)
        return {**a, "phase": phase, "proof": {"request_id": f"req-{n}"}}

    rec = record(
        audit=[
            call(1, 60, "tool.call", None, phase="attempt"),  # type: ignore[arg-type]
            call(11, 61, "tool.call", "success"),  # closes j-1's attempt
            call(2, 70, "tool.call", "success"),  # j-2: no attempt
            call(3, 80, "llm.complete", "blocked"),  # refused before it was sent
        ]
    )
    r = verdict("every_side_effect_audited", rec)
    assert r.verdict == "violated" and r.count == 1
    assert (
        "closing no attempt (tool.call success on toolgate" in r.detail and "ae-000002" in r.detail
    )


def _restarted(before: dict[str, Any], after: dict[str, Any]) -> Timeline:
    tl = Timeline()
    tl.append(T0, "drill.started", "drill", "drill started")
    tl.append(
        T0 + 1200,
        "platform.restarted",
        "operator",
        "platform restarted on its storage: 40 jobs, 300 audit",
        {"restart": 1, "restored": {"jobs": 40}, "before": before, "after": after},
    )
    return tl


def test_a_restart_that_drops_a_kill_switch_violates_controls_survive_restart():
    held = {
        "kill_switches": [{"client_id": "acme"}],
        "paused": ["engagement"],
        "lanes": {"x": "api"},
    }
    same = evaluate("controls_survive_restart", record(timeline=_restarted(held, dict(held))))
    assert same.verdict == "held" and same.checked == 3
    lost = {**held, "kill_switches": [], "paused": []}
    r = evaluate("controls_survive_restart", record(timeline=_restarted(held, lost)))
    assert r.verdict == "violated" and r.count == 2
    assert (
        'the kill switches changed when the platform restarted at T+20m00s: [{"client_id": '
        '"acme"}] before, [] after'
    ) in r.detail
    assert "evidence/timeline.jsonl#L2" in str(r.first_violation)
    none = evaluate("controls_survive_restart", record())
    assert none.verdict == "not_applicable"


# --- no_side_effects_while_paused -------------------------------------------------------------


def _attempt(n: int, at: float, job_id: str) -> dict[str, Any]:
    return {**aud(n, at, job=job_id), "phase": "attempt", "outcome": None, "proof": {}}


def test_a_dm_sent_while_the_engagement_queue_is_paused_is_a_violation_whatever_its_class():
    # the platform may file DMs under any class: the contract says a DM is engagement work
    rec = record(
        ledger=[led(1, 700, action="dm.sent"), led(2, 1000, action="dm.sent")],
        audit=[
            _attempt(1, 590, "j-1"),  # attempted before the pause: in flight, may land
            aud(2, 701, job="j-1", resource="r1", action="dm.send"),
            _attempt(3, 999, "j-2"),
            aud(4, 1001, job="j-2", resource="r2", action="dm.send"),
        ],
        workload=[intent("j-1", kind="dm"), intent("j-2", kind="dm")],
        jobs=[job("j-1", kind="dm"), job("j-2", kind="dm")],
        control_changes=[
            change(1, 600, "queue_paused", True, job_class="engagement"),
            change(2, 1200, "queue_paused", False, job_class="engagement"),
        ],
    )
    r = verdict("no_side_effects_while_paused", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 DM sent on @acme_x while the engagement queue was paused (since T+10m00s; job kind "
        "dm): ids r2"
    )
    # a post is publish work: the engagement pause does not cover it
    rec = record(
        ledger=[led(1, 1000)],
        audit=[_attempt(1, 999, "j-1"), aud(2, 1001, job="j-1", resource="r1")],
        workload=[intent("j-1")],
        jobs=[job("j-1")],
        control_changes=[change(1, 600, "queue_paused", True, job_class="engagement")],
    )
    assert verdict("no_side_effects_while_paused", rec).verdict == "held"


def test_an_image_generated_while_the_generation_queue_is_paused_is_a_violation():
    # RB-12's "pause non-critical workflows": a paid call of a paused class is spend it stops;
    # j-1 was attempted before the pause (in flight), j-2 after it
    rec = record(
        ledger=[
            led(1, 900, action="image.generated", account="agency-openai", resource=None),
            led(2, 1000, action="image.generated", account="agency-openai", resource=None),
        ],
        audit=[
            {**_attempt(1, 500, "j-1"), "action": "image.generate", "platform": "openai"},
            aud(2, 901, job="j-1", action="image.generate", platform="openai",
                proof={"request_id": "req-1"}),
            {**_attempt(3, 700, "j-2"), "action": "image.generate", "platform": "openai"},
            aud(4, 1001, job="j-2", action="image.generate", platform="openai",
                proof={"request_id": "req-2"}),
        ],
        workload=[intent("j-1", kind="generate_image"), intent("j-2", kind="generate_image")],
        jobs=[job("j-1", kind="generate_image"), job("j-2", kind="generate_image")],
        control_changes=[change(1, 600, "queue_paused", True, job_class="generation")],
    )  # fmt: skip
    r = verdict("no_side_effects_while_paused", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 image generated on agency@openai while the generation queue was paused (since "
        "T+10m00s; job kind generate_image): ids r2"
    )


def _poll(jid: str, made: float, done: float, state: str = "succeeded") -> dict[str, Any]:
    return {
        "id": jid,
        "kind": "engagement_poll",
        "state": state,
        "client_id": None,
        "created_at": T0 + made,
        "updated_at": T0 + done,
    }


def test_an_engagement_poll_that_waits_for_a_publish_pause_to_end_is_a_violation():
    # publish paused 10m-20m: a poll made at 11m that ran only at 20m waited on a class it is
    # not in; one made at 12m that ran at once did not; one made at 18m30s is too close to judge
    pause = [
        change(1, 600, "queue_paused", True, job_class="publish"),
        change(2, 1200, "queue_paused", False, job_class="publish"),
    ]
    rec = record(
        jobs=[_poll("p-1", 660, 1201), _poll("p-2", 720, 721), _poll("p-3", 1110, 1205)],
        control_changes=pause,
    )
    r = verdict("pause_holds_only_its_class", rec)
    assert r.verdict == "violated"
    assert [v.ref for v in r.violations] == ["p-1"]
    assert r.violations[0].phrase.startswith("waited for the publish queue's pause to end")
    # the same wait while engagement itself was paused, or across a restart, is no finding
    own = [*pause, change(3, 650, "queue_paused", True, job_class="engagement")]
    held = record(jobs=[_poll("p-1", 660, 1201)], control_changes=own)
    assert verdict("pause_holds_only_its_class", held).verdict == "not_applicable"
    ran = record(jobs=[_poll("p-1", 660, 661)], control_changes=pause)
    assert verdict("pause_holds_only_its_class", ran).verdict == "held"
    # a poll never finished counts as one that waited
    stuck = record(jobs=[_poll("p-1", 660, 660, state="queued")], control_changes=pause)
    assert verdict("pause_holds_only_its_class", stuck).verdict == "violated"
    # only the engagement queue paused: nothing to judge
    alone = record(
        jobs=[_poll("p-1", 660, 1201)],
        control_changes=[change(1, 600, "queue_paused", True, job_class="engagement")],
    )
    assert verdict("pause_holds_only_its_class", alone).verdict == "not_applicable"


def test_without_a_queue_pause_the_pause_invariant_does_not_apply():
    rec = record(ledger=[led(1, 700)], workload=[intent("j-1")], jobs=[job("j-1")])
    assert verdict("no_side_effects_while_paused", rec).verdict == "not_applicable"


def test_a_job_that_retries_into_an_action_block_or_past_a_recursion_stop_is_a_violation():
    blocked = {**acting(0, 0, 400), "fault_kind": "instagram.action_blocked", "fake": "instagram"}
    again = [blocked, {**acting(1, 300, 201), "fake": "instagram"}]
    rec = record(retry_policy=POLICY, jobs=[tried("j-1", 2)], journal=again)
    r = verdict("retries_within_policy", rec)
    assert r.verdict == "violated"
    assert "sent tweets.create again after instagram blocked the action as spam" in r.detail
    # media Instagram rejected (a container that ended ERROR) is no better in a fresh container
    rejected = {**blocked, "fault_kind": "instagram.container_error"}
    rec = record(retry_policy=POLICY, jobs=[tried("j-1", 2)], journal=[rejected, again[1]])
    r = verdict("retries_within_policy", rec)
    assert r.verdict == "violated"
    assert "after instagram rejected the post's media (its container ended ERROR)" in r.detail
    # a permission the account's owner revoked comes back only when they grant it again
    revoked = {**blocked, "fault_kind": "instagram.scope_revoked", "status": 403}
    rec = record(retry_policy=POLICY, jobs=[tried("j-1", 2)], journal=[revoked, again[1]])
    r = verdict("retries_within_policy", rec)
    assert (
        "after instagram refused the app the permission for it (revoked by the account's owner)"
        in r.detail
    )
    # … a read permission withdrawn (the job's own-posts lookup refused) does not refuse the
    # job's write: posting after it is no retry into the refusal
    read_refused = {**revoked, "method": "GET", "route": "users.tweets"}
    rec = record(retry_policy=POLICY, jobs=[tried("j-1", 2)], journal=[read_refused, again[1]])
    assert verdict("retries_within_policy", rec).verdict == "held"
    # stopping there holds (a lookup after it is no retry of the action)
    stopped = [blocked, {**acting(1, 5, 200, method="GET"), "fake": "instagram"}]
    rec = record(retry_policy=POLICY, jobs=[tried("j-1", 1, "failed")], journal=stopped)
    assert verdict("retries_within_policy", rec).verdict == "held"
    stop = "recursion_stop: episode 'ep-1' reached tool-call round 9, above the cap of 8"
    retried = {**tried("j-2", 4, "dead_letter"), "last_error": stop}
    r = verdict("retries_within_policy", record(retry_policy=POLICY, jobs=[retried]))
    assert r.verdict == "violated"
    assert (
        "retried after a tool-call recursion stop (ended dead_letter after 4 attempts" in r.detail
    )
    final = {**tried("j-2", 1, "failed"), "last_error": stop}
    assert verdict("retries_within_policy", record(retry_policy=POLICY, jobs=[final])).verdict == (
        "held"
    )


def test_a_failed_lookup_of_the_jobs_own_trace_counts_as_a_retry_of_it():
    # an ambiguous post retried by looking first: POST 503, GET 503, GET 503, POST 201, each a
    # run; with the outage window stated the three are outage retries needing 2 + 4 + 8 s
    trace = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"

    def req(n: int, at: float, status: int, method: str) -> dict[str, Any]:
        row = {**acting(n, at, status, method=method), "traceparent": trace}
        if method == "GET":
            row["idempotency_key"] = None
        return row

    fast = [
        req(0, 0, 503, "POST"),
        req(1, 1, 503, "GET"),
        req(2, 3, 503, "GET"),
        req(3, 6, 201, "POST"),
    ]
    rec = record(retry_policy=WINDOWED, jobs=[tried("j-1", 1)], journal=fast)
    r = verdict("retries_within_policy", rec)
    assert r.verdict == "violated"
    assert "retried 3 failed requests in 6.0s, faster than the back-off allows" in r.detail
    slow = [
        req(0, 0, 503, "POST"),
        req(1, 2, 503, "GET"),
        req(2, 6, 503, "GET"),
        req(3, 14, 201, "POST"),
    ]
    rec = record(retry_policy=WINDOWED, jobs=[tried("j-1", 1)], journal=slow)
    assert verdict("retries_within_policy", rec).verdict == "held"


def test_an_attempt_a_restart_cut_short_is_not_counted_open_one_after_it_is():
    # j-1's attempt was in flight when the platform restarted at T+20m: its job ran again and
    # closed the new attempt; j-2's attempt after the restart was never closed
    cut = {**aud(1, 1100, job="j-1", resource="r1"), "phase": "attempt", "outcome": None}
    again = {**aud(2, 1250, job="j-1", resource="r1"), "phase": "attempt", "outcome": None}
    done = {**aud(3, 1300, job="j-1", resource="r1"), "outcome": "failed"}
    after = {**aud(4, 1400, job="j-2", resource="r2"), "phase": "attempt", "outcome": None}
    rec = record(audit=[cut, again, done, after], timeline=_restarted({}, {}))
    r = verdict("every_side_effect_audited", rec)
    assert r.verdict == "violated" and r.count == 1
    assert "job j-2" in r.detail and "job j-1" not in r.detail
    without_restart = record(audit=[cut, again, done, after])
    assert verdict("every_side_effect_audited", without_restart).count == 2


def test_a_job_a_guard_refused_and_run_again_on_its_own_is_a_violation():
    def blocked(n: int, at: float, job: str, error: str) -> dict[str, Any]:
        return {**aud(n, at, job=job, outcome="blocked"), "proof": None, "error": error}

    def attempt(n: int, at: float, job: str) -> dict[str, Any]:
        return {**aud(n, at, job=job), "phase": "attempt", "outcome": None}

    tenancy = "tenancy: the X token for 'northwind-x' acts as another user"
    audit = [
        blocked(1, 60, "j-1", tenancy),
        blocked(2, 600, "j-1", tenancy),  # re-run when a kill switch was released
        attempt(3, 70, "j-2"),
        blocked(4, 71, "j-2", "egress refused: http://169.254.169.254:80 is not in the settings"),
        {**aud(5, 71, job="j-2"), "error": "content unavailable"},  # closes j-2's attempt
        blocked(6, 80, "j-3", "kill_switch: engaged for acme"),  # not a guard: runs on release
        attempt(7, 900, "j-3"),
    ]
    r = verdict("guard_refusals_stay_refused", record(audit=audit))
    assert r.verdict == "violated" and r.count == 1
    assert "run again after the tenancy guard refused it at T+1m00s" in r.detail
    assert "j-1" in r.detail and "j-2" not in r.detail and "j-3" not in r.detail
    assert verdict("guard_refusals_stay_refused", record(audit=audit[2:])).verdict == "held"


def test_a_poll_that_starts_more_engagement_jobs_than_the_brake_is_a_violation():
    def job(n: int, at: float, kind: str) -> dict[str, Any]:
        return {"id": f"j-{n}", "kind": kind, "state": "succeeded", "created_at": T0 + at}

    polls = [job(i, at, "engagement_poll") for i, at in enumerate((0, 30, 60))]
    replies = [job(100 + i, 30, "reply" if i % 2 else "dm") for i in range(5)]  # the 2nd poll
    replies += [job(200 + i, 1, "like") for i in range(3)]  # the 1st poll
    replies += [job(300, 45, "publish")]  # not engagement work
    rec = record(jobs=polls + replies)
    r = evaluate({"name": "engagement_polls_braked", "params": {"max_replies_per_poll": 4}}, rec)
    assert r.verdict == "violated" and r.count == 1
    assert "started 5 engagement jobs (brake 4)" in r.detail and "T+30s" in r.detail
    braked = {"name": "engagement_polls_braked", "params": {"max_replies_per_poll": 5}}
    assert evaluate(braked, rec).verdict == "held"
    assert evaluate("engagement_polls_braked", record(jobs=replies)).verdict == "not_applicable"


# --- operator_calls_answered ------------------------------------------------------------------


def test_an_operator_call_the_platform_left_unanswered_is_a_violation():
    tl = Timeline()
    tl.append(T0, "drill.started", "drill", "drill started")
    tl.append(
        T0 + 600,
        "operator.step",
        "operator",
        "operator: kill_switch.engage",
        {"index": 0, "action": "kill_switch.engage", "params": {}, "result": {}},
    )
    rec = record(timeline=tl)
    r = verdict("operator_calls_answered", rec)
    assert r.verdict == "held" and r.count == 0
    tl.append(
        T0 + 900 + 900,
        "operator.unanswered",
        "operator",
        "operator: canary.run client_id=acme, platform=x: the platform gave no answer to "
        "canary.run within 15 minutes",
        {"index": 1, "action": "canary.run", "params": {}, "at": 900.0},
    )
    r = verdict("operator_calls_answered", record(timeline=tl))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 operator call went unanswered: canary.run client_id=acme, platform=x: the platform "
        "gave no answer to canary.run within 15 minutes: ids canary.run at T+15m00s"
    )
    assert verdict("operator_calls_answered", record()).verdict == "not_applicable"


def test_an_operator_call_answered_later_than_its_step_allows_is_a_violation():
    def answered(at: float) -> Any:
        tl = Timeline()
        tl.append(T0, "drill.started", "drill", "drill started")
        data = {"index": 0, "action": "canary.run", "params": {}, "result": {},
                "asked_at": T0 + 720, "within_s": 180.0}  # fmt: skip
        tl.append(T0 + at, "operator.step", "operator", "operator: canary.run platform=x", data)
        return verdict("operator_calls_answered", record(timeline=tl))

    assert answered(733).verdict == "held"
    r = answered(1143)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 operator call was answered 7m3s after it was made, where the step needs its answer "
        "within 3m: canary.run platform=x: ids canary.run at T+12m00s"
    )


def test_a_canary_answered_with_an_earlier_canarys_job_is_a_violation():
    # two canaries of one client and platform, at T+26m and T+50m: the second must be a test
    # post made for it, not the first one's job handed back (a key shared by every canary)
    def second_answered_with(job_id: str) -> Any:
        tl = Timeline()
        tl.append(T0, "drill.started", "drill", "drill started")
        for at, jid in ((1560, "j-1"), (3000, job_id)):
            data = {"index": 0, "action": "canary.run", "params": {},
                    "result": {"ok": True, "job_id": jid, "resource_id": "p1"}, "asked_at": T0 + at}  # fmt: skip
            tl.append(T0 + at + 5, "operator.step", "operator", "operator: canary.run x", data)
        jobs = [{**job("j-1", "failed", kind="canary"), "created_at": T0 + 1560},
                {**job("j-2", "succeeded", kind="canary"), "created_at": T0 + 3000}]  # fmt: skip
        return verdict("operator_calls_answered", record(timeline=tl, jobs=jobs))

    assert second_answered_with("j-2").verdict == "held"
    r = second_answered_with("j-1")
    assert r.verdict == "violated"
    assert r.detail == (
        "1 operator call was answered with canary j-1, created at T+26m00s before the call was "
        "made (an earlier canary's result, not a test post of now): canary.run x: ids canary.run "
        "at T+50m00s"
    )


def test_a_canary_answer_that_contradicts_itself_is_a_violation():
    def answered(result: dict[str, Any]) -> Any:
        tl = Timeline()
        tl.append(T0, "drill.started", "drill", "drill started")
        data = {"index": 0, "action": "canary.run", "params": {}, "asked_at": T0 + 600,
                "result": {"job_id": "j-1", **result}}  # fmt: skip
        tl.append(T0 + 610, "operator.step", "operator", "operator: canary.run x", data)
        jobs = [{**job("j-1", "succeeded", kind="canary"), "created_at": T0 + 600}]
        return verdict("operator_calls_answered", record(timeline=tl, jobs=jobs))

    assert answered({"ok": True, "state": "succeeded", "resource_id": "p1"}).verdict == "held"
    assert answered({"ok": False, "state": "blocked", "resource_id": None}).verdict == "held"
    r = answered({"ok": False, "state": "succeeded", "resource_id": None})
    assert r.verdict == "violated"
    assert "was answered not ok though its job succeeded (canary j-1" in r.detail
    r = answered({"ok": True, "state": "succeeded", "resource_id": None})
    assert "was answered ok naming no post" in r.detail


def test_an_operator_call_the_platform_must_refuse_but_took_is_a_violation():
    def step(refused: bool) -> Any:
        tl = Timeline()
        tl.append(T0, "drill.started", "drill", "drill started")
        data = {"index": 0, "action": "kill_switch.engage", "params": {"platform": "twitter"},
                "must_refuse": True, "refused": refused}  # fmt: skip
        tl.append(T0 + 540, "operator.step", "operator",
                  "operator: kill_switch.engage platform=twitter", data)  # fmt: skip
        return verdict("operator_calls_answered", record(timeline=tl))

    assert step(True).verdict == "held"
    r = step(False)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 operator call was accepted though the platform must refuse it (it names nothing the "
        "platform has, so it controls nothing): kill_switch.engage platform=twitter: "
        "ids kill_switch.engage at T+9m00s"
    )


# --- refusals_only_while_a_control_holds ---------------------------------------------------------


def _refused(n: int, at: float, error: str, *, lane: str = "api", **kw: Any) -> dict[str, Any]:
    a = aud(n, at, job=f"j-{n}", outcome="blocked", proof={}, **kw)
    return {**a, "error": error, "lane": lane}


def test_a_refusal_citing_a_control_nobody_holds_any_more_is_a_violation():
    # the browser lane held read-only from 3m to 5m; a switch on acme's X from 10m to 12m
    changes = [
        change(1, 180, "lane_read_only", True, platform="x", lane="browser"),
        change(2, 300, "lane_read_only", False, platform="x", lane="browser"),
        change(3, 600, "kill_switch", True, client_id="acme", platform="x"),
        change(4, 720, "kill_switch", False, client_id="acme", platform="x"),
        change(5, 900, "mode", "read_only", client_id="acme"),
    ]
    lane = "x.browser.read_only: the browser lane is read-only (ingest only); post.create refused"
    kill = "kill_switch: post.create for acme on x stopped by the switch {'client_id': 'acme'}"
    mode = "mode:read_only forbids post.create for acme on x"
    held = [
        _refused(1, 200, lane, lane="browser"),
        _refused(2, 300, lane, lane="browser"),  # at the release itself: either way
        _refused(3, 650, kill),
        _refused(4, 1000, mode),
    ]
    r = verdict("refusals_only_while_a_control_holds", record(control_changes=changes, audit=held))
    assert r.verdict == "held", r.detail
    after = [
        _refused(5, 330, lane, lane="browser"),  # the lane kept refusing past its release
        _refused(6, 650, kill, client="globex", account="globex-x"),  # another client's post
        _refused(7, 800, kill),  # after the release
        _refused(8, 850, mode),  # before the mode was set
        _refused(9, 400, "lane:read_only: the api lane on x is read-only (ingest only)"),
    ]
    r = verdict(
        "refusals_only_while_a_control_holds", record(control_changes=changes, audit=held + after)
    )
    assert r.verdict == "violated"
    assert sorted(v.ref.split(" ")[0] for v in r.violations) == [
        "ae-000005", "ae-000006", "ae-000007", "ae-000008", "ae-000009",
    ]  # fmt: skip
    assert "cited the read-only browser lane although none held it then" in r.violations[0].phrase
    # refusals of other kinds (a budget, a guard) are not this invariant's
    other = [_refused(1, 10, "budget: client budget of 'acme' exhausted")]
    assert verdict("refusals_only_while_a_control_holds", record(audit=other)).verdict == (
        "not_applicable"
    )
