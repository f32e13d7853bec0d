"""Every invariant shown to fail on a hand-built record, and to hold on a healthy one."""

from __future__ import annotations

import pytest
from _recordkit import SECRET, T0, aud, intent, kill, led, record

from harness.judge.invariants import REGISTRY, InvariantError, catalogue, evaluate, invariant
from harness.judge.timeline import Timeline


def judge(name: str, rec, **spec):
    return evaluate({"name": name, **spec}, rec)


# --- no_side_effects_while_killed ----------------------------------------------------------


def test_posts_after_the_global_kill_switch_are_a_violation_naming_account_time_and_ids():
    rec = record(
        ledger=[led(1, 100), led(2, 1211), led(3, 1300), led(4, 1400)],
        control_changes=[kill(1, 1205, True)],
    )
    r = judge("no_side_effects_while_killed", rec)
    assert r.verdict == "violated"
    assert (
        r.detail
        == "3 posts published on @acme_x after the global kill switch engaged at T+20m05s: ids r2, r3, r4"
    )
    assert r.first_violation["evidence"] == "evidence/ledger.jsonl#L2"
    assert r.first_violation["offset"] == "T+20m11s"


def test_in_flight_posts_within_the_grace_and_posts_after_release_hold():
    rec = record(
        ledger=[led(1, 1206), led(2, 2000)],
        control_changes=[kill(1, 1205, True), kill(2, 1500, False)],
    )
    r = judge("no_side_effects_while_killed", rec)
    assert r.verdict == "held", r.detail


def test_a_kill_switch_for_another_client_does_not_cover_a_post():
    rec = record(
        ledger=[led(1, 1300)], control_changes=[kill(1, 1205, True, client_id="northwind")]
    )
    assert judge("no_side_effects_while_killed", rec).verdict == "held"


def test_without_any_kill_switch_the_kill_switch_invariant_does_not_apply():
    r = judge("no_side_effects_while_killed", record(ledger=[led(1, 10)]))
    assert r.verdict == "not_applicable"
    assert "no kill switch" in r.detail


# --- every_side_effect_on_intended_account ------------------------------------------------


def test_a_post_on_another_tenants_account_violates_the_intended_account():
    rec = record(
        ledger=[led(1, 60, account="northwind-x")],
        audit=[aud(1, 61, job="j-1", resource="r1")],
        workload=[intent("j-1")],
    )
    r = judge("every_side_effect_on_intended_account", rec)
    assert r.verdict == "violated"
    assert r.detail == "1 post for Acme Bakery published on @northwind_x instead of @acme_x: ids r1"


def test_a_misrouted_job_that_lands_where_it_named_still_violates_the_tenant():
    rec = record(
        ledger=[led(1, 60, account="northwind-x")],
        audit=[aud(1, 61, job="j-1", resource="r1", account="northwind-x")],
        workload=[intent("j-1", account="northwind-x")],
    )
    r = judge("every_side_effect_on_intended_account", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 post for Acme Bakery published on @northwind_x, an account of Northwind Tools: ids r1"
    )


def test_posts_on_their_intended_accounts_hold_and_content_hash_links_unaudited_posts():
    rec = record(
        ledger=[led(1, 60), led(2, 70, content="hc")],
        audit=[aud(1, 61, job="j-1", resource="r1")],
        workload=[intent("j-1"), intent("j-2", content="hc")],
    )
    r = judge("every_side_effect_on_intended_account", rec)
    assert r.verdict == "held"
    assert r.checked == 2


# --- no_credential_across_tenants --------------------------------------------------------


def test_a_credential_of_another_tenant_is_a_violation_naming_both_tenants():
    rec = record(
        ledger=[led(1, 60, account="northwind-x", fp="fp_north")],
        audit=[aud(1, 61, job="j-1", resource="r1")],
        workload=[intent("j-1")],
    )
    r = judge("no_credential_across_tenants", rec)
    assert r.verdict == "violated"
    assert (
        r.detail
        == "1 post for Acme Bakery published with a credential of Northwind Tools (fp_north): ids r1"
    )


def test_own_credentials_and_shared_agency_provider_keys_hold():
    rec = record(
        ledger=[
            led(1, 60),
            led(2, 70, action="llm.completion", account="agency-openai", resource=""),
        ],
        audit=[
            aud(1, 61, job="j-1", resource="r1"),
            aud(
                2,
                71,
                job="j-2",
                action="llm.complete",
                platform="openai",
                request_id="req-2",
                proof={"request_id": "req-2"},
            ),
        ],
        workload=[intent("j-1"), intent("j-2", kind="generate_text", platform="openai")],
    )
    r = judge("no_credential_across_tenants", rec)
    assert r.verdict == "held"
    assert r.checked == 1


