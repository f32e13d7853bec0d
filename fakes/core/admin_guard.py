"""What keeps a web page, a typo or a runaway script from driving the served admin API.

The admin API can read every secret (``GET /_fake/roster?secrets=1``) and rewrite the world, so
once it listens on a socket, anything that can reach the socket could use it — including a page
open in the engineer's browser. Without a token, a served admin API therefore:

- answers only requests whose ``Host`` is one of the names it is bound to (a DNS-rebinding page
  sends its own host name);
- refuses a state-changing call (POST, PUT, DELETE) that lacks the ``X-Vibedrill-Admin: 1``
  header (or the admin token); a cross-origin page cannot add a custom header without a CORS
  preflight, which this API never grants;
- refuses a body that is not ``application/json`` (415), so a ``text/plain`` form post is out.

Fault rules get caps as well: rules in force, rules per request, string lengths, finite
numbers. In-process worlds (no socket) skip the ``Host`` and header checks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

__all__ = [
    "ADMIN_HEADER",
    "LOOPBACK_NAMES",
    "MAX_RULES_IN_FORCE",
    "MAX_RULES_PER_REQUEST",
    "MAX_STRING",
    "admin_headers",
    "clip_value",
    "host_names",
    "oversized",
    "refusal",
]

#: the header every state-changing call to a served admin API carries
ADMIN_HEADER = "x-vibedrill-admin"
#: the names a loopback-bound admin API answers to
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
MAX_RULES_IN_FORCE = 1_000
MAX_RULES_PER_REQUEST = 200
MAX_STRING = 4_096
MAX_NUMBER = 1e12
_STATE_CHANGING = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def admin_headers(token: str | None = None) -> dict[str, str]:
    """Headers a client of a served admin API sends: the marker header, and the token if any."""
    headers = {ADMIN_HEADER: "1"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def host_names(bound_host: str) -> frozenset[str]:
    """The ``Host`` names an admin API bound to ``bound_host`` accepts."""
    extra = {bound_host.lower(), f"[{bound_host.lower()}]"} if bound_host else set()
    if bound_host in LOOPBACK_NAMES or bound_host.startswith("127."):
        return LOOPBACK_NAMES | extra
    return frozenset(extra)


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def refusal(
    request: Request, hosts: Iterable[str] | None, *, token_given: bool
) -> tuple[int, str] | None:
    """(status, message) when the request may not use the admin API, else None."""
    if hosts is not None:
        allowed = frozenset(hosts)
        name = _host_name(request.headers.get("host", ""))
        if name not in allowed:
            return (
                421,
                f"Host {name[:100]!r} is not a name this admin API is bound to; "
                f"use one of {', '.join(sorted(allowed))}",
            )
        if (
            request.method in _STATE_CHANGING
            and not token_given
            and request.headers.get(ADMIN_HEADER) != "1"
        ):
            return (
                403,
                f"state-changing admin calls need the header '{ADMIN_HEADER}: 1' "
                "(or the admin token); a web page cannot send it",
            )
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if (
            request.method in _STATE_CHANGING
            and request.headers.get("content-length", "0") != "0"
            and ctype != "application/json"
        ):
            return 415, f"the body must be application/json, not {ctype[:80]!r}"
    return None


def oversized(value: Any, path: str = "$") -> tuple[str, Any, str] | None:
    """The first (path, value, reason) in a JSON body that breaks a cap, or None."""
    todo: list[tuple[str, Any]] = [(path, value)]
    while todo:
        where, v = todo.pop()
        if isinstance(v, str) and len(v) > MAX_STRING:
            return where, v, f"a string of {len(v):,} characters; the limit is {MAX_STRING:,}"
        if isinstance(v, float) and not math.isfinite(v):
            return where, v, "numbers must be finite"
        if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > MAX_NUMBER:
            return where, v, f"numbers must lie within ±{MAX_NUMBER:g}"
        if isinstance(v, dict):
            todo.extend((f"{where}.{k}" if where != "$" else str(k), x) for k, x in v.items())
        elif isinstance(v, list):
            todo.extend((f"{where}[{i}]", x) for i, x in enumerate(v))
    return None


def clip_value(value: Any, limit: int = 200) -> Any:
    """A value shown in an error, cut so a 1 MB input does not come back in the response."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    if isinstance(value, (dict, list)):
        text = repr(value)
        return value if len(text) <= limit else text[: limit - 1] + "…"
    return value
