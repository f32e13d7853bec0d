"""The pacing invariants (platform rate limits, engagement loops, spend budgets), each shown to
fail on a hand-built record and to hold on a healthy one."""

from __future__ import annotations

from typing import Any

from _recordkit import T0, aud, intent, led, record

from harness.judge.invariants import evaluate
from harness.judge.record import DrillRecord


def judge(name: str, rec, **spec):
    return evaluate({"name": name, **spec}, rec)


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


def test_a_503_that_names_retry_after_holds_the_same_job_s_request_until_it_elapsed():
    rules = [{"id": "o1", "kind": "http.outage", "params": {"retry_after_s": 300}, "hits": 1}]

    def row(n: int, at: float, status: int = 201, key: str = "k1") -> dict:
        out = {**jr(n, at, status), "idempotency_key": key}
        if status >= 500:
            out.update(fault_id="o1", fault_kind="http.outage")
        return out

    # the same post again after a minute: too soon; another job's post is not held
    rec = record(journal=[row(1, 100, 503), row(2, 110, key="k2"), row(3, 160)], fault_rules=rules)
    r = judge("rate_within_platform_limits", rec)
    assert r.verdict == "violated"
    assert (
        "again before the Retry-After of its 503 elapsed: ids q3 at T+2m40s (503 at T+1m40s)"
        in r.detail
    )
    rec = record(journal=[row(1, 100, 503), row(2, 110, key="k2"), row(3, 400)], fault_rules=rules)
    r = judge("rate_within_platform_limits", rec)
    assert r.verdict == "held" and "after 1 outage answers that named one too" in r.detail
    # a 503 that names no wait owes none (the platform's own back-off)
    plain = [{**rules[0], "params": {}}]
    rec = record(journal=[row(1, 100, 503), row(3, 160)], fault_rules=plain)
    assert judge("rate_within_platform_limits", rec).verdict == "not_applicable"


def test_a_bare_429_owes_the_default_wait_not_the_hold_it_never_named():
    bare = [{**RULES[0], "params": {"retry_after_s": 300.0, "headers": False}}]
    # the fake holds for 5 minutes but said nothing: asking again after a minute is the most a
    # platform can do (its answer is the fake's own 429 of the same hold)
    rec = record(journal=[jr(1, 100, 429, "f1"), jr(2, 160, 429), jr(3, 400)], fault_rules=bare)
    assert judge("rate_within_platform_limits", rec).verdict == "held"
    # … and sooner than the default wait is still too soon
    rec = record(journal=[jr(1, 100, 429, "f1"), jr(2, 130, 429)], fault_rules=bare)
    assert judge("rate_within_platform_limits", rec).verdict == "violated"


def test_a_request_of_the_same_virtual_instant_as_a_429_is_judged_by_the_audits_order():
    # in virtual time two requests of one instant share a time stamp: the platform's audit
    # says whether the second was sent before the 429 of the first was read (in flight) or after
    def run(second_attempt_seq: int) -> str:
        journal = [jr(1, 100, 429, "f1"), jr(2, 100)]
        journal[0]["idempotency_key"], journal[1]["idempotency_key"] = "k1", "k2"
        attempt = {**aud(1, 100, job="j1", key="k1"), "phase": "attempt", "outcome": None}
        failed = aud(3, 100, job="j1", key="k1", outcome="failed")
        second = {**aud(second_attempt_seq, 100, job="j2", key="k2")}
        second.update(phase="attempt", outcome=None)
        rec = record(journal=journal, fault_rules=RULES, audit=[attempt, second, failed])
        return judge("rate_within_platform_limits", rec).verdict

    assert run(2) == "held"  # attempted before the 429's outcome: it was already in flight
    assert run(4) == "violated"  # attempted after the platform had the 429 in hand
    # a request with no audited attempt (not a side effect) gets no such excuse
    rec = record(journal=[jr(1, 100, 429, "f1"), jr(2, 100)], fault_rules=RULES)
    assert judge("rate_within_platform_limits", rec).verdict == "violated"


def test_a_request_sent_while_a_slow_throttled_request_was_being_answered_is_in_flight():
    # the throttled request arrived at T+100s and was answered a second later (latency): a
    # request of the account that arrived in that second could not have seen the throttle
    def run(second_at: float) -> str:
        throttled = {**jr(5, 101, 429, "f1"), "started": T0 + 100}
        later = {**jr(6, second_at), "started": T0 + second_at}
        rec = record(journal=[throttled, later], fault_rules=RULES)
        return judge("rate_within_platform_limits", rec).verdict

    assert run(100.5) == "held"
    assert run(101.0) == "held"  # at the very instant the answer came back
    assert run(101.5) == "violated"  # after the answer was in: early

    # an instant answer: only the journal's order (it arrived before the 429 was journaled)
    # or the audit's says the request was already on its way
    def instant(after_seq: int | None) -> str:
        throttled = {**jr(5, 100, 429, "f1"), "started": T0 + 100}
        same = {**jr(6, 100), "started": T0 + 100, "after_seq": after_seq}
        rec = record(journal=[throttled, same], fault_rules=RULES)
        return judge("rate_within_platform_limits", rec).verdict

    assert instant(4) == "held"
    assert instant(5) == "violated"
    assert instant(None) == "violated"


