"""The Instagram fake's inbox and moderation: comments on media, deletion, DM conversations.

- ``POST /{ig-media-id}/comments?message=`` comments on the account's own media →
  ``{"id"}`` and ``reply.created`` (in reply to the media).
- ``DELETE /{ig-comment-id}`` deletes a comment on the account's media or one it wrote →
  ``{"success": true}`` and ``post.deleted``.
- ``GET /{ig-user-id}/conversations`` lists DM threads (inbound DMs and sent messages),
  ``GET /{conversation-id}?fields=messages`` and ``GET /{message-id}?fields=…`` read them, in
  the shapes of the Instagram messaging API (base64 conversation and message ids).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.responses import Response

from ..core.http import Call, json_response
from . import _wire as wire
from ._core import IgCore, field_names
from ._state import Reply

__all__ = ["conversations", "create_comment", "delete_node", "list_replies", "node"]

_CONV = "ig_thread:"
_MSG = "ig_message_item:1:IN:"


def _b64(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode().rstrip("=")


def _unb64(value: str) -> str | None:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _author_id(username: str) -> str:
    from ._publishing import user_id_of

    return user_id_of(username.lstrip("@"))


async def create_comment(ig: IgCore, call: Call) -> Response:
    """POST /{ig-media-id}/comments: a comment on the account's own published media."""
    w = ig.world
    mid = call.request.path_params["media_id"]
    m = ig.state.media.get(mid)
    if m is None or m.account_id != call.account_id or not m.shown(w.now()):
        return wire.not_found(w, mid, "post")
    message = ig.params(call).get("message")
    if not message:
        return ig.missing("message")
    if call.fire(w, "instagram.scope_revoked"):
        return ig.permission_denied()
    if call.fire(w, "instagram.action_blocked"):
        return ig.err(400, "Application request limit reached", 4, 2207051)
    rid = ig.next_id("180")
    ig.state.replies[rid] = Reply(rid, str(call.account_id), mid, mid, message, w.now())
    ig.record(call, "reply.created", rid, message, in_reply_to=mid)
    return json_response({"id": rid})


async def list_replies(ig: IgCore, call: Call) -> Response:
    """GET /{ig-comment-id}/replies: the replies to a comment on the account's media, oldest first."""
    from ._publishing import COMMENT_FIELDS, comment_values

    w = ig.world
    cid = call.request.path_params["comment_id"]
    acc = str(call.account_id)
    if comment_values(ig, cid, acc) is None:
        return wire.not_found(w, cid)
    fields = ig.fields(call, COMMENT_FIELDS, "IGComment", default=("timestamp", "text", "id"))
    if isinstance(fields, Response):
        return fields
    mine = sorted(
        (r for r in ig.state.replies.values() if r.comment_id == cid and r.media_id != cid),
        key=lambda r: (r.created_at, r.id),
    )
    data = []
    for r in mine:
        values = comment_values(ig, r.id, acc)
        if values is not None:
            data.append({f: values[f] for f in fields if f in values})
    return json_response({"data": data})


async def delete_node(ig: IgCore, call: Call) -> Response:
    """DELETE /{ig-comment-id}: a comment the account wrote or one on its media."""
    w = ig.world
    nid = call.request.path_params["node_id"]
    acc = str(call.account_id)
    r = ig.state.replies.get(nid)
    if r is not None and r.account_id == acc:
        del ig.state.replies[nid]
        ig.record(call, "post.deleted", nid, None)
        return json_response({"success": True})
    item = w.inbound.get(nid)
    if (
        item is not None
        and item.fake == "instagram"
        and item.kind == "comment"
        and item.account_id == acc
        and item.at <= w.now()
        and nid not in ig.state.deleted_comments
    ):
        ig.state.deleted_comments.add(nid)
        ig.record(call, "post.deleted", nid, None, detail="inbound comment")
        return json_response({"success": True})
    return wire.not_found(w, nid, "delete")


