"""LinkedIn's wire formats: the Rest.li error body, millisecond times, person URNs."""

from __future__ import annotations

import hashlib
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

from ..core.http import Call, json_response

__all__ = ["error", "ms", "outage", "person_urn_of"]


def error(status: int, message: str, service_code: int = 0, code: str | None = None) -> Response:
    """LinkedIn's error body: message, serviceErrorCode, status (plus ``code`` where LinkedIn sends one)."""
    body: dict[str, Any] = {"message": message, "serviceErrorCode": service_code, "status": status}
    if code is not None:
        body["code"] = code
    return json_response(body, status)


def ms(t: float) -> int:
    return int(t * 1000)


def person_urn_of(name: str) -> str:
    """A stable person URN for an inbound commenter (they are not in the roster)."""
    return "urn:li:person:" + hashlib.sha256(name.lower().lstrip("@").encode()).hexdigest()[:10]


def outage(call: Call, status: int) -> Response:
    """LinkedIn's 5xx body for ``http.outage``."""
    return error(status, HTTPStatus(status).phrase)