def test_a_request_throttled_for_an_accounts_own_hourly_limit_is_a_violation():
    # an instagram.rate_limited rule with calls_per_hour: the usage headers counted up to it,
    # so each request the fake throttles for it (code 80002) is the platform's own doing
    rules = [
        {
            "id": "f2",
            "kind": "instagram.rate_limited",
            "params": {"calls_per_hour": 600, "code": 80002, "retry_after_s": 60.0},
            "hits": 3,
        }
    ]
    ig = [
        {**jr(1, 100), "fake": "instagram", "route": "node.get", "account_id": "acme-instagram"},
        {
            **jr(2, 110, 400, "f2"),
            "fake": "instagram",
            "route": "media.create",
            "account_id": "acme-instagram",
            "fault_kind": "instagram.rate_limited",
        },
    ]
    r = judge("rate_within_platform_limits", record(journal=ig, fault_rules=rules))
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 request sent to instagram for @acme_instagram beyond its own limit of 600 calls an "
        "hour, which the usage headers counted: ids q2 at T+1m50s"
    )
    # the limit in force and never reached: held (not "no 429 was served")
    held = judge("rate_within_platform_limits", record(journal=ig[:1], fault_rules=rules))
    assert held.verdict == "held" and "the accounts' own hourly limits" in held.detail


def test_a_post_beyond_an_x_accounts_24_hour_allowance_is_a_violation_unless_it_was_in_flight():
    # an x.rate_limited rule with posts_per_day: the 201 that took the last post said
    # x-user-limit-24hour-remaining 0, so a post X then refuses is the platform's own doing
    rules = [{"id": "f3", "kind": "x.rate_limited", "params": {"posts_per_day": 12}, "hits": 2}]
    journal = [jr(1, 100, 201), jr(2, 1_000, 429, "f3")]
    r = judge("rate_within_platform_limits", record(journal=journal, fault_rules=rules))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 request sent to x for @acme_x beyond its 24-hour allowance of 12 posts, after "
        "x-user-limit-24hour-remaining had said 0: ids q2 at T+16m40s"
    )
    # sent in the same virtual instant, before the platform had read the 201: in flight
    racing = [jr(1, 100, 201), jr(2, 100, 429, "f3")]
    racing[0]["idempotency_key"], racing[1]["idempotency_key"] = "k1", "k2"
    audit = [
        {**aud(1, 100, job="j1", key="k1"), "phase": "attempt", "outcome": None},
        {**aud(2, 100, job="j2", key="k2"), "phase": "attempt", "outcome": None},
        aud(3, 100, job="j1", key="k1"),
    ]
    rec = record(journal=racing, fault_rules=rules, audit=audit)
    assert judge("rate_within_platform_limits", rec).verdict == "held"
    # served: within in_flight_s of the 201
    late = [jr(1, 100, 201), jr(2, 100.2, 429, "f3")]
    served = judge(
        "rate_within_platform_limits",
        record(journal=late, fault_rules=rules),
        params={"in_flight_s": 0.5},
    )
    assert served.verdict == "held"
    # the allowance in force and never overrun: held
    held = judge("rate_within_platform_limits", record(journal=journal[:1], fault_rules=rules))
    assert held.verdict == "held"


def test_requests_beyond_a_configured_budget_per_window_are_violations():
    rec = record(journal=[jr(i, i) for i in range(1, 5)])
    r = judge(
        "rate_within_platform_limits",
        rec,
        params={"limits": {"x": {"requests": 3, "window_s": 60}}},
    )
    assert r.verdict == "violated"
    assert r.detail == "1 request sent to x for @acme_x beyond 3 per 60s: ids q4"


def test_a_monthly_usage_cap_holds_until_the_month_ends_not_for_a_minute():
    capped = {**jr(1, 60, 429, "f2"), "fault_kind": "x.usage_capped"}
    rules = [{"id": "f2", "kind": "x.usage_capped", "params": {}, "hits": 1}]
    # an hour later, still inside the month: another post sent into the cap
    rec = record(journal=[capped, jr(2, 3660, 429)], fault_rules=rules)
    r = judge("rate_within_platform_limits", rec)
    assert r.verdict == "violated"
    assert "before Retry-After elapsed" in r.detail
    # a rule that ended the cap earlier (its window) ends the hold with it
    ended = [{**rules[0], "end": T0 + 600}]
    rec = record(journal=[capped, jr(2, 3660)], fault_rules=ended)
    assert judge("rate_within_platform_limits", rec).verdict == "held"


