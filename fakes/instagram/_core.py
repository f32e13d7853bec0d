"""The Instagram fake's core: parameters, the request gate (token, usage, faults) and helpers."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from ..core.faults import GraphErrorParams, RateLimitedParams
from ..core.http import Call
from ..core.jsonbody import loads_body
from ..core.roster import Account
from ..core.world import World
from . import _wire as wire
from ._options import InstagramOptions
from ._state import IgState

__all__ = ["Handler", "IgCore", "credential_of", "field_names"]

Handler = Callable[[Call], Awaitable[Response]]
_VERSION = re.compile(r"\d+\.\d+")


def credential_of(request: Request) -> str | None:
    """The access token from the query string or a bearer header (form bodies: see the gate)."""
    q = request.query_params.get("access_token")
    if q:
        return q
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


def field_names(raw: str) -> list[str]:
    """The top-level names of a Graph ``fields`` value.

    Nested selections and modifiers (``children{id,media_url}``, ``comments.limit(5)``) are
    split off: commas inside braces or parentheses do not separate fields.
    """
    out: list[str] = []
    depth, cur = 0, ""
    for ch in raw + ",":
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        if ch == "," and depth == 0:
            name = re.split(r"[{.(]", cur.strip(), maxsplit=1)[0]
            if name:
                out.append(name)
            cur = ""
        else:
            cur += ch
    return out


def _fb_time(t: float) -> str:
    return time.strftime("%A, %d-%b-%y %H:%M:%S UTC", time.gmtime(int(t)))


#: call_count (percent) from which an account's own limit counts as served (the drill bit)
NEAR_LIMIT_PCT = 80


def _own_limit(params: BaseModel) -> bool:
    """An ``instagram.rate_limited`` rule that shrinks the account's hourly calls."""
    return getattr(params, "calls_per_hour", None) is not None and getattr(params, "code", 0) != 4


def _app_limit(params: BaseModel) -> bool:
    """An ``instagram.rate_limited`` rule with code 4 that shrinks the app's hourly calls (every
    account's calls together: what ``x-app-usage`` counts)."""
    return getattr(params, "calls_per_hour", None) is not None and getattr(params, "code", 0) == 4


def _throttle_now(params: BaseModel) -> bool:
    """An ``instagram.rate_limited`` rule that throttles as soon as it fires."""
    return getattr(params, "calls_per_hour", None) is None


