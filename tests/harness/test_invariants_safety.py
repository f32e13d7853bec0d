"""The safety invariants (kill switch, intended account, tenants' credentials, audit, duplicates),
each shown to fail on a hand-built record and to hold on a healthy one."""

from __future__ import annotations

from typing import Any

from _recordkit import T0, aud, intent, kill, led, record

from harness.judge.invariants import evaluate
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


def test_a_paid_call_under_a_generate_switch_is_a_violation_unless_it_arrived_before():
    # a slow completion that reached the provider before the switch is in flight, however late
    # it is answered; one that arrived after the switch spent money the switch was to stop
    def call(n: int, answered: float, arrived: float) -> tuple[dict, dict]:
        row = led(n, answered, action="llm.completion", account="agency-openai", resource=None)
        seen = {
            "t": row["t"],
            "started": row["t"] - (answered - arrived),
            "fake": "openai",
            "request_id": row["request_id"],
            "account_id": "agency-openai",
            "status": 200,
        }
        return row, seen

    (l1, j1), (l2, j2) = call(1, 1240, 1200), call(2, 1260, 1230)
    rec = record(
        ledger=[l1, l2],
        journal=[j1, j2],
        control_changes=[kill(1, 1205, True, action="generate"), kill(2, 1500, False, action="generate")],
    )  # fmt: skip
    r = judge("no_side_effects_while_killed", rec)
    assert r.verdict == "violated" and r.count == 1
    assert "after the kill switch for action=generate engaged at T+20m05s: ids r2" in r.detail


def test_a_write_sent_under_a_switch_that_left_no_side_effect_is_a_violation_too():
    # an Instagram container made under the switch (no post in the ledger), a LinkedIn post
    # refused 429 under it: both were sent through a switch the gate should have consulted;
    # an X tweet (a post or a reply) under a switch for replies only is not covered
    def sent(n: int, at: float, fake: str, route: str, status: int) -> dict:
        return {"seq": n, "t": T0 + at + 1, "started": T0 + at, "fake": fake, "method": "POST",
                "route": route, "status": status, "account_id": f"acme-{fake}",
                "request_id": f"q{n}"}  # fmt: skip

    writes = [
        sent(1, 1300, "instagram", "media.create", 200),
        sent(2, 1310, "linkedin", "posts.create", 429),
    ]
    rec = record(journal=writes, control_changes=[kill(1, 1205, True)])
    r = judge("no_side_effects_while_killed", rec)
    assert r.verdict == "violated" and r.count == 2
    assert (
        "(POST media.create, answered 200) after the global kill switch engaged at T+20m05s"
        in r.detail
    )
    assert r.first_violation["evidence"] == "evidence/journal.jsonl#L1"
    before = record(journal=writes, control_changes=[kill(1, 1400, True)])
    assert judge("no_side_effects_while_killed", before).verdict == "held"
    tweet = record(journal=[sent(1, 1300, "x", "tweets.create", 201)],
                   control_changes=[kill(1, 1205, True, action="reply")])  # fmt: skip
    assert judge("no_side_effects_while_killed", tweet).verdict == "held"
    killed = record(
        journal=[sent(1, 1300, "x", "tweets.create", 201)], control_changes=[kill(1, 1205, True)]
    )
    assert judge("no_side_effects_while_killed", killed).verdict == "violated"


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


def test_refusals_the_platform_counts_must_each_have_their_audit_event():
    # a job refused by a kill switch at the gate's second look (after pacing) and released later
    # leaves no other trace: the platform's own count of refusals must match its audit log
    def refused(n: int, error: str) -> dict[str, Any]:
        return {**aud(n, 60 + n, job=f"j-{n}", outcome="blocked"), "error": error, "proof": {}}

    audit = [refused(1, "kill_switch: post.create stopped"), refused(2, "lane:read_only: refused")]
    counted = {
        'side_effects_blocked_total{reason="kill_switch"}': 2.0,
        'side_effects_blocked_total{reason="mode:read_only"}': 1.0,
    }
    r = judge(
        "every_side_effect_audited", record(audit=audit, metrics_samples=[(T0 + 300, counted)])
    )
    assert r.verdict == "violated"
    assert (
        "counted kill_switch (2 in side_effects_blocked_total) but audited only 1 times" in r.detail
    )
    assert "mode:read_only" not in r.detail
    audit.append(refused(3, "kill_switch: reply.create stopped"))
    got = judge(
        "every_side_effect_audited", record(audit=audit, metrics_samples=[(T0 + 300, counted)])
    )
    assert got.verdict != "violated"