def test_a_usage_cap_that_names_no_reset_holds_for_an_hour_at_the_least():
    # the 429 said capped, not until when: a post sent back into it within the hour was not
    # told it could; one an hour and a half later (the platform's guess ran out) is not judged
    capped = {**jr(1, 60, 429, "f2"), "fault_kind": "x.usage_capped"}
    rules = [{"id": "f2", "kind": "x.usage_capped", "params": {"headers": False}, "hits": 1}]
    rec = record(journal=[capped, jr(2, 600, 429)], fault_rules=rules)
    r = judge("rate_within_platform_limits", rec)
    assert r.verdict == "violated"
    assert "before Retry-After elapsed" in r.detail
    rec = record(journal=[capped, jr(2, 5460, 429)], fault_rules=rules)
    assert judge("rate_within_platform_limits", rec).verdict == "held"
    # the floor is a parameter
    rec = record(journal=[capped, jr(2, 600, 429)], fault_rules=rules)
    r = judge("rate_within_platform_limits", rec, params={"unknown_cap_hold_s": 300})
    assert r.verdict == "held"


def test_waiting_out_retry_after_and_other_routes_hold():
    rec = record(
        journal=[jr(1, 100, 429, "f1"), jr(2, 110, route="tweets.lookup"), jr(3, 161)],
        fault_rules=RULES,
    )
    assert judge("rate_within_platform_limits", rec).verdict == "held"


def _quota(n: int, at: float, status: int = 429, fault: str | None = "q1") -> dict:
    return {
        **jr(n, at, status, fault, route="images.generations"),
        "fake": "openai",
        "path": "/v1/images/generations",
        "account_id": "agency-openai",
        "fault_kind": "openai.quota_exhausted" if fault else None,
    }


def test_calls_sent_together_into_a_provider_still_refusing_after_its_hold_are_a_burst():
    # a spent quota refuses every call: after the hold, one call tries again — not all of them
    rules = [{"id": "q1", "kind": "openai.quota_exhausted", "params": {}, "hits": 4}]
    burst = [_quota(1, 100), _quota(2, 900), _quota(3, 900), _quota(4, 900)]
    r = judge("rate_within_platform_limits", record(journal=burst, fault_rules=rules))
    assert r.verdict == "violated"
    assert (
        "1 burst of 3 calls sent to openai at once after it had throttled the agency's key, "
        "all refused (resume with one call first): ids q2 at T+15m00s"
    ) in r.detail
    # one probe refused, then the rest once it was answered: held
    probe = [_quota(1, 100), _quota(2, 900), _quota(3, 1800, 200, None), _quota(4, 1800, 200, None)]
    assert (
        judge("rate_within_platform_limits", record(journal=probe, fault_rules=rules)).verdict
        == "held"
    )
    # a storm with a probability refuses calls at random: calls refused together are not judged
    storm = [{**rules[0], "probability": 0.5}]
    r = judge("rate_within_platform_limits", record(journal=burst, fault_rules=storm))
    assert "burst" not in r.detail


def _ig(n: int, at: float, status: int = 200, fault: str | None = None, code: str | None = None):
    return {
        **jr(n, at, status, fault, route="media.create"),
        "fake": "instagram",
        "account_id": "acme-instagram",
        "fault_kind": "instagram.rate_limited" if fault else None,
        "error": code,
    }


def test_an_instagram_account_resuming_with_every_waiting_request_after_its_hold_is_a_burst():
    # the business-use-case throttle holds the whole account; when the hold ends the throttle
    # is still on: the first request is refused (a fresh fire), the one sent with it too (the
    # hold it started, no fault of its own, only the throttle code)
    rules = [{"id": "t1", "kind": "instagram.rate_limited", "params": {"retry_after_s": 300}}]
    burst = [_ig(1, 600, 400, "t1", "80002"), _ig(2, 900, 400, "t1", "80002"),
             _ig(3, 900, 400, None, "80002")]  # fmt: skip
    r = judge("rate_within_platform_limits", record(journal=burst, fault_rules=rules))
    assert r.verdict == "violated"
    assert (
        "burst of 2 requests sent to instagram for @acme_instagram at once as its throttle's "
        "hold ended, 2 refused (resume with one request first)"
    ) in r.detail
    # the first request alone, refused; or the first answered and the rest with it: held
    alone = [burst[0], burst[1], _ig(3, 1200, 200)]
    passed = [burst[0], _ig(2, 900), _ig(3, 900, 400, "t1", "80002")]
    for journal in (alone, passed):
        got = judge("rate_within_platform_limits", record(journal=journal, fault_rules=rules))
        assert "burst" not in got.detail, journal


def test_the_fakes_own_hold_after_a_throttle_does_not_start_a_longer_one():
    # served runs: a request already on the wire meets the fake's hold (a 429 with no rule of
    # its own); the hold is the throttle's 3 s, not a default minute
    rules = [{"id": "f1", "kind": "x.rate_limited", "params": {"retry_after_s": 3.0}, "hits": 1}]
    rec = record(journal=[jr(1, 100, 429, "f1"), jr(2, 100.1, 429), jr(3, 104)], fault_rules=rules)
    r = judge("rate_within_platform_limits", rec, params={"in_flight_s": 0.25})
    assert r.verdict == "held", r.detail


