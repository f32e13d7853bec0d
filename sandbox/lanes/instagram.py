"""The Instagram API lane: container → status → media_publish, media lookups, comment replies, DMs.

Errors come as the Graph error object; throttling codes (4, 17, 32, 613) and the usage headers
(``X-App-Usage``, ``X-Business-Use-Case-Usage``) feed adaptive pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Collection
from typing import Any

import httpx

from ..errors import (
    Ambiguous,
    AuthFailed,
    Deferred,
    Fatal,
    JobInterrupt,
    RateLimited,
    Retryable,
)
from .api import ApiLane
from .base import (
    RECENT_POSTS_READ,
    Credential,
    InboundMessage,
    Lookup,
    SendResult,
    SideEffectScope,
)

__all__ = ["HeldLocally", "InstagramLane"]

#: Graph's throttles: 4 app, 17 user, 32 page, 613 custom, 80002 the Instagram account's own
#: business-use-case limit (its calls in the last hour; ``x-business-use-case-usage`` counts them)
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80002})
#: how long a throttle that names no end (no Retry-After, no regain time) holds: Meta's
#: guidance for throttled calls is to back off for minutes, not seconds
THROTTLE_DEFAULT_S = 300.0
DEFAULT_IMAGE = "https://cdn.vibedrill.test/img/placeholder.jpg"
#: the newest messages of a thread the Messaging API lets an app read (older ones are gone)
MESSAGES_READ = 20


class HeldLocally(RateLimited):
    """A request the lane did not send: the account's throttle still holds it (nothing reached
    Instagram, so nothing was tried)."""


class InstagramLane(ApiLane):
    """Instagram Graph API (content publishing)."""

    platform = "instagram"
    #: container status polls before giving up on this attempt (the container is kept)
    poll_attempts = 6
    poll_interval_s = 5.0
    #: recent media searched for a caption when a published container does not name its media
    media_scan = 25

    def _app_usage(self, r: httpx.Response) -> float:
        """The highest percentage of ``X-App-Usage``: the app's budget, every account's calls."""
        pct = 0.0
        raw = r.headers.get("x-app-usage")
        if raw:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                pct = max(pct, *(float(v) for v in json.loads(raw).values()))
        return pct

    def _usage(self, r: httpx.Response) -> tuple[float, float | None]:
        """(highest usage percent, seconds to regain access) of the account's business-use-case
        usage header."""
        pct, regain = 0.0, None
        raw = r.headers.get("x-business-use-case-usage")
        if raw:
            try:
                for entries in json.loads(raw).values():
                    for e in entries:
                        pct = max(
                            pct,
                            *(
                                float(e.get(k, 0))
                                for k in ("call_count", "total_cputime", "total_time")
                            ),
                        )
                        if e.get("estimated_time_to_regain_access"):
                            regain = max(
                                regain or 0.0, float(e["estimated_time_to_regain_access"]) * 60
                            )
            except (ValueError, TypeError, AttributeError):
                pass
        return pct, regain

    def _observe(self, r: httpx.Response, cred: Credential) -> None:
        pct, regain = self._usage(r)
        now = self.d.now()
        if regain:
            self.d.pacer.penalise(cred.account.account_id, now + regain)
        elif self.is_throttled(r) and not self.d.defects.on("retry_after_ignored"):
            # a throttle that names no end (no usage header, no Retry-After) holds the account
            # all the same, for as long as the job it refused waits: its polls and other jobs
            # do not ask into it meanwhile
            wait = self.retry_after(r) or THROTTLE_DEFAULT_S
            self.d.pacer.penalise(cred.account.account_id, now + wait)
        elif pct >= 95:
            self.d.pacer.penalise(cred.account.account_id, now + 300)
        elif pct >= 80:
            self.d.pacer.penalise(cred.account.account_id, now + 30)
        # X-App-Usage counts every client's accounts together: its tiers hold them all (the
        # platform's key, which the pacer and the lane's reads heed), or the accounts each
        # spend on until Graph throttles the whole app (code 4) for every client at once
        app = self._app_usage(r)
        if app >= 95:
            self.d.pacer.penalise(self.platform, now + 300)
        elif app >= 80:
            self.d.pacer.penalise(self.platform, now + 30)

    def __init__(self, deps: Any) -> None:
        super().__init__(deps)
        #: account → set while the first request after its throttle's hold is out (the others
        #: wait for its answer: RB-05's "resume slowly", not the whole queue at once)
        self._probing: dict[str, asyncio.Event] = {}
        #: account → the end of the last hold a first request has tried after
        self._probed: dict[str, float] = {}
        #: message id → the DM it is (None: one of the account's own): a message never changes,
        #: so each is fetched once
        self._messages: dict[str, InboundMessage | None] = {}

    def _held_for(self, cred: Credential) -> float:
        """Seconds the account's throttle, or the app's (every account), still holds it (0 or
        less when none)."""
        until = max(
            self.d.pacer.penalty_until(cred.account.account_id),
            self.d.pacer.penalty_until(self.platform),
        )
        return until - self.d.now()

    async def send(
        self, method: str, path_or_url: str, cred: Credential, scope: SideEffectScope, **kw: Any
    ) -> tuple[httpx.Response, Credential]:
        """:meth:`ApiLane.send`, with the reads of a throttled account held too: Instagram's
        business-use-case limit counts every call of the account, whichever endpoint, so a
        throttle holds its container checks, lookups and inbox reads as the pacer holds its
        side effects (each request sent into it prolongs the block)."""
        acc = cred.account.account_id
        while True:
            held = self._held_for(cred)
            if held > 0 and kw.get("action") is None:
                raise HeldLocally(
                    f"instagram.rate_limited: {acc} held for {held:g}s more "
                    "(the regain time of an earlier throttle)",
                    held,
                )
            first = self._probing.get(acc) or self._probing.get(self.platform)
            if first is None:
                break
            await first.wait()  # the first request after the hold is out: wait for its answer
        probe = None
        # the app's hold (every account) ended: one request of the whole app goes first
        key = self.platform if self._app_probe_due() else acc
        until = self.d.pacer.penalty_until(key)
        if until > self._probed.get(key, 0.0):
            # a hold has ended since the last first request: this one goes alone
            probe = self._probing[key] = asyncio.Event()
            self._probed[key] = until
        try:
            return await super().send(method, path_or_url, cred, scope, **kw)
        finally:
            if probe is not None:
                del self._probing[key]
                probe.set()

    def _app_probe_due(self) -> bool:
        """Whether a hold of the whole app has ended and no request has gone first since."""
        return self.d.pacer.penalty_until(self.platform) > self._probed.get(self.platform, 0.0)

    def _err(self, r: httpx.Response) -> dict[str, Any]:
        try:
            body = r.json()
        except ValueError:
            return {}
        e = body.get("error") if isinstance(body, dict) else None
        return e if isinstance(e, dict) else {}

    def _is_auth_failure(self, r: httpx.Response) -> bool:
        return r.status_code == 401 or (r.status_code >= 400 and self._err(r).get("code") == 190)

    def is_throttled(self, r: httpx.Response) -> bool:
        """A 429, or a throttling error code (4, 17, 32, 613, 80002) whatever the status (usually
        400)."""
        return r.status_code == 429 or (
            r.status_code >= 400 and self._err(r).get("code") in THROTTLE_CODES
        )

    def retry_after(self, r: httpx.Response) -> float | None:
        """Retry-After, else the business-use-case regain time."""
        ra = super().retry_after(r)
        if ra is not None:
            return ra
        return self._usage(r)[1]

    def error_for(self, r: httpx.Response, *, mutating: bool) -> JobInterrupt:
        """Graph error object → interrupt."""
        e = self._err(r)
        code, sub = e.get("code"), e.get("error_subcode")
        msg = str(e.get("message") or "")
        label = f"code {code}" + (f"/{sub}" if sub else "") + f": {msg}"
        if code == 190:
            return AuthFailed(f"instagram.token_invalid: {label}")
        if sub == 2207051 or code == 368:
            return Fatal(f"instagram.action_blocked: {label}")
        if code in THROTTLE_CODES or r.status_code == 429:
            self.d.telemetry.rate_limit_hits.labels(self.platform).inc()
            self.d.telemetry.mark("rate_limited:instagram")
            return RateLimited(
                f"instagram.rate_limited: {label}", self.retry_after(r) or THROTTLE_DEFAULT_S
            )
        if code == 9 and sub == 2207042:
            return RateLimited(f"instagram.publish_cap: {label}", 3600.0)
        if code == 9007:
            return Retryable(f"instagram.media_not_ready: {label}")
        if code == 506:
            return Fatal(f"instagram.duplicate: {label}")
        if code in (1, 2) or e.get("is_transient") or r.status_code >= 500:
            wait = self.outage_retry_after(r)
            return (
                Ambiguous(f"instagram.transient: {label}", wait, outage=True)
                if mutating
                else Retryable(f"instagram.transient: {label}", wait, outage=True)
            )
        return Fatal(f"instagram.error: HTTP {r.status_code} {label}")

    # publish --------------------------------------------------------------------------------
    async def publish(
        self, cred: Credential, text: str, scope: SideEffectScope, *, media_url: str | None = None
    ) -> SendResult:
        """Create a container (or reuse this job's), wait for FINISHED, then media_publish.

        A throttle that holds the account — before the post starts, or one that began while its
        container was made or polled (another job's answer crossed a usage tier) — defers the
        post: the request it would send is not sent, so it waits the hold out without using an
        attempt (a squeeze of many short holds must not dead-letter posts)."""
        held = self._held_for(cred)
        if held > 0:  # nothing sent yet: the post waits out the throttle without an attempt
            raise self._deferred(cred, held)
        try:
            return await self._publish(cred, text, scope, media_url)
        except HeldLocally as e:
            raise self._deferred(cred, e.retry_after or self._held_for(cred)) from None

    def _deferred(self, cred: Credential, held: float) -> Deferred:
        return Deferred(
            f"instagram.rate_limited: {cred.account.account_id} held for {held:g}s more "
            "(the regain time of an earlier throttle)",
            run_at=self.d.now() + held,
        )

    async def _publish(
        self, cred: Credential, text: str, scope: SideEffectScope, media_url: str | None
    ) -> SendResult:
        uid = cred.account.platform_user_id
        container = scope.recall("ig_container")
        if not container:
            scope.check("post.create")
            r, cred = await self.send(
                "POST",
                f"/{uid}/media",
                cred,
                scope,
                params={"image_url": media_url or DEFAULT_IMAGE, "caption": text},
            )
            if r.status_code != 200:
                raise self.error_for(r, mutating=False)
            container = str(self.json_of(r, mutating=False).get("id", ""))
            scope.note("ig_container", container)
        status = None
        for i in range(self.poll_attempts):
            r, cred = await self.send(
                "GET", f"/{container}", cred, scope, params={"fields": "status_code,status"}
            )
            if r.status_code != 200:
                raise self.error_for(r, mutating=False)
            status = self.json_of(r, mutating=False).get("status_code")
            if status != "IN_PROGRESS":
                break
            if i + 1 < self.poll_attempts:
                await asyncio.sleep(self.poll_interval_s)
        if status == "IN_PROGRESS":
            raise Retryable(f"instagram.container_in_progress: {container} still IN_PROGRESS")
        if status == "EXPIRED":  # not published within 24 h: a fresh container next attempt
            scope.note("ig_container", None)
            raise Retryable(f"instagram.container_expired: {container}")
        if status == "ERROR":
            scope.note("ig_container", None)
            raise Fatal(f"instagram.container_error: {container}")
        if status == "PUBLISHED":
            raise Ambiguous(
                f"instagram.container_published: {container} was published by an earlier attempt"
            )
        async with scope.side_effect("post.create"):
            r, cred = await self.send(
                "POST",
                f"/{uid}/media_publish",
                cred,
                scope,
                action="post.create",
                params={"creation_id": container},
            )
            if r.status_code != 200:
                raise self.error_for(r, mutating=True)
            mid = str(self.json_of(r, mutating=True).get("id", ""))
        if not mid:
            raise Ambiguous("instagram.malformed_body: media_publish without id")
        return SendResult(mid, None, r.headers.get("x-fb-trace-id"), {"container_id": container})

    async def verify(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> Lookup:
        """GET /{media-id}?fields=id,permalink."""
        try:
            r, cred = await self.send(
                "GET",
                f"/{resource_id}",
                cred,
                scope,
                params={"fields": "id,caption,permalink,timestamp"},
            )
        except Retryable as e:
            return self.failed_lookup(e)
        if r.status_code == 200:
            try:
                return Lookup(True, r.json().get("permalink"))
            except ValueError:
                return Lookup(None, error="instagram.lookup: body is not JSON")
        err = self._err(r)
        if r.status_code in (400, 404) and err.get("code") in (100, 803, None):
            return Lookup(False)
        return self.refused_lookup(
            r, f"instagram.lookup: HTTP {r.status_code} code {err.get('code')}"
        )

    async def find_published(
        self, cred: Credential, text: str, scope: SideEffectScope
    ) -> SendResult | None:
        """The job's container is the idempotency key: PUBLISHED means an earlier attempt posted.

        No container (or one not published) → None: publishing it cannot double-post. A
        PUBLISHED container does not name its media, so the account's recent media
        (``GET /{ig-user-id}/media``) are searched for the caption; found → that media (the job
        goes on to verify it), not found or not listable → ``Ambiguous`` naming the container.
        """
        container = scope.recall("ig_container")
        if not container:
            return None
        r, cred = await self.send(
            "GET", f"/{container}", cred, scope, params={"fields": "status_code,status"}
        )
        if r.status_code != 200:
            # an outage of Graph (5xx) keeps the check from answering: retried as the outage it
            # is (growing back-off, no attempt used), not as a failure of this job
            raise Ambiguous(
                f"instagram.container_unknown: HTTP {r.status_code} for {container}",
                outage=r.status_code >= 500,
            )
        if self.json_of(r, mutating=False).get("status_code") != "PUBLISHED":
            return None
        found = await self._media_with_caption(cred, text, scope)
        if found is None:
            raise Ambiguous(
                f"instagram.container_published: {container} was published by an earlier attempt; media id unknown"
            )
        mid, permalink = found
        return SendResult(mid, permalink, None, {"container_id": container})

    async def _media_with_caption(
        self, cred: Credential, text: str, scope: SideEffectScope
    ) -> tuple[str, str | None] | None:
        """(id, permalink) of the account's most recent media captioned ``text``, if listed."""
        uid = cred.account.platform_user_id
        try:
            r, cred = await self.send(
                "GET",
                f"/{uid}/media",
                cred,
                scope,
                params={"fields": "id,caption,permalink,timestamp", "limit": self.media_scan},
            )
        except Retryable:
            return None
        if r.status_code != 200:
            return None
        try:
            rows = r.json().get("data") or []
        except (ValueError, AttributeError):
            return None
        for row in rows:
            if isinstance(row, dict) and row.get("caption") == text and row.get("id"):
                return str(row["id"]), row.get("permalink")
        return None

    # engagement -----------------------------------------------------------------------------
    async def reply(
        self, cred: Credential, target_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """POST /{comment-id}/replies?message=…"""
        async with scope.side_effect("reply.create"):
            r, cred = await self.send(
                "POST",
                f"/{target_id}/replies",
                cred,
                scope,
                action="reply.create",
                params={"message": text},
            )
            if r.status_code != 200:
                raise self.error_for(r, mutating=True)
            rid = str(self.json_of(r, mutating=True).get("id", ""))
        return SendResult(rid, None, r.headers.get("x-fb-trace-id"))

    async def dm(
        self, cred: Credential, recipient_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """POST /{ig-user-id}/messages (Send API)."""
        async with scope.side_effect("dm.send"):
            body = {"recipient": {"id": recipient_id}, "message": {"text": text}}
            r, cred = await self.send(
                "POST",
                f"/{cred.account.platform_user_id}/messages",
                cred,
                scope,
                action="dm.send",
                json=body,
            )
            if r.status_code != 200:
                raise self.error_for(r, mutating=True)
            data = self.json_of(r, mutating=True)
        return SendResult(
            str(data.get("message_id") or data.get("id") or ""),
            None,
            r.headers.get("x-fb-trace-id"),
        )

    async def like(self, cred: Credential, target_id: str, scope: SideEffectScope) -> SendResult:
        """The Instagram API cannot like."""
        raise Fatal("instagram.unsupported: the Graph API has no like action")

    async def delete(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> bool:
        """DELETE /{media-id}."""
        async with scope.side_effect("post.delete"):
            r, cred = await self.send(
                "DELETE", f"/{resource_id}", cred, scope, action="post.delete"
            )
            if r.status_code != 200:
                raise self.error_for(r, mutating=True)
        return True

    async def list_inbound(
        self,
        cred: Credential,
        scope: SideEffectScope,
        *,
        since: str | None = None,
        also: Collection[str] = (),
    ) -> list[InboundMessage]:
        """Comments on the account's recent media, then its DMs (:meth:`_dms`)."""
        r, cred = await self.send(
            "GET",
            f"/{cred.account.platform_user_id}/media",
            cred,
            scope,
            params={"fields": "id,comments_count"},
        )
        if r.status_code != 200:
            raise self.error_for(r, mutating=False)
        out: list[InboundMessage] = []
        media = list((self.json_of(r, mutating=False).get("data") or ())[:RECENT_POSTS_READ])
        # the posts of conversations a control held back, when newer posts pushed them out
        newest = {str(m.get("id")) for m in media}
        media += [{"id": pid} for pid in also if pid not in newest]
        for m in media:
            if not m.get("comments_count", 1):
                continue  # nothing to read: no request for an empty comment list
            rc, cred = await self.send(
                "GET",
                f"/{m['id']}/comments",
                cred,
                scope,
                params={"fields": "id,text,username,from,timestamp"},
            )
            if rc.status_code != 200:
                continue
            # Graph lists a post's comments newest first: the engine is handed them oldest
            # first, as every inbox, so a thread's cap and cooldown pass over its later askers,
            # never the first
            for c in reversed(list(self.json_of(rc, mutating=False).get("data") or ())):
                frm = c.get("from") or {}
                out.append(
                    InboundMessage(
                        str(c["id"]),
                        "comment",
                        c.get("text", ""),
                        str(frm.get("id", "")),
                        c.get("username") or frm.get("username"),
                        str(m["id"]),
                    )
                )
        out += await self._dms(cred, scope)
        return out

    async def _dms(self, cred: Credential, scope: SideEffectScope) -> list[InboundMessage]:
        """The DMs others sent the account, oldest first (Instagram Messaging API).

        ``GET /{ig-user-id}/conversations?platform=instagram`` names each thread's messages
        (ids only, newest first); each message not seen before is read with
        ``GET /{message-id}?fields=id,created_time,from,message``, and the account's own
        messages in the thread are left out. A thread that cannot be read now is read at the
        next poll.
        """
        me = cred.account.platform_user_id
        r, cred = await self.send(
            "GET",
            f"/{me}/conversations",
            cred,
            scope,
            params={"platform": "instagram", "fields": "id,updated_time,messages"},
        )
        self.inbox_unread(r)
        if r.status_code != 200:
            return []
        out: list[InboundMessage] = []
        for conv in self.json_of(r, mutating=False).get("data") or ():
            ids = [str(m.get("id")) for m in (conv.get("messages") or {}).get("data") or ()]
            for mid in reversed(ids[:MESSAGES_READ]):
                if mid not in self._messages:
                    rm, cred = await self.send(
                        "GET",
                        f"/{mid}",
                        cred,
                        scope,
                        params={"fields": "id,created_time,from,message"},
                    )
                    if rm.status_code != 200:
                        break  # the rest of this thread at the next poll, in order
                    m = self.json_of(rm, mutating=False)
                    frm = m.get("from") or {}
                    self._messages[mid] = (
                        None
                        if str(frm.get("id")) == me
                        else InboundMessage(
                            mid,
                            "dm",
                            str(m.get("message") or ""),
                            str(frm.get("id", "")),
                            frm.get("username"),
                            None,
                            str(conv.get("id")),
                        )
                    )
                dm = self._messages[mid]
                if dm is not None:
                    out.append(dm)
        return out
