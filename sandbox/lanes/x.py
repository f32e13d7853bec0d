"""The X API lane: posts, lookups, replies, DMs, likes and inbound mentions on X API v2."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import httpx

from ..errors import Ambiguous, AuthFailed, Fatal, JobInterrupt, RateLimited, Retryable
from .api import ApiLane
from .base import Credential, InboundMessage, Lookup, SendResult, SideEffectScope

__all__ = ["XLane"]

_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
_USAGE_CAPPED = "https://api.twitter.com/2/problems/usage-capped"


#: pages of a newest-first inbox list (100 each) read back per poll at most
INBOX_PAGES = 10

#: how long a usage cap that names no reset is taken to last (a month's cap: at least a day)
_CAP_UNKNOWN_S = 86_400.0


class XLane(ApiLane):
    """X API v2."""

    platform = "x"
    dedupes_identical_text = True

    def __init__(self, deps: Any) -> None:
        super().__init__(deps)
        #: (account id, "m" mentions | "dm" DM events) → the newest id a read of it returned
        self._newest_seen: dict[tuple[str, str], int] = {}
        #: the refused answer of the last inbox read that got none (see :meth:`_newest`)
        self._refused: httpx.Response | None = None
        #: account → when X's monthly usage cap, which refused it, lifts
        self._capped: dict[str, float] = {}

    def _observe(self, r: httpx.Response, cred: Credential) -> None:
        if self._capped_by(r, cred):
            return
        h = r.headers
        for remaining, reset in (
            ("x-rate-limit-remaining", "x-rate-limit-reset"),
            ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
        ):
            if h.get(remaining) == "0" and h.get(reset, "").isdigit():
                self.d.pacer.penalise(cred.account.account_id, float(h[reset]))

    def _capped_by(self, r: httpx.Response, cred: Credential) -> bool:
        """Note the account as refused by X's monthly usage cap if ``r`` says so (a monthly cap
        is no window to wait out: what the account would send fails until it lifts — a post
        sent days late is not the post that was planned — and nothing waits for it)."""
        if r.status_code != 429:
            return False
        try:
            body: Any = r.json()
        except ValueError:
            return False
        if not isinstance(body, dict) or body.get("type") != _USAGE_CAPPED:
            return False
        reset = r.headers.get("x-rate-limit-reset", "")
        lifts = float(reset) if reset.isdigit() else self.d.now() + _CAP_UNKNOWN_S
        self._capped[cred.account.account_id] = lifts
        return True

    def _refuse_if_capped(self, cred: Credential) -> None:
        """Fail a side effect of an account X's monthly cap refused, without sending it."""
        lifts = self._capped.get(cred.account.account_id)
        if lifts is not None and self.d.now() < lifts:
            raise Fatal(
                f"x.usage_capped: 429 UsageCapExceeded earlier for {cred.account.account_id}, "
                f"the monthly cap lifts in {(lifts - self.d.now()) / 3600:.0f}h (not retryable; "
                "not sent)"
            )

    def retry_after(self, r: httpx.Response) -> float | None:
        """Retry-After, else the reset of the exhausted window (unix seconds) minus now."""
        ra = super().retry_after(r)
        if ra is not None:
            return ra
        h, now = r.headers, self.d.now()
        resets = [
            float(h[reset])
            for remaining, reset in (
                ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
                ("x-rate-limit-remaining", "x-rate-limit-reset"),
            )
            if h.get(remaining) == "0" and h.get(reset, "").isdigit()
        ]
        return max(1.0, max(resets) - now) if resets else None

    def error_for(self, r: httpx.Response, *, mutating: bool) -> JobInterrupt:
        """X's errors: problem JSON and v1-style bodies."""
        try:
            body: Any = r.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        detail = str(body.get("detail") or "")
        if r.status_code == 429:
            if body.get("type") == _USAGE_CAPPED:
                return Fatal("x.usage_capped: 429 UsageCapExceeded (not retryable)")
            return RateLimited("x.rate_limited: 429 Too Many Requests", self.retry_after(r))
        if r.status_code == 401:
            return AuthFailed("x.unauthorized: 401 Unauthorized (after refresh)")
        if r.status_code == 403:
            if "duplicate" in detail.lower():
                return Fatal(f"x.duplicate: 403 {detail}")
            return Fatal(f"x.forbidden: 403 {detail}")
        return super().error_for(r, mutating=mutating)

    # side effects ---------------------------------------------------------------------------
    async def _create(
        self, cred: Credential, body: dict[str, Any], scope: SideEffectScope, action: str
    ) -> SendResult:
        self._refuse_if_capped(cred)
        async with scope.side_effect(action, lambda: self._refuse_if_capped(cred)):
            r, cred = await self.send("POST", "/2/tweets", cred, scope, action=action, json=body)
            if r.status_code != 201:
                raise self.error_for(r, mutating=True)
            data = self.json_of(r, mutating=True).get("data") or {}
        tid = str(data.get("id", ""))
        if not tid:
            raise Ambiguous("x.malformed_body: 201 without data.id")
        if not tid.isdigit():
            # X's ids are decimal strings: one carrying anything else would lead the lookups
            # built from it elsewhere — the post was made, which one is for the lookup by text
            raise Ambiguous(f"x.malformed_body: 201 with an id that is not X's ({tid[:40]!r})")
        handle = cred.account.handle.lstrip("@")
        return SendResult(
            tid, f"https://x.com/{handle}/status/{tid}", r.headers.get("x-request-id")
        )

    async def publish(
        self, cred: Credential, text: str, scope: SideEffectScope, *, media_url: str | None = None
    ) -> SendResult:
        """POST /2/tweets."""
        return await self._create(cred, {"text": text}, scope, "post.create")

    async def reply(
        self, cred: Credential, target_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """POST /2/tweets with ``reply.in_reply_to_tweet_id``."""
        return await self._create(
            cred,
            {"text": text, "reply": {"in_reply_to_tweet_id": target_id}},
            scope,
            "reply.create",
        )

    async def dm(
        self, cred: Credential, recipient_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """POST /2/dm_conversations/with/:participant_id/messages."""
        self._refuse_if_capped(cred)
        async with scope.side_effect("dm.send", lambda: self._refuse_if_capped(cred)):
            r, cred = await self.send(
                "POST",
                f"/2/dm_conversations/with/{recipient_id}/messages",
                cred,
                scope,
                action="dm.send",
                json={"text": text},
            )
            if r.status_code not in (200, 201):
                raise self.error_for(r, mutating=True)
            data = self.json_of(r, mutating=True).get("data") or {}
        return SendResult(
            str(data.get("dm_event_id", "")),
            None,
            r.headers.get("x-request-id"),
            {"conversation_id": data.get("dm_conversation_id")},
        )

    async def like(self, cred: Credential, target_id: str, scope: SideEffectScope) -> SendResult:
        """POST /2/users/:id/likes."""
        async with scope.side_effect("like.create"):
            r, cred = await self.send(
                "POST",
                f"/2/users/{cred.account.platform_user_id}/likes",
                cred,
                scope,
                action="like.create",
                json={"tweet_id": target_id},
            )
            if r.status_code != 200:
                raise self.error_for(r, mutating=True)
            body = self.json_of(r, mutating=True)
            if "errors" in body and "data" not in body:
                raise Fatal(f"x.not_found: cannot like {target_id}")
        return SendResult(target_id, None, r.headers.get("x-request-id"))

    async def delete(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> bool:
        """DELETE /2/tweets/:id."""
        async with scope.side_effect("post.delete"):
            r, cred = await self.send(
                "DELETE", f"/2/tweets/{resource_id}", cred, scope, action="post.delete"
            )
            if r.status_code != 200:
                raise self.error_for(r, mutating=True)
            body = self.json_of(r, mutating=True)
        return bool((body.get("data") or {}).get("deleted"))

    # reads ----------------------------------------------------------------------------------
    async def verify(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> Lookup:
        """GET /2/tweets/:id: ``data`` → visible; a resource-not-found partial error → not visible."""
        try:
            r, cred = await self.send("GET", f"/2/tweets/{resource_id}", cred, scope)
        except Retryable as e:
            return self.failed_lookup(e)
        if r.status_code != 200:
            return self.refused_lookup(r, f"x.lookup: HTTP {r.status_code}")
        try:
            body = r.json()
        except ValueError:
            return Lookup(None, error="x.lookup: body is not JSON")
        if body.get("data"):
            return Lookup(
                True, f"https://x.com/{cred.account.handle.lstrip('@')}/status/{resource_id}"
            )
        if any(e.get("type") == _NOT_FOUND for e in body.get("errors", ())):
            return Lookup(False)
        return Lookup(None, error="x.lookup: neither data nor not-found")

    async def find_published(
        self, cred: Credential, text: str, scope: SideEffectScope
    ) -> SendResult | None:
        """GET /2/users/{id}/tweets (the account's latest posts, replies left out): the one whose
        text is exactly ``text``, else None. A lookup that does not answer 200 cannot tell."""
        r, cred = await self.send(
            "GET",
            f"/2/users/{cred.account.platform_user_id}/tweets",
            cred,
            scope,
            params={"max_results": 100, "exclude": "replies"},
        )
        if r.status_code == 429:
            # throttled: the caller waits it out without spending an attempt on the question
            raise self.error_for(r, mutating=False)
        if r.status_code != 200:
            # a 5xx is X down, not this job: the outage window spares its attempts
            raise Ambiguous(f"x.unsearchable: HTTP {r.status_code}", outage=r.status_code >= 500)
        for t in self.json_of(r, mutating=False).get("data") or ():
            if t.get("text") == text:
                tid = str(t["id"])
                handle = cred.account.handle.lstrip("@")
                return SendResult(tid, f"https://x.com/{handle}/status/{tid}")
        return None

    async def _newest(
        self,
        path: str,
        params: dict[str, Any],
        cred: Credential,
        scope: SideEffectScope,
        key: tuple[str, str],
    ) -> tuple[list[dict[str, Any]] | None, Credential]:
        """The pages of a newest-first list (mentions, DM events) back to what the previous read
        of ``key`` reached (``pagination_token``, at most :data:`INBOX_PAGES` pages): more than a
        page can arrive between two polls (a flood of DMs), and a read of one page would never
        see the rest. None when the first page is refused (:attr:`_refused` holds its answer).

        The marker does not move over a read cut short by a failed later page: what lies
        between it and the old marker is not read yet, and the next poll reads down to the old
        marker again (the engine knows what it has seen by id); the failed page counts towards
        the inbox alert like a failed first one. Past :data:`INBOX_PAGES` pages the rest is left
        (an account's long history is not read back at every poll)."""
        floor = self._newest_seen.get(key)
        pages: list[dict[str, Any]] = []
        token: str | None = None
        top: int | None = None
        cut = False
        for _ in range(INBOX_PAGES):
            q = {**params, **({"pagination_token": token} if token else {})}
            r, cred = await self.send("GET", path, cred, scope, params=q)
            if r.status_code != 200:
                if not pages:
                    self._refused = r
                    return None, cred
                self.inbox_unread(r)
                cut = True
                break  # what was read so far; the rest at the next poll
            body = self.json_of(r, mutating=False)
            pages.append(body)
            ids = [int(x["id"]) for x in body.get("data") or () if str(x.get("id", "")).isdigit()]
            if ids:
                top = max(ids) if top is None else max(top, max(ids))
            token = (body.get("meta") or {}).get("next_token")
            if not token or not ids or (floor is not None and min(ids) <= floor):
                break
        if top is not None and not cut:
            self._newest_seen[key] = max(top, floor or 0)
        return pages, cred

    async def list_inbound(
        self,
        cred: Credential,
        scope: SideEffectScope,
        *,
        since: str | None = None,
        also: Collection[str] = (),
    ) -> list[InboundMessage]:
        """Mentions (comments) and DMs to the account, oldest first."""
        params: dict[str, Any] = {
            "max_results": 100,
            "tweet.fields": "author_id,conversation_id,created_at,referenced_tweets,in_reply_to_user_id",
        }
        if since:
            params["since_id"] = since
        acc = cred.account
        pages, cred = await self._newest(
            f"/2/users/{acc.platform_user_id}/mentions", params, cred, scope, (acc.account_id, "m")
        )
        if pages is None:
            assert self._refused is not None
            raise self.error_for(self._refused, mutating=False)
        users = {
            u["id"]: u.get("username")
            for body in pages
            for u in (body.get("includes") or {}).get("users", ())
        }
        out = []
        for t in (t for body in pages for t in body.get("data") or ()):
            post_id = next(
                (
                    ref["id"]
                    for ref in t.get("referenced_tweets") or ()
                    if ref.get("type") == "replied_to"
                ),
                t.get("conversation_id"),
            )
            out.append(
                InboundMessage(
                    str(t["id"]),
                    "comment",
                    t.get("text", ""),
                    str(t.get("author_id", "")),
                    users.get(t.get("author_id")),
                    post_id,
                    t.get("conversation_id"),
                )
            )
        dm_pages, cred = await self._newest(
            "/2/dm_events", {"max_results": 100}, cred, scope, (acc.account_id, "dm")
        )
        if dm_pages is not None:
            me = cred.account.platform_user_id
            for e in (e for body in dm_pages for e in body.get("data") or ()):
                if str(e.get("sender_id")) != me:
                    out.append(
                        InboundMessage(
                            str(e["id"]),
                            "dm",
                            e.get("text", ""),
                            str(e.get("sender_id")),
                            None,
                            None,
                            e.get("dm_conversation_id"),
                        )
                    )
        out.reverse()
        if dm_pages is None:  # the DMs at the next poll, the mentions now
            assert self._refused is not None
            self.inbox_unread(self._refused)
        return out
