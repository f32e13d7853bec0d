"""``requests_well_formed`` and the fakes' error codes it reads: a request an API refuses as not
well formed is a violation, a refusal a careful client meets is not — shown on hand-built
journals and on the fakes' own answers."""

from __future__ import annotations

from typing import Any

import pytest
from _recordkit import T0, record

from fakes.core.http import error_code
from fakes.x import _wire as xwire
from harness.judge.invariants import evaluate

NAME = "requests_well_formed"


def req(
    n: int,
    fake: str,
    route: str,
    status: int,
    error: str | None = None,
    method: str = "GET",
    fault: str | None = None,
) -> dict[str, Any]:
    return {
        "seq": n,
        "t": T0 + 60 * n,
        "started": T0 + 60 * n,
        "fake": fake,
        "method": method,
        "path": f"/{route.replace('.', '/')}",
        "route": route,
        "status": status,
        "account_id": "acme-x",
        "request_id": f"q{n}",
        "error": error,
        "fault_id": "r1" if fault else None,
        "fault_kind": fault,
    }


def judged(journal: list[dict[str, Any]]) -> Any:
    return evaluate({"name": NAME}, record(journal=journal))


def test_a_parameter_linkedin_refuses_is_a_violation_that_names_the_route_and_the_code():
    # the author finder asked with a bare member id: LinkedIn answers 403 (no permission)
    r = judged(
        [
            req(1, "linkedin", "posts.create", 201, method="POST"),
            req(2, "linkedin", "posts.find", 403, "100"),
        ]
    )
    assert r.verdict == "violated"
    assert r.detail == (
        "1 request the API refused as not well formed (linkedin posts.find answered 403 100): "
        "ids GET /posts/find (q2)"
    )


@pytest.mark.parametrize(
    ("fake", "route", "status", "error"),
    [
        ("x", "tweets.create", 400, "invalid-request"),
        ("x", "-", 404, "34"),  # a path X does not have
        ("x", "oauth2.token", 400, "invalid_request"),  # a refresh missing its grant type
        ("instagram", "media.publish", 400, "100/33"),  # another account's container
        ("instagram", "media.create", 400, "100"),
        ("linkedin", "posts.create", 422, None),
        ("openai", "chat.completions", 400, "invalid_request_error"),
        ("media", "renders.create", 422, None),
        ("instagram", "web.compose", 404, None),
    ],
)
def test_each_refusal_of_a_request_built_wrong_is_a_violation(
    fake: str, route: str, status: int, error: str | None
) -> None:
    assert judged([req(1, fake, route, status, error)]).verdict == "violated"


@pytest.mark.parametrize(
    ("fake", "route", "status", "error"),
    [
        ("x", "tweets.create", 403, "duplicate"),
        ("x", "oauth2.token", 400, "invalid_request:token"),  # a revoked refresh token
        ("instagram", "media.publish", 400, "9/2207042"),  # the 24-hour cap
        ("instagram", "media.publish", 400, "9007/2207027"),  # the container is not finished
        ("instagram", "node.get", 400, "100/33"),  # a post not visible (yet)
        ("instagram", "media.list", 400, "80002"),  # a throttle: the rate invariants' matter
        ("instagram", "node.get", 400, "190/463"),  # a token: the token invariants' matter
        ("linkedin", "comments.list", 404, "NOT_FOUND"),
        ("linkedin", "posts.create", 422, "DUPLICATE_POST"),
        ("x", "tweets.create", 401, None),
        ("x", "tweets.create", 429, None),
        ("x", "tweets.create", 409, None),
        ("x", "web.post", 404, None),  # the browser lane opens a post's page not there yet
    ],
)
def test_a_refusal_a_careful_client_meets_holds(
    fake: str, route: str, status: int, error: str | None
) -> None:
    r = judged([req(1, fake, route, status, error)])
    assert r.verdict == "held", r.detail


def test_an_answer_a_fault_made_is_left_out_but_a_slow_one_is_not():
    made = req(1, "x", "tweets.create", 400, "invalid-request", fault="x.malformed")
    assert judged([made]).verdict == "held"
    slow = req(2, "x", "tweets.create", 400, "invalid-request", fault="http.latency")
    assert judged([made, slow]).verdict == "violated"


def test_requests_to_the_honeypot_are_left_to_the_egress_judge():
    r = judged([req(1, "honeypot", "-", 404)])
    assert r.verdict == "not_applicable"


# --- the journal's error codes, as each API spells them --------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"error": {"message": "m", "type": "OAuthException", "code": 100, "error_subcode": 33}}', "100/33"),
        (b'{"error": {"message": "m", "type": "OAuthException", "code": 4}}', "4"),
        (b'{"error": {"message": "m", "type": "invalid_request_error", "code": "model_not_found"}}', "model_not_found"),
        (b'{"type": "error", "error": {"type": "rate_limit_error", "message": "m"}}', "rate_limit_error"),
        (b'{"error": "invalid_grant", "error_description": "d"}', "invalid_grant"),
        (b'{"message": "m", "serviceErrorCode": 100, "status": 403}', "100"),
        (b'{"message": "m", "serviceErrorCode": 0, "status": 422, "code": "DUPLICATE_POST"}', "DUPLICATE_POST"),
        (b'{"title": "Invalid Request", "type": "https://api.twitter.com/2/problems/invalid-request"}', "invalid-request"),
        (b'{"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}', "34"),
        (b'{"title": "Unauthorized", "type": "about:blank", "status": 401}', None),
        (b"not json", None),
        (b"[1, 2]", None),
    ],
)  # fmt: skip
def test_the_error_code_is_read_from_each_apis_error_body(body: bytes, code: str | None) -> None:
    assert error_code(body) == code


def test_x_names_its_403s_and_a_refresh_token_it_does_not_take() -> None:
    def body(resp: Any) -> bytes:
        return bytes(resp.body)

    assert xwire.error_code(body(xwire.forbidden(xwire.DUPLICATE_DETAIL))) == "duplicate"
    assert xwire.error_code(body(xwire.forbidden(xwire.NOT_PERMITTED))) == "not-permitted"
    assert xwire.error_code(body(xwire.forbidden("Something new."))) == "forbidden"
    revoked = xwire.oauth_error("invalid_request", xwire.INVALID_TOKEN)
    assert xwire.error_code(body(revoked)) == "invalid_request:token"
    missing = xwire.oauth_error("invalid_request", "Missing required parameter [grant_type].")
    assert xwire.error_code(body(missing)) == "invalid_request"


# --- requests_within_quota ----------------------------------------------------------------------


def test_an_account_over_the_stated_quota_of_a_route_is_a_violation_naming_the_numbers():
    # the drill lasts an hour (the record's default): 4 an hour allows 4 reads
    spec = {"name": "requests_within_quota", "params": {"per_hour": {"linkedin comments.list": 4}}}
    reads = [req(n, "linkedin", "comments.list", 200) for n in range(1, 7)]
    r = evaluate(spec, record(journal=reads))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 account made 6 linkedin comments.list requests in 1h, where the quota allows 4 "
        "(4 an hour): ids @acme_x"
    )
    # other routes and a drill within the quota hold; no quota stated: not judged
    assert evaluate(spec, record(journal=reads[:4])).verdict == "held"
    other = [req(n, "linkedin", "posts.get", 200) for n in range(1, 7)]
    assert evaluate(spec, record(journal=other)).verdict == "held"
    assert (
        evaluate({"name": "requests_within_quota"}, record(journal=reads)).verdict
        == "not_applicable"
    )
