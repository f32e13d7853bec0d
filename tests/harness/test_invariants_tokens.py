"""``no_needless_token_refresh``: a refresh needs a rejected (or aged) token — shown to fail on a
hand-built journal and to hold on a healthy one."""

from __future__ import annotations

from typing import Any

from _recordkit import T0, record

from harness.judge.invariants import evaluate

NAME = "no_needless_token_refresh"


def req(
    n: int, at: float, route: str, status: int, took: float = 0.0, acc: str = "acme-x"
) -> dict[str, Any]:
    return {
        "seq": n,
        "t": T0 + at + took,
        "started": T0 + at,
        "fake": "x",
        "method": "POST",
        "route": route,
        "status": status,
        "account_id": acc,
        "request_id": f"q{n}",
    }


def judged(journal: list[dict[str, Any]]) -> Any:
    return evaluate({"name": NAME}, record(journal=journal))


def test_a_second_refresh_with_no_rejection_of_the_fresh_token_is_a_violation():
    # two workers met the expired token at T+100; the first refresh is answered at T+102, and
    # the worker that waited for the lock redeems again instead of taking the fresh token
    journal = [
        req(1, 100, "tweets.create", 401),
        req(2, 100, "tweets.create", 401),
        req(3, 100, "oauth2.token", 200, took=2),
        req(4, 102, "oauth2.token", 200, took=2),
    ]
    r = judged(journal)
    assert r.verdict == "violated"
    assert (
        r.detail == "1 refresh of @acme_x's token with no rejection since the refresh answered "
        "at T+1m42s: ids q4"
    )


def test_a_refresh_after_the_fresh_token_was_rejected_or_had_aged_holds():
    rejected = [
        req(1, 100, "tweets.create", 401),
        req(2, 100, "oauth2.token", 200, took=2),
        req(3, 103, "tweets.create", 401),  # the fresh token rejected too
        req(4, 103, "oauth2.token", 200, took=2),
    ]
    r = judged(rejected)
    assert r.verdict == "held" and r.checked == 1
    aged = [req(1, 100, "oauth2.token", 200), req(2, 100 + 7000, "oauth2.token", 200)]
    assert judged(aged).verdict == "held"
    # a 401 of a request sent before the refresh was answered used the old token: no reason
    old = [
        req(1, 100, "oauth2.token", 200, took=2),
        req(2, 101, "tweets.create", 401, took=2),
        req(3, 104, "oauth2.token", 200),
    ]
    assert judged(old).verdict == "violated"
    # another account's rejection is no reason either; one refresh per account is not judged
    other = [req(1, 100, "oauth2.token", 200), req(2, 150, "tweets.create", 401, acc="northwind-x")]
    other.append(req(3, 200, "oauth2.token", 200))
    assert judged(other).verdict == "violated"
    assert judged([req(1, 100, "oauth2.token", 200)]).verdict == "not_applicable"


# --- tokens_refreshed_before_expiry ---------------------------------------------------------


def aged(journal: list[dict[str, Any]], faults: list[dict[str, Any]] | None = None) -> Any:
    rec = record(journal=journal, fault_rules=faults or [])
    return evaluate({"name": "tokens_refreshed_before_expiry"}, rec)


def test_a_401_no_token_fault_explains_is_a_token_that_aged_out():
    journal = [
        {**req(1, 7100, "tweets.create", 201), "path": "/2/tweets"},
        {**req(2, 7200, "users.mentions", 401), "method": "GET", "path": "/2/users/1/mentions"},
    ]
    r = aged(journal)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 request refused as unauthorised with no fault of the platform's tokens: the token "
        "aged out before the platform refreshed it: ids q2 (GET /2/users/1/mentions for @acme_x)"
    )


def test_401s_after_a_token_fault_of_that_platform_or_from_the_fault_itself_hold():
    expired = {"id": "f1", "kind": "x.token_expired", "installed_at": T0 + 600}
    latency = {"id": "f2", "kind": "x.rate_limited", "installed_at": T0 + 10}
    journal = [
        {**req(1, 601, "tweets.create", 401), "fault_id": "f1"},
        req(2, 900, "tweets.create", 401),  # a token the fault expired, used after its window
    ]
    assert aged(journal, [expired]).verdict == "held"
    # a fault of another kind explains nothing; one installed after the 401 neither
    assert aged(journal[1:], [latency]).verdict == "violated"
    late = {**expired, "installed_at": T0 + 1000}
    assert aged(journal[1:], [late]).verdict == "violated"
    assert aged([]).verdict == "not_applicable"


# --- refused_tokens_not_resent ------------------------------------------------------------------

TRACE_A = "00-" + "a" * 32 + "-{span:016x}-01"
TRACE_B = "00-" + "b" * 32 + "-{span:016x}-01"


