"""Reads on the X fake beyond single posts: users, a user's posts, recent search; and the
``data`` + ``includes`` every post-returning route answers with."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..core.http import Call, json_response
from . import _wire as wire
from ._core import XCore
from ._fields import Selection, render_tweet, render_user, select
from ._state import Tweet

__all__ = ["posts_body", "search_recent", "user_by_username", "user_get", "user_tweets"]

#: recent search looks back this far (X: the last seven days)
RECENT_S = 7 * 86_400.0


def _user(x: XCore, user_id: str, fields: frozenset[str]) -> dict[str, Any] | None:
    """A roster account or an inbound author as X serves a user, or None."""
    w = x.world
    acc = w.roster.by_platform_user_id("x", user_id)
    if acc is not None:
        n = (
            sum(1 for t in x.state.tweets.values() if t.account_id == acc.id and not t.deleted)
            if "public_metrics" in fields
            else 0
        )
        name = w.roster.owner(acc.id).name
        return render_user(user_id, acc.handle.lstrip("@"), name, fields, n)
    handle = x.state.authors.get(user_id)
    if handle is None:
        for i in w.inbound.items:
            if i.fake == "x" and i.at <= w.now() and wire.user_id_of(i.author) == user_id:
                handle = x.state.authors[user_id] = i.author.lstrip("@")
                break
    return None if handle is None else render_user(user_id, handle, handle, fields, 0)


def _metrics(x: XCore, t: Tweet) -> dict[str, int]:
    w = x.world
    replies = sum(
        1 for r in x.state.tweets.values() if r.in_reply_to == t.id and not r.deleted
    ) + len(w.inbound.visible("x", post_id=t.id, kind="comment"))
    likes = sum(1 for _, pid in x.state.likes if pid == t.id)
    return {"reply_count": replies, "like_count": likes}


def posts_body(
    x: XCore, sel: Selection, tweets: list[Tweet], extra_users: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``{"data": [...], "includes": {...}}`` for posts, expanded as the selection says."""
    metrics = "public_metrics" in sel.tweet
    data = [render_tweet(t, sel.tweet, _metrics(x, t) if metrics else {}) for t in tweets]
    user_ids: list[str] = list(extra_users)
    ref_posts: list[Tweet] = []
    for t in tweets:
        if "author_id" in sel.expansions:
            user_ids.append(t.author_id)
        if "in_reply_to_user_id" in sel.expansions and t.in_reply_to_user_id:
            user_ids.append(t.in_reply_to_user_id)
        if t.in_reply_to is not None and (
            "referenced_tweets.id" in sel.expansions
            or "referenced_tweets.id.author_id" in sel.expansions
        ):
            ref = x.find(t.in_reply_to)
            if ref is not None:
                ref_posts.append(ref)
                if "referenced_tweets.id.author_id" in sel.expansions:
                    user_ids.append(ref.author_id)
    includes: dict[str, Any] = {}
    users = []
    for uid in dict.fromkeys(user_ids):
        u = _user(x, uid, sel.user)
        if u is not None:
            users.append(u)
    if users:
        includes["users"] = users
    if ref_posts and "referenced_tweets.id" in sel.expansions:
        seen = dict.fromkeys(r.id for r in ref_posts)
        by_id = {r.id: r for r in ref_posts}
        includes["tweets"] = [
            render_tweet(by_id[i], sel.tweet, _metrics(x, by_id[i]) if metrics else {})
            for i in seen
        ]
    out: dict[str, Any] = {"data": data}
    if includes:
        out["includes"] = includes
    return out


def _page(
    call: Call, items: list[Tweet], lo: int, hi: int, default: int
) -> tuple[list[Tweet], str | None] | Response:
    q = call.request.query_params
    raw_max = q.get("max_results", str(default))
    if not raw_max.isdigit() or not lo <= int(raw_max) <= hi:
        return wire.invalid_request(
            f"The `max_results` query parameter value [{raw_max}] is not between {lo} and {hi}",
            "max_results",
            raw_max,
        )
    name = "next_token" if "next_token" in q else "pagination_token"
    raw_tok = q.get(name, "0")
    if not raw_tok.isdigit():
        return wire.invalid_request(
            f"The `{name}` query parameter value [{raw_tok}] is not valid", name, raw_tok
        )
    since, until = q.get("since_id"), q.get("until_id")
    if since and since.isdigit():
        items = [t for t in items if int(t.id) > int(since)]
    if until and until.isdigit():
        items = [t for t in items if int(t.id) < int(until)]
    start, size = int(raw_tok), int(raw_max)
    return items[start : start + size], (str(start + size) if start + size < len(items) else None)


