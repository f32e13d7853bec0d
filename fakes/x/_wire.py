"""X's wire formats: problem JSON bodies, partial errors, timestamps, ids and header names."""

from __future__ import annotations

import calendar
import hashlib
import math
import time
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..core.http import Call, error_code_of, json_object, json_response

__all__ = [
    "DUPLICATE_DETAIL",
    "PROBLEMS",
    "SPAM_DETAIL",
    "epoch_s",
    "error_code",
    "invalid_request",
    "iso",
    "next_month",
    "not_found",
    "oauth_error",
    "outage",
    "problem",
    "route_error",
    "snowflake",
    "user_id_of",
]

PROBLEMS = "https://api.twitter.com/2/problems"
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
#: X's automation/spam refusal (v1.1 code 226), as v2 serves it in a 403 problem body
SPAM_DETAIL = (
    "This request looks like it might be automated. To protect our users from spam and other "
    "malicious activity, we can't complete this action right now. Please try again later."
)
NOT_PERMITTED = "You are not permitted to perform this action."
#: the token endpoint's description of a refresh token it does not take (revoked, redeemed)
INVALID_TOKEN = "Value passed for the token was invalid."
REPLY_NOT_VISIBLE = "You attempted to reply to a Tweet that is deleted or not visible to you."
#: X's epoch for snowflake ids (2010-11-04T01:42:54.657Z), in milliseconds
TWEPOCH_MS = 1_288_834_974_657


def problem(
    status: int,
    detail: str | None = None,
    title: str | None = None,
    type_: str = "about:blank",
    **extra: Any,
) -> dict[str, Any]:
    """An RFC 7807 problem body the way X v2 spells it."""
    phrase = HTTPStatus(status).phrase
    return {
        "title": title or phrase,
        "type": type_,
        "status": status,
        "detail": detail or phrase,
        **extra,
    }


def problem_response(
    status: int, detail: str | None = None, headers: dict[str, str] | None = None, **kw: Any
) -> Response:
    """A problem body as a response."""
    return json_response(problem(status, detail, **kw), status, headers)


def unauthorized() -> Response:
    """X's real 401 for a missing, unknown, expired or revoked token."""
    return json_response(
        {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
        401,
    )


def forbidden(detail: str) -> Response:
    """A 403 problem body (duplicate, spam, scope, not permitted)."""
    return problem_response(403, detail, title="Forbidden")


#: the read scope of posts: an ``x.scope_revoked`` rule naming it refuses post reads too
READ_SCOPE = "tweet.read"


#: the identity scope: an ``x.scope_revoked`` rule naming it refuses ``GET /2/users/me`` alone
USERS_READ = "users.read"


def writes_refused(params: Any) -> bool:
    """Whether an ``x.scope_revoked`` rule refuses writes: any scope but ``users.read``."""
    return getattr(params, "scope", None) != USERS_READ


def read_scope_revoked(world: Any, call: Any) -> Response | None:
    """The 403 of a post read when an ``x.scope_revoked`` rule withdrew ``tweet.read`` (a
    rule for the write scope, the default, leaves reads alone)."""
    if call.fire(world, "x.scope_revoked", lambda p: getattr(p, "scope", None) == READ_SCOPE):
        return forbidden(NOT_PERMITTED)
    return None


def invalid_request(message: str, parameter: str | None = None, value: Any = None) -> Response:
    """X's 400 invalid-request problem with one error."""
    err: dict[str, Any] = {"message": message}
    if parameter is not None:
        err["parameters"] = {parameter: [] if value is None else [str(value)]}
    return json_response(
        {
            "errors": [err],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": f"{PROBLEMS}/invalid-request",
        },
        400,
    )


def not_found(value: str, parameter: str = "ids", resource_type: str = "tweet") -> dict[str, Any]:
    """One partial error for a missing, deleted or invisible resource (served in a 200 body)."""
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": f"{PROBLEMS}/resource-not-found",
    }


#: the journal's short name of each 403 X answers (its body names the refusal by its detail)
_FORBIDDEN = {
    DUPLICATE_DETAIL: "duplicate",
    SPAM_DETAIL: "spam",
    NOT_PERMITTED: "not-permitted",
    REPLY_NOT_VISIBLE: "reply-not-visible",
}


def error_code(body: bytes) -> str | None:
    """The journal's error code of an X error answer: a 403's refusal by name (``duplicate``,
    ``spam``, ``not-permitted``, ``reply-not-visible``, else ``forbidden``), else the problem
    type, v1.1 code or OAuth error as :func:`fakes.core.http.error_code` reads them."""
    doc = json_object(body)
    code = error_code_of(doc)
    if doc is None:
        return None
    if code == "invalid_request" and doc.get("error_description") == INVALID_TOKEN:
        # the token endpoint's answer to a refresh token it no longer takes (revoked, redeemed)
        return "invalid_request:token"
    if code is not None:
        return code
    if doc.get("status") == 403:
        return _FORBIDDEN.get(str(doc.get("detail")), "forbidden")
    return None


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    """An OAuth 2.0 token-endpoint error."""
    return json_response({"error": error, "error_description": description}, status)


def route_error(status: int, message: str, request: Request) -> Response:
    """X's error for a request the fake does not route (404, 405) or refuses whole (413, 415).

    404 is the v1.1-style ``{"errors": [{"message": "Sorry, that page does not exist", "code":
    34}]}`` X serves for an unknown path on api.x.com; the others are problem JSON.
    """
    if status == 404:
        return json_response(
            {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}, 404
        )
    return problem_response(status, message)


def outage(call: Call, status: int) -> Response:
    """X's 5xx body for ``http.outage``: a problem JSON with the status phrase."""
    return problem_response(status)


def iso(t: float) -> str:
    """Unix seconds → X's ``created_at`` (millisecond precision, Z)."""
    ms = round(t * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def epoch_s(t: float) -> str:
    """Unix seconds (rounded up) as a header value."""
    return str(math.ceil(t))


def next_month(t: float) -> float:
    """The first instant of the UTC month after the one ``t`` is in (when a monthly cap lifts)."""
    g = time.gmtime(int(t))
    year, month = (g.tm_year + 1, 1) if g.tm_mon == 12 else (g.tm_year, g.tm_mon + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0)))


def snowflake(t: float, seq: int) -> str:
    """A snowflake-shaped post id from the injected clock and a per-world counter."""
    ms = max(int(t * 1000) - TWEPOCH_MS, 0)
    return str((ms << 22) | (seq & 0x3FFFFF))


def user_id_of(handle: str) -> str:
    """A stable numeric user id for an inbound author handle (they are not in the roster)."""
    return str(
        10**17
        + int(hashlib.sha256(handle.lower().lstrip("@").encode()).hexdigest()[:14], 16)
        % (9 * 10**17)
    )