def sent(
    n: int, at: float, status: int, gen: int, replaced: float | None, trace: str = TRACE_A
) -> dict[str, Any]:
    row = req(n, at, "tweets.create", status)
    row.update(
        traceparent=trace.format(span=n),
        token_gen=gen,
        token_replaced_at=None if replaced is None else T0 + replaced,
    )
    return row


def resent(journal: list[dict[str, Any]]) -> Any:
    return evaluate({"name": "refused_tokens_not_resent"}, record(journal=journal))


def test_a_job_resending_its_refused_token_after_a_refresh_replaced_it_is_a_violation():
    # both jobs met the expired token; job A's refresh gave generation 1 at T+102; job B lost
    # the race and resent generation 0, which it had just seen refused
    journal = [
        sent(1, 100, 401, 0, None),
        sent(2, 100, 401, 0, None, TRACE_B),
        req(3, 100, "oauth2.token", 200, took=2),
        sent(4, 102, 201, 1, None),
        sent(5, 102, 401, 0, 102, TRACE_B),
    ]
    r = resent(journal)
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 request sent @acme_x's token again after it was refused at T+1m40s (q2), although "
        "the refresh answered at T+1m42s had replaced it"
    )


def test_a_stale_token_sent_once_then_the_fresh_one_holds():
    # job B held generation 0 while it waited (pacing) and sent it after the refresh: refused
    # once, it takes the fresh token — and a job never refused may send a stale copy once
    journal = [
        sent(1, 100, 401, 0, None),
        req(2, 100, "oauth2.token", 200, took=2),
        sent(3, 102, 201, 1, None),
        sent(4, 150, 401, 0, 102, TRACE_B),
        sent(5, 150, 201, 1, None, TRACE_B),
    ]
    r = resent(journal)
    assert r.verdict == "held"


def test_an_identity_check_outside_any_job_resending_its_refused_token_is_a_violation():
    # the keyring asks X who the token is (no job's trace): refused, refreshed, then asked
    # again with the refused token instead of the fresh one
    def me(n: int, at: float, status: int, gen: int, replaced: float | None) -> dict[str, Any]:
        row = req(n, at, "users.me", status)
        row.update(traceparent=None, token_gen=gen,
                   token_replaced_at=None if replaced is None else T0 + replaced)  # fmt: skip
        return row

    refresh = req(2, 100, "oauth2.token", 200, took=2)
    stale = [me(1, 100, 401, 0, None), refresh, me(3, 102, 200, 0, 102)]
    r = resent(stale)
    assert r.verdict == "violated" and "q3" in r.detail
    fresh = [me(1, 100, 401, 0, None), refresh, me(3, 102, 200, 1, None)]
    assert resent(fresh).verdict == "held"


def test_a_job_sending_its_refused_token_again_at_once_without_a_refresh_is_a_violation():
    # the keyring took the job's stale copy for a refresh another worker had made: no refresh,
    # the refused token straight back; a retry long after (an auth back-off) is not judged here
    at_once = [sent(1, 100, 401, 1, None), sent(2, 100.4, 401, 1, None)]
    r = resent(at_once)
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 request sent @acme_x's token again at once after it was refused at T+1m40s (q1), "
        "without a refresh"
    )
    later = [sent(1, 100, 401, 1, None), sent(2, 160, 401, 1, None)]
    assert resent(later).verdict != "violated"


def test_refused_tokens_not_resent_does_not_apply_where_nothing_was_refused():
    assert resent([sent(1, 100, 201, 0, None)]).verdict == "not_applicable"


def test_another_job_sending_a_token_whose_refresh_failed_is_a_violation():
    # job A's token is refused and the refresh it sets off fails (X's token endpoint is down):
    # the keyring knows the token is refused — job B, sending later, must refresh first (and
    # end unsent when it cannot), not send the refused token into another 401
    journal = [
        sent(1, 100, 401, 0, None),
        req(2, 100, "oauth2.token", 503, took=2),
        sent(3, 160, 401, 0, None, TRACE_B),
    ]
    r = resent(journal)
    assert r.verdict == "violated"
    assert (
        "sent @acme_x's token after X had refused it at T+1m40s (q1, another job's request) "
        in (r.detail)
    )
    assert "its refresh had failed at T+1m42s" in r.detail and "q3" in r.detail
    # a request already on its way when the refresh failed, or a refusal whose refresh worked
    # (another 401 for the fresh token is X flapping, retried later), is not judged so
    on_its_way = [journal[0], journal[1], sent(3, 101, 401, 0, None, TRACE_B)]
    assert resent(on_its_way).verdict != "violated"
    refreshed = [journal[0], req(2, 100, "oauth2.token", 200, took=2), journal[2]]
    assert "another job's request" not in resent(refreshed).detail