def test_holds_waiting_for_a_person_counted_as_refusals_and_budget_stops_counted_twice_are_named():
    def refused(n: int, error: str) -> dict[str, Any]:
        return {**aud(n, 60 + n, job=f"j-{n}", outcome="blocked"), "error": error, "proof": {}}

    audit = [refused(1, "budget: episode ep-1 would exceed its 6000 tokens")]
    ok = {'side_effects_blocked_total{reason="budget"}': 1.0}
    rec = record(audit=audit, metrics_samples=[(T0 + 300, ok)])
    assert judge("every_side_effect_audited", rec).verdict != "violated"
    twice = {'side_effects_blocked_total{reason="budget"}': 2.0}
    r = judge("every_side_effect_audited", record(audit=audit, metrics_samples=[(T0 + 300, twice)]))
    assert r.verdict == "violated"
    assert "counted budget (2 in side_effects_blocked_total) but audited only 1 times" in r.detail
    held = {
        'side_effects_blocked_total{reason="approval"}': 3.0,
        'side_effects_blocked_total{reason="mode:manual_only"}': 2.0,
    }
    r = judge("every_side_effect_audited", record(metrics_samples=[(T0 + 300, held)]))
    assert r.verdict == "violated"
    assert "counted 3 jobs held for approval in side_effects_blocked_total" in r.detail
    assert "counted 2 jobs held for mode:manual_only" in r.detail


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
            {
                **aud(3, 69, job="j-2", action="llm.complete", platform="openai", proof={}),
                "phase": "attempt",
                "outcome": None,
            },
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


def test_a_dm_claimed_by_its_request_but_audited_as_a_reply_violates_the_audit_invariant():
    # a lane that enters the wrong side-effect scope: the DM was gated and capped as a reply
    rec = record(
        ledger=[led(1, 60, action="dm.sent")],
        audit=[
            aud(
                1,
                61,
                job="j-1",
                action="reply.create",
                resource="r1",
                proof={"request_id": "req-1", "resource_id": "r1"},
            )
        ],
    )
    r = judge("every_side_effect_audited", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 DM sent on @acme_x audited as reply.create "
        "(a dm.send must be gated and audited as one): ids r1"
    )


# --- audit_proofs_match_the_fakes ---------------------------------------------------------


def _journaled(rid: str, fake: str = "x", account: str | None = "acme-x") -> dict[str, object]:
    return {"t": 0.0, "fake": fake, "request_id": rid, "account_id": account, "status": 200}


def test_a_paid_call_audited_at_another_cost_or_token_count_than_billed_is_a_violation():
    # the platform's own account of spend (budgets, the spend alert, RB-12's evidence)
    billed = {
        **led(2, 70, action="llm.completion", account="agency-openai", resource=None),
        "cost_usd": 0.0002,
        "tokens_in": 12,
        "tokens_out": 50,
    }

    def audited(cost: float, tokens_out: int) -> dict[str, object]:
        return {
            **aud(2, 71, job="j-2", action="llm.complete", platform="openai",
                  account="agency-openai", proof={"request_id": "req-2"}),
            "detail": {"cost_usd": cost, "tokens_in": 12, "tokens_out": tokens_out},
        }  # fmt: skip

    journal = [_journaled("req-2", "openai", "agency-openai")]
    rec = record(ledger=[billed], journal=journal, audit=[audited(0.0032, 0)])
    r = judge("audit_proofs_match_the_fakes", rec)
    assert r.verdict == "violated"
    assert "naming a cost the provider did not bill" in r.detail
    assert "cost_usd 0.0032, billed 0.0002" in r.detail
    assert "naming tokens the provider did not bill" in r.detail
    rec = record(ledger=[billed], journal=journal, audit=[audited(0.0002, 50)])
    assert judge("audit_proofs_match_the_fakes", rec).verdict == "held"
    # … and the account it was billed to: not a credential reference in its place
    elsewhere = {**audited(0.0002, 50), "account_id": "vault://agency/openai"}
    r = judge(
        "audit_proofs_match_the_fakes", record(ledger=[billed], journal=journal, audit=[elsewhere])
    )
    assert r.verdict == "violated"
    assert "naming another account than the provider billed" in r.detail
    assert "account vault://agency/openai, billed to agency-openai" in r.detail