# --- every_side_effect_audited -----------------------------------------------------------


def test_a_side_effect_without_audit_and_one_audited_twice_are_both_named():
    rec = record(
        ledger=[led(1, 60), led(2, 70), led(3, 80)],
        audit=[
            aud(1, 61, job="j-1", resource="r1"),
            aud(2, 71, job="j-2", resource="r2"),
            aud(3, 72, job="j-2b", resource="r2"),
        ],
    )
    r = judge("every_side_effect_audited", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 post published on @acme_x claimed by 2 AuditEvents: ids r2; "
        "1 post published on @acme_x with no AuditEvent claiming it: ids r3"
    )


def test_a_post_marked_needs_human_confirm_with_its_proof_is_audited_and_a_failed_one_is_not():
    rec = record(
        ledger=[led(1, 60), led(2, 70)],
        audit=[
            aud(1, 61, job="j-1", resource="r1", outcome="needs_human_confirm", verified=False),
            aud(2, 71, job="j-2", resource="r2", outcome="failed", verified=False),
        ],
    )
    r = judge("every_side_effect_audited", rec)
    assert r.verdict == "violated"
    assert r.detail == "1 post published on @acme_x with no AuditEvent claiming it: ids r2"


def test_a_success_audit_without_proof_violates_the_audit_invariant():
    rec = record(ledger=[], audit=[aud(1, 61, job="j-1", proof={})])
    r = judge("every_side_effect_audited", rec)
    assert r.verdict == "violated"
    assert (
        r.detail
        == "1 AuditEvent with outcome success but no proof (post.create on x): ids ae-000001"
    )


def test_every_side_effect_with_one_claim_holds_including_providers_by_request_id():
    rec = record(
        ledger=[
            led(1, 60),
            led(2, 70, action="llm.completion", account="agency-openai", resource=None),
        ],
        audit=[
            aud(1, 61, job="j-1", resource="r1"),
            aud(
                2,
                71,
                job="j-2",
                action="llm.complete",
                platform="openai",
                proof={"request_id": "req-2"},
            ),
        ],
    )
    assert judge("every_side_effect_audited", rec).verdict == "held"


# --- no_duplicate_side_effects -----------------------------------------------------------


def test_the_same_content_twice_on_one_account_is_a_duplicate():
    rec = record(ledger=[led(1, 60, content="same"), led(2, 90, content="same")])
    r = judge("no_duplicate_side_effects", rec)
    assert r.verdict == "violated"
    assert r.detail == "1 post published twice on @acme_x with the same content: ids r2 (first r1)"


def test_two_replies_to_one_comment_and_a_reused_idempotency_key_are_duplicates():
    rec = record(
        ledger=[
            led(1, 60, action="reply.created", in_reply_to="c1"),
            led(2, 61, action="reply.created", in_reply_to="c1"),
            led(3, 70),
            led(4, 80),
        ],
        audit=[
            aud(3, 71, job="j-3", resource="r3", key="K"),
            aud(4, 81, job="j-4", resource="r4", key="K"),
        ],
    )
    r = judge("no_duplicate_side_effects", rec)
    assert r.verdict == "violated"
    assert "1 reply sent twice on @acme_x to the same target: ids r2 (target c1)" in r.detail
    assert "1 post published twice on @acme_x under one idempotency key: ids r4 (key K)" in r.detail


def test_distinct_posts_and_repeats_outside_the_window_hold():
    rec = record(ledger=[led(1, 60, content="same"), led(2, 600, content="same"), led(3, 700)])
    assert judge("no_duplicate_side_effects", rec, params={"window_s": 300}).verdict == "held"


# --- rate_within_platform_limits --------------------------------------------------------


def jr(
    n: int, at: float, status: int = 200, fault: str | None = None, route: str = "tweets.create"
) -> dict:
    return {
        "seq": n,
        "t": T0 + at,
        "fake": "x",
        "method": "POST",
        "path": "/2/tweets",
        "route": route,
        "status": status,
        "account_id": "acme-x",
        "request_id": f"q{n}",
        "retry_count": None,
        "idempotency_key": None,
        "fault_id": fault,
        "fault_kind": "x.rate_limited" if fault else None,
        "user_agent": None,
    }