def test_a_retry_on_time_that_meets_the_fakes_hold_timed_from_its_answer_starts_no_new_one():
    # served on a busy machine: the fake's limiter ran 40 ms after the throttled request
    # arrived, so its 3 s hold ends 40 ms later than Retry-After counted from the arrival; a
    # retry 20 ms after that count meets the fake's hold (a 429 of no rule), and the posts
    # after it are on time. A fresh throttle of the default minute would make them early.
    rules = [{"id": "f1", "kind": "x.rate_limited", "params": {"retry_after_s": 3.0}, "hits": 1}]
    cause = {**jr(1, 100.04, 429, "f1"), "started": T0 + 100}
    retry = {**jr(2, 103.021, 429), "started": T0 + 103.02}
    posts = [{**jr(n, 104 + n), "started": T0 + 104 + n} for n in range(3, 7)]
    rec = record(journal=[cause, retry, *posts], fault_rules=rules, extra={"in_flight_s": 0.25})
    r = judge("rate_within_platform_limits", rec)
    assert r.verdict == "held", r.detail
    # past the latest end the fake's hold could have had, a 429 of no rule is a throttle of its
    # own (the fake's window), of the default minute: the posts right after it are early
    late = {**jr(2, 103.1, 429), "started": T0 + 103.09}
    rec = record(journal=[cause, late, *posts], fault_rules=rules, extra={"in_flight_s": 0.25})
    r = judge("rate_within_platform_limits", rec)
    assert r.verdict == "violated" and "4 requests" in r.detail, r.detail


def test_a_served_drills_clock_skew_widens_the_slack_on_retry_after_and_no_more():
    # served at x240: 20 ms of real disagreement between the platform's clock and the fakes' is
    # 4.8 s of the world's; a request 2 s early is the clocks, one 10 s early is the platform
    rules = [{"id": "f1", "kind": "x.rate_limited", "params": {"retry_after_s": 60.0}, "hits": 1}]
    early = [jr(1, 100, 429, "f1"), jr(2, 158)]
    assert judge(
        "rate_within_platform_limits", record(journal=early, fault_rules=rules)
    ).verdict == ("violated")
    served = record(journal=early, fault_rules=rules, extra={"clock_skew_s": 4.8})
    assert judge("rate_within_platform_limits", served).verdict == "held"
    too_early = record(
        journal=[jr(1, 100, 429, "f1"), jr(2, 150)], fault_rules=rules, extra={"clock_skew_s": 4.8}
    )
    assert judge("rate_within_platform_limits", too_early).verdict == "violated"


def test_retry_after_runs_from_when_the_throttle_arrived_not_from_its_slow_answer():
    # a busy machine answered the 429 8 s of the (scaled) world after it arrived; the fake's
    # reset runs from the arrival, and the platform that waits for it is on time
    slow_429 = {**jr(1, 100, 429, "f1"), "started": T0 + 100, "t": T0 + 108}
    on_time = {**jr(2, 161), "started": T0 + 160.5}
    rec = record(journal=[slow_429, on_time], fault_rules=RULES)
    assert judge("rate_within_platform_limits", rec).verdict == "held"
    # … and a request that *arrived* early is early however late its own answer came
    early = {**jr(2, 175), "started": T0 + 150}
    r = judge("rate_within_platform_limits", record(journal=[slow_429, early], fault_rules=RULES))
    assert r.verdict == "violated"
    assert r.detail.endswith("ids q2 at T+2m30s (429 at T+1m40s)"), r.detail
    # a request that arrived before the 429 did was sent before anyone could see it
    before = {**jr(0, 101), "started": T0 + 99, "seq": 0}
    rec = record(journal=[slow_429, before], fault_rules=RULES)
    assert judge("rate_within_platform_limits", rec).verdict == "held"


# --- engagement_loops_bounded -----------------------------------------------------------


def test_replies_beyond_the_thread_cap_and_to_own_replies_are_loop_violations():
    inbound = [{"id": f"c{i}", "post_id": "p1", "account_id": "acme-x"} for i in range(5)]
    ledger = [
        led(i + 1, 60 + i, action="reply.created", in_reply_to=f"c{i}", resource=f"rep{i}")
        for i in range(5)
    ]
    ledger.append(led(6, 100, action="reply.created", in_reply_to="rep0", resource="rep5"))
    r = judge(
        "engagement_loops_bounded",
        record(ledger=ledger, inbound=inbound),
        params={"cooldown_s": 0},
    )
    assert r.verdict == "violated"
    assert r.detail == (
        "2 replies sent on @acme_x in thread p1 beyond the cap of 3: ids rep3, rep4; "
        "1 reply sent on @acme_x in reply to its own reply: ids rep5"
    )


def test_replies_in_one_thread_closer_than_the_cooldown_are_loop_violations():
    inbound = [{"id": f"c{i}", "post_id": "p1", "account_id": "acme-x"} for i in range(3)]
    ledger = [
        led(1, 60, action="reply.created", in_reply_to="c0", resource="rep0"),
        led(2, 90, action="reply.created", in_reply_to="c1", resource="rep1"),  # 30 s later
        led(3, 200, action="reply.created", in_reply_to="c2", resource="rep2"),  # 110 s later
    ]
    r = judge("engagement_loops_bounded", record(ledger=ledger, inbound=inbound))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 reply sent on @acme_x in thread p1 30s after the one before (cooldown 60s): ids rep1"
    )
    relaxed = judge(
        "engagement_loops_bounded",
        record(ledger=ledger, inbound=inbound),
        params={"cooldown_s": 30},
    )
    assert relaxed.verdict == "held"


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