def test_a_cost_stated_as_an_estimate_holds_at_or_above_the_bill_and_not_below():
    # a model the platform cannot price (``price_known: false``) is counted at its dearest:
    # above the bill keeps budgets safe; below it (priced free, at a guess) lets them overrun
    billed = {
        **led(2, 70, action="llm.completion", account="agency-openai", resource=None),
        "cost_usd": 0.0002,
        "tokens_in": 12,
        "tokens_out": 50,
    }

    def estimated(cost: float) -> dict[str, object]:
        return {
            **aud(2, 71, job="j-2", action="llm.complete", platform="openai",
                  account="agency-openai", proof={"request_id": "req-2"}),
            "detail": {"cost_usd": cost, "tokens_in": 12, "tokens_out": 50, "price_known": False},
        }  # fmt: skip

    journal = [_journaled("req-2", "openai", "agency-openai")]
    for cost in (0.0002, 0.0039):
        rec = record(ledger=[billed], journal=journal, audit=[estimated(cost)])
        assert judge("audit_proofs_match_the_fakes", rec).verdict == "held", cost
    for cost in (0.0, 0.0001):
        r = judge(
            "audit_proofs_match_the_fakes",
            record(ledger=[billed], journal=journal, audit=[estimated(cost)]),
        )
        assert r.verdict == "violated", cost
        assert "naming a cost below the provider's bill for a model it could not price" in r.detail


def test_proofs_naming_the_ledgers_request_resource_and_permalink_hold():
    link = "https://x.com/acme_x/status/r1"
    rec = record(
        ledger=[
            {**led(1, 60), "permalink": link},
            led(2, 70, action="llm.completion", account="agency-openai", resource=None),
        ],
        journal=[_journaled("req-1"), _journaled("req-2", "openai", "agency-openai")],
        audit=[
            aud(1, 61, job="j-1", proof={"resource_id": "r1", "request_id": "req-1",
                                          "permalink": link, "verified": True}),
            aud(2, 71, job="j-2", action="llm.complete", platform="openai",
                account="agency-openai", proof={"request_id": "req-2"}),
        ],
    )  # fmt: skip
    r = judge("audit_proofs_match_the_fakes", rec)
    assert r.verdict == "held", r.detail


def test_a_wrong_permalink_another_request_and_a_phantom_resource_are_each_named():
    link = "https://x.com/acme_x/status/r1"
    rec = record(
        ledger=[{**led(1, 60), "permalink": link}, {**led(2, 62), "permalink": "p2"}],
        journal=[_journaled("req-1"), _journaled("req-2")],
        audit=[
            aud(1, 61, job="j-1", proof={"resource_id": "r1", "request_id": "req-2",
                                          "permalink": "https://x.com/@acme_x/status/r1"}),
            aud(2, 63, job="j-2", proof={"resource_id": "r9", "request_id": None}),
            aud(3, 64, job="j-3", proof={"resource_id": "r2", "verified": True}),
            aud(4, 65, job="j-4", action="tool.call", platform="toolgate", outcome="failed",
                proof={"request_id": "req-404"}),
        ],
    )  # fmt: skip
    r = judge("audit_proofs_match_the_fakes", rec)
    assert r.verdict == "violated"
    assert r.count == 5
    assert {(v.phrase, v.ref) for v in r.violations} == {
        ("naming another request than the one that made the side effect",
         "ae-000001 (post.create on @acme_x: req-2, made by req-1)"),
        ("naming a permalink the platform does not give the resource",
         f"ae-000001 (post.create on @acme_x: https://x.com/@acme_x/status/r1, the platform's: {link})"),
        ("naming a resource the platform never made",
         "ae-000002 (post.create on @acme_x: r9: no post.created)"),
        ("claiming a post live without its permalink", "ae-000003 (post.create on @acme_x: p2)"),
        ("naming a request the platform never answered",
         "ae-000004 (tool.call on toolgate: req-404, answered by no fake)"),
    }  # fmt: skip


