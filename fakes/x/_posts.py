"""Posts on the X fake: create (and reply), lookup by id or ids, delete."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..core.faults import EchoParams
from ..core.http import Call, json_response
from . import _wire as wire
from ._core import XCore, own_day
from ._fields import select
from ._search import posts_body
from ._state import Tweet, Window

__all__ = ["create_tweet", "delete_tweet", "get_tweet", "lookup_tweets"]


def echo_reply(x: XCore, call: Call, acc: str, tid: str) -> None:
    """``x.reply_echo``: the reply ``tid`` (made through the API or the web UI) draws a new
    mention with the trigger keyword, ``delay_s`` later."""
    w = x.world
    echo = call.fire(w, "x.reply_echo")
    if echo is None:
        return
    p = echo.params_as(EchoParams)
    n = w.next_id("x.echo_author")
    w.inbound.schedule(
        "x",
        "comment",
        acc,
        f"@{x.username(acc)} {p.keyword}",
        author=f"@echo_fan_{n}",
        at=w.now() + p.delay_s,
        post_id=tid,
        echo_of=tid,
    )


async def create_tweet(x: XCore, call: Call) -> Response:
    """POST /2/tweets: a post, or a reply when ``reply.in_reply_to_tweet_id`` is given."""
    w, acc = x.world, str(call.account_id)
    body = await x.json_body(call)
    if isinstance(body, Response):
        return body
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return wire.invalid_request("$.text: a post needs non-empty text", "text", text)
    reply = body.get("reply")
    reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
    if reply is not None and not isinstance(reply_to, str):
        return wire.invalid_request(
            "$.reply.in_reply_to_tweet_id: must be a post id string",
            "reply.in_reply_to_tweet_id",
            reply_to,
        )
    if call.fire(w, "x.scope_revoked", wire.writes_refused):
        return wire.forbidden(wire.NOT_PERMITTED)
    if call.fire(w, "x.action_blocked"):
        return wire.forbidden(wire.SPAM_DETAIL)
    if call.fire(w, "x.duplicate_rejected"):
        return wire.forbidden(wire.DUPLICATE_DETAIL)
    now = w.now()
    prev_id = x.state.by_text.get((acc, text))
    prev = x.state.tweets.get(prev_id) if prev_id is not None else None
    if prev is not None and not prev.deleted and now - prev.created_at < x.opts.duplicate_window_s:
        return wire.forbidden(wire.DUPLICATE_DETAIL)
    target = None
    if reply_to is not None:
        target = x.find(reply_to)
        if target is None:
            return wire.forbidden(wire.REPLY_NOT_VISIBLE)
    user_day, app_day = x.state.day(acc, now), x.state.day("app", now)
    user_limit = x.user_day_limit(call, acc)
    full = [
        d.reset
        for d, limit in ((user_day, user_limit), (app_day, x.opts.app_24h_limit))
        if d.count >= limit
    ]
    if full:
        if user_day.count >= user_limit and user_limit != x.opts.user_24h_limit:
            call.fire(w, "x.rate_limited", where=own_day)  # the rule's allowance refused it
        call.extra_headers.update(_day_headers(x, user_day, app_day, user_limit))
        # the 15-minute headers point at the same moment: no retry before a 24-hour window ends
        call.extra_headers["x-rate-limit-remaining"] = "0"
        call.extra_headers["x-rate-limit-reset"] = wire.epoch_s(max(full))
        return wire.problem_response(429, title="Too Many Requests")
    user_day.count += 1
    app_day.count += 1
    if user_day.count == user_limit and user_limit != x.opts.user_24h_limit:
        # the post that takes the rule's last one: the rule bites (served, not a refusal)
        w.faults.fire("x", call.route, acc, "x.rate_limited", own_day)
    call.extra_headers.update(_day_headers(x, user_day, app_day, user_limit))
    tid = wire.snowflake(now, w.next_id("x.tweet"))
    tweet = Tweet(
        id=tid,
        account_id=acc,
        author_id=x.user_id(acc),
        text=text,
        created_at=now,
        conversation_id=target.conversation_id if target else tid,
        in_reply_to=target.id if target else None,
        in_reply_to_user_id=target.author_id if target else None,
    )
    detail = None
    fired = call.fire(w, "x.post_invisible")
    if fired is not None:
        for_s: float | None = getattr(fired.params, "for_s", None)
        tweet.visible_from = float("inf") if for_s is None else now + for_s
        detail = "invisible" if for_s is None else f"invisible_for={for_s:g}s"
    x.state.tweets[tid] = tweet
    x.state.by_text[(acc, text)] = tid
    if target is not None:
        x.record(
            call,
            "reply.created",
            tid,
            text,
            in_reply_to=target.id,
            detail=detail,
            permalink=x.permalink(acc, tid),
        )
        echo_reply(x, call, acc, tid)
    else:
        x.record(call, "post.created", tid, text, detail=detail, permalink=x.permalink(acc, tid))
    answered = tid
    hostile = call.fire(w, "x.id_with_path")
    if hostile is not None:  # the post is made; its id comes back leading elsewhere
        answered = tid + str(getattr(hostile.params, "suffix", ""))
    return json_response(
        {"data": {"id": answered, "text": text, "edit_history_tweet_ids": [answered]}}, 201
    )


def _day_headers(x: XCore, user_day: Window, app_day: Window, user_limit: int) -> dict[str, str]:
    o = x.opts
    return {
        "x-user-limit-24hour-limit": str(user_limit),
        "x-user-limit-24hour-remaining": str(max(user_limit - user_day.count, 0)),
        "x-user-limit-24hour-reset": wire.epoch_s(user_day.reset),
        "x-app-limit-24hour-limit": str(o.app_24h_limit),
        "x-app-limit-24hour-remaining": str(max(o.app_24h_limit - app_day.count, 0)),
        "x-app-limit-24hour-reset": wire.epoch_s(app_day.reset),
    }


async def get_tweet(x: XCore, call: Call) -> Response:
    """GET /2/tweets/{id}: the post, or a 200 with a not-found partial error."""
    if refused := wire.read_scope_revoked(x.world, call):
        return refused
    sel = select(call)
    if isinstance(sel, Response):
        return sel
    tid = call.request.path_params["id"]
    t = x.find(tid)
    if t is None:
        return json_response({"errors": [wire.not_found(tid, "id")]})
    body = posts_body(x, sel, [t])
    body["data"] = body["data"][0]
    return json_response(body)


async def lookup_tweets(x: XCore, call: Call) -> Response:
    """GET /2/tweets?ids=a,b: found posts in ``data``, the rest as partial errors."""
    if refused := wire.read_scope_revoked(x.world, call):
        return refused
    sel = select(call)
    if isinstance(sel, Response):
        return sel
    raw = call.request.query_params.get("ids", "")
    ids = [i.strip() for i in raw.split(",") if i.strip()]
    if not ids:
        return wire.invalid_request("The `ids` query parameter can not be empty", "ids", raw)
    if len(ids) > x.opts.max_lookup_ids:
        return wire.invalid_request(
            f"The number of values in the `ids` query parameter list [{len(ids)}] is not between 1 and {x.opts.max_lookup_ids}",
            "ids",
            raw,
        )
    found, errors = [], []
    for tid in ids:
        t = x.find(tid)
        if t is None:
            errors.append(wire.not_found(tid, "ids"))
        else:
            found.append(t)
    out: dict[str, Any] = posts_body(x, sel, found) if found else {}
    if errors:
        out["errors"] = errors
    return json_response(out)


async def delete_tweet(x: XCore, call: Call) -> Response:
    """DELETE /2/tweets/{id}: the account's own post (or reply) → ``post.deleted``."""
    tid = call.request.path_params["id"]
    if call.fire(x.world, "x.scope_revoked"):
        return wire.forbidden(wire.NOT_PERMITTED)
    t = x.state.tweets.get(tid)
    if t is None or t.deleted:
        return json_response({"errors": [wire.not_found(tid, "id")]})
    if t.account_id != call.account_id:
        return wire.forbidden("You are not allowed to delete this Tweet.")
    t.deleted = True
    x.record(call, "post.deleted", tid, None)
    return json_response({"data": {"deleted": True}})


# users, mentions, DMs, likes --------------------------------------------------------------