def test_a_budget_is_judged_by_what_was_billed_when_each_call_arrived():
    # three calls on the wire together (served drills: the platform checked each within budget);
    # the last one answered after the first two used the budget up, but it *started* before
    def arrival(n: int, at: float, answered: float) -> dict:
        return {**jr(n, answered), "fake": "openai", "request_id": f"req-{n}", "started": T0 + at}

    def rec(journal: list[dict]) -> object:
        return record(
            ledger=[llm(1, 10, 3.0), llm(2, 20, 3.0), llm(3, 30, 3.0)],
            audit=[llm_audit(1, 11, "j"), llm_audit(2, 21, "j"), llm_audit(3, 31, "j")],
            workload=[intent("j", kind="generate_text", platform="openai")],
            budgets={"client_usd": {"acme": 5.0}},
            journal=journal,
        )

    lenient = {"in_flight_counted": False}
    together = [arrival(1, 5, 10), arrival(2, 6, 20), arrival(3, 7, 30)]
    assert judge("spend_within_budget", rec(together), params=lenient).verdict == "held"
    # the third sent after the second was billed: $6 spent when it arrived
    late = [arrival(1, 5, 10), arrival(2, 6, 20), arrival(3, 25, 30)]
    r = judge("spend_within_budget", rec(late), params=lenient)
    assert r.verdict == "violated" and "req-3 (6 usd spent before it)" in r.detail
    # sent after the first was billed only: $3 spent, within the $5
    between = [arrival(1, 5, 10), arrival(2, 6, 20), arrival(3, 15, 30)]
    assert judge("spend_within_budget", rec(between), params=lenient).verdict == "held"
    # by default the calls in flight together may not overrun the budget together: the second
    # crosses it (allowed), the third is billed when $6 of $5 already were
    r = judge("spend_within_budget", rec(together))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 call billed for Acme Bakery past its $5 budget with other calls that were in flight "
        "together (what calls in flight may spend was not counted): ids req-3 (6 usd billed "
        "before it)"
    )
    assert judge("spend_within_budget", rec(between)).verdict == "violated"


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


def test_a_clients_own_episode_budget_holds_for_its_episodes_whatever_the_platform_wide_one():
    # Acme has a budget of its own ($1.20 an episode); the platform-wide episode budget is
    # lowered to $0.50 later: a $0.75 render of Acme's fits its own, not the platform-wide one
    def render(n: int, at: float, cost: float) -> dict:
        return led(
            n, at, action="video.generated", account="agency-media", resource=None, cost=cost
        )

    def change(n: int, at: float, scope: dict, value: dict) -> dict:
        return {"seq": n, "t": T0 + at, "actor": "ops", "reason": "r", "control": "budget",
                "scope": scope, "value": value}  # fmt: skip

    own = change(1, 0, {"client_id": "acme"}, {"episode_usd": 1.2, "client_usd": 3.0})
    lowered = change(2, 5, {}, {"episode_usd": 0.5})

    def judged(client: str) -> Any:
        return judge(
            "spend_within_budget",
            record(
                ledger=[render(1, 10, 0.75)],
                audit=[llm_audit(1, 11, "j")],
                workload=[
                    intent(
                        "j", client=client, kind="generate_video", platform="media", episode="ep-1"
                    )
                ],
                control_changes=[own, lowered],
            ),
            params={"priced_up_front": ["video.generated"]},
        )

    assert judged("acme").verdict == "held", judged("acme").detail
    # Globex has no budget of its own: the platform-wide $0.50 holds its episodes
    r = judged("globex")
    assert r.verdict == "violated"
    assert "episode ep-1 at a known price that takes it over its $0.5 budget" in r.detail


def test_a_completion_bounded_up_front_may_not_cross_unless_a_fault_inflated_its_bill():
    # the platform has the prompt and max_tokens in hand: with bounded_up_front the crossing
    # completion is a violation, unless the provider billed past any estimate (token_bloat)
    def rec(fault: str | None, params: dict | None = None) -> DrillRecord:
        row = {"seq": 2, "t": T0 + 20, "started": T0 + 19, "fake": "openai", "fault_id": "b1"}
        rules = [{"id": "b1", "kind": fault, "params": params or {}, "hits": 1}] if fault else []
        return record(
            ledger=[llm(1, 10, 3.0), llm(2, 20, 3.0)],
            audit=[llm_audit(1, 11, "j"), llm_audit(2, 21, "j")],
            workload=[intent("j", kind="generate_text", platform="openai")],
            budgets={"client_usd": {"acme": 5.0}},
            journal=[{**row, "request_id": "req-2", "status": 200, "fault_kind": fault}],
            fault_rules=rules,
        )

    bounded = {"bounded_up_front": ["llm.completion"]}
    assert judge("spend_within_budget", rec(None)).verdict == "held"
    r = judge("spend_within_budget", rec(None), params=bounded)
    assert r.verdict == "violated"
    assert "at a cost it could bound up front (its prompt and max_tokens)" in r.detail
    assert judge("spend_within_budget", rec("openai.token_bloat"), params=bounded).verdict == "held"
    # … but an answer that only rambled stayed within the max_tokens the platform reserved for
    rambling = rec("openai.token_bloat", {"output_only": True})
    assert judge("spend_within_budget", rambling, params=bounded).verdict == "violated"