def test_a_success_claimed_before_the_provider_made_it_is_named_but_a_check_request_is_not():
    # a render still processing at T+1m01s, claimed as a success then, finished at T+10m
    render = {**led(1, 600, action="video.generated", account="agency-media", fake="media"),
              "resource_id": "rnd_1"}  # fmt: skip
    early = aud(1, 61, job="j-1", action="video.generate", platform="media",
                account="agency-media", proof={"resource_id": "rnd_1", "request_id": "req-1"})  # fmt: skip
    rec = record(ledger=[render], journal=[_journaled("req-1", "media", None)], audit=[early])
    r = judge("audit_proofs_match_the_fakes", rec)
    assert r.verdict == "violated"
    assert [(v.phrase, v.ref) for v in r.violations] == [
        ("claiming a resource before the platform made it",
         "ae-000001 (video.generate on media: rnd_1: made at T+10m00s, claimed at T+1m01s)"),
    ]  # fmt: skip
    # asking a person to confirm a render that may yet finish claims nothing done
    ask = {**early, "outcome": "needs_human_confirm"}
    rec = record(ledger=[render], journal=[_journaled("req-1", "media", None)], audit=[ask])
    assert judge("audit_proofs_match_the_fakes", rec).verdict == "held"


def test_a_post_or_reply_with_a_template_field_left_unfilled_is_named():
    rec = record(
        ledger=[
            led(1, 60),
            {**led(2, 70), "detail": "placeholder"},
            {**led(3, 80, action="reply.created"), "detail": "invisible placeholder"},
            {**led(4, 90, action="llm.completion", account="agency-openai", fake="openai"),
             "detail": "placeholder"},
        ]
    )  # fmt: skip
    r = judge("no_placeholder_published", rec)
    assert r.verdict == "violated"
    assert r.checked == 3
    assert [(v.phrase, v.ref) for v in r.violations] == [
        ("went out with a template placeholder left unfilled (post.created on @acme_x)", "r2"),
        ("went out with a template placeholder left unfilled (reply.created on @acme_x)", "r3"),
    ]
    assert judge("no_placeholder_published", record(ledger=[led(1, 60)])).verdict == "held"
    assert judge("no_placeholder_published", record(ledger=[])).verdict == "not_applicable"


def test_a_reply_addressing_its_reader_by_a_platform_id_is_named():
    # an author with no handle (a LinkedIn member, an X DM's sender) named by the id instead
    rec = record(
        ledger=[led(1, 60), {**led(2, 70, action="reply.created"), "detail": "id_as_handle"}]
    )
    r = judge("no_placeholder_published", rec)
    assert r.verdict == "violated"
    assert [(v.phrase, v.ref) for v in r.violations] == [
        ("went out addressing a platform's id as if it were a person's handle "
         "(reply.created on @acme_x)", "r2"),
    ]  # fmt: skip


def test_an_instagram_post_with_other_media_than_its_job_asked_for_is_named():
    from fakes.core.ledger import content_hash

    asked = "https://cdn.vibedrill.test/acme/000001.jpg"
    row = {
        "job_id": "j-1",
        "kind": "publish",
        "client_id": "acme",
        "media_hash": content_hash(asked),
    }

    def posted(url: str) -> Any:
        entry = {**led(1, 60), "detail": f"container=c1 media={content_hash(url)}"}
        rec = record(ledger=[entry], audit=[aud(1, 61, job="j-1", resource="r1")], workload=[row])
        return judge("no_placeholder_published", rec)

    assert posted(asked).verdict == "held"
    r = posted("https://cdn.vibedrill.test/img/placeholder.jpg")
    assert r.verdict == "violated"
    assert r.violations[0].phrase == (
        "went out with other media than its job asked for (post.created on @acme_x: a stand-in "
        "or another post's)"
    )


