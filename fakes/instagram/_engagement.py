"""Engagement on the Instagram fake: comments, replies, messages, and refreshing long-lived tokens."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ..core.faults import EchoParams
from ..core.http import Call, json_response
from ..core.jsonbody import loads_body
from ..core.tokens import TokenState
from . import _wire as wire
from ._core import IgCore
from ._publishing import COMMENT_FIELDS, comment_values
from ._state import Reply, Sent

__all__ = ["list_comments", "refresh_token", "reply", "send_message"]


async def list_comments(ig: IgCore, call: Call) -> Response:
    """GET /{media-id}/comments: inbound top-level comments, newest first."""
    w = ig.world
    mid = call.request.path_params["media_id"]
    m = ig.state.media.get(mid)
    if m is None or m.account_id != call.account_id or not m.shown(w.now()):
        return wire.not_found(w, mid)
    fields = ig.fields(call, COMMENT_FIELDS, "IGComment", default=("timestamp", "text", "id"))
    if isinstance(fields, Response):
        return fields
    gone = ig.state.deleted_comments
    items = sorted(
        (
            (i.at, i.id)
            for i in w.inbound.visible(
                "instagram", account_id=m.account_id, post_id=mid, kind="comment"
            )
            if i.id not in gone
        ),
        reverse=True,
    )
    if items and call.fire(w, "instagram.duplicate_inbound"):
        items = [i for i in items for _ in (0, 1)]
    # the account's own top-level comments on its media are comments too
    own = [(r.created_at, r.id) for r in ig.state.replies.values() if r.comment_id == mid]
    items = sorted([*items, *own], reverse=True) if own else items
    data = []
    for _, cid in items:
        values = comment_values(ig, cid, m.account_id)
        if values is not None:
            data.append({f: values[f] for f in fields if f in values})
    return json_response({"data": data})


async def reply(ig: IgCore, call: Call) -> Response:
    """POST /{comment-id}/replies?message= → a reply id and ``reply.created`` (top-level comments only)."""
    w = ig.world
    cid = call.request.path_params["comment_id"]
    item = w.inbound.get(cid)
    if (
        item is None
        or item.fake != "instagram"
        or item.kind != "comment"
        or item.at > w.now()
        or item.account_id != call.account_id
        or not _on_a_post_still_there(ig, item.post_id, w.now())
    ):
        return wire.not_found(w, cid, "post")
    message = ig.params(call).get("message")
    if not message:
        return ig.missing("message")
    if call.fire(w, "instagram.scope_revoked"):
        return ig.permission_denied()
    if call.fire(w, "instagram.action_blocked"):
        return _blocked(ig)
    acc = str(call.account_id)
    rid = ig.next_id("180")
    now = w.now()
    ig.state.replies[rid] = Reply(rid, acc, cid, item.post_id, message, now)
    ig.record(call, "reply.created", rid, message, in_reply_to=cid)
    echo = call.fire(w, "instagram.reply_echo")
    if echo is not None:
        p = echo.params_as(EchoParams)
        n = w.next_id("instagram.echo_author")
        w.inbound.schedule(
            "instagram",
            "comment",
            acc,
            p.keyword,
            author=f"echo_fan_{n}",
            at=now + p.delay_s,
            post_id=item.post_id,
            echo_of=rid,
        )
    return json_response({"id": rid})


def _on_a_post_still_there(ig: IgCore, post_id: str | None, now: float) -> bool:
    """Whether a comment's media still stands (its owner's deleting it takes its comments)."""
    m = ig.state.media.get(post_id) if post_id else None
    return m is None or now < m.deleted_at


def _blocked(ig: IgCore) -> Response:
    return ig.err(
        400,
        "Application request limit reached",
        4,
        2207051,
        user_title="Action is blocked",
        user_msg="We restrict certain activity to protect our community. Tell us if you think we made a mistake.",
    )


def _obj(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        v = loads_body(raw)
    except json.JSONDecodeError:
        return None
    return v if isinstance(v, dict) else None


async def send_message(ig: IgCore, call: Call) -> Response:
    """POST /{ig-user-id}/messages (Send API) → ``dm.sent``; recipient by id or comment_id."""
    w = ig.world
    uid = call.request.path_params["ig_user_id"]
    if not ig.owns(call, uid):
        return wire.not_found(w, uid, "post")
    p = ig.params(call)
    recipient, message = _obj(p.get("recipient")), _obj(p.get("message"))
    to = None if recipient is None else recipient.get("id") or recipient.get("comment_id")
    if not isinstance(to, str) or not to:
        return ig.err(400, "(#100) param recipient must be non-empty.", 100)
    text = None if message is None else message.get("text")
    if not isinstance(text, str) or not text:
        return ig.err(400, "(#100) param message must be non-empty.", 100)
    if call.fire(w, "instagram.scope_revoked"):
        return ig.permission_denied()
    if call.fire(w, "instagram.action_blocked"):
        return _blocked(ig)
    mid = wire.message_id(w.next_id("instagram.message"))
    ig.state.messages.append(Sent(mid, str(call.account_id), to, text, w.now()))
    ig.record(call, "dm.sent", mid, text, detail=f"to={to}")
    return json_response({"recipient_id": to, "message_id": mid})


async def refresh_token(ig: IgCore, call: Call) -> Response:
    """GET /refresh_access_token?grant_type=ig_refresh_token: a new long-lived token (old one stays valid)."""
    w = ig.world
    grant = ig.params(call).get("grant_type")
    if grant != "ig_refresh_token":
        return ig.err(
            400, f"(#100) Unsupported grant_type: {grant!r}; expected 'ig_refresh_token'", 100
        )
    old = w.tokens.access[str(call.credential)]
    token = f"instagramat-{w.rng.getrandbits(128):032x}"
    w.tokens.access[token] = TokenState(old.account_id, w.now() + ig.opts.token_ttl_s, old.scopes)
    return json_response(
        {"access_token": token, "token_type": "bearer", "expires_in": int(ig.opts.token_ttl_s)}
    )