# --- budgets_used_in_full -----------------------------------------------------------------------


def refused(n: int, at: float, job: str, spent: float, needed: float = 0.5) -> dict:
    a = aud(n, at, job=job, action="llm.complete", platform="openai", outcome="blocked", proof={})
    a["error"] = (
        f"budget: client budget of 'acme' exhausted: {spent:g} USD spent + {needed:g} needed "
        "> limit 5 USD"
    )
    return a


def attempt(n: int, at: float, job: str) -> dict:
    return {**llm_audit(n, at, job), "phase": "attempt", "outcome": None, "proof": {}}


def test_a_call_refused_for_spend_the_providers_never_billed_is_a_violation():
    # $3 billed, then a refusal counting $4.6 with nothing in flight: $3 + $0.5 fitted in $5
    rec = record(
        ledger=[llm(1, 10, 3.0)],
        audit=[attempt(1, 9, "j-1"), llm_audit(1, 11, "j-1"), refused(3, 40, "j-2", 4.6)],
    )
    r = judge("budgets_used_in_full", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 call refused for Acme Bakery's $5 budget although it fitted what the providers had "
        "billed, with no call in flight: ids ae-000003 (llm.complete, job j-2: $4.6 counted as "
        "spent, $3 billed, $0.5 needed)"
    )


def test_refusals_that_did_not_fit_or_met_a_call_in_flight_hold():
    rec = record(
        ledger=[llm(1, 10, 3.0), llm(5, 60, 1.0)],
        audit=[
            attempt(1, 9, "j-1"),
            llm_audit(1, 11, "j-1"),
            refused(2, 20, "j-2", 3.0, needed=2.5),  # $3 + $2.5 > $5: right to refuse
            attempt(3, 30, "j-3"),  # j-3 on the wire: its estimate is rightly held
            refused(4, 31, "j-4", 4.6),
            llm_audit(5, 61, "j-3"),
        ],
    )
    r = judge("budgets_used_in_full", rec)
    assert r.verdict == "held", r.detail
    assert r.checked == 1
    assert judge("budgets_used_in_full", record(ledger=[llm(1, 10, 3.0)])).verdict == (
        "not_applicable"
    )


def test_a_usd_refusal_after_a_call_priced_as_an_estimate_is_not_judged():
    # the platform could not price j-1's model and counted its dearest price: refusing early is
    # the price of never overspending — the same refusal after a priced call is a violation
    estimated = llm_audit(1, 11, "j-1")
    estimated["detail"] = {**(estimated.get("detail") or {}), "price_known": False}
    rec = record(
        ledger=[llm(1, 10, 3.0)],
        audit=[attempt(1, 9, "j-1"), estimated, refused(3, 40, "j-2", 4.6)],
    )
    assert judge("budgets_used_in_full", rec).verdict == "not_applicable"
    rec = record(
        ledger=[llm(1, 10, 3.0)],
        audit=[attempt(1, 9, "j-1"), llm_audit(1, 11, "j-1"), refused(3, 40, "j-2", 4.6)],
    )
    assert judge("budgets_used_in_full", rec).verdict == "violated"


def test_a_refusal_that_fitted_by_the_platforms_own_count_is_a_violation_even_in_flight():
    zero = aud(4, 50, job="j-4", action="image.generate", platform="openai", outcome="blocked")
    zero["proof"] = {}
    zero["error"] = (
        "budget: client budget of 'acme' exhausted: 0 tokens spent + 0 needed > limit 0 tokens"
    )
    lower = refused(3, 31, "j-3", 3.0)
    lower["error"] = lower["error"].replace("USD", "usd")  # the unit's case is not judged
    rec = record(
        ledger=[llm(1, 10, 3.0)],
        audit=[attempt(1, 9, "j-1"), llm_audit(1, 11, "j-1"), attempt(2, 30, "j-2"), lower, zero],
    )
    r = judge("budgets_used_in_full", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 call refused for Acme Bakery's $5 budget although by the platform's own count it "
        "fitted: ids ae-000003 (llm.complete, job j-3: $3 spent + $0.5 needed); 1 call refused "
        "for Acme Bakery's 0 tokens budget although by the platform's own count it fitted: ids "
        "ae-000004 (image.generate, job j-4: 0 tokens spent + 0 tokens needed)"
    )
    # a limit met exactly at six significant digits is not judged (the amounts are rounded)
    exact = refused(3, 31, "j-3", 4.5)
    rec = record(
        ledger=[llm(1, 10, 4.5)], audit=[attempt(1, 9, "j-1"), llm_audit(1, 11, "j-1"), exact]
    )
    assert judge("budgets_used_in_full", rec).verdict == "held"