def test_a_job_event_without_its_trace_id_is_named():
    ok = aud(1, 60, job="j-1", proof={})
    bare = {**aud(2, 61, job="j-1", action="tool.call", platform="toolgate", proof={}),
            "trace_id": ""}  # fmt: skip
    r = judge("every_side_effect_audited", record(audit=[{**ok, "phase": "attempt"}, bare]))
    assert ("audited without its trace id (tool.call outcome)", "j-1") in {
        (v.phrase, v.ref) for v in r.violations
    }


def test_replies_and_dms_name_the_inbound_item_they_answer():
    def reply(n: int, inbound_id: str | None, action: str = "reply.create") -> dict:
        a = aud(n, 60 + n, job=f"j-{n}", action=action, proof={"resource_id": f"r{n}"})
        a["detail"] = {} if inbound_id is None else {"inbound_id": inbound_id}
        return a

    urn = "urn:li:comment:(urn:li:share:7,42)"
    rec = record(
        ledger=[
            led(1, 60, action="reply.created", in_reply_to="c1"),
            led(2, 61, action="reply.created", in_reply_to="c1"),
            led(3, 62, action="reply.created", in_reply_to="c2"),
            led(4, 63, action="reply.created", in_reply_to="42"),
            led(5, 64, action="dm.sent"),
            led(6, 65, action="dm.sent"),
        ],
        inbound=[
            {"id": "c1", "fake": "x", "account_id": "acme-x", "kind": "mention"},
            {"id": "d1", "fake": "x", "account_id": "acme-x", "kind": "dm"},
        ],
        audit=[
            reply(1, "c1"),
            reply(2, None),
            reply(3, "c1"),
            reply(4, urn),
            reply(5, "d1", "dm.send"),
            reply(6, "d9", "dm.send"),
        ],
    )
    r = judge("audit_proofs_match_the_fakes", rec)
    assert r.verdict == "violated"
    assert {(v.phrase, v.ref) for v in r.violations} == {
        ("not naming the inbound item answered",
         "ae-000002 (reply.create on @acme_x: no detail.inbound_id)"),
        ("naming another inbound item than the one answered",
         "ae-000003 (reply.create on @acme_x: c1, answered c2)"),
        ("naming an inbound item the fakes never delivered", "ae-000006 (dm.send on @acme_x: d9)"),
    }  # fmt: skip


def test_without_any_proof_the_proof_invariant_does_not_apply():
    rec = record(ledger=[led(1, 60)], audit=[aud(1, 61, job="j-1", proof={})])
    assert judge("audit_proofs_match_the_fakes", rec).verdict == "not_applicable"


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


def test_a_render_proof_naming_a_replay_is_wrong_once_the_ordering_answer_was_in_hand():
    # the render was ordered by req-1; a submit replayed under its Idempotency-Key (req-2) got
    # it back. The proof names req-2: wrong if req-1 was answered 2xx (the platform had its id),
    # right if req-1's answer was a 502 or a restart lost the memory of it
    made = led(1, 60, action="video.generated", account="agency-media", resource="rnd-1")
    proof = aud(1, 120, job="j-1", action="video.generate", platform="media",
                account="agency-media", resource="rnd-1",
                proof={"resource_id": "rnd-1", "request_id": "req-2"})  # fmt: skip

    def judged(first_status: int, restarts: list[float] = ()) -> Any:
        tl = Timeline()
        for at in restarts:
            tl.append(T0 + at, "platform.restarted", "drill", "restarted", {})
        journal = [
            {**_journaled("req-1", "media", "agency-media"), "status": first_status},
            _journaled("req-2", "media", "agency-media"),
        ]
        rec = record(ledger=[made], journal=journal, audit=[proof], timeline=tl)
        return judge("audit_proofs_match_the_fakes", rec)

    r = judged(201)
    assert r.verdict == "violated"
    assert "naming another request than the one that made the side effect" in r.detail
    assert judged(502).verdict == "held"
    assert judged(201, restarts=[90]).verdict == "held"


# --- tools_as_the_job_allows ---------------------------------------------------------------


def _tool_attempt(n: int, at: float, job: str, tool: str) -> dict[str, Any]:
    a = aud(n, at, job=job, action="tool.call", platform="toolgate", account="agency-toolgate")
    return {**a, "phase": "attempt", "outcome": None, "detail": {"tool": tool}, "proof": {}}


