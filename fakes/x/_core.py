"""The X fake's core: the request gate (token, faults, 15-minute windows) and shared helpers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from ..core.faults import Fired, RateLimitedParams, UsageCapParams
from ..core.http import Call, json_response, read_body
from ..core.inbound import InboundItem
from ..core.jsonbody import loads_body
from ..core.world import World
from . import _wire as wire
from ._options import XOptions
from ._state import Tweet, Window, XState

__all__ = ["MENTION_FIELDS", "TWEET_FIELDS", "Handler", "XCore"]

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
#: the developer-account id X puts in a usage-cap body
USAGE_CAP_ACCOUNT = 1_478_005_236


def own_day(params: Any) -> bool:
    """An ``x.rate_limited`` rule that shrinks the account's 24-hour post allowance."""
    return getattr(params, "posts_per_day", None) is not None


def throttles_now(params: Any) -> bool:
    """An ``x.rate_limited`` rule that throttles as soon as it fires."""
    return not own_day(params)


#: the rate-limit headers an edge in front of X strips (``x.usage_capped`` ``headers: false``)
_LIMIT_HEADERS = ("x-rate-limit-", "x-user-limit-", "x-app-limit-")


class XCore:
    """The X fake bound to one world: state, options, the request gate and shared helpers."""

    def __init__(self, world: World, options: XOptions) -> None:
        self.world = world
        self.opts = options
        self.state = XState()
        world.on_reset(self.state.clear)

    def user_day_limit(self, call: Call, acc: str) -> int:
        """The account's 24-hour post allowance: the tier's, or an ``x.rate_limited`` rule's
        ``posts_per_day`` while one is in force for it."""
        if self.world.faults.active("x.rate_limited"):
            params = self.world.faults.in_force("x", call.route, acc, "x.rate_limited", own_day)
            if params is not None:
                return int(params.posts_per_day)  # type: ignore[attr-defined]
        return self.opts.user_24h_limit

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
            if call.fire(w, "x.token_expired"):
                # an expired token stays expired after the fault's window: only a refresh helps
                w.tokens.expire(cred)
                return wire.unauthorized()
            if problem is not None:
                return wire.unauthorized()
            if call.route == "users.me" and call.fire(
                w, "x.scope_revoked", lambda p: getattr(p, "scope", None) == wire.USERS_READ
            ):
                # the token was granted without users.read: X will not say whose it is (the
                # grant is the token's, so it is matched by the account the token was made for)
                return wire.forbidden(wire.NOT_PERMITTED)
            mixed = call.fire(w, "x.token_wrong_user")
            if mixed is not None:
                # the token is another user's: from here on the call acts as that account
                call.account_id = acc = self.wrong_user(acc, mixed.params)
            denied = self.count(call, acc)
            if denied is not None:
                return denied
            capped = self.usage_capped(call, acc)
            if capped is not None:
                return capped
            if scope is not None and w.tokens.check(cred, scope)[1] == "scope":
                return wire.forbidden(wire.NOT_PERMITTED)
            return await handler(call)

        return run

    def wrong_user(self, acc: str, params: Any) -> str:
        """The account a token of ``acc`` acts as under ``x.token_wrong_user``."""
        roster = self.world.roster
        wanted = getattr(params, "as_account", None)
        if wanted is not None and wanted != acc:
            try:
                if roster.account(str(wanted)).platform == "x":
                    return str(wanted)
            except KeyError:
                pass
        owner = roster.owner(acc).id
        others = [
            a.id
            for c in roster.clients
            if c.id not in (owner, "agency")
            for a in c.accounts
            if a.platform == "x"
        ]
        return others[0] if others else acc

    def count(self, call: Call, key: str) -> Response | None:
        """Count one request in its 15-minute window; a 429 when exhausted or a fault says so."""
        now = self.world.now()
        limit = self.opts.limits[call.route]
        win = self.state.window(key, call.route, self.opts.window_s, now)
        who = call.account_id or key
        held = self.state.held.get((who, call.route))
        if held is not None and now < held:
            # an earlier x.rate_limited still holds: 429 until the reset its headers named
            if (who, call.route) not in self.state.bare:
                call.extra_headers.update(self._held_headers(limit, held))
            return wire.problem_response(429, title="Too Many Requests")
        fired = call.fire(self.world, "x.rate_limited", where=throttles_now)
        if fired is not None and not fired.params_as(RateLimitedParams).headers:
            # an edge's 429: the same hold, and not a word of when it ends
            self.state.held[(who, call.route)] = (
                now + fired.params_as(RateLimitedParams).retry_after_s
            )
            self.state.bare.add((who, call.route))
            return wire.problem_response(429, title="Too Many Requests")
        if fired is not None or win.count >= limit:
            # the window as it stands (a fired rule then overrides these, keeping their order)
            call.extra_headers.update(self._rate_headers(limit, win))
            if fired is not None:
                return self._rate_limited(call, fired, key, limit, now)
            return wire.problem_response(429, title="Too Many Requests")
        win.count += 1
        call.extra_headers.update(self._rate_headers(limit, win))
        return None

    @staticmethod
    def _held_headers(limit: int, until: float) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": wire.epoch_s(until),
        }

    def _rate_limited(self, call: Call, fired: Fired, key: str, limit: int, now: float) -> Response:
        """A fired ``x.rate_limited`` holds the account's endpoint until ``retry_after_s`` from now.

        The headers say exactly when the fake accepts the next request: until then every request
        of that account to that endpoint gets the same 429 and reset (without asking the fault
        engine again), so a client that waits for ``x-rate-limit-reset`` gets in on its first
        retry. With ``window: 24h`` the account's 24-hour post window is exhausted until then.
        """
        p = fired.params_as(RateLimitedParams)
        until = now + p.retry_after_s
        if p.window == "24h":
            self.state.days[key] = Window(now, p.retry_after_s, self.opts.user_24h_limit)
            reset = wire.epoch_s(until)
            call.extra_headers.update(
                {
                    "x-user-limit-24hour-limit": str(self.opts.user_24h_limit),
                    "x-user-limit-24hour-remaining": "0",
                    "x-user-limit-24hour-reset": reset,
                }
            )
        else:
            self.state.held[(call.account_id or key, call.route)] = until
            self.state.bare.discard((call.account_id or key, call.route))
        # clients that only know the 15-minute headers must not retry before it either
        call.extra_headers.update(self._held_headers(limit, until))
        if p.style == "v1":
            return json_response({"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, 429)
        return wire.problem_response(429, title="Too Many Requests")

    def usage_capped(self, call: Call, acc: str) -> Response | None:
        """``x.usage_capped``: the monthly cap, until the rule's window ends or the month does.

        Once it fires, every request of the account is refused until then (a cap does not lift
        between two requests), and ``x-rate-limit-reset`` names that moment, never a 15-minute
        window: a client that waits on rate limits sleeps until the cap lifts. With
        ``headers: false`` the 429s carry no rate-limit header at all: the client is told it is
        capped, not until when.
        """
        now = self.world.now()
        until = self.state.capped.get(acc)
        if until is None or now >= until:
            fired = call.fire(self.world, "x.usage_capped")
            if fired is None:
                return None
            end = self.world.faults.rule_end(fired.rule_id)
            month = wire.next_month(now)
            until = self.state.capped[acc] = month if end is None else min(end, month)
            if not fired.params_as(UsageCapParams).headers:
                self.state.capped_bare.add(acc)
            else:
                self.state.capped_bare.discard(acc)
        if acc in self.state.capped_bare:
            # the edge strips every limit header, the window's counted ones too
            for name in [h for h in call.extra_headers if h.startswith(_LIMIT_HEADERS)]:
                del call.extra_headers[name]
        else:
            call.extra_headers.update(
                {"x-rate-limit-remaining": "0", "x-rate-limit-reset": wire.epoch_s(until)}
            )
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

    # helpers --------------------------------------------------------------------------------
    async def json_body(self, call: Call) -> dict[str, Any] | Response:
        """The JSON object of a request, or X's 400."""
        raw = await read_body(call.request)
        try:
            body = loads_body(raw or b"{}")
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

    def permalink(self, account_id: str, tweet_id: str) -> str:
        """A post's public address on x.com: ``https://x.com/{username}/status/{id}``."""
        return f"https://x.com/{self.username(account_id)}/status/{tweet_id}"

    def from_inbound(self, item: InboundItem) -> Tweet:
        """An inbound comment seen as a post by someone outside the roster."""
        conv = item.id
        reply_user = None
        if item.post_id is not None:
            parent = self.state.tweets.get(item.post_id)
            conv = parent.conversation_id if parent else item.post_id
            reply_user = self.user_id(item.account_id)
        author_id = wire.user_id_of(item.author)
        self.state.authors[author_id] = item.author.lstrip("@")
        return Tweet(
            id=item.id,
            account_id="",
            author_id=author_id,
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

    def record(
        self, call: Call, action: str, resource_id: str, content: str | None, **extra: Any
    ) -> None:
        """Write one accepted side effect to the ledger, as the credential's account."""
        call.record(self.world, action, resource_id, content, **extra)

    # posts ----------------------------------------------------------------------------------
