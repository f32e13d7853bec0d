"""The publish pipeline: resolve and guard the credential, post idempotently, verify, audit.

A publish is reported ``succeeded`` only after the post was looked up and found visible; if it
is not visible within the verification policy the job becomes ``needs_human_confirm`` (RB-03).
A retry after an ambiguous attempt (timeout, dropped connection) first asks the platform whether
the post exists; where the platform cannot tell, it relies on the platform's duplicate refusal
or stops for a person instead of posting twice.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .errors import (
    Ambiguous,
    Deferred,
    Fatal,
    JobInterrupt,
    NeedsHumanConfirm,
    RateLimited,
    Retryable,
)
from .jobs import AUDIT_ACTION_OF, JobRecord
from .keyring import TenancyMismatch
from .lanes.base import Credential, Lane, SendResult
from .scope import JobScope

if TYPE_CHECKING:
    from .platform import Platform

__all__ = ["KIND_AUDIT_ACTION", "MAX_LOOKUP_WAIT_S", "MAX_REFUSED_LOOKUPS", "PublishHandlers"]

#: lookups refused (429) in one run of a job before it is deferred to verify later
MAX_REFUSED_LOOKUPS = 10
#: a refused lookup that must wait longer than this (LinkedIn's daily limits: until midnight
#: UTC) is not waited for: the post is handed to a person to confirm (RB-03)
MAX_LOOKUP_WAIT_S = 900.0

#: job kind → the audit action of its side effect
KIND_AUDIT_ACTION: dict[str, str] = AUDIT_ACTION_OF


class PublishHandlers:
    """Job handlers for ``publish``, ``canary`` and ``auth_check``."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self._canaries = 0

    def install(self) -> None:
        """Register the handlers with the platform's runner."""
        r = self.p.runner
        r.register("publish", self.publish)
        r.register("canary", self.publish)
        r.register("auth_check", self.auth_check)

    # shared ---------------------------------------------------------------------------------
    async def prepare(self, job: JobRecord) -> tuple[Lane, Credential, JobScope]:
        """Lane, guarded credential and side-effect scope for a social job (tenancy checked)."""
        p, spec = self.p, job.spec
        if spec.platform is None:
            raise Fatal(
                f"{spec.kind} job {job.id} names no platform; valid: x, instagram, linkedin"
            )
        lane = p.lane_for(spec.platform)
        account = p.keyring.account_for(spec.client_id, spec.platform, spec.account_id)
        scope = JobScope(
            p,
            job,
            client_id=spec.client_id,
            service=spec.platform,
            account_id=account.account_id,
            lane=lane.name,
        )
        cred = p.keyring.resolve(spec.client_id, account)
        if p.keyring.needs_refresh(cred):
            cred = await p.keyring.refresh(cred)
        try:
            await p.keyring.check_tenancy(spec.client_id, account, cred)
        except TenancyMismatch as e:
            p.telemetry.mark("tenancy_mismatch")
            p.alerts.fire(
                "tenancy_mismatch", e.error, client_id=spec.client_id, platform=spec.platform
            )
            scope.outcome(
                "post.create" if job.action == "publish" else AUDIT_ACTION_OF[job.kind],
                "blocked",
                error=e.error,
            )
            raise
        return lane, cred, scope

    # handlers -------------------------------------------------------------------------------
    async def publish(self, job: JobRecord) -> dict[str, Any]:
        """Publish ``payload.text`` (and ``payload.media_url``) and verify it is visible."""
        p = self.p
        text = str(job.spec.payload.get("text") or "")
        if job.kind == "canary" and not text:
            text = job.result.setdefault(
                "canary_text", f"vibedrill canary {job.id} at T{job.created_at:.0f}"
            )
        if not text:
            raise Fatal(f"payload.text: a {job.kind} job needs non-empty text")
        lane, cred, scope = await self.prepare(job)
        res = self._known_result(job)
        if res is None:
            res = await self._post(job, lane, cred, scope, text)
            job.result.update(
                resource_id=res.resource_id, permalink=res.permalink, request_id=res.request_id
            )
        proof: dict[str, Any] = {
            "resource_id": res.resource_id,
            "permalink": res.permalink,
            "request_id": res.request_id,
        }
        if p.defects.on("verification_skipped"):
            scope.outcome("post.create", "success", proof={**proof, "verified": False})
            p.telemetry.publish_success.labels(scope.service).inc()
            return {**proof, "verified": False}
        return await self._verify(job, lane, cred, scope, res, proof)

    def _known_result(self, job: JobRecord) -> SendResult | None:
        rid = job.result.get("resource_id")
        if rid:
            return SendResult(rid, job.result.get("permalink"), job.result.get("request_id"))
        return None

    async def _post(
        self, job: JobRecord, lane: Lane, cred: Credential, scope: JobScope, text: str
    ) -> SendResult:
        media_url = job.spec.payload.get("media_url")
        ambiguous = bool(job.result.get("ambiguous"))
        dedupes = bool(getattr(lane, "dedupes_identical_text", False))
        if ambiguous and self.p.defects.on("retry_not_idempotent"):
            scope.note("ig_container", None)  # the bug: start over as if nothing happened
        elif ambiguous:
            try:
                found = await lane.find_published(cred, text, scope)
            except RateLimited as e:
                # "did it land?" is throttled: wait the throttle out without using an attempt —
                # a post whose check burned its attempts would be dead-lettered while it is live
                wait = max(e.retry_after or 0.0, self.p.settings.retry.base_delay_s)
                raise Deferred(
                    f"idempotency: the check whether an earlier attempt posted is throttled "
                    f"({e.error}); looking again in {wait:g}s",
                    run_at=self.p.now() + wait,
                ) from None
            except Ambiguous as e:
                if job.attempts < self.p.settings.retry.max_attempts:
                    # the check failed, not the post: look again later rather than post again
                    # and lean on a duplicate refusal, which leaves the earlier post unclaimed
                    raise Retryable(
                        f"idempotency: could not check whether an earlier attempt posted "
                        f"({e.error}); looking again later",
                        e.retry_after,
                        outage=e.outage,
                    ) from None
                if not dedupes:
                    raise self._stop_for_human(
                        job,
                        scope,
                        f"idempotency: an earlier attempt may have posted ({job.result.get('ambiguous')}); "
                        f"{e.error}; not posting again",
                    ) from None
                found = None
            if found is not None:
                scope.note("ig_container", None)
                return found
        try:
            return await lane.publish(cred, text, scope, media_url=media_url)
        except Ambiguous as e:
            job.result["ambiguous"] = e.error
            raise
        except JobInterrupt as e:
            if ambiguous and "duplicate" in e.error:
                raise self._stop_for_human(
                    job,
                    scope,
                    f"idempotency: the platform refused the retry as a duplicate, so the earlier attempt "
                    f"posted ({e.error}); its id is unknown",
                ) from None
            raise

    def _stop_for_human(self, job: JobRecord, scope: JobScope, err: str) -> NeedsHumanConfirm:
        """Audit ``needs_human_confirm`` for a post an earlier attempt may have made; the error to raise.

        The idempotency check stopped the retry, so the job's trail must still end with an
        outcome: its proof names what is known (the Instagram container an earlier attempt
        published), never a resource id that was not seen.
        """
        proof: dict[str, Any] = {"resource_id": None, "verified": False}
        container = scope.recall("ig_container")
        if container:
            proof["container_id"] = container
        # a post that may be live and is not verified: RB-03's page counts it, as it counts a
        # post its lookups did not find
        self.p.telemetry.verification_failed.labels(scope.service).inc()
        self.p.telemetry.mark(f"verification_failed:{scope.service}")
        scope.outcome(
            "post.create",
            "needs_human_confirm",
            proof=proof,
            error=err,
            detail={"ambiguous": job.result.get("ambiguous")},
        )
        result = {"ambiguous": job.result.get("ambiguous"), "verified": False}
        if container:
            result["container_id"] = container
        return NeedsHumanConfirm(err, result)

    async def _verify(
        self,
        job: JobRecord,
        lane: Lane,
        cred: Credential,
        scope: JobScope,
        res: SendResult,
        proof: dict[str, Any],
    ) -> dict[str, Any]:
        p, pol = self.p, self.p.settings.verification
        await asyncio.sleep(pol.delay_s)
        last = None
        looked = refused = 0
        while looked < pol.attempts:
            look = await lane.verify(cred, res.resource_id, scope)
            if look.visible:
                proof = {**proof, "permalink": look.permalink or res.permalink, "verified": True}
                scope.outcome("post.create", "success", proof=proof)
                p.telemetry.publish_success.labels(scope.service).inc()
                return proof
            if look.retry_after is not None:
                # refused (429): unknown, not "not visible" — wait out Retry-After, keep the attempt
                refused += 1
                wait = max(pol.interval_s, look.retry_after)
                if wait > MAX_LOOKUP_WAIT_S:
                    # hours (a daily limit): neither sleep in a runner slot nor leave the post
                    # unclaimed until then — a person confirms it (RB-03 step 2)
                    err = (
                        f"{scope.service}.verify_refused: lookups of {res.resource_id} refused "
                        f"for {wait:.0f}s more ({look.error}); a person confirms it"
                    )
                    p.telemetry.verification_failed.labels(scope.service).inc()
                    scope.outcome(
                        "post.create",
                        "needs_human_confirm",
                        proof={**proof, "verified": False},
                        error=err,
                    )
                    raise NeedsHumanConfirm(err, {**proof, "verified": False})
                if refused > MAX_REFUSED_LOOKUPS:
                    raise Deferred(
                        f"{scope.service}.verify_deferred: lookups of {res.resource_id} refused "
                        f"{refused} times ({look.error}); verifying later",
                        run_at=p.now() + wait,
                    )
                await asyncio.sleep(wait)
                continue
            looked += 1
            last = look.error or "not visible"
            if looked < pol.attempts:
                await asyncio.sleep(pol.interval_s)
        p.telemetry.verification_failed.labels(scope.service).inc()
        p.telemetry.mark(f"verification_failed:{scope.service}")
        err = f"{scope.service}.not_visible: post {res.resource_id} not visible after {pol.attempts} lookups ({last})"
        scope.outcome(
            "post.create", "needs_human_confirm", proof={**proof, "verified": False}, error=err
        )
        raise NeedsHumanConfirm(err, {**proof, "verified": False})

    async def auth_check(self, job: JobRecord) -> dict[str, Any]:
        """Resolve the credential and pass the tenancy guard (identity lookup on X); no side effect."""
        lane, cred, _ = await self.prepare(job)
        return {
            "account_id": cred.account.account_id,
            "credential_ref": cred.credential_ref,
            "lane": lane.name,
        }
