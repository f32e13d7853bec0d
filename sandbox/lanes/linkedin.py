"""The LinkedIn API lane: Posts API (``x-restli-id``), lookups, comments and likes.

LinkedIn's 429 carries no rate-limit or Retry-After header; its limits are daily and reset at
midnight UTC, so a throttled account is held until then.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import Ambiguous, AuthFailed, Fatal, JobInterrupt, RateLimited, Retryable
from .api import ApiLane
from .base import (
    RECENT_POSTS_READ,
    Credential,
    InboundMessage,
    Lookup,
    SendResult,
    SideEffectScope,
)

__all__ = ["LinkedInLane"]

DAY = 86400.0


#: comments asked for per page (LinkedIn serves at most 100), and pages read per post and poll
COMMENT_PAGE = 100
COMMENT_PAGES = 10
#: how many comments before the last one read a read of a grown post starts at (comments
#: deleted since shift the offsets back; more than this and the post is read whole again)
COMMENT_OVERLAP = 5


def _comment_urn(c: dict[str, Any]) -> str:
    """A comment's URN: what a reply names (its bare id is not addressable)."""
    return str(c.get("commentUrn") or c.get("$URN") or c.get("id"))


class LinkedInLane(ApiLane):
    """LinkedIn Posts API."""

    platform = "linkedin"
    dedupes_identical_text = True

    def __init__(self, deps: Any) -> None:
        super().__init__(deps)
        self._recent: dict[str, list[str]] = {}
        #: post URN → its comment count when its comments were last read whole
        self._read_counts: dict[str, int] = {}
        #: post URN → (how many of its comments were read, the URN of the last one): where the
        #: next read of a post whose count grew starts (a little before, to find that comment)
        self._read_upto: dict[str, tuple[int, str]] = {}

    def _auth_headers(self, cred: Credential) -> dict[str, str]:
        return {
            "authorization": f"Bearer {cred.access_token}",
            "linkedin-version": self.d.settings.linkedin_version or self.version(),
            "x-restli-protocol-version": "2.0.0",
        }

    def version(self) -> str:
        """The month before the current one (UTC) as ``YYYYMM``: a version LinkedIn still serves."""
        t = time.gmtime(int(self.d.now()))
        y, m = (t.tm_year, t.tm_mon - 1) if t.tm_mon > 1 else (t.tm_year - 1, 12)
        return f"{y:04d}{m:02d}"

    @staticmethod
    def author(cred: Credential) -> str:
        """The member URN of the account."""
        uid = cred.account.platform_user_id
        return uid if uid.startswith("urn:") else f"urn:li:person:{uid}"

    def retry_after(self, r: httpx.Response) -> float | None:
        """Seconds to the next midnight UTC (LinkedIn's daily limits), unless a header says otherwise."""
        ra = super().retry_after(r)
        if ra is not None:
            return ra
        now = self.d.now()
        return max(1.0, (int(now // DAY) + 1) * DAY - now)

    def error_for(self, r: httpx.Response, *, mutating: bool) -> JobInterrupt:
        """``{"message", "serviceErrorCode", "status"}`` → interrupt."""
        try:
            body: Any = r.json()
        except ValueError:
            body = {}
        msg = str(body.get("message", "")) if isinstance(body, dict) else ""
        s = r.status_code
        if s == 429:
            ra = self.retry_after(r) or DAY
            return RateLimited(f"linkedin.rate_limited: 429 {msg or 'daily limit'}", ra)
        if s == 401:
            return AuthFailed(f"linkedin.unauthorized: 401 {msg}")
        if s == 422 and "duplicate" in msg.lower():
            return Fatal(f"linkedin.duplicate: 422 {msg}")
        if s in (403, 422, 426, 400):
            return Fatal(f"linkedin.http_{s}: {msg}")
        return super().error_for(r, mutating=mutating)

    def _observe(self, r: httpx.Response, cred: Credential) -> None:
        if r.status_code == 429:
            now = self.d.now()
            self.d.pacer.penalise(cred.account.account_id, (int(now // DAY) + 1) * DAY)

    async def publish(
        self, cred: Credential, text: str, scope: SideEffectScope, *, media_url: str | None = None
    ) -> SendResult:
        """POST /rest/posts → 201 with the URN in ``x-restli-id``."""
        body = {
            "author": self.author(cred),
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        async with scope.side_effect("post.create"):
            r, cred = await self.send(
                "POST", "/rest/posts", cred, scope, action="post.create", json=body
            )
            if r.status_code != 201:
                raise self.error_for(r, mutating=True)
            urn = r.headers.get("x-restli-id", "")
        if not urn:
            raise Ambiguous("linkedin.malformed_response: 201 without x-restli-id")
        self.remember(cred.account.account_id, urn)
        return SendResult(
            urn,
            f"https://www.linkedin.com/feed/update/{urn}/",
            r.headers.get("x-li-uuid") or r.headers.get("x-restli-request-id"),
        )

    async def verify(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> Lookup:
        """GET /rest/posts/{urn}: 200 and PUBLISHED → visible; 404 → not visible."""
        try:
            r, cred = await self.send(
                "GET", f"/rest/posts/{quote(resource_id, safe='')}", cred, scope
            )
        except Retryable as e:
            return self.failed_lookup(e)
        if r.status_code == 404:
            return Lookup(False)
        if r.status_code != 200:
            return self.refused_lookup(r, f"linkedin.lookup: HTTP {r.status_code}")
        try:
            body = r.json()
        except ValueError:
            return Lookup(None, error="linkedin.lookup: body is not JSON")
        state = body.get("lifecycleState", "PUBLISHED")
        return Lookup(state == "PUBLISHED", f"https://www.linkedin.com/feed/update/{resource_id}/")

    async def find_published(
        self, cred: Credential, text: str, scope: SideEffectScope
    ) -> SendResult | None:
        """GET /rest/posts?q=author&author={urn} and match the commentary."""
        r, cred = await self.send(
            "GET",
            "/rest/posts",
            cred,
            scope,
            params={"q": "author", "author": self.author(cred), "count": 50},
        )
        if r.status_code == 429:
            # throttled: the caller waits it out without spending an attempt on the question
            raise self.error_for(r, mutating=False)
        if r.status_code != 200:
            raise Ambiguous(
                f"linkedin.unsearchable: HTTP {r.status_code}", outage=r.status_code >= 500
            )
        for p in self.json_of(r, mutating=False).get("elements") or ():
            if p.get("commentary") == text:
                return SendResult(str(p["id"]), f"https://www.linkedin.com/feed/update/{p['id']}/")
        return None

    async def reply(
        self, cred: Credential, target_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """POST /rest/socialActions/{urn}/comments."""
        body = {"actor": self.author(cred), "object": target_id, "message": {"text": text}}
        async with scope.side_effect("reply.create"):
            r, cred = await self.send(
                "POST",
                f"/rest/socialActions/{quote(target_id, safe='')}/comments",
                cred,
                scope,
                action="reply.create",
                json=body,
            )
            if r.status_code not in (200, 201):
                raise self.error_for(r, mutating=True)
            rid = r.headers.get("x-restli-id") or str(self.json_of(r, mutating=True).get("id", ""))
        return SendResult(rid, None, r.headers.get("x-li-uuid"))

    async def dm(
        self, cred: Credential, recipient_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """LinkedIn's API offers members no DMs."""
        raise Fatal("linkedin.unsupported: no direct messages through the API")

    async def like(self, cred: Credential, target_id: str, scope: SideEffectScope) -> SendResult:
        """POST /rest/socialActions/{urn}/likes."""
        body = {"actor": self.author(cred), "object": target_id}
        async with scope.side_effect("like.create"):
            r, cred = await self.send(
                "POST",
                f"/rest/socialActions/{quote(target_id, safe='')}/likes",
                cred,
                scope,
                action="like.create",
                json=body,
            )
            if r.status_code not in (200, 201):
                raise self.error_for(r, mutating=True)
        return SendResult(target_id, None, r.headers.get("x-li-uuid"))

    async def delete(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> bool:
        """DELETE /rest/posts/{urn}."""
        async with scope.side_effect("post.delete"):
            r, cred = await self.send(
                "DELETE",
                f"/rest/posts/{quote(resource_id, safe='')}",
                cred,
                scope,
                action="post.delete",
            )
            if r.status_code not in (200, 204):
                raise self.error_for(r, mutating=True)
        return True

    def remember(self, account_id: str, urn: str) -> None:
        """Keep ``urn`` among the account's recent posts, whose comments :meth:`list_inbound`
        reads (a platform restarted on its storage remembers its published posts again)."""
        posts = self._recent.setdefault(account_id, [])
        posts.append(urn)
        del posts[:-50]

    async def _comment_counts(
        self, cred: Credential, scope: SideEffectScope, urns: list[str]
    ) -> tuple[dict[str, int], Credential]:
        """Each post's comment count from one ``GET /rest/socialMetadata?ids=List(…)``
        (Rest.li BATCH_GET, URNs URL-encoded); empty when it cannot be read."""
        if not urns:
            return {}, cred
        ids = ",".join(quote(u, safe="") for u in urns)
        r, cred = await self.send("GET", f"/rest/socialMetadata?ids=List({ids})", cred, scope)
        if r.status_code != 200:
            return {}, cred
        results = self.json_of(r, mutating=False).get("results")
        out: dict[str, int] = {}
        for urn, meta in (results if isinstance(results, dict) else {}).items():
            summary = meta.get("commentSummary") if isinstance(meta, dict) else None
            if isinstance(summary, dict) and isinstance(summary.get("count"), int):
                out[str(urn)] = summary["count"]
        return out, cred

    async def _comments_of(
        self, urn: str, cred: Credential, scope: SideEffectScope, start: int = 0
    ) -> tuple[list[dict[str, Any]], bool, Credential]:
        """Every comment on ``urn`` from offset ``start``, page after page (``start``/``count``,
        oldest first, up to :data:`COMMENT_PAGES` pages of :data:`COMMENT_PAGE`): (comments,
        read to the end?, cred). A post with more comments than one page has them all read,
        not only its oldest."""
        out: list[dict[str, Any]] = []
        for _ in range(COMMENT_PAGES):
            r, cred = await self.send(
                "GET",
                f"/rest/socialActions/{quote(urn, safe='')}/comments",
                cred,
                scope,
                params={"start": start, "count": COMMENT_PAGE},
            )
            if r.status_code != 200:
                return out, False, cred
            doc = self.json_of(r, mutating=False)
            page = [c for c in doc.get("elements") or () if isinstance(c, dict)]
            out += page
            start += len(page)
            total = (doc.get("paging") or {}).get("total")
            if not page or not isinstance(total, int) or start >= total:
                return out, True, cred
        return out, False, cred

    async def _read_on(
        self, urn: str, n: int | None, cred: Credential, scope: SideEffectScope, held: bool
    ) -> tuple[list[dict[str, Any]], bool, Credential]:
        """The comments of ``urn`` a poll needs: when its count grew since it was last read to
        the end, those after the last one read (from a few before it, to find it again: a
        deleted comment shifts the offsets); else — the first read, a count that fell, a post
        with comments a control held back (``held``: read again whole), the last one read no
        longer where it was — all of them. Whichever it is, where the read ended is kept."""
        prev = self._read_upto.get(urn)
        elements: list[dict[str, Any]] = []
        whole = False
        start = 0
        if prev is not None and not held and n is not None and n > prev[0]:
            start = max(0, prev[0] - COMMENT_OVERLAP)
            elements, whole, cred = await self._comments_of(urn, cred, scope, start)
            if prev[1] not in {_comment_urn(c) for c in elements}:
                elements, whole, start = [], False, 0  # shifted past it: read it all again
        if not elements:
            elements, whole, cred = await self._comments_of(urn, cred, scope)
        if whole and elements:
            self._read_upto[urn] = (start + len(elements), _comment_urn(elements[-1]))
        else:
            self._read_upto.pop(urn, None)
        return elements, whole, cred

    async def list_inbound(
        self,
        cred: Credential,
        scope: SideEffectScope,
        *,
        since: str | None = None,
        also: Collection[str] = (),
    ) -> list[InboundMessage]:
        """Comments on the account's recent posts (those this lane published).

        One ``socialMetadata`` batch read names each post's comment count; a post's comments
        are read only when its count changed since they were last read whole (a poll of ten
        quiet posts is one request, not ten), and always for the posts of conversations a
        control held back (``also``). When the counts cannot be read, every post is read.
        """
        out: list[InboundMessage] = []
        urns = self._recent.get(cred.account.account_id, [])[-RECENT_POSTS_READ:]
        # the posts of conversations a control held back, when newer posts pushed them out
        urns = [*urns, *(u for u in also if u not in urns)]
        counts, cred = await self._comment_counts(cred, scope, urns)
        for urn in urns:
            n = counts.get(urn)
            if n is not None and urn not in also and self._read_counts.get(urn, 0) == n:
                continue  # nothing new on it since its comments were last read
            elements, whole, cred = await self._read_on(urn, n, cred, scope, urn in also)
            if not whole:
                # what was read before is no longer up to date (held comments among it too)
                self._read_counts.pop(urn, None)
            if whole and n is not None:
                self._read_counts[urn] = n
            me, own_id = self.author(cred), cred.account.platform_user_id
            for c in elements:
                out.append(
                    InboundMessage(
                        # the comment's URN: what a reply names (its bare id is not addressable)
                        _comment_urn(c),
                        "comment",
                        (c.get("message") or {}).get("text", ""),
                        # the account's own id when the actor is the account's member URN
                        # (LinkedIn sends no handle: the id is the only sign of its own comment)
                        own_id if (actor := str(c.get("actor", ""))) == me else actor,
                        None,
                        urn,
                    )
                )
        return out