class IgCore:
    """The Instagram fake bound to one world: state, options, the gate and shared helpers."""

    def __init__(self, world: World, options: InstagramOptions) -> None:
        self.world = world
        self.opts = options
        self.state = IgState()
        world.on_reset(self.state.clear)
        world.inbound.resolvers["instagram"] = self.newest_media

    # parameters -----------------------------------------------------------------------------
    @staticmethod
    async def _read_params(request: Request) -> dict[str, str] | None:
        """Query string merged with a form or JSON body (Graph accepts parameters in any of them)."""
        out = dict(request.query_params)
        raw = await request.body()
        if not raw:
            return out
        ctype = request.headers.get("content-type", "")
        if "json" in ctype:
            try:
                body = loads_body(raw)
            except json.JSONDecodeError:
                return None
            if not isinstance(body, dict):
                return None
            for k, v in body.items():
                out[str(k)] = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        else:
            out.update(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
        return out

    @staticmethod
    def params(call: Call) -> dict[str, str]:
        """The request's merged parameters, as read by the gate."""
        p: dict[str, str] = call.request.state.ig_params
        return p

    def err(
        self, status: int, message: str, code: int, subcode: int | None = None, **kw: Any
    ) -> Response:
        """A Graph error object on this world (seeded fbtrace ids)."""
        return wire.error(self.world, status, message, code, subcode, **kw)

    # the gate -------------------------------------------------------------------------------
    def gated(self, handler: Handler, scope: str | None = None) -> Handler:
        """Wrap a handler in Graph's checks: version, token, usage windows, protocol faults, scope."""

        async def run(call: Call) -> Response:
            w = self.world
            params = await self._read_params(call.request)
            if params is None:
                return self.err(400, "(#100) The request body could not be parsed as JSON", 100)
            call.request.state.ig_params = params
            ver = call.request.path_params.get("version")
            if ver is not None and not _VERSION.fullmatch(ver):
                return self.err(400, f"Unknown path components: /v{ver}", 2500)
            if call.credential is None and params.get("access_token"):
                call.credential = params["access_token"]
                call.account_id = w.tokens.account_of(call.credential)
            now = w.now()
            # Graph counts the app's calls over a rolling hour, as it does an account's
            app_calls = len(self.state.tick_rolling("app", now))
            app_limit = self.app_limit(call) or self.opts.app_calls_per_hour
            app_pct = wire.percent(app_calls, app_limit)
            call.extra_headers["x-app-usage"] = wire.app_usage(app_pct)
            cred = call.credential
            if cred is None:
                return self.err(400, "An access token is required to request this resource.", 104)
            acc, problem = w.tokens.check(cred)
            if acc is None:
                return self.err(400, "Invalid OAuth access token - Cannot parse access token", 190)
            biz = w.roster.account(acc).platform_user_id
            hour = self.state.tick_rolling(acc, now)
            acc_calls = len(hour)
            own = self.call_limit(call, acc)
            limit = own or self.opts.account_calls_per_hour
            acc_pct = wire.percent(acc_calls, limit)
            # the calls are as cheap as ever: only their count has a smaller limit
            cpu_pct = wire.percent(acc_calls, self.opts.account_calls_per_hour) // 2
            # at the limit, the next call gets in once enough of the hour's calls have left it
            regain = (
                math.ceil((hour[acc_calls - limit] + 3600 - now) / 60) if acc_calls >= limit else 0
            )
            call.extra_headers["x-business-use-case-usage"] = wire.buc_usage(
                biz, acc_pct, regain, cpu_pct=cpu_pct
            )
            if call.fire(w, "instagram.token_revoked"):
                w.tokens.revoke_account(acc)
                problem = "revoked"
            elif call.fire(w, "instagram.token_expired"):
                problem = "expired"
            if problem == "revoked":
                return self.err(
                    400,
                    "Error validating access token: The session has been invalidated because the user "
                    "changed their password or Facebook has changed the session for security reasons.",
                    190,
                    460,
                )
            if problem == "expired":
                st = w.tokens.access[cred]
                return self.err(
                    400,
                    f"Error validating access token: Session has expired on {_fb_time(min(st.expires_at, now))}. "
                    f"The current time is {_fb_time(now)}.",
                    190,
                    463,
                )
            if (broken := call.fire(w, "instagram.graph_error")) is not None:
                p = broken.params_as(GraphErrorParams)
                return self.err(p.status, wire.TRANSIENT_MESSAGES[p.code], p.code, transient=True)
            if app_limit != self.opts.app_calls_per_hour and app_pct >= NEAR_LIMIT_PCT:
                # the app's rule is served where it shows, as an account's is: near the limit
                # (x-app-usage says so), and beyond it (throttled with code 4)
                fired = w.faults.fire(
                    "instagram", call.route, None, "instagram.rate_limited", _app_limit
                )
                if app_calls > app_limit:
                    call.fault = call.fault or fired
            if app_calls > app_limit:
                return self.err(400, wire.THROTTLE_MESSAGES[4], 4, transient=True)
            if own is not None and acc_pct >= NEAR_LIMIT_PCT:
                # the rule is served where it shows: near the limit, and beyond it (throttled)
                fired = w.faults.fire(
                    "instagram", call.route, acc, "instagram.rate_limited", _own_limit
                )
                if fired is not None and acc_calls > own:
                    call.fault = call.fault or fired
                    code = fired.params_as(RateLimitedParams).code
                    msg = wire.THROTTLE_MESSAGES.get(code, f"(#{code}) Rate limit reached")
                    return self.err(400, msg, code, transient=True)
            elif acc_calls > self.opts.account_calls_per_hour:
                return self.err(400, wire.THROTTLE_MESSAGES[80002], 80002, transient=True)
            throttled = self.throttled(call, acc, biz, now)
            if throttled is not None:
                return throttled
            if scope is not None and w.tokens.check(cred, scope)[1] == "scope":
                return self.permission_denied()
            return await handler(call)

        return run

    def app_limit(self, call: Call) -> int | None:
        """The app's calls an hour under an ``instagram.rate_limited`` rule with code 4 and
        ``calls_per_hour`` in force (None: the app's usual budget)."""
        if not self.world.faults.active("instagram.rate_limited"):
            return None
        params = self.world.faults.in_force(
            "instagram", call.route, None, "instagram.rate_limited", where=_app_limit
        )
        return None if params is None else params.calls_per_hour  # type: ignore[attr-defined]

    def call_limit(self, call: Call, acc: str) -> int | None:
        """The account's calls an hour under an ``instagram.rate_limited`` rule in force with
        ``calls_per_hour`` (None: its usual limit)."""
        if not self.world.faults.active("instagram.rate_limited"):
            return None
        params = self.world.faults.in_force(
            "instagram", call.route, acc, "instagram.rate_limited", where=_own_limit
        )
        return None if params is None else params.calls_per_hour  # type: ignore[attr-defined]

    def throttled(self, call: Call, acc: str, biz: str, now: float) -> Response | None:
        """``instagram.rate_limited``: throttled until ``retry_after_s`` after it fires.

        Until then every call of the account gets the same error, with
        ``estimated_time_to_regain_access`` counting down (whole minutes, rounded up) and
        ``x-app-usage`` at 100 %, so a client that waits that long gets in on its first retry.
        """
        until, code, told = self.state.throttled.get(acc, (0.0, 0, True))
        if now >= until:
            fired = call.fire(self.world, "instagram.rate_limited", where=_throttle_now)
            if fired is None:
                return None
            p = fired.params_as(RateLimitedParams)
            until, code, told = self.state.throttled[acc] = (
                now + p.retry_after_s,
                p.code,
                p.headers,
            )
        minutes = math.ceil((until - now) / 60)
        if told:  # ``headers: false``: no usage header, so no regain estimate either
            call.extra_headers["x-app-usage"] = wire.app_usage(100)
            call.extra_headers["x-business-use-case-usage"] = wire.buc_usage(biz, 100, minutes)
        msg = wire.THROTTLE_MESSAGES.get(code, f"(#{code}) Rate limit reached")
        return self.err(400, msg, code, transient=True)

    # helpers --------------------------------------------------------------------------------
    def newest_media(self, account_id: str, t: float) -> str | None:
        """The account's newest media created by ``t`` (else its first one), for a comment."""
        # a post its owner deleted by then draws no comment (people comment on what they see)
        mine = [
            m for m in self.state.media.values() if m.account_id == account_id and m.deleted_at > t
        ]
        before = [m for m in mine if m.created_at <= t]
        pick = max(before, key=lambda m: m.created_at, default=None) or min(
            mine, key=lambda m: m.created_at, default=None
        )
        return None if pick is None else pick.id

    def permission_denied(self) -> Response:
        """Code 10: the token lacks the permission for this action."""
        return self.err(403, "(#10) Application does not have permission for this action", 10)

    def account(self, call: Call) -> Account:
        """The roster account the credential belongs to."""
        return self.world.roster.account(str(call.account_id))

    def owns(self, call: Call, ig_user_id: str) -> bool:
        """Whether the path's IG user is the credential's own account (``me`` is)."""
        return ig_user_id == "me" or self.account(call).platform_user_id == ig_user_id

    def missing(self, name: str) -> Response:
        """Code 100 for a required parameter that is absent."""
        return self.err(400, f"(#100) The parameter {name} is required", 100)

    def fields(
        self,
        call: Call,
        allowed: tuple[str, ...],
        node_type: str,
        default: tuple[str, ...] = ("id",),
    ) -> list[str] | Response:
        """The ``fields`` asked for, or code 100 naming the first one the node does not have."""
        raw = self.params(call).get("fields")
        if not raw:
            return list(default)
        asked = field_names(raw)
        for f in asked:
            if f not in allowed:
                return self.err(
                    400,
                    f"(#100) Tried accessing nonexisting field ({f}) on node type ({node_type})",
                    100,
                )
        return asked

    def record(
        self, call: Call, action: str, resource_id: str, content: str | None, **extra: Any
    ) -> None:
        """Write one accepted side effect to the ledger, as the credential's account."""
        call.record(self.world, action, resource_id, content, **extra)

    def next_id(self, prefix: str) -> str:
        """A 17-digit Graph id with a per-kind prefix (178 containers, 179 media, 180 comments)."""
        return f"{prefix}{self.world.next_id(f'instagram.{prefix}'):014d}"
