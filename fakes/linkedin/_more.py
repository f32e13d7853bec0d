"""The LinkedIn fake beyond create/get/delete: the posts finder, partial update, token refresh.

- ``GET /rest/posts?q=author&author={urn}&count=&start=&sortBy=`` — the author finder: the
  author's visible posts, newest first (``sortBy=CREATED`` keeps creation order), Rest.li paging.
- ``POST /rest/posts/{urn}`` with ``X-RestLi-Method: PARTIAL_UPDATE`` and
  ``{"patch": {"$set": {...}}}`` — edits ``commentary`` (and the other editable fields) →
  204 and ``post.updated``.
- ``POST /oauth/v2/accessToken`` (``www.linkedin.com``) with ``grant_type=refresh_token`` —
  a new 60-day access token; LinkedIn's refresh tokens are reusable until they expire, so the
  same refresh token comes back with its remaining lifetime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.responses import Response

from ..core.http import Call, json_response
from ..core.tokens import TokenState
from ._wire import LIFECYCLE_STATES, error

if TYPE_CHECKING:
    from ._service import _LinkedIn

__all__ = ["ACCESS_TTL_S", "REFRESH_TTL_S", "find_posts", "refresh_token", "update_post"]

#: LinkedIn member access tokens live 60 days, programmatic refresh tokens 365 days
ACCESS_TTL_S = 60 * 86_400.0
REFRESH_TTL_S = 365 * 86_400.0
#: fields ``$set`` may change on a post
_EDITABLE = ("commentary", "contentCallToActionLabel", "contentLandingPage", "lifecycleState")


async def find_posts(li: _LinkedIn, call: Call) -> Response:
    """GET /rest/posts?q=author: the author's posts, as a Rest.li collection."""
    q = call.request.query_params
    finder = q.get("q")
    if finder != "author":
        return error(
            400,
            f"Finder {finder!r} is not supported on posts; supported: author",
            code="ILLEGAL_ARGUMENT",
        )
    author = q.get("author")
    if not author:
        return error(400, "Query parameter author is required for the author finder", 100)
    if author != li.me(call):
        return li.no_permission(call)
    start, count = q.get("start", "0"), q.get("count", "10")
    if not start.isdigit() or not count.isdigit() or not 1 <= int(count) <= 100:
        return error(
            400,
            f"Invalid paging parameters start={start!r} count={count!r}; count must be 1..100",
        )
    urns = li.state.by_account.get(str(call.account_id), [])
    posts = [p for u in urns if (p := li.visible_post(u)) is not None]
    if q.get("sortBy", "LAST_MODIFIED") != "CREATED":
        posts.reverse()
    page = posts[int(start) : int(start) + int(count)]
    return json_response(
        {
            "elements": [li.post_json(p) for p in page],
            "paging": {"start": int(start), "count": int(count), "total": len(posts), "links": []},
        }
    )


async def update_post(li: _LinkedIn, call: Call) -> Response:
    """POST /rest/posts/{urn} with ``X-RestLi-Method: PARTIAL_UPDATE``."""
    method = call.request.headers.get("x-restli-method", "").upper()
    if method != "PARTIAL_UPDATE":
        return error(
            400,
            f"Unsupported X-RestLi-Method {method or '(none)'!r} for POST on an entity; "
            "use PARTIAL_UPDATE",
            code="ILLEGAL_ARGUMENT",
        )
    urn = call.request.path_params["urn"]
    body = await li.body(call)
    if isinstance(body, Response):
        return body
    patch = body.get("patch")
    fields = patch.get("$set") if isinstance(patch, dict) else None
    if not isinstance(fields, dict) or not fields:
        return error(422, "ERROR :: /patch/$set :: a partial update needs fields to set")
    bad = sorted(set(fields) - set(_EDITABLE))
    if bad:
        return error(422, f"ERROR :: /patch/$set/{bad[0]} :: field cannot be updated")
    state = fields.get("lifecycleState")
    if state is not None and state not in LIFECYCLE_STATES:
        return error(422, f'ERROR :: /patch/$set/lifecycleState :: "{state}" is not an enum symbol')
    p = li.state.posts.get(urn)
    if p is None or p.gone(li.world.now()):
        return error(404, f"Post {urn} does not exist", code="NOT_FOUND")
    if p.account_id != call.account_id:
        return li.no_permission(call)
    text = fields.get("commentary")
    if text is not None:
        if not isinstance(text, str):
            return error(422, "ERROR :: /patch/$set/commentary :: expected a string")
        p.commentary = text
    p.modified_at = li.world.now()
    li.record(call, "post.updated", urn, text, detail=",".join(sorted(fields)))
    return Response(status_code=204)


async def refresh_token(li: _LinkedIn, call: Call) -> Response:
    """POST /oauth/v2/accessToken, ``grant_type=refresh_token``."""
    w = li.world
    raw = (await call.request.body()).decode(errors="replace")
    form = {**dict(call.request.query_params), **dict(parse_qsl(raw, keep_blank_values=True))}
    grant = form.get("grant_type")
    if grant != "refresh_token":
        return _oauth_error(
            "unsupported_grant_type", f"The grant type {grant!r} is not supported here"
        )
    for name in ("refresh_token", "client_id", "client_secret"):
        if not form.get(name):
            return _oauth_error("invalid_request", f'A required parameter "{name}" is missing')
    rec = w.tokens.refresh.get(form["refresh_token"])
    if rec is None or rec.revoked:
        return _oauth_error(
            "invalid_request", "The provided refresh token is invalid, expired or revoked"
        )
    call.account_id = rec.account_id
    if call.fire(w, "linkedin.token_revoked"):
        w.tokens.revoke_account(rec.account_id)
        return _oauth_error(
            "invalid_request", "The provided refresh token is invalid, expired or revoked"
        )
    acc = w.roster.account(rec.account_id)
    access = f"linkedinat-{w.rng.getrandbits(128):032x}"
    w.tokens.access[access] = TokenState(acc.id, w.now() + ACCESS_TTL_S, acc.credential.scopes)
    issued = li.state.refresh_issued.setdefault(form["refresh_token"], w.now())
    left = max(int(issued + REFRESH_TTL_S - w.now()), 0)
    out: dict[str, Any] = {
        "access_token": access,
        "expires_in": int(ACCESS_TTL_S),
        "refresh_token": form["refresh_token"],
        "refresh_token_expires_in": left,
        "scope": ",".join(acc.credential.scopes),
    }
    return json_response(out)


def _oauth_error(code: str, description: str) -> Response:
    return json_response({"error": code, "error_description": description}, 400)