def _listing(x: XCore, call: Call, items: list[Tweet], lo: int, hi: int, default: int) -> Response:
    sel = select(call)
    if isinstance(sel, Response):
        return sel
    items = sorted(items, key=lambda t: (t.created_at, int(t.id)), reverse=True)
    paged = _page(call, items, lo, hi, default)
    if isinstance(paged, Response):
        return paged
    page, next_token = paged
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
    if next_token:
        meta["next_token"] = next_token
    if not page:
        return json_response({"meta": meta})
    return json_response({**posts_body(x, sel, page), "meta": meta})


def _visible(x: XCore) -> list[Tweet]:
    """Every post a reader can see now: the accounts' own and inbound comments."""
    w = x.world
    now = w.now()
    own = [t for t in x.state.tweets.values() if not t.deleted and now >= t.visible_from]
    inbound = [x.from_inbound(i) for i in w.inbound.visible("x", kind="comment")]
    return own + inbound


async def user_tweets(x: XCore, call: Call) -> Response:
    """GET /2/users/{id}/tweets: the account's posts and replies, newest first."""
    if refused := wire.read_scope_revoked(x.world, call):
        return refused
    uid = call.request.path_params["id"]
    acc = x.world.roster.by_platform_user_id("x", uid)
    if acc is None:
        return json_response({"errors": [wire.not_found(uid, "id", "user")]})
    exclude = call.request.query_params.get("exclude", "")
    items = [t for t in _visible(x) if t.account_id == acc.id]
    if "replies" in exclude:
        items = [t for t in items if t.in_reply_to is None]
    return _listing(x, call, items, 5, 100, 10)


def _matches(x: XCore, t: Tweet, terms: list[str]) -> bool:
    text = t.text.lower()
    for term in terms:
        neg = term.startswith("-")
        term = term.lstrip("-")
        key, _, value = term.partition(":")
        if value and key in ("from", "to", "conversation_id", "in_reply_to_tweet_id", "is"):
            if key == "from":
                acc = x.world.roster.by_platform_user_id("x", t.author_id)
                handle = acc.handle.lstrip("@") if acc else _inbound_handle(x, t.author_id)
                hit = handle.lower() == value.lstrip("@").lower() or t.author_id == value
            elif key == "to":
                hit = t.in_reply_to_user_id is not None and (
                    t.in_reply_to_user_id == value or f"@{value.lstrip('@').lower()}" in text
                )
            elif key == "conversation_id":
                hit = t.conversation_id == value
            elif key == "in_reply_to_tweet_id":
                hit = t.in_reply_to == value
            else:
                hit = (value == "reply" and t.in_reply_to is not None) or (
                    value not in ("reply", "retweet", "quote")
                )
        else:
            hit = term.strip('"').lower() in text
        if hit == neg:
            return False
    return True


def _inbound_handle(x: XCore, user_id: str) -> str:
    for i in x.world.inbound.items:
        if i.fake == "x" and wire.user_id_of(i.author) == user_id:
            return i.author.lstrip("@")
    return ""


async def search_recent(x: XCore, call: Call) -> Response:
    """GET /2/tweets/search/recent?query=: posts of the last 7 days matching the query.

    Operators understood: keywords and "phrases" (case-insensitive), ``from:``, ``to:``,
    ``@handle``, ``conversation_id:``, ``in_reply_to_tweet_id:``, ``is:reply`` and negation.
    """
    q = call.request.query_params.get("query", "").strip()
    if not q:
        return wire.invalid_request("The `query` query parameter can not be empty", "query", q)
    if len(q) > 512:
        return wire.invalid_request(
            f"The `query` query parameter value length [{len(q)}] is over the limit of 512",
            "query",
            q,
        )
    now = x.world.now()
    terms = q.split()
    items = [t for t in _visible(x) if now - t.created_at <= RECENT_S and _matches(x, t, terms)]
    return _listing(x, call, items, 10, 100, 10)


async def user_get(x: XCore, call: Call) -> Response:
    """GET /2/users/{id}."""
    return _one_user(x, call, call.request.path_params["id"], "id")


async def user_by_username(x: XCore, call: Call) -> Response:
    """GET /2/users/by/username/{username}."""
    name = call.request.path_params["username"].lstrip("@").lower()
    uid = next(
        (
            a.platform_user_id
            for a in x.world.roster.accounts("x")
            if a.handle.lstrip("@").lower() == name
        ),
        None,
    )
    if uid is None:
        for i in x.world.inbound.items:
            if i.fake == "x" and i.author.lstrip("@").lower() == name:
                uid = wire.user_id_of(i.author)
                break
    return _one_user(x, call, uid, "username", name)


def _one_user(
    x: XCore, call: Call, uid: str | None, parameter: str, value: str | None = None
) -> Response:
    sel = select(call)
    if isinstance(sel, Response):
        return sel
    u = None if uid is None else _user(x, uid, sel.user)
    if u is None:
        shown = value if value is not None else str(uid)
        return json_response({"errors": [wire.not_found(shown, parameter, "user")]})
    return json_response({"data": u})
