"""Graph batch requests: ``POST /`` or ``POST /v{n}/`` with ``batch=[{method, relative_url, body}]``.

Each operation runs through the Instagram fake itself (its gate, faults, journal and ledger),
as a request of its own; the answer is Graph's list of ``{"code", "headers", "body"}`` with the
body as a JSON string. The batch's ``access_token`` applies to every operation that does not
carry its own. At most 50 operations, as Graph allows.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from starlette.responses import Response
from starlette.types import ASGIApp

from ..core.http import Call, json_response
from ._core import IgCore

__all__ = ["MAX_OPERATIONS", "batch"]

MAX_OPERATIONS = 50
_METHODS = ("GET", "POST", "DELETE")


async def batch(ig: IgCore, app: ASGIApp, call: Call) -> Response:
    """Run every operation of a batch and answer with their results, in order."""
    raw = await call.request.body()
    params = dict(call.request.query_params)
    params.update(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
    spec = params.get("batch")
    if not spec:
        return ig.err(400, "(#100) The parameter batch is required", 100)
    try:
        ops = json.loads(spec)
    except json.JSONDecodeError:
        return ig.err(400, "(#100) The parameter batch must be a JSON array", 100)
    if not isinstance(ops, list) or not all(isinstance(o, dict) for o in ops):
        return ig.err(400, "(#100) The parameter batch must be a JSON array of objects", 100)
    if len(ops) > MAX_OPERATIONS:
        return ig.err(
            400,
            f"(#100) Too many requests in batch message. Maximum batch size is {MAX_OPERATIONS}",
            100,
        )
    token = params.get("access_token") or call.credential
    out: list[dict[str, Any] | None] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://graph.internal") as sub:
        for i, op in enumerate(ops):
            method = str(op.get("method", "GET")).upper()
            rel = op.get("relative_url")
            if method not in _METHODS or not isinstance(rel, str) or not rel:
                return ig.err(
                    400,
                    f"(#100) batch[{i}] needs a method in {list(_METHODS)} and a relative_url",
                    100,
                )
            out.append(await _run(sub, method, rel, op.get("body"), token))
    return json_response(out)


async def _run(
    sub: httpx.AsyncClient, method: str, rel: str, body: Any, token: str | None
) -> dict[str, Any]:
    parts = urlsplit("/" + rel.lstrip("/"))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    form = dict(parse_qsl(body, keep_blank_values=True)) if isinstance(body, str) else {}
    if token and "access_token" not in query and "access_token" not in form:
        (form if method == "POST" else query)["access_token"] = token
    url = parts.path + ("?" + urlencode(query) if query else "")
    r = await sub.request(method, url, data=form or None)
    return {
        "code": r.status_code,
        "headers": [
            {"name": k, "value": v}
            for k, v in r.headers.items()
            if k.lower() in ("content-type", "x-app-usage", "x-business-use-case-usage")
        ],
        "body": r.text,
    }