def _draft(job: str, tools: list[str]) -> dict[str, Any]:
    return {**intent(job, kind="generate_text", platform=None, account=None), "tools": tools}


def test_a_tool_its_job_was_not_given_is_a_violation_naming_tool_job_and_what_it_was_given():
    rec = record(
        workload=[_draft("j1", ["kb_search"]), _draft("j2", ["kb_search"])],
        audit=[_tool_attempt(1, 60, "j1", "kb_search"), _tool_attempt(2, 90, "j2", "asset_upload")],
    )
    r = judge("tools_as_the_job_allows", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 tool call ran a tool its job was not given: ids asset_upload for j2 (given: kb_search)"
    )
    assert r.first_violation["evidence"] == "evidence/audit.jsonl#L2"


def test_a_tool_call_job_calls_its_own_tool_and_drafts_their_listed_ones():
    tool_job = {**intent("j3", kind="tool_call", platform=None, account=None), "tool": "kb_search"}
    rec = record(
        workload=[_draft("j1", ["kb_search", "analytics_fetch"]), tool_job],
        audit=[
            _tool_attempt(1, 60, "j1", "analytics_fetch"),
            _tool_attempt(2, 61, "j3", "kb_search"),
        ],
    )
    assert judge("tools_as_the_job_allows", rec).verdict == "held"
    wrong = record(workload=[tool_job], audit=[_tool_attempt(1, 60, "j3", "schedule_lookup")])
    assert judge("tools_as_the_job_allows", wrong).verdict == "violated"


def test_a_draft_given_no_tools_may_call_none_and_without_tool_calls_nothing_is_judged():
    rec = record(workload=[_draft("j1", [])], audit=[_tool_attempt(1, 60, "j1", "kb_search")])
    assert judge("tools_as_the_job_allows", rec).verdict == "violated"
    assert judge("tools_as_the_job_allows", record()).verdict == "not_applicable"


# --- no_web_side_effects_after_a_challenge -------------------------------------------------


def _web(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "channel": "web"}


def _challenge(at: float, fake: str = "x") -> dict[str, Any]:
    return {
        "seq": 1,
        "t": T0 + at,
        "fake": fake,
        "method": "GET",
        "path": f"/{fake}/web/home",
        "route": "web.home",
        "status": 200,
        "fault_kind": "web.captcha",
        "request_id": f"req-c{at:g}",
    }


def test_a_web_side_effect_after_the_challenge_is_a_violation_and_one_before_it_holds():
    rec = record(
        ledger=[_web(led(1, 100)), _web(led(2, 400, action="reply.created"))],
        journal=[_challenge(180)],
    )
    r = judge("no_web_side_effects_after_a_challenge", rec)
    assert r.verdict == "violated"
    assert (
        r.detail == "1 reply sent through x's web UI after it showed a challenge at T+3m00s: ids r2"
    )
    assert r.first_violation["evidence"] == "evidence/ledger.jsonl#L2"
    # the API lane is not the web UI, and another platform's challenge is not this one's
    api = record(ledger=[led(1, 100), led(2, 400)], journal=[_challenge(180)])
    assert judge("no_web_side_effects_after_a_challenge", api).verdict == "held"
    other = record(ledger=[_web(led(2, 400))], journal=[_challenge(180, "linkedin")])
    assert judge("no_web_side_effects_after_a_challenge", other).verdict == "held"


def test_without_a_challenge_nothing_is_judged():
    rec = record(ledger=[_web(led(1, 100))])
    assert judge("no_web_side_effects_after_a_challenge", rec).verdict == "not_applicable"


def test_an_audit_naming_the_api_lane_for_a_post_the_web_ui_made_is_a_wrong_proof():
    post = _web(led(1, 100, resource="r1"))
    journal = [{"seq": 1, "t": T0 + 100, "fake": "x", "request_id": "req-1", "status": 201}]
    for lane, verdict in (("browser", "held"), ("api", "violated")):
        audit = [{**aud(1, 101, job="j1", resource="r1", request_id="req-1"), "lane": lane}]
        rec = record(ledger=[post], audit=audit, journal=journal)
        r = judge("audit_proofs_match_the_fakes", rec)
        assert r.verdict == verdict, r.detail
    assert "naming the api lane for a side effect the browser lane made" in r.detail