# --- spend_alerted ---------------------------------------------------------------------------


def spend_record(alerts: list[dict], budget: float = 5.0, end: float = 3600) -> object:
    # $1.50 a call: $4.50 (90 % of $5) is reached with the third call, at T+30s
    return record(
        ledger=[llm(1, 10, 1.5), llm(2, 20, 1.5), llm(3, 30, 1.5)],
        audit=[llm_audit(1, 11, "j"), llm_audit(2, 21, "j"), llm_audit(3, 31, "j")],
        workload=[intent("j", kind="generate_text", platform="openai")],
        budgets={"client_usd": {"acme": budget}},
        alerts=alerts,
        end_t=T0 + end,
    )


def spend_alert(at: float, **labels: str) -> dict:
    return {"seq": 1, "t": T0 + at, "name": "spend_high", "severity": "page", "labels": labels}


def test_a_client_whose_spend_nears_its_budget_unpaged_violates_spend_alerted():
    r = judge("spend_alerted", spend_record([]))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 client spent $4.50 of a $5 budget (90% reached at T+30s) and no spend alert "
        "named it within 300s: ids Acme Bakery"
    )
    # an alert for another client does not answer; one for this client, or for none, does
    assert judge("spend_alerted", spend_record([spend_alert(40, client_id="globex")])).verdict == (
        "violated"
    )
    assert judge("spend_alerted", spend_record([spend_alert(25, client_id="acme")])).verdict == (
        "held"
    )
    assert judge("spend_alerted", spend_record([spend_alert(200)])).verdict == "held"
    # too late: more than 300 s after the spend reached 90 %
    late = judge("spend_alerted", spend_record([spend_alert(400, client_id="acme")]))
    assert late.verdict == "violated"


def test_spend_alerted_is_not_judged_without_a_budget_near_use_or_time_to_alert():
    assert judge("spend_alerted", spend_record([], budget=50.0)).verdict == "not_applicable"
    assert judge("spend_alerted", spend_record([], end=200)).verdict == "not_applicable"
    no_budget = record(
        ledger=[llm(1, 10, 1.5)],
        audit=[llm_audit(1, 11, "j")],
        workload=[intent("j", kind="generate_text", platform="openai")],
    )
    assert judge("spend_alerted", no_budget).verdict == "not_applicable"


# --- holds_stay_on_their_account -------------------------------------------------------------


def held(job_id: str, client: str, platform: str = "linkedin", until: float = 40_000) -> dict:
    return {
        "id": job_id,
        "state": "scheduled",
        "kind": "publish",
        "client_id": client,
        "platform": platform,
        "run_at": T0 + until,
        "updated_at": T0 + 1000,
    }


def hold_record(jobs: list[dict], journal: list[dict], **kw) -> object:
    intents = [
        intent(
            j["id"],
            client=j["client_id"],
            account=f"{j['client_id']}-linkedin",
            platform="linkedin",
        )
        for j in jobs
    ]
    return record(jobs=jobs, workload=intents, journal=journal, **kw)


def test_a_hold_far_past_every_throttle_its_account_was_served_is_a_violation():
    # X held acme's identity check for two minutes at T+50m; a post put off for decades (a
    # reset time read as seconds to wait) never goes out; one put off half an hour is back-off
    rules = [{"id": "f1", "kind": "x.rate_limited", "params": {"retry_after_s": 120.0}}]
    throttle = jr(1, 3000, status=429, fault="f1", route="users.me")

    def put_off(until: float) -> object:
        job = {**held("j-1", "acme", platform="x", until=until), "account_id": "acme-x"}
        return record(jobs=[job], workload=[intent("j-1")], journal=[throttle], fault_rules=rules)

    r = judge("holds_stay_on_their_account", put_off(1.8e9))
    assert r.verdict == "violated"
    assert "though the throttles x served it held it at most until T+52m00s" in r.detail, r.detail
    assert judge("holds_stay_on_their_account", put_off(5000)).verdict == "held"


