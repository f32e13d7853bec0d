"""The Graph API's wire formats: the error object, usage headers, timestamps, ids and permalinks.

HTTP statuses follow what Graph serves in practice: 400 for OAuth (code 190/104), throttling
(4, 17, 32, 613, 80002) and publishing errors (9, 9007, 506, 100), 403 for permission errors
(code 10), 5xx with code 2 and ``is_transient: true`` for an outage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import string
import time
from typing import Any

from starlette.responses import Response

from ..core.http import json_response
from ..core.world import World

__all__ = [
    "THROTTLE_MESSAGES",
    "TRANSIENT_MESSAGES",
    "app_usage",
    "buc_usage",
    "error",
    "iso",
    "not_found",
    "permalink",
]

_TRACE_ALPHABET = string.ascii_letters + string.digits + "-_"
THROTTLE_MESSAGES: dict[int, str] = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80002: "There have been too many calls to this Instagram account. Wait a bit and try again.",
}

#: Graph's transient errors (``is_transient: true``): the call failed, retry it later
TRANSIENT_MESSAGES: dict[int, str] = {
    1: "An unknown error has occurred.",
    2: "An unexpected error has occurred. Please retry your request later.",
}


def fbtrace_id(world: World) -> str:
    """A trace id in Meta's shape, drawn from the world's seeded RNG."""
    return "A" + "".join(world.rng.choice(_TRACE_ALPHABET) for _ in range(22))


def error(
    world: World,
    status: int,
    message: str,
    code: int,
    subcode: int | None = None,
    *,
    type_: str = "OAuthException",
    transient: bool = False,
    user_title: str | None = None,
    user_msg: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A Graph error object response: message, type, code, subcode, user texts, fbtrace_id."""
    err: dict[str, Any] = {
        "message": message,
        "type": type_,
        "is_transient": transient,
        "code": code,
    }
    if subcode is not None:
        err["error_subcode"] = subcode
    if user_title is not None:
        err["error_user_title"] = user_title
    if user_msg is not None:
        err["error_user_msg"] = user_msg
    err["fbtrace_id"] = fbtrace_id(world)
    h = dict(headers or {})
    if code == 190 or code == 104:
        h["www-authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
    return json_response({"error": err}, status, h)


def not_found(world: World, node_id: str, method: str = "get") -> Response:
    """Code 100/33: the object does not exist, cannot be loaded, or is not the caller's."""
    return error(
        world,
        400,
        f"Unsupported {method} request. Object with ID '{node_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        100,
        33,
        type_="GraphMethodException",
    )


def _usage(pct: int, cpu_pct: int | None = None) -> dict[str, int]:
    pct = max(0, min(pct, 100))
    cpu = pct // 2 if cpu_pct is None else max(0, min(cpu_pct, 100))
    return {"call_count": pct, "total_cputime": cpu, "total_time": cpu}


def app_usage(pct: int) -> str:
    """The ``X-App-Usage`` header (percent of the app's hourly limit)."""
    return json.dumps(_usage(pct), separators=(",", ":"))


def buc_usage(
    business_id: str, pct: int, regain_minutes: int = 0, *, cpu_pct: int | None = None
) -> str:
    """The ``X-Business-Use-Case-Usage`` header for one Instagram account: ``pct`` is its
    call_count; total_cputime and total_time are ``cpu_pct`` (default: half of ``pct``)."""
    entry: dict[str, Any] = {
        "type": "instagram",
        **_usage(pct, cpu_pct),
        "estimated_time_to_regain_access": regain_minutes,
    }
    return json.dumps({business_id: [entry]}, separators=(",", ":"))


def percent(count: int, limit: int) -> int:
    """A share of a limit in whole percent, 100 once it is reached."""
    return 100 if count >= limit else math.floor(count * 100 / limit)


def iso(t: float) -> str:
    """Unix seconds → Graph's timestamp format (``2026-11-27T12:00:00+0000``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(int(t)))


def permalink(media_id: str) -> str:
    """A stable instagram.com permalink for a media id."""
    code = base64.urlsafe_b64encode(hashlib.sha256(media_id.encode()).digest()).decode()[:11]
    return f"https://www.instagram.com/p/{code}/"


def message_id(n: int) -> str:
    """A Send API message id (base64 of an opaque string, as Meta serves them)."""
    return base64.b64encode(f"ig_message_item:1:{n:020d}".encode()).decode().rstrip("=")