RULES = [{"id": "f1", "kind": "x.rate_limited", "params": {"retry_after_s": 60.0}, "hits": 1}]


def test_a_request_before_retry_after_elapsed_violates_the_rate_limit_invariant():
    rec = record(journal=[jr(1, 100, 429, "f1"), jr(2, 110), jr(3, 170)], fault_rules=RULES)
    r = judge("rate_within_platform_limits", rec)
    assert r.verdict == "violated"
    assert (
        r.detail
        == "1 request sent to x tweets.create for @acme_x before Retry-After elapsed: ids q2 at T+1m50s (429 at T+1m40s)"
    )


def test_requests_beyond_a_configured_budget_per_window_are_violations():
    rec = record(journal=[jr(i, i) for i in range(1, 5)])
    r = judge(
        "rate_within_platform_limits",
        rec,
        params={"limits": {"x": {"requests": 3, "window_s": 60}}},
    )
    assert r.verdict == "violated"
    assert r.detail == "1 request sent to x for @acme_x beyond 3 per 60s: ids q4"


def test_waiting_out_retry_after_and_other_routes_hold():
    rec = record(
        journal=[jr(1, 100, 429, "f1"), jr(2, 110, route="tweets.lookup"), jr(3, 161)],
        fault_rules=RULES,
    )
    assert judge("rate_within_platform_limits", rec).verdict == "held"


def test_the_fakes_own_hold_after_a_throttle_does_not_start_a_longer_one():
    # served runs: a request already on the wire meets the fake's hold (a 429 with no rule of
    # its own); the hold is the throttle's 3 s, not a default minute
    rules = [{"id": "f1", "kind": "x.rate_limited", "params": {"retry_after_s": 3.0}, "hits": 1}]
    rec = record(journal=[jr(1, 100, 429, "f1"), jr(2, 100.1, 429), jr(3, 104)], fault_rules=rules)
    r = judge("rate_within_platform_limits", rec, params={"in_flight_s": 0.25})
    assert r.verdict == "held", r.detail


# --- engagement_loops_bounded -----------------------------------------------------------


def test_replies_beyond_the_thread_cap_and_to_own_replies_are_loop_violations():
    inbound = [{"id": f"c{i}", "post_id": "p1", "account_id": "acme-x"} for i in range(5)]
    ledger = [
        led(i + 1, 60 + i, action="reply.created", in_reply_to=f"c{i}", resource=f"rep{i}")
        for i in range(5)
    ]
    ledger.append(led(6, 100, action="reply.created", in_reply_to="rep0", resource="rep5"))
    r = judge("engagement_loops_bounded", record(ledger=ledger, inbound=inbound))
    assert r.verdict == "violated"
    assert r.detail == (
        "2 replies sent on @acme_x in thread p1 beyond the cap of 3: ids rep3, rep4; "
        "1 reply sent on @acme_x in reply to its own reply: ids rep5"
    )


def test_replies_within_the_cap_hold():
    ledger = [led(i + 1, 60 + i, action="reply.created", in_reply_to=f"c{i}") for i in range(3)]
    assert judge("engagement_loops_bounded", record(ledger=ledger)).verdict == "held"


# --- spend_within_budget ----------------------------------------------------------------


def llm(n: int, at: float, cost: float) -> dict:
    return led(n, at, action="llm.completion", account="agency-openai", resource=None, cost=cost)


def llm_audit(n: int, at: float, job: str) -> dict:
    return aud(
        n, at, job=job, action="llm.complete", platform="openai", proof={"request_id": f"req-{n}"}
    )


def test_calls_after_a_clients_budget_is_used_up_violate_the_budget():
    rec = record(
        ledger=[llm(1, 10, 3.0), llm(2, 20, 3.0), llm(3, 30, 3.0)],
        audit=[llm_audit(1, 11, "j"), llm_audit(2, 21, "j"), llm_audit(3, 31, "j")],
        workload=[intent("j", kind="generate_text", platform="openai")],
        budgets={"client_usd": {"acme": 5.0}},
    )
    r = judge("spend_within_budget", rec)
    assert r.verdict == "violated"
    assert (
        r.detail
        == "1 call made for Acme Bakery after its $5 budget was used up: ids req-3 (6 usd spent before it)"
    )


