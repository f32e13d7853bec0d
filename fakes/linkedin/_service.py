"""The LinkedIn fake's routes: version and token checks, daily limits, posts and comments."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from ..core.faults import DeletedParams, EchoParams
from ..core.http import Call, FakeService, json_response
from ..core.jsonbody import loads_body
from ..core.world import World
from . import _more, web
from ._options import LinkedInOptions
from ._wire import (
    LIFECYCLE_STATES,
    error,
    ms,
    outage,
    permalink_of,
    person_urn_of,
    route_error,
)

__all__ = ["create"]

_VERSION = re.compile(r"(\d{4})(\d{2})(?:\.\d{2})?")
_COMMENT_URN = re.compile(r"urn:li:comment:\((.+),([^,()]+)\)")

Handler = Callable[[Call], Awaitable[Response]]


#: the scope a ``linkedin.scope_revoked`` rule withdraws when it names none: the write scope
WRITE_SCOPE = "w_member_social"


def _revokes(route_scope: str, params: Any) -> bool:
    """Whether a ``linkedin.scope_revoked`` rule refuses a route needing ``route_scope``: the
    rule's ``scope`` (default the write scope) is the one withdrawn."""
    return (getattr(params, "scope", None) or WRITE_SCOPE) == route_scope


@dataclass(slots=True)
class _Post:
    urn: str
    account_id: str
    author: str
    commentary: str
    visibility: str
    distribution: Any
    created_at: float
    visible_from: float = 0.0
    deleted: bool = False
    modified_at: float | None = None
    #: the ``lifecycleState`` a lookup serves while the post is not (yet) visible; None: 404
    pending_state: str | None = None
    #: when the member deletes it in LinkedIn's own UI (``linkedin.post_deleted``)
    deleted_at: float = float("inf")

    def gone(self, now: float) -> bool:
        """Deleted through the API, or by the member in the UI by ``now``."""
        return self.deleted or now >= self.deleted_at


#: compact JSON → one shared copy of each distinct ``distribution`` object posts carry (it is
#: only ever read and serialized back); bounded so odd bodies cannot grow it without end
_DISTRIBUTIONS: dict[str, Any] = {}
_MAX_DISTRIBUTIONS = 256


#: the fields of a post's ``distribution`` (Rest.li refuses any other, case-sensitively)
_DISTRIBUTION_FIELDS = frozenset(
    {"feedDistribution", "targetEntities", "thirdPartyDistributionChannels"}
)
FEED_DISTRIBUTIONS = ("MAIN_FEED", "NONE")


def _distribution_error(dist: Any) -> str | None:
    """Rest.li's 422 text for a ``distribution`` the Posts API would refuse (None: acceptable,
    or absent)."""
    if dist is None:
        return None
    if not isinstance(dist, dict):
        return "ERROR :: /distribution :: expected a record"
    for key in dist:
        if key not in _DISTRIBUTION_FIELDS:
            return f"ERROR :: /distribution/{key} :: unrecognized field found but not allowed"
    feed = dist.get("feedDistribution")
    if feed is None:
        return (
            "ERROR :: /distribution/feedDistribution :: field is required but not found and "
            "has no default value"
        )
    if feed not in FEED_DISTRIBUTIONS:
        return f'ERROR :: /distribution/feedDistribution :: "{feed}" is not an enum symbol'
    return None


def _shared_distribution(dist: Any) -> Any:
    """``dist``, or an equal object already kept for an earlier post (same JSON)."""
    if not dist:
        return dist
    try:
        key = json.dumps(dist, separators=(",", ":"))  # key order kept: an exact copy
    except (TypeError, ValueError):
        return dist
    shared = _DISTRIBUTIONS.get(key)
    if shared is not None:
        return shared
    if len(_DISTRIBUTIONS) < _MAX_DISTRIBUTIONS:
        _DISTRIBUTIONS[key] = dist
    return dist


@dataclass(frozen=True, slots=True)
class _Comment:
    urn: str
    id: str
    account_id: str
    actor: str
    post_urn: str
    text: str
    created_at: float
    parent: str | None


