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