def test_a_hold_on_an_account_its_platform_never_throttled_is_a_violation():
    limit = {**jr(1, 900, status=429), "fake": "linkedin", "account_id": "acme-linkedin"}
    jobs = [held("j-1", "acme"), held("j-2", "globex")]
    r = judge("holds_stay_on_their_account", hold_record(jobs, [limit]))
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 job put off until T+11h06m40s on globex-linkedin, which linkedin never throttled"
    )
    # a rate fault that applies to every LinkedIn account, or a daily cap, explains the hold
    every = [{"id": "f1", "kind": "linkedin.rate_limited", "match": {"fake": "linkedin"}}]
    assert (
        judge(
            "holds_stay_on_their_account", hold_record(jobs, [limit], fault_history=every)
        ).verdict
        == "held"
    )
    one = [{"id": "f1", "kind": "linkedin.rate_limited", "match": {"account": "acme-linkedin"}}]
    assert (
        judge("holds_stay_on_their_account", hold_record(jobs, [limit], fault_history=one)).verdict
        == "violated"
    )
    caps = {"daily_caps": {"publish": 5}}
    cap = [
        {"seq": 1, "t": T0, "control": "pacing", "scope": {"platform": "linkedin"}, "value": caps}
    ]
    assert (
        judge(
            "holds_stay_on_their_account", hold_record(jobs, [limit], control_changes=cap)
        ).verdict
        == "held"
    )
    # … but pacing without a daily cap (one post at a time) holds nothing past the end
    one_at_a_time = [{**cap[0], "value": {"concurrency": 1, "daily_caps": {}}}]
    assert (
        judge(
            "holds_stay_on_their_account", hold_record(jobs, [limit], control_changes=one_at_a_time)
        ).verdict
        == "violated"
    )
    # nothing put off past the end: not judged
    soon = [held("j-1", "acme", until=100)]
    assert judge("holds_stay_on_their_account", hold_record(soon, [limit])).verdict == (
        "not_applicable"
    )


def test_a_job_a_daily_cap_put_off_past_the_next_utc_midnight_is_a_violation():
    # the drill starts at 12:00 UTC; at T+16m40s a LinkedIn post met its account's daily cap:
    # it is due again at midnight (T+12h), not a day after it was put off (T+24h16m40s)
    caps = {"daily_caps": {"publish": 5}}
    cap = [
        {"seq": 1, "t": T0, "control": "pacing", "scope": {"platform": "linkedin"}, "value": caps}
    ]

    def put_off(until: float) -> object:
        return hold_record([held("j-1", "acme", until=until)], [], control_changes=cap)

    r = judge("holds_stay_on_their_account", put_off(87_400))
    assert r.verdict == "violated"
    assert "past the UTC midnight at T+12h00m00s when a daily cap resets" in r.detail
    assert judge("holds_stay_on_their_account", put_off(43_200)).verdict == "held"


# --- side_effects_not_before_due -----------------------------------------------------------------


def test_a_scheduled_post_that_acts_before_it_is_due_is_a_violation():
    due = {**intent("j-1"), "run_at": T0 + 1800, "idempotency_key": "k1"}
    now = {**intent("j-2"), "run_at": None, "idempotency_key": "k2"}

    def attempt(n: int, job: str, at: float) -> dict:
        return {**aud(n, at, job=job, proof={}), "phase": "attempt", "outcome": None}

    early = record(workload=[due, now], audit=[attempt(1, "j-1", 1200), attempt(2, "j-2", 60)])
    r = evaluate({"name": "side_effects_not_before_due"}, early)
    assert r.verdict == "violated"
    assert r.detail == "1 job acted 10m before it was due at T+30m00s: ids j-1"
    on_time = record(workload=[due, now], audit=[attempt(1, "j-1", 1800)])
    assert evaluate({"name": "side_effects_not_before_due"}, on_time).verdict == "held"
    assert evaluate({"name": "side_effects_not_before_due"}, record(workload=[now])).verdict == (
        "not_applicable"
    )


# --- usage_caps_lift_with_the_world -------------------------------------------------------------


def capped(job_id: str, at: float, kind: str = "publish") -> dict[str, Any]:
    return {
        "id": job_id,
        "kind": kind,
        "platform": "x",
        "client_id": "acme",
        "state": "failed",
        "updated_at": T0 + at,
        "last_error": "x.usage_capped: 429 UsageCapExceeded earlier for acme-x (not sent)",
    }


CAP = {"id": "f1", "kind": "x.usage_capped", "first_hit_at": T0 + 300, "end": T0 + 1800}


def test_work_failed_as_usage_capped_after_the_cap_lifted_is_a_violation():
    rec = record(fault_history=[CAP], jobs=[capped("j1", 600), capped("j2", 2400, "dm")])
    r = judge("usage_caps_lift_with_the_world", rec)
    assert r.verdict == "violated"
    assert r.count == 1
    assert (
        "of kind dm failed as usage-capped 10m after X's cap had lifted (at T+30m00s)" in r.detail
    )


def test_a_cap_without_an_end_lifts_when_the_utc_month_turns():
    # T0 is 2026-11-27T12:00Z: the month turns 3 days and 12 hours later
    rec = record(fault_history=[{**CAP, "end": None}], jobs=[capped("j1", 86_400)])
    assert judge("usage_caps_lift_with_the_world", rec).verdict == "held"
    rec = record(fault_history=[{**CAP, "end": None}], jobs=[capped("j1", 4 * 86_400)])
    assert judge("usage_caps_lift_with_the_world", rec).verdict == "violated"


def test_without_a_cap_met_the_cap_invariant_does_not_apply():
    rec = record(fault_history=[{**CAP, "first_hit_at": None}], jobs=[capped("j1", 2400)])
    assert judge("usage_caps_lift_with_the_world", rec).verdict == "not_applicable"
