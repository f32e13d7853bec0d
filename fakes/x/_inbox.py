"""The account side of the X fake: who am I, mentions, direct messages and likes."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..core.faults import EchoParams
from ..core.http import Call, json_response
from . import _wire as wire
from ._core import MENTION_FIELDS, XCore
from ._fields import select
from ._search import posts_body
from ._state import Dm

__all__ = ["dm_events", "like", "me", "mentions", "send_dm"]


async def me(x: XCore, call: Call) -> Response:
    """GET /2/users/me."""
    acc = x.world.roster.account(str(call.account_id))
    name = x.world.roster.owner(acc.id).name
    return json_response(
        {"data": {"id": acc.platform_user_id, "name": name, "username": acc.handle.lstrip("@")}}
    )


def _page(
    call: Call, items: list[Any], *, default: int = 10, lo: int = 5
) -> tuple[list[Any], str | None] | Response:
    """One page of ``items``: ``max_results`` (``lo``..100, ``default`` when absent) from
    ``pagination_token``. Mentions page 5..100 by 10; DM events 1..100 by 100 (X's API reference)."""
    q = call.request.query_params
    raw_max = q.get("max_results", str(default))
    if not raw_max.isdigit() or not lo <= int(raw_max) <= 100:
        return wire.invalid_request(
            f"The `max_results` query parameter value [{raw_max}] is not between {lo} and 100",
            "max_results",
            raw_max,
        )
    raw_tok = q.get("pagination_token", "0")
    if not raw_tok.isdigit():
        return wire.invalid_request(
            f"The `pagination_token` query parameter value [{raw_tok}] is not valid",
            "pagination_token",
            raw_tok,
        )
    start, size = int(raw_tok), int(raw_max)
    page = items[start : start + size]
    return page, (str(start + size) if start + size < len(items) else None)


async def mentions(x: XCore, call: Call) -> Response:
    """GET /2/users/{id}/mentions: inbound comments to the account as posts, newest first."""
    w = x.world
    uid = call.request.path_params["id"]
    acc = w.roster.by_platform_user_id("x", uid)
    if acc is None:
        return json_response({"errors": [wire.not_found(uid, "id", "user")]})
    items = sorted(
        w.inbound.visible("x", account_id=acc.id, kind="comment"),
        key=lambda i: (i.at, i.id),
        reverse=True,
    )
    since = call.request.query_params.get("since_id")
    if since:
        ref = w.inbound.get(since)
        if ref is not None:
            items = [i for i in items if (i.at, i.id) > (ref.at, ref.id)]
    if items and call.fire(w, "x.duplicate_inbound"):
        items = [i for i in items for _ in (0, 1)]
    paged = _page(call, items)
    if isinstance(paged, Response):
        return paged
    page, next_token = paged
    sel = select(call, always=MENTION_FIELDS)
    if isinstance(sel, Response):
        return sel
    tweets = [x.from_inbound(i) for i in page]
    # the authors always come along in includes.users, so the platform can thread by handle
    body = posts_body(x, sel, tweets, tuple(dict.fromkeys(t.author_id for t in tweets)))
    meta: dict[str, Any] = {"result_count": len(tweets)}
    if tweets:
        meta.update(newest_id=tweets[0].id, oldest_id=tweets[-1].id)
    if next_token:
        meta["next_token"] = next_token
    out: dict[str, Any] = {**body, "meta": meta} if tweets else {"meta": meta}
    return json_response(out)


async def dm_events(x: XCore, call: Call) -> Response:
    """GET /2/dm_events: inbound DMs to the account and DMs it sent, newest first."""
    w = x.world
    acc = str(call.account_id)
    me = x.user_id(acc)
    inbound = w.inbound.visible("x", account_id=acc, kind="dm")
    if inbound and call.fire(w, "x.duplicate_inbound"):
        inbound = [i for i in inbound for _ in (0, 1)]
    events: list[tuple[float, str, dict[str, Any]]] = []
    for i in inbound:
        sender = wire.user_id_of(i.author)
        events.append((i.at, i.id, _dm_event(i.id, i.text, sender, me, i.at)))
    for d in x.state.dms:
        if d.account_id == acc:
            events.append(
                (
                    d.created_at,
                    d.id,
                    _dm_event(d.id, d.text, d.sender_id, d.participant_id, d.created_at),
                )
            )
    other = call.request.path_params.get("participant_id")
    if other is not None:  # GET /2/dm_conversations/with/{participant_id}/dm_events
        events = [
            e
            for e in events
            if other in (e[2]["sender_id"], *e[2]["dm_conversation_id"].split("-"))
        ]
    events.sort(key=lambda e: (e[0], e[1]), reverse=True)
    # X pages DM events 1..100, 100 when max_results is absent (mentions: 5..100, 10)
    paged = _page(call, [e[2] for e in events], default=100, lo=1)
    if isinstance(paged, Response):
        return paged
    page, next_token = paged
    meta: dict[str, Any] = {"result_count": len(page)}
    if next_token:
        meta["next_token"] = next_token
    return json_response({"data": page, "meta": meta} if page else {"meta": meta})


def _dm_event(eid: str, text: str, sender: str, other: str, t: float) -> dict[str, Any]:
    a, b = sorted((sender, other), key=lambda s: (len(s), s))
    return {
        "id": eid,
        "event_type": "MessageCreate",
        "text": text,
        "sender_id": sender,
        "dm_conversation_id": f"{a}-{b}",
        "created_at": wire.iso(t),
    }


async def send_dm(x: XCore, call: Call) -> Response:
    """POST /2/dm_conversations/with/{participant_id}/messages → ``dm.sent``."""
    w = x.world
    pid = call.request.path_params["participant_id"]
    if not pid.isdigit():
        return wire.invalid_request(
            f"The `participant_id` path parameter value [{pid}] is not a user id",
            "participant_id",
            pid,
        )
    body = await x.json_body(call)
    if isinstance(body, Response):
        return body
    text = body.get("text")
    if not isinstance(text, str) or not text:
        return wire.invalid_request("$.text: a message needs non-empty text", "text", text)
    if call.fire(w, "x.scope_revoked", wire.writes_refused):
        return wire.forbidden(wire.NOT_PERMITTED)
    if call.fire(w, "x.action_blocked"):
        return wire.forbidden(wire.SPAM_DETAIL)
    acc = str(call.account_id)
    me = x.user_id(acc)
    eid = wire.snowflake(w.now(), w.next_id("x.dm"))
    x.state.dms.append(Dm(eid, acc, me, pid, text, w.now()))
    x.record(call, "dm.sent", eid, text, detail=f"to={pid}")
    echo = call.fire(w, "x.reply_echo", lambda p: bool(getattr(p, "dms", False)))
    if echo is not None:
        # an auto-responder on the other side: the person the DM went to writes back at once
        author = next(
            (
                i.author
                for i in w.inbound.visible("x", account_id=acc, kind="dm")
                if wire.user_id_of(i.author) == pid
            ),
            None,
        )
        if author is not None:
            p = echo.params_as(EchoParams)
            w.inbound.schedule(
                "x", "dm", acc, p.keyword, author=author, at=w.now() + p.delay_s, echo_of=eid
            )
    a, b = sorted((me, pid), key=lambda s: (len(s), s))
    return json_response({"data": {"dm_conversation_id": f"{a}-{b}", "dm_event_id": eid}}, 201)


async def like(x: XCore, call: Call) -> Response:
    """POST /2/users/{id}/likes → ``like.created`` (liking twice is accepted, recorded once)."""
    w = x.world
    acc = str(call.account_id)
    if call.request.path_params["id"] != x.user_id(acc):
        return wire.forbidden(wire.NOT_PERMITTED)
    body = await x.json_body(call)
    if isinstance(body, Response):
        return body
    tid = body.get("tweet_id")
    if not isinstance(tid, str) or not tid:
        return wire.invalid_request("$.tweet_id: must be a post id string", "tweet_id", tid)
    if call.fire(w, "x.scope_revoked", wire.writes_refused):
        return wire.forbidden(wire.NOT_PERMITTED)
    if call.fire(w, "x.action_blocked"):
        return wire.forbidden(wire.SPAM_DETAIL)
    if x.find(tid) is None:
        return json_response({"errors": [wire.not_found(tid, "tweet_id")]})
    if (acc, tid) not in x.state.likes:
        x.state.likes.add((acc, tid))
        x.record(call, "like.created", tid, None)
    return json_response({"data": {"liked": True}})


# OAuth 2.0 --------------------------------------------------------------------------------
