"""The X fake's routes: authentication, rate-limit windows, faults, and the handlers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response

from ..core.faults import Fired
from ..core.http import Call, FakeService, json_response
from ..core.inbound import InboundItem
from ..core.world import World
from . import _wire as wire
from ._options import XOptions
from ._state import Dm, Tweet, Window, XState

__all__ = ["create"]

Handler = Callable[[Call], Awaitable[Response]]

TWEET_FIELDS: tuple[str, ...] = (
    "author_id",
    "conversation_id",
    "created_at",
    "edit_history_tweet_ids",
    "id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "text",
)
#: what every listing of mentions serves, so the platform can thread inbound comments
MENTION_FIELDS = frozenset(TWEET_FIELDS)
DEFAULT_FIELDS = frozenset({"id", "text", "edit_history_tweet_ids"})
#: the developer-account id X puts in a usage-cap body
USAGE_CAP_ACCOUNT = 1_478_005_236


class _X:
    """The X fake bound to one world: every handler and check lives here."""

    def __init__(self, world: World, options: XOptions) -> None:
        self.world = world
        self.opts = options
        self.state = XState()
        world.on_reset(self.state.clear)

    # gate -----------------------------------------------------------------------------------
    def _rate_headers(self, limit: int, win: Window) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(limit - win.count, 0)),
            "x-rate-limit-reset": wire.epoch_s(win.reset),
        }

    def gated(self, handler: Handler, scope: str | None = None) -> Handler:
        """Wrap a handler in X's checks: token, faults of the protocol layer, the 15-minute window."""

        async def run(call: Call) -> Response:
            w = self.world
            cred = call.credential
            if cred is None:
                return wire.unauthorized()
            acc, problem = w.tokens.check(cred)
            if acc is None:
                return wire.unauthorized()
            if call.fire(w, "x.token_revoked"):
                w.tokens.revoke_account(acc)
                return wire.unauthorized()
            if call.fire(w, "x.token_expired") or problem is not None:
                return wire.unauthorized()
            denied = self.count(call, acc)
            if denied is not None:
                return denied
            if call.fire(w, "x.usage_capped"):
                return json_response(
                    {
                        "account_id": USAGE_CAP_ACCOUNT,
                        "product_name": "standard-basic",
                        "title": "UsageCapExceeded",
                        "period": "Monthly",
                        "scope": "Product",
                        "detail": "Usage cap exceeded: Monthly product cap",
                        "type": f"{wire.PROBLEMS}/usage-capped",
                        "status": 429,
                    },
                    429,
                )
            if scope is not None and w.tokens.check(cred, scope)[1] == "scope":
                return wire.forbidden(wire.NOT_PERMITTED)
            return await handler(call)

        return run

    def count(self, call: Call, key: str) -> Response | None:
        """Count one request in its 15-minute window; a 429 when exhausted or a fault says so."""
        now = self.world.now()
        limit = self.opts.limits[call.route]
        win = self.state.window(key, call.route, self.opts.window_s, now)
        call.extra_headers.update(self._rate_headers(limit, win))
        fired = call.fire(self.world, "x.rate_limited")
        if fired is not None:
            return self._rate_limited(call, fired, limit, win)
        if win.count >= limit:
            return wire.problem_response(429, title="Too Many Requests")
        win.count += 1
        call.extra_headers.update(self._rate_headers(limit, win))
        return None

    def _rate_limited(self, call: Call, fired: Fired, limit: int, win: Window) -> Response:
        p: Any = fired.params
        reset = wire.epoch_s(self.world.now() + p.retry_after_s)
        if p.window == "24h":
            call.extra_headers.update(
                {
                    "x-user-limit-24hour-limit": str(self.opts.user_24h_limit),
                    "x-user-limit-24hour-remaining": "0",
                    "x-user-limit-24hour-reset": reset,
                }
            )
        else:
            call.extra_headers.update({"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset})
        if p.style == "v1":
            return json_response({"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, 429)
        return wire.problem_response(429, title="Too Many Requests")

    # helpers --------------------------------------------------------------------------------
    async def json_body(self, call: Call) -> dict[str, Any] | Response:
        """The JSON object of a request, or X's 400."""
        raw = await call.request.body()
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return wire.invalid_request("Request body is not valid JSON.")
        if not isinstance(body, dict):
            return wire.invalid_request("Request body must be a JSON object.")
        return body

    def user_id(self, account_id: str) -> str:
        """The X user id of a roster account."""
        return self.world.roster.account(account_id).platform_user_id

    def username(self, account_id: str) -> str:
        """The handle of a roster account, without the @."""
        return self.world.roster.account(account_id).handle.lstrip("@")

    def from_inbound(self, item: InboundItem) -> Tweet:
        """An inbound comment seen as a post by someone outside the roster."""
        conv = item.id
        reply_user = None
        if item.post_id is not None:
            parent = self.state.tweets.get(item.post_id)
            conv = parent.conversation_id if parent else item.post_id
            reply_user = self.user_id(item.account_id)
        return Tweet(
            id=item.id,
            account_id="",
            author_id=wire.user_id_of(item.author),
            text=item.text,
            created_at=item.at,
            conversation_id=conv,
            in_reply_to=item.post_id,
            in_reply_to_user_id=reply_user,
        )

    def find(self, tweet_id: str) -> Tweet | None:
        """A post as lookups see it: None when missing, deleted, invisible or not yet arrived."""
        now = self.world.now()
        t = self.state.tweets.get(tweet_id)
        if t is not None:
            return t if not t.deleted and now >= t.visible_from else None
        item = self.world.inbound.get(tweet_id)
        if item is not None and item.fake == "x" and item.kind == "comment" and item.at <= now:
            return self.from_inbound(item)
        return None

    @staticmethod
    def render(t: Tweet, fields: frozenset[str]) -> dict[str, Any]:
        """A post as X serializes it with the requested ``tweet.fields``."""
        out: dict[str, Any] = {"id": t.id, "text": t.text, "edit_history_tweet_ids": [t.id]}
        if "author_id" in fields:
            out["author_id"] = t.author_id
        if "conversation_id" in fields:
            out["conversation_id"] = t.conversation_id
        if "created_at" in fields:
            out["created_at"] = wire.iso(t.created_at)
        if t.in_reply_to is not None:
            if "in_reply_to_user_id" in fields and t.in_reply_to_user_id:
                out["in_reply_to_user_id"] = t.in_reply_to_user_id
            if "referenced_tweets" in fields:
                out["referenced_tweets"] = [{"type": "replied_to", "id": t.in_reply_to}]
        return out

    @staticmethod
    def fields(call: Call) -> frozenset[str] | Response:
        """The ``tweet.fields`` asked for, or X's 400 naming the bad value."""
        raw = call.request.query_params.get("tweet.fields")
        if not raw:
            return DEFAULT_FIELDS
        asked = [f.strip() for f in raw.split(",") if f.strip()]
        for f in asked:
            if f not in TWEET_FIELDS:
                return wire.invalid_request(
                    f"The `tweet.fields` query parameter value [{f}] is not one of [{','.join(TWEET_FIELDS)}]", "tweet.fields", f
                )
        return DEFAULT_FIELDS | frozenset(asked)

    def record(self, call: Call, action: str, resource_id: str, content: str | None, **extra: Any) -> None:
        """Write one accepted side effect to the ledger, as the credential's account."""
        self.world.record(
            "x",
            action,
            account_id=call.account_id,
            credential=call.credential,
            request_id=call.request_id,
            resource_id=resource_id,
            content=content,
            channel="api",
            **extra,
        )

    # posts ----------------------------------------------------------------------------------
    async def create_tweet(self, call: Call) -> Response:
        """POST /2/tweets: a post, or a reply when ``reply.in_reply_to_tweet_id`` is given."""
        w, acc = self.world, str(call.account_id)
        body = await self.json_body(call)
        if isinstance(body, Response):
            return body
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return wire.invalid_request("$.text: a post needs non-empty text", "text", text)
        reply = body.get("reply")
        reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        if reply is not None and not isinstance(reply_to, str):
            return wire.invalid_request("$.reply.in_reply_to_tweet_id: must be a post id string", "reply.in_reply_to_tweet_id", reply_to)
        if call.fire(w, "x.scope_revoked"):
            return wire.forbidden(wire.NOT_PERMITTED)
        if call.fire(w, "x.action_blocked"):
            return wire.forbidden(wire.SPAM_DETAIL)
        if call.fire(w, "x.duplicate_rejected"):
            return wire.forbidden(wire.DUPLICATE_DETAIL)
        now = w.now()
        for t in self.state.tweets.values():
            if t.account_id == acc and not t.deleted and t.text == text and now - t.created_at < self.opts.duplicate_window_s:
                return wire.forbidden(wire.DUPLICATE_DETAIL)
        target = None
        if reply_to is not None:
            target = self.find(reply_to)
            if target is None:
                return wire.forbidden(wire.REPLY_NOT_VISIBLE)
        user_day, app_day = self.state.day(acc, now), self.state.day("app", now)
        if user_day.count >= self.opts.user_24h_limit or app_day.count >= self.opts.app_24h_limit:
            call.extra_headers.update(self._day_headers(user_day, app_day))
            return wire.problem_response(429, title="Too Many Requests")
        user_day.count += 1
        app_day.count += 1
        call.extra_headers.update(self._day_headers(user_day, app_day))
        tid = wire.snowflake(now, w.next_id("x.tweet"))
        tweet = Tweet(
            id=tid,
            account_id=acc,
            author_id=self.user_id(acc),
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
        self.state.tweets[tid] = tweet
        if target is not None:
            self.record(call, "reply.created", tid, text, in_reply_to=target.id, detail=detail)
            echo = call.fire(w, "x.reply_echo")
            if echo is not None:
                p: Any = echo.params
                n = w.next_id("x.echo_author")
                w.inbound.schedule(
                    "x", "comment", acc, f"@{self.username(acc)} {p.keyword}", author=f"@echo_fan_{n}",
                    at=now + p.delay_s, post_id=tid, echo_of=tid,
                )
        else:
            self.record(call, "post.created", tid, text, detail=detail)
        return json_response({"data": {"id": tid, "text": text, "edit_history_tweet_ids": [tid]}}, 201)

    def _day_headers(self, user_day: Window, app_day: Window) -> dict[str, str]:
        o = self.opts
        return {
            "x-user-limit-24hour-limit": str(o.user_24h_limit),
            "x-user-limit-24hour-remaining": str(max(o.user_24h_limit - user_day.count, 0)),
            "x-user-limit-24hour-reset": wire.epoch_s(user_day.reset),
            "x-app-limit-24hour-limit": str(o.app_24h_limit),
            "x-app-limit-24hour-remaining": str(max(o.app_24h_limit - app_day.count, 0)),
            "x-app-limit-24hour-reset": wire.epoch_s(app_day.reset),
        }

    async def get_tweet(self, call: Call) -> Response:
        """GET /2/tweets/{id}: the post, or a 200 with a not-found partial error."""
        fields = self.fields(call)
        if isinstance(fields, Response):
            return fields
        tid = call.request.path_params["id"]
        t = self.find(tid)
        if t is None:
            return json_response({"errors": [wire.not_found(tid, "id")]})
        return json_response({"data": self.render(t, fields)})

    async def lookup_tweets(self, call: Call) -> Response:
        """GET /2/tweets?ids=a,b: found posts in ``data``, the rest as partial errors."""
        fields = self.fields(call)
        if isinstance(fields, Response):
            return fields
        raw = call.request.query_params.get("ids", "")
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if not ids:
            return wire.invalid_request("The `ids` query parameter can not be empty", "ids", raw)
        if len(ids) > self.opts.max_lookup_ids:
            return wire.invalid_request(
                f"The number of values in the `ids` query parameter list [{len(ids)}] is not between 1 and {self.opts.max_lookup_ids}", "ids", raw
            )
        data, errors = [], []
        for tid in ids:
            t = self.find(tid)
            if t is None:
                errors.append(wire.not_found(tid, "ids"))
            else:
                data.append(self.render(t, fields))
        out: dict[str, Any] = {}
        if data:
            out["data"] = data
        if errors:
            out["errors"] = errors
        return json_response(out)

    async def delete_tweet(self, call: Call) -> Response:
        """DELETE /2/tweets/{id}: the account's own post (or reply) → ``post.deleted``."""
        tid = call.request.path_params["id"]
        if call.fire(self.world, "x.scope_revoked"):
            return wire.forbidden(wire.NOT_PERMITTED)
        t = self.state.tweets.get(tid)
        if t is None or t.deleted:
            return json_response({"errors": [wire.not_found(tid, "id")]})
        if t.account_id != call.account_id:
            return wire.forbidden("You are not allowed to delete this Tweet.")
        t.deleted = True
        self.record(call, "post.deleted", tid, None)
        return json_response({"data": {"deleted": True}})

    # users, mentions, DMs, likes --------------------------------------------------------------
    async def me(self, call: Call) -> Response:
        """GET /2/users/me."""
        acc = self.world.roster.account(str(call.account_id))
        name = self.world.roster.owner(acc.id).name
        return json_response({"data": {"id": acc.platform_user_id, "name": name, "username": acc.handle.lstrip("@")}})

    @staticmethod
    def _page(call: Call, items: list[Any]) -> tuple[list[Any], str | None] | Response:
        q = call.request.query_params
        raw_max = q.get("max_results", "10")
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            return wire.invalid_request(
                f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100", "max_results", raw_max
            )
        raw_tok = q.get("pagination_token", "0")
        if not raw_tok.isdigit():
            return wire.invalid_request(f"The `pagination_token` query parameter value [{raw_tok}] is not valid", "pagination_token", raw_tok)
        start, size = int(raw_tok), int(raw_max)
        page = items[start : start + size]
        return page, (str(start + size) if start + size < len(items) else None)

    async def mentions(self, call: Call) -> Response:
        """GET /2/users/{id}/mentions: inbound comments to the account as posts, newest first."""
        w = self.world
        uid = call.request.path_params["id"]
        acc = w.roster.by_platform_user_id("x", uid)
        if acc is None:
            return json_response({"errors": [wire.not_found(uid, "id", "user")]})
        items = sorted(w.inbound.visible("x", account_id=acc.id, kind="comment"), key=lambda i: (i.at, i.id), reverse=True)
        since = call.request.query_params.get("since_id")
        if since:
            ref = w.inbound.get(since)
            if ref is not None:
                items = [i for i in items if (i.at, i.id) > (ref.at, ref.id)]
        if items and call.fire(w, "x.duplicate_inbound"):
            items = [i for i in items for _ in (0, 1)]
        paged = self._page(call, items)
        if isinstance(paged, Response):
            return paged
        page, next_token = paged
        data = [self.render(self.from_inbound(i), MENTION_FIELDS) for i in page]
        users = {i.author: {"id": wire.user_id_of(i.author), "name": i.author.lstrip("@"), "username": i.author.lstrip("@")} for i in page}
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta.update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
        if next_token:
            meta["next_token"] = next_token
        out: dict[str, Any] = {"data": data, "includes": {"users": list(users.values())}, "meta": meta} if data else {"meta": meta}
        return json_response(out)

    async def dm_events(self, call: Call) -> Response:
        """GET /2/dm_events: inbound DMs to the account and DMs it sent, newest first."""
        w = self.world
        acc = str(call.account_id)
        me = self.user_id(acc)
        inbound = w.inbound.visible("x", account_id=acc, kind="dm")
        if inbound and call.fire(w, "x.duplicate_inbound"):
            inbound = [i for i in inbound for _ in (0, 1)]
        events: list[tuple[float, str, dict[str, Any]]] = []
        for i in inbound:
            sender = wire.user_id_of(i.author)
            events.append((i.at, i.id, self._dm_event(i.id, i.text, sender, me, i.at)))
        for d in self.state.dms:
            if d.account_id == acc:
                events.append((d.created_at, d.id, self._dm_event(d.id, d.text, d.sender_id, d.participant_id, d.created_at)))
        events.sort(key=lambda e: (e[0], e[1]), reverse=True)
        paged = self._page(call, [e[2] for e in events])
        if isinstance(paged, Response):
            return paged
        page, next_token = paged
        meta: dict[str, Any] = {"result_count": len(page)}
        if next_token:
            meta["next_token"] = next_token
        return json_response({"data": page, "meta": meta} if page else {"meta": meta})

    @staticmethod
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

    async def send_dm(self, call: Call) -> Response:
        """POST /2/dm_conversations/with/{participant_id}/messages → ``dm.sent``."""
        w = self.world
        pid = call.request.path_params["participant_id"]
        if not pid.isdigit():
            return wire.invalid_request(f"The `participant_id` path parameter value [{pid}] is not a user id", "participant_id", pid)
        body = await self.json_body(call)
        if isinstance(body, Response):
            return body
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return wire.invalid_request("$.text: a message needs non-empty text", "text", text)
        if call.fire(w, "x.scope_revoked"):
            return wire.forbidden(wire.NOT_PERMITTED)
        if call.fire(w, "x.action_blocked"):
            return wire.forbidden(wire.SPAM_DETAIL)
        acc = str(call.account_id)
        me = self.user_id(acc)
        eid = wire.snowflake(w.now(), w.next_id("x.dm"))
        self.state.dms.append(Dm(eid, acc, me, pid, text, w.now()))
        self.record(call, "dm.sent", eid, text, detail=f"to={pid}")
        a, b = sorted((me, pid), key=lambda s: (len(s), s))
        return json_response({"data": {"dm_conversation_id": f"{a}-{b}", "dm_event_id": eid}}, 201)

    async def like(self, call: Call) -> Response:
        """POST /2/users/{id}/likes → ``like.created`` (liking twice is accepted, recorded once)."""
        w = self.world
        acc = str(call.account_id)
        if call.request.path_params["id"] != self.user_id(acc):
            return wire.forbidden(wire.NOT_PERMITTED)
        body = await self.json_body(call)
        if isinstance(body, Response):
            return body
        tid = body.get("tweet_id")
        if not isinstance(tid, str) or not tid:
            return wire.invalid_request("$.tweet_id: must be a post id string", "tweet_id", tid)
        if call.fire(w, "x.scope_revoked"):
            return wire.forbidden(wire.NOT_PERMITTED)
        if call.fire(w, "x.action_blocked"):
            return wire.forbidden(wire.SPAM_DETAIL)
        if self.find(tid) is None:
            return json_response({"errors": [wire.not_found(tid, "tweet_id")]})
        if (acc, tid) not in self.state.likes:
            self.state.likes.add((acc, tid))
            self.record(call, "like.created", tid, None)
        return json_response({"data": {"liked": True}})

    # OAuth 2.0 --------------------------------------------------------------------------------
    async def token(self, call: Call) -> Response:
        """POST /2/oauth2/token: refresh_token grant; single-use refresh tokens, 2-hour access tokens."""
        w = self.world
        raw = (await call.request.body()).decode(errors="replace")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        client_id = form.get("client_id") or _basic_user(call.request.headers.get("authorization", ""))
        rt = form.get("refresh_token", "")
        rec = w.tokens.refresh.get(rt)
        if rec is not None:
            call.account_id = rec.account_id
        denied = self.count(call, f"app:{client_id or '-'}")
        if denied is not None:
            return denied
        grant = form.get("grant_type")
        if not grant:
            return wire.oauth_error("invalid_request", "Missing required parameter [grant_type].")
        if grant != "refresh_token":
            return wire.oauth_error("unsupported_grant_type", f"Grant type [{grant}] is not supported by this fake.")
        if not client_id:
            return wire.oauth_error("invalid_request", "Missing required parameter [client_id].")
        if not rt:
            return wire.oauth_error("invalid_request", "Missing required parameter [refresh_token].")
        fired = call.fire(w, "x.refresh_failed")
        if fired is not None:
            return wire.oauth_error(getattr(fired.params, "error", "invalid_request"), "Value passed for the token was invalid.")
        got = w.tokens.redeem(rt, self.opts.access_ttl_s, "x")
        if got is None:
            return wire.oauth_error("invalid_request", "Value passed for the token was invalid.")
        account_id, access, refresh = got
        scopes = w.roster.account(account_id).credential.scopes
        out: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": int(self.opts.access_ttl_s),
            "access_token": access,
            "scope": " ".join(scopes),
        }
        if not scopes or "offline.access" in scopes:
            out["refresh_token"] = refresh
        return json_response(out)


def _basic_user(header: str) -> str | None:
    if header[:6].lower() != "basic ":
        return None
    try:
        user = base64.b64decode(header[6:].strip()).decode().split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user or None


def create(world: World, options: XOptions | None = None, **overrides: Any) -> FakeService:
    """Build the X fake on ``world``; ``overrides`` replace fields of ``options`` (see XOptions)."""
    opts = (options or XOptions()).with_(**overrides) if overrides else (options or XOptions())
    x = _X(world, opts)
    svc = FakeService(world, "x", outage_body=wire.outage)
    svc.route("/2/tweets", "tweets.create", ["POST"])(x.gated(x.create_tweet, "tweet.write"))
    svc.route("/2/tweets", "tweets.lookup", ["GET"])(x.gated(x.lookup_tweets, "tweet.read"))
    svc.route("/2/tweets/{id}", "tweets.get", ["GET"])(x.gated(x.get_tweet, "tweet.read"))
    svc.route("/2/tweets/{id}", "tweets.delete", ["DELETE"])(x.gated(x.delete_tweet, "tweet.write"))
    svc.route("/2/oauth2/token", "oauth2.token", ["POST"])(x.token)
    svc.route("/2/users/me", "users.me", ["GET"])(x.gated(x.me, "users.read"))
    svc.route("/2/users/{id}/mentions", "users.mentions", ["GET"])(x.gated(x.mentions, "tweet.read"))
    svc.route("/2/dm_events", "dm_events.list", ["GET"])(x.gated(x.dm_events))
    svc.route("/2/dm_conversations/with/{participant_id}/messages", "dm.send", ["POST"])(x.gated(x.send_dm))
    svc.route("/2/users/{id}/likes", "likes.create", ["POST"])(x.gated(x.like))
    return svc
