"""LinkedIn's wire formats: the Rest.li error body, millisecond times, person URNs."""

from __future__ import annotations

import functools
import hashlib
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..core.http import Call, json_response
from ..core.roster import Roster

__all__ = [
    "LIFECYCLE_STATES",
    "error",
    "ms",
    "outage",
    "permalink_of",
    "person_urn_of",
    "route_error",
]

#: the Posts API's ``LifecycleState`` symbols. A post is created ``PUBLISHED`` (the only value
#: create accepts); LinkedIn moves it through the others (``PUBLISH_REQUESTED`` while it is
#: processed, e.g. a video, ``PUBLISH_FAILED`` when that fails). Rest.li refuses any other
#: string, case included, with 422 "is not an enum symbol".
LIFECYCLE_STATES = ("DRAFT", "PUBLISHED", "PUBLISH_REQUESTED", "PUBLISH_FAILED")


def error(status: int, message: str, service_code: int = 0, code: str | None = None) -> Response:
    """LinkedIn's error body: message, serviceErrorCode, status (plus ``code`` where LinkedIn sends one)."""
    body: dict[str, Any] = {"message": message, "serviceErrorCode": service_code, "status": status}
    if code is not None:
        body["code"] = code
    return json_response(body, status)


def ms(t: float) -> int:
    return int(t * 1000)


def permalink_of(urn: str) -> str:
    """A post's public address on linkedin.com: ``https://www.linkedin.com/feed/update/{urn}/``."""
    return f"https://www.linkedin.com/feed/update/{urn}/"


def person_urn_of(name: str, roster: Roster | None = None) -> str:
    """The person URN of an inbound commenter: a roster account's own member URN when the name is
    that account's handle (a comment the account wrote itself carries its own id, as on LinkedIn),
    else a stable URN made from the name (strangers are not in the roster)."""
    bare = name.lower().lstrip("@")
    acc = roster.by_handle("linkedin", bare) if roster is not None else None
    if acc is not None:
        return f"urn:li:person:{acc.platform_user_id}"
    return _stranger_urn(bare)


@functools.lru_cache(maxsize=4096)
def _stranger_urn(bare: str) -> str:
    """The stable person URN of a name no roster account has (the same few fans comment often)."""
    return "urn:li:person:" + hashlib.sha256(bare.encode()).hexdigest()[:10]


def route_error(status: int, message: str, request: Request) -> Response:
    """LinkedIn's error for a request the fake does not route or refuses whole.

    An unknown resource is Rest.li's ``No virtual resource found`` (404, code ``NOT_FOUND``).
    """
    if status == 404:
        return error(404, "No virtual resource found", code="NOT_FOUND")
    codes = {405: "METHOD_NOT_ALLOWED", 413: "REQUEST_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}
    return error(status, message, code=codes.get(status))


def outage(call: Call, status: int) -> Response:
    """LinkedIn's 5xx body for ``http.outage``."""
    return error(status, HTTPStatus(status).phrase)