def test_the_one_call_that_crosses_the_budget_is_allowed():
    rec = record(
        ledger=[llm(1, 10, 3.0), llm(2, 20, 3.0)],
        audit=[llm_audit(1, 11, "j"), llm_audit(2, 21, "j")],
        workload=[intent("j", kind="generate_text", platform="openai", episode="e1")],
        control_changes=[
            {
                "seq": 1,
                "t": T0,
                "actor": "drill",
                "reason": "arrange",
                "control": "budget",
                "scope": {},
                "value": {"episode_usd": 5.0},
            }
        ],
    )
    assert judge("spend_within_budget", rec).verdict == "held"


def test_a_call_priced_up_front_may_not_cross_the_budget_a_completion_may():
    def image(n: int, at: float, cost: float) -> dict:
        return led(
            n, at, action="image.generated", account="agency-openai", resource=None, cost=cost
        )

    rec = record(
        ledger=[llm(1, 10, 3.0), image(2, 20, 3.0)],
        audit=[llm_audit(1, 11, "j"), llm_audit(2, 21, "j")],
        workload=[intent("j", kind="generate_text", platform="openai")],
        budgets={"client_usd": {"acme": 5.0}},
    )
    assert judge("spend_within_budget", rec).verdict == "held"
    r = judge("spend_within_budget", rec, params={"priced_up_front": ["image.generated"]})
    assert r.verdict == "violated"
    assert r.detail == (
        "1 call made for Acme Bakery at a known price that takes it over its $5 budget: "
        "ids req-2 (3 + 3 usd)"
    )
    # a completion crossing the budget stays allowed, and a priced call that fits holds
    rec = record(
        ledger=[image(1, 10, 2.0), llm(2, 20, 4.0)],
        audit=[llm_audit(1, 11, "j"), llm_audit(2, 21, "j")],
        workload=[intent("j", kind="generate_text", platform="openai")],
        budgets={"client_usd": {"acme": 5.0}},
    )
    r = judge("spend_within_budget", rec, params={"priced_up_front": ["image.generated"]})
    assert r.verdict == "held", r.detail


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


# --- scope, registry, params -----------------------------------------------------------


def test_after_containment_scope_judges_only_later_violations_against_the_blast_radius():
    rec = record(
        ledger=[
            led(1, 60, account="northwind-x"),
            led(2, 700, account="northwind-x"),
            led(3, 800, account="northwind-x"),
        ],
        audit=[aud(i, 61, job=f"j-{i}", resource=f"r{i}") for i in (1, 2, 3)],
        workload=[intent(f"j-{i}") for i in (1, 2, 3)],
        control_changes=[kill(1, 600, True, platform="instagram")],
    )
    loose = judge(
        "every_side_effect_on_intended_account", rec, scope="after_containment", blast_radius=2
    )
    assert loose.verdict == "held"
    assert loose.detail.startswith(
        "2 violation(s) after containment at T+10m00s within the blast-radius limit of 2"
    )
    tight = judge(
        "every_side_effect_on_intended_account", rec, scope="after_containment", blast_radius=1
    )
    assert tight.verdict == "violated"
    assert tight.detail.endswith("(2 after containment at T+10m00s; blast-radius limit 1)")


def test_an_unknown_invariant_name_suggests_the_closest():
    with pytest.raises(
        InvariantError,
        match="'no_side_effect_while_killed' is not known; did you mean 'no_side_effects_while_killed'",
    ):
        judge("no_side_effect_while_killed", record())


def test_a_misspelt_parameter_names_the_invariant_the_value_and_the_valid_keys():
    with pytest.raises(
        InvariantError,
        match=r"invariant no_side_effects_while_killed: params.grace: .*got 3.*valid params: actions, grace_s; did you mean 'grace_s'",
    ):
        judge("no_side_effects_while_killed", record(), params={"grace": 3})


def test_the_registry_refuses_a_duplicate_and_names_both_definitions():
    with pytest.raises(
        InvariantError,
        match=r"defined twice: harness.judge.invariants.safety.no_side_effects_while_killed and",
    ):

        @invariant()
        def no_side_effects_while_killed(record, p):
            """A duplicate."""


def test_every_invariant_has_a_claim_and_the_catalogue_lists_all_twenty():
    names = [c["name"] for c in catalogue()]
    assert len(names) == 20
    assert all(c["claim"] for c in catalogue())
    assert set(names) == set(REGISTRY)