@dataclass
class _State:
    posts: dict[str, _Post] = field(default_factory=dict)
    comments: dict[str, _Comment] = field(default_factory=dict)
    #: (UTC day, member account id or 'app', route) → calls
    daily: dict[tuple[int, str, str], int] = field(default_factory=dict)
    #: account id → URNs of its posts in creation order; the duplicate check stays O(own posts)
    by_account: dict[str, list[str]] = field(default_factory=dict)
    #: (account id, commentary) → URN of the latest post with that text: the duplicate check in O(1)
    by_text: dict[tuple[str, str], str] = field(default_factory=dict)
    #: refresh token → when it was first redeemed (its 365-day lifetime counts from there)
    refresh_issued: dict[str, float] = field(default_factory=dict)
    #: (account id, route) → the UTC day a fired ``linkedin.rate_limited`` throttles
    throttled: dict[tuple[str, str], int] = field(default_factory=dict)

    def clear(self) -> None:
        self.refresh_issued.clear()
        self.throttled.clear()
        self.posts.clear()
        self.by_account.clear()
        self.by_text.clear()
        self.comments.clear()
        self.daily.clear()


class _LinkedIn:
    """The LinkedIn fake bound to one world."""

    def __init__(self, world: World, options: LinkedInOptions) -> None:
        self.world = world
        self.opts = options
        self.state = _State()
        world.on_reset(self.state.clear)
        world.inbound.resolvers["linkedin"] = self.newest_post

    # checks ---------------------------------------------------------------------------------
    def version_error(self, call: Call) -> Response | None:
        """400 when ``Linkedin-Version`` is missing, 426 when it is not an active version."""
        raw = call.request.headers.get("linkedin-version")
        if not raw:
            return error(
                400,
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        m = _VERSION.fullmatch(raw.strip())
        now = time.gmtime(int(self.world.now()))
        current = now.tm_year * 12 + now.tm_mon - 1
        asked = (
            int(m.group(1)) * 12 + int(m.group(2)) - 1 if m and 1 <= int(m.group(2)) <= 12 else None
        )
        if asked is None or asked > current or current - asked >= self.opts.version_support_months:
            return error(426, f"Requested version {raw} is not active", code="NONEXISTENT_VERSION")
        previous = current - 1
        default = f"{previous // 12:04d}{previous % 12 + 1:02d}"

        def withdrawn(params: BaseModel) -> bool:
            named = getattr(params, "version", None)
            return raw.strip()[:6] == (named or default)

        if call.fire(self.world, "linkedin.version_withdrawn", withdrawn) is not None:
            return error(426, f"Requested version {raw} is not active", code="NONEXISTENT_VERSION")
        return None

    def gated(
        self, handler: Handler, scope: str, *, versioned: bool = True, write: bool = False
    ) -> Handler:
        """Wrap a handler in LinkedIn's checks: version headers, token, faults, daily limits, scope."""

        async def run(call: Call) -> Response:
            w = self.world
            if versioned:
                bad = self.version_error(call)
                if bad is not None:
                    return bad
                if write and call.request.headers.get("x-restli-protocol-version") != "2.0.0":
                    return error(
                        400, "The X-Restli-Protocol-Version header must be 2.0.0 for this resource"
                    )
            cred = call.credential
            if cred is None:
                return error(401, "Empty oauth2_access_token", 65604)
            acc, problem = w.tokens.check(cred)
            if acc is None:
                return error(401, "Invalid access token", 65600)
            if call.fire(w, "linkedin.token_revoked"):
                w.tokens.revoke_account(acc)
                problem = "revoked"
            elif call.fire(w, "linkedin.token_expired"):
                problem = "expired"
            if problem == "revoked":
                return error(
                    401, "The token used in the request has been revoked by the user", 65601
                )
            if problem == "expired":
                return error(401, "The token used in the request has expired", 65602)
            day = int(w.now() // 86_400)
            # a fired linkedin.rate_limited is the member's DAY limit: it lifts at UTC midnight
            if self.state.throttled.get((acc, call.route), -1) == day:
                return self.throttled("MEMBER")
            if call.fire(w, "linkedin.rate_limited"):
                self.state.throttled[(acc, call.route)] = day
                return self.throttled("MEMBER")
            for key, limits, who in (
                (acc, self.opts.member_daily, "MEMBER"),
                ("app", self.opts.app_daily, "APPLICATION"),
            ):
                limit = limits.get(call.route)
                if limit is not None and self.state.daily.get((day, key, call.route), 0) >= limit:
                    return self.throttled(who)
            for key in (acc, "app"):
                self.state.daily[(day, key, call.route)] = (
                    self.state.daily.get((day, key, call.route), 0) + 1
                )
            if w.tokens.check(cred, scope)[1] == "scope" or call.fire(
                w, "linkedin.scope_revoked", partial(_revokes, scope)
            ):
                return self.no_permission(call)
            return await handler(call)

        return run

    def newest_post(self, account_id: str, t: float) -> str | None:
        """The account's newest post created by ``t`` (else its first one), for a comment."""
        mine = [
            p for p in self.state.posts.values() if p.account_id == account_id and not p.gone(t)
        ]
        before = [p for p in mine if p.created_at <= t]
        pick = max(before, key=lambda p: p.created_at, default=None) or min(
            mine, key=lambda p: p.created_at, default=None
        )
        return None if pick is None else pick.urn

    @staticmethod
    def throttled(who: str) -> Response:
        """The daily-limit 429: no rate-limit or Retry-After header, by design."""
        return error(
            429,
            f"Resource level throttle {who} DAY limit for calls to this resource is reached.",
            101,
        )

    @staticmethod
    def no_permission(call: Call) -> Response:
        """403 code 100 naming the resource and method, as LinkedIn does."""
        version = call.request.headers.get("linkedin-version", "NO_VERSION")
        method = {"POST": "CREATE", "DELETE": "DELETE"}.get(call.request.method, "GET")
        resource = (
            "partnerApiPostsExternal"
            if call.route.startswith("posts.")
            else "partnerApiSocialActions"
        )
        return error(403, f"Not enough permissions to access: {resource}.{method}.{version}", 100)

    # helpers --------------------------------------------------------------------------------
    def me(self, call: Call) -> str:
        """The person URN of the credential's account."""
        return f"urn:li:person:{self.world.roster.account(str(call.account_id)).platform_user_id}"

    async def body(self, call: Call) -> dict[str, Any] | Response:
        """The JSON object of a request, or LinkedIn's 400."""
        try:
            data = loads_body(await call.request.body() or b"{}")
        except json.JSONDecodeError as e:
            return error(400, f"Unable to parse the request body as JSON: {e.msg}")
        return (
            data if isinstance(data, dict) else error(400, "The request body must be a JSON object")
        )

    def record(
        self, call: Call, action: str, resource_id: str, content: str | None, **extra: Any
    ) -> None:
        """Write one accepted side effect to the ledger, as the credential's account."""
        call.record(self.world, action, resource_id, content, **extra)

    def visible_post(self, urn: str) -> _Post | None:
        """A post as reads see it: None when missing, deleted or not (yet) displayed."""
        p = self.state.posts.get(urn)
        now = self.world.now()
        if p is None or p.gone(now) or now < p.visible_from:
            return None
        return p

    @staticmethod
    def blocked() -> Response:
        """403 for a member restricted from this activity (``linkedin.action_blocked``)."""
        return error(
            403,
            "Member is restricted from performing this action due to suspected spam activity",
            100,
        )

    # posts ----------------------------------------------------------------------------------
    async def create_post(self, call: Call) -> Response:
        """POST /rest/posts → 201, empty body, the URN in ``x-restli-id``; ``post.created``."""
        w = self.world
        body = await self.body(call)
        if isinstance(body, Response):
            return body
        for name in ("author", "lifecycleState", "visibility"):
            if not isinstance(body.get(name), str):
                return error(
                    422,
                    f"ERROR :: /{name} :: field is required but not found and has no default value",
                )
        state = body["lifecycleState"]
        if state not in LIFECYCLE_STATES:
            return error(422, f'ERROR :: /lifecycleState :: "{state}" is not an enum symbol')
        if state != "PUBLISHED":
            return error(
                422,
                f"ERROR :: /lifecycleState :: {state} cannot be set on create; "
                "PUBLISHED is the only value accepted when a post is created",
            )
        text = body.get("commentary", "")
        if not isinstance(text, str):
            return error(422, "ERROR :: /commentary :: expected a string")
        bad = _distribution_error(body.get("distribution"))
        if bad is not None:
            return error(422, bad)
        if body["author"] != self.me(call):
            return self.no_permission(call)
        if call.fire(w, "linkedin.action_blocked"):
            return self.blocked()
        now = w.now()
        acc = str(call.account_id)
        prev_urn = self.state.by_text.get((acc, text))
        prev = self.state.posts.get(prev_urn) if prev_urn is not None else None
        dup = (
            prev
            if prev is not None
            and not prev.gone(now)
            and now - prev.created_at < self.opts.duplicate_window_s
            else None
        )
        if dup is not None or call.fire(w, "linkedin.duplicate_rejected"):
            latest = next(
                (
                    u
                    for u in reversed(self.state.by_account.get(acc, []))
                    if not self.state.posts[u].gone(now)
                ),
                None,
            )
            other = (
                dup.urn
                if dup
                else (
                    latest
                    if latest
                    else f"urn:li:share:{7_300_000_000_000_000_000 + w.next_id('linkedin.dup')}"
                )
            )
            return error(422, f"Content is a duplicate of {other}", code="DUPLICATE_POST")
        urn = f"urn:li:share:{7_400_000_000_000_000_000 + w.next_id('linkedin.post')}"
        post = _Post(
            urn,
            acc,
            sys.intern(body["author"]),
            text,
            sys.intern(body["visibility"]),
            _shared_distribution(body.get("distribution")),
            now,
        )
        detail = None
        fired = call.fire(w, "linkedin.post_invisible")
        if fired is not None:
            for_s: float | None = getattr(fired.params, "for_s", None)
            post.visible_from = float("inf") if for_s is None else now + for_s
            post.pending_state = getattr(fired.params, "lifecycle_state", None)
            detail = "invisible" if for_s is None else f"invisible_for={for_s:g}s"
        deleted = call.fire(w, "linkedin.post_deleted")
        if deleted is not None:
            after = deleted.params_as(DeletedParams).after_s
            post.deleted_at = now + after
            detail = (
                f"{detail}; deleted_by_member_after={after:g}s"
                if detail
                else (f"deleted_by_member_after={after:g}s")
            )
        self.state.posts[urn] = post
        self.state.by_account.setdefault(acc, []).append(urn)
        self.state.by_text[(acc, text)] = urn
        self.record(call, "post.created", urn, text, detail=detail, permalink=permalink_of(urn))
        if call.fire(w, "linkedin.id_header_dropped") is not None:
            return Response(status_code=201)  # made, and not a word of which post it is
        return Response(status_code=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    async def get_post(self, call: Call) -> Response:
        """GET /rest/posts/{urn}; a post LinkedIn has not published (yet) in its pending state."""
        urn = call.request.path_params["urn"]
        p = self.visible_post(urn)
        if p is not None:
            return json_response(self.post_json(p))
        q = self.state.posts.get(urn)
        if q is not None and not q.gone(self.world.now()) and q.pending_state is not None:
            return json_response(self.post_json(q, q.pending_state))
        return error(404, f"Post {urn} does not exist", code="NOT_FOUND")

    @staticmethod
    def post_json(p: _Post, lifecycle_state: str = "PUBLISHED") -> dict[str, Any]:
        """A post as ``GET /rest/posts`` serves it (``publishedAt`` only once it is published)."""
        dist = p.distribution or {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        }
        out: dict[str, Any] = {
            "id": p.urn,
            "author": p.author,
            "commentary": p.commentary,
            "visibility": p.visibility,
            "distribution": dist,
            "lifecycleState": lifecycle_state,
            "lifecycleStateInfo": {"isEditedByAuthor": p.modified_at is not None},
            "isReshareDisabledByAuthor": False,
            "createdAt": ms(p.created_at),
            "publishedAt": ms(p.created_at),
            "lastModifiedAt": ms(p.modified_at if p.modified_at is not None else p.created_at),
        }
        if lifecycle_state != "PUBLISHED":
            del out["publishedAt"]
        return out

    async def delete_post(self, call: Call) -> Response:
        """DELETE /rest/posts/{urn} → 204 and ``post.deleted`` (the author's own posts only)."""
        urn = call.request.path_params["urn"]
        p = self.state.posts.get(urn)
        if p is None or p.gone(self.world.now()):
            return error(404, f"Post {urn} does not exist", code="NOT_FOUND")
        if p.account_id != call.account_id:
            return self.no_permission(call)
        p.deleted = True
        self.record(call, "post.deleted", urn, None)
        return Response(status_code=204)

    # comments -------------------------------------------------------------------------------
    def _thread(self, urn: str) -> tuple[str, str | None]:
        """(post URN, parent comment id) of a socialActions target: a post or a comment URN."""
        m = _COMMENT_URN.fullmatch(urn)
        return (m.group(1), m.group(2)) if m else (urn, None)

    def _comment_json(self, c: _Comment) -> dict[str, Any]:
        out: dict[str, Any] = {
            "actor": c.actor,
            "commentUrn": c.urn,
            "id": c.id,
            "message": {"text": c.text, "attributes": []},
            "object": c.post_urn,
            "created": {"actor": c.actor, "time": ms(c.created_at)},
            "lastModified": {"actor": c.actor, "time": ms(c.created_at)},
        }
        if c.parent is not None:
            out["parentComment"] = f"urn:li:comment:({c.post_urn},{c.parent})"
        return out

    def _comments(self, post_urn: str, call: Call) -> list[_Comment]:
        w = self.world
        post = self.state.posts.get(post_urn)
        items = w.inbound.visible(
            "linkedin",
            account_id=post.account_id if post is not None else None,
            post_id=post_urn,
            kind="comment",
        )
        if items and call.fire(w, "linkedin.duplicate_inbound"):
            items = [i for i in items for _ in (0, 1)]
        out = [
            _Comment(
                f"urn:li:comment:({post_urn},{i.id})",
                i.id,
                i.account_id,
                person_urn_of(i.author, w.roster),
                post_urn,
                i.text,
                i.at,
                None,
            )
            for i in items
        ]
        out += [c for c in self.state.comments.values() if c.post_urn == post_urn]
        return sorted(out, key=lambda c: c.created_at)

    async def list_comments(self, call: Call) -> Response:
        """GET /rest/socialActions/{urn}/comments: inbound comments and the account's, oldest first."""
        post_urn, _ = self._thread(call.request.path_params["urn"])
        if self.visible_post(post_urn) is None:
            return error(404, f"Post {post_urn} does not exist", code="NOT_FOUND")
        q = call.request.query_params
        start, count = q.get("start", "0"), q.get("count", "10")
        if not start.isdigit() or not count.isdigit() or not 1 <= int(count) <= 100:
            return error(
                400,
                f"Invalid paging parameters start={start!r} count={count!r}; count must be 1..100",
            )
        every = self._comments(post_urn, call)
        page = every[int(start) : int(start) + int(count)]
        return json_response(
            {
                "elements": [self._comment_json(c) for c in page],
                "paging": {
                    "start": int(start),
                    "count": int(count),
                    "total": len(every),
                    "links": [],
                },
            }
        )

    async def social_metadata(self, call: Call) -> Response:
        """GET /rest/socialMetadata?ids=List(urn,…): each post's comment counts in one call
        (Rest.li BATCH_GET; URNs URL-encoded in the list). ``results`` by URN with
        ``commentSummary {count, topLevelCount}``; a post missing or deleted is under ``errors``
        with its 404."""
        raw = call.request.query_params.get("ids", "")
        if not (raw.startswith("List(") and raw.endswith(")")) or raw == "List()":
            return error(400, f"Invalid ids {raw!r}: expected List(urn,urn,…) of URL-encoded URNs")
        urns = [u for u in raw[5:-1].split(",") if u]
        if len(urns) > 100:
            return error(400, f"Too many ids: {len(urns)}; at most 100 in one batch")
        w = self.world
        #: comments by post: the inbound ones arrived by now (one pass per account) and the
        #: account's own (replies), as :meth:`list_comments` lists them
        counts: dict[str, list[int]] = {}
        for acc in {p.account_id for u in urns if (p := self.visible_post(u)) is not None}:
            for i in w.inbound.visible("linkedin", account_id=acc, kind="comment"):
                post = w.inbound.post_of(i)
                if post is not None:
                    c = counts.setdefault(post, [0, 0])
                    c[0] += 1
                    c[1] += 1
        for own in self.state.comments.values():
            c = counts.setdefault(own.post_urn, [0, 0])
            c[0] += 1
            c[1] += own.parent is None
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for u in urns:
            if self.visible_post(u) is None:
                errors[u] = {"status": 404, "message": f"Post {u} does not exist"}
                continue
            n, top = counts.get(u, [0, 0])
            results[u] = {
                "entity": u,
                "commentSummary": {"count": n, "topLevelCount": top},
                "commentsState": "OPEN",
                "reactionSummaries": {},
            }
        return json_response(
            {"results": results, "statuses": {u: 200 for u in results}, "errors": errors}
        )

    async def create_comment(self, call: Call) -> Response:
        """POST /rest/socialActions/{urn}/comments → 201 and ``reply.created`` (a reply when it has a parent)."""
        w = self.world
        post_urn, parent = self._thread(call.request.path_params["urn"])
        body = await self.body(call)
        if isinstance(body, Response):
            return body
        msg = body.get("message")
        text = msg.get("text") if isinstance(msg, dict) else None
        if not isinstance(text, str) or not text:
            return error(
                422,
                "ERROR :: /message/text :: field is required but not found and has no default value",
            )
        if not isinstance(body.get("actor"), str):
            return error(
                422, "ERROR :: /actor :: field is required but not found and has no default value"
            )
        if body["actor"] != self.me(call):
            return self.no_permission(call)
        if isinstance(body.get("parentComment"), str):
            post_urn, parent = self._thread(body["parentComment"])
        if self.visible_post(post_urn) is None:
            return error(404, f"Post {post_urn} does not exist", code="NOT_FOUND")
        if parent is not None and parent not in {c.id for c in self._known_comments(post_urn)}:
            return error(
                404,
                f"Comment urn:li:comment:({post_urn},{parent}) does not exist",
                code="NOT_FOUND",
            )
        if call.fire(w, "linkedin.action_blocked"):
            return self.blocked()
        now = w.now()
        cid = str(7_410_000_000_000_000_000 + w.next_id("linkedin.comment"))
        c = _Comment(
            f"urn:li:comment:({post_urn},{cid})",
            cid,
            str(call.account_id),
            body["actor"],
            post_urn,
            text,
            now,
            parent,
        )
        self.state.comments[c.urn] = c
        self.record(call, "reply.created", c.urn, text, in_reply_to=parent or post_urn)
        echo = call.fire(w, "linkedin.reply_echo")
        if echo is not None:
            p = echo.params_as(EchoParams)
            n = w.next_id("linkedin.echo_author")
            w.inbound.schedule(
                "linkedin",
                "comment",
                str(call.account_id),
                p.keyword,
                author=f"Echo Fan {n}",
                at=now + p.delay_s,
                post_id=post_urn,
                echo_of=c.urn,
            )
        return json_response(self._comment_json(c), 201, {"x-restli-id": c.urn})

    def _known_comments(self, post_urn: str) -> list[_Comment]:
        w = self.world
        inbound = [
            _Comment("", i.id, i.account_id, "", post_urn, i.text, i.at, None)
            for i in w.inbound.visible("linkedin", post_id=post_urn, kind="comment")
        ]
        return inbound + [c for c in self.state.comments.values() if c.post_urn == post_urn]

    async def userinfo(self, call: Call) -> Response:
        """GET /v2/userinfo (OpenID Connect): who the token belongs to."""
        acc = self.world.roster.account(str(call.account_id))
        name = self.world.roster.owner(acc.id).name
        return json_response(
            {
                "sub": acc.platform_user_id,
                "name": name,
                "given_name": name.split()[0],
                "family_name": name.split()[-1],
                "locale": {"country": "US", "language": "en"},
            }
        )


def create(world: World, options: LinkedInOptions | None = None, **overrides: Any) -> FakeService:
    """Build the LinkedIn fake on ``world``; ``overrides`` replace fields of ``options``."""
    opts = (
        (options or LinkedInOptions()).with_(**overrides)
        if overrides
        else (options or LinkedInOptions())
    )
    li = _LinkedIn(world, opts)
    svc = FakeService(
        world,
        "linkedin",
        outage_body=outage,
        request_id_header="x-li-uuid",
        error_body=route_error,
    )
    write, read = "w_member_social", "r_member_social"
    svc.route("/rest/posts", "posts.create", ["POST"], json_body=True)(
        li.gated(li.create_post, write, write=True)
    )
    svc.route("/rest/posts", "posts.find", ["GET"])(li.gated(partial(_more.find_posts, li), read))
    svc.route("/rest/posts/{urn}", "posts.get", ["GET"])(li.gated(li.get_post, read))
    svc.route("/rest/posts/{urn}", "posts.update", ["POST"], json_body=True)(
        li.gated(partial(_more.update_post, li), write, write=True)
    )
    svc.route("/oauth/v2/accessToken", "oauth.token", ["POST"])(partial(_more.refresh_token, li))
    svc.route("/rest/posts/{urn}", "posts.delete", ["DELETE"])(
        li.gated(li.delete_post, write, write=True)
    )
    svc.route("/rest/socialMetadata", "socialMetadata.batch_get", ["GET"])(
        li.gated(li.social_metadata, read)
    )
    svc.route("/rest/socialActions/{urn}/comments", "comments.list", ["GET"])(
        li.gated(li.list_comments, read)
    )
    svc.route("/rest/socialActions/{urn}/comments", "comments.create", ["POST"], json_body=True)(
        li.gated(li.create_comment, write, write=True)
    )
    svc.route("/v2/userinfo", "userinfo.get", ["GET"])(
        partial(li.gated, versioned=False)(li.userinfo, read)
    )
    web.install(svc, li)
    return svc