def _threads(ig: IgCore, acc_id: str) -> dict[str, list[dict[str, Any]]]:
    """Other party's id → messages (oldest first), for an account."""
    w = ig.world
    acc = w.roster.account(acc_id)
    me = {"username": acc.handle.lstrip("@"), "id": acc.platform_user_id}
    out: dict[str, list[dict[str, Any]]] = {}
    for i in w.inbound.visible("instagram", account_id=acc_id, kind="dm"):
        other = {"username": i.author.lstrip("@"), "id": _author_id(i.author)}
        out.setdefault(other["id"], []).append(
            {
                "id": _b64(_MSG + i.id),
                "created_time": wire.iso(i.at),
                "from": other,
                "to": {"data": [me]},
                "message": i.text,
                "_t": i.at,
            }
        )
    for s in ig.state.messages:
        if s.account_id == acc_id:
            out.setdefault(s.to, []).append(
                {
                    "id": s.id,
                    "created_time": wire.iso(s.created_at),
                    "from": me,
                    "to": {"data": [{"id": s.to}]},
                    "message": s.text,
                    "_t": s.created_at,
                }
            )
    for msgs in out.values():
        msgs.sort(key=lambda m: m["_t"], reverse=True)
    return out


def _public(msg: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {f: msg[f] for f in ("id", *fields) if f in msg and not f.startswith("_")}


def _conv_json(
    ig: IgCore, acc_id: str, other: str, msgs: list[dict[str, Any]], fields: list[str]
) -> dict[str, Any]:
    acc = ig.world.roster.account(acc_id)
    out: dict[str, Any] = {"id": _b64(f"{_CONV}{acc.platform_user_id}:{other}")}
    if "updated_time" in fields:
        out["updated_time"] = msgs[0]["created_time"]
    if "messages" in fields:
        out["messages"] = {
            "data": [{"id": m["id"], "created_time": m["created_time"]} for m in msgs]
        }
    if "participants" in fields:
        first = msgs[-1]
        them = first["from"] if first["from"]["id"] == other else first["to"]["data"][0]
        me = {"username": acc.handle.lstrip("@"), "id": acc.platform_user_id}
        out["participants"] = {"data": [me, them]}
    return out


async def conversations(ig: IgCore, call: Call) -> Response:
    """GET /{ig-user-id}/conversations?platform=instagram: DM threads, latest first."""
    uid = call.request.path_params["ig_user_id"]
    if not ig.owns(call, uid):
        return wire.not_found(ig.world, uid)
    platform = ig.params(call).get("platform", "instagram")
    if platform != "instagram":
        return ig.err(
            400, f"(#100) Param platform must be one of {{INSTAGRAM}}, got {platform}", 100
        )
    raw = ig.params(call).get("fields")
    fields = field_names(raw) if raw else ["id", "updated_time"]
    threads = _threads(ig, str(call.account_id))
    data = [
        _conv_json(ig, str(call.account_id), other, msgs, fields)
        for other, msgs in sorted(threads.items(), key=lambda kv: kv[1][0]["_t"], reverse=True)
    ]
    return json_response({"data": data})


def node(ig: IgCore, call: Call, nid: str) -> Response | None:
    """A conversation or message node of the caller's account, or None."""
    raw = _unb64(nid)
    if raw is None:
        return None
    acc_id = str(call.account_id)
    acc = ig.world.roster.account(acc_id)
    fields_raw = ig.params(call).get("fields")
    if raw.startswith(_CONV):
        mine, _, other = raw[len(_CONV) :].partition(":")
        msgs = _threads(ig, acc_id).get(other)
        if mine != acc.platform_user_id or not msgs:
            return None
        fields = field_names(fields_raw) if fields_raw else ["id"]
        return json_response(_conv_json(ig, acc_id, other, msgs, fields))
    for msgs in _threads(ig, acc_id).values():
        for m in msgs:
            if m["id"] == nid:
                fields = field_names(fields_raw) if fields_raw else ["id", "created_time"]
                return json_response(_public(m, fields))
    return None
