"""The side-effect scope of one job: gate, pacing and audit around every mutating request.

This is where "checked immediately before every side effect" lives. A lane enters
``scope.side_effect(action)`` around each mutating request: the kill switches and the mode are
checked, pacing admits the request, the kill switches and mode are checked *again* (pacing may
have waited minutes), the attempt is audited, and a failure is audited as its outcome. Success
outcomes are written by the handler (a publish is only a success once verified).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from .errors import Blocked, Deferred, Held, JobInterrupt
from .jobs import JobRecord

if TYPE_CHECKING:
    from .platform import Platform

__all__ = ["ACTION_TYPE", "JobScope"]

#: audit action → the action type kill switches, modes and caps name
ACTION_TYPE: dict[str, str | None] = {
    "post.create": "publish",
    "post.delete": "publish",
    "reply.create": "reply",
    "dm.send": "dm",
    "like.create": "like",
    "llm.complete": "generate",
    "image.generate": "generate",
    "video.generate": "generate",
    "tool.call": None,
}


class JobScope:
    """Implements :class:`sandbox.lanes.base.SideEffectScope` for one job on one account."""

    def __init__(
        self,
        platform: Platform,
        job: JobRecord,
        *,
        client_id: str,
        service: str,
        account_id: str | None,
        lane: str = "api",
    ) -> None:
        self.p = platform
        self.job = job
        self.client_id = client_id
        self.service = service
        self.account_id = account_id
        self.lane = lane
        #: the side effect whose attempt is open (audited, its outcome not yet): a refusal
        #: inside it is that attempt's one outcome, audited by :meth:`side_effect`
        self._open: str | None = None

    # gate -----------------------------------------------------------------------------------
    def check(self, action: str) -> None:
        """Gate ``action`` outside a side effect (a lane's pre-check, a resend): raise ``Blocked``
        (audited as a ``blocked`` outcome, like a refusal inside :meth:`side_effect`) or ``Held``."""
        try:
            self._gate(action)
        except Blocked as e:
            if self._open != action:  # inside its attempt, the side effect audits the refusal
                self.outcome(action, "blocked", error=e.error)
            raise

    def _gate(self, action: str) -> None:
        """Raise ``Blocked`` (kill switch, read-only) or ``Held`` (approval) if ``action`` may not run now."""
        p, job = self.p, self.job
        atype = ACTION_TYPE.get(action)
        ignore_kill = job.job_class == "engagement" and p.defects.on(
            "kill_switch_ignored_by_engagement"
        )
        if not ignore_kill:
            ks = p.controls.is_killed(self.client_id, self.service, atype, self.account_id)
            if ks is not None:
                raise Blocked(
                    f"kill_switch: {action} for {self.client_id} on {self.service} stopped by the switch {ks.model_dump(exclude_none=True) or 'global'}",
                    reason="kill_switch",
                )
        if p.controls.lane_read_only(self.service, self.lane):
            raise Blocked(
                f"lane:read_only: the {self.lane} lane on {self.service} is read-only (ingest only); {action} refused",
                reason="mode:read_only",
            )
        mode = p.controls.mode_for(self.client_id, self.service)
        if mode == "read_only":
            raise Blocked(
                f"mode:read_only forbids {action} for {self.client_id} on {self.service}",
                reason="mode:read_only",
            )
        if (
            mode in ("approval_required", "manual_only")
            and not job.approved
            and job.kind != "canary"
        ):
            raise Held(
                f"mode:{mode} holds {action} for {self.client_id} on {self.service} until approved"
            )

    @asynccontextmanager
    async def side_effect(
        self, action: str, recheck: Callable[[], None] | None = None
    ) -> AsyncIterator[None]:
        """Pace, gate and audit one mutating request (the body sends it).

        ``recheck``: the lane's own refusal (X's monthly cap, a halted browser lane), asked again
        once the pacer lets the request go — the wait may have outlasted what was true when it
        was asked first; what it raises ends the side effect unsent: a ``Blocked`` audited as a
        refusal (as the gate's are), anything else unaudited, as before the wait."""
        p = self.p
        atype = ACTION_TYPE.get(action)
        key = self.account_id or self.service
        try:
            self._gate(action)
            await p.pacer.acquire(self.service, key, atype)
        except Blocked as e:
            self.outcome(action, "blocked", error=e.error)
            raise
        try:
            try:
                self._gate(action)
            except Blocked as e:
                p.pacer.uncount(key, atype)
                self.outcome(action, "blocked", error=e.error)
                raise
            except Held:
                p.pacer.uncount(key, atype)
                raise
            if recheck is not None:
                try:
                    recheck()
                except Blocked as e:  # a refusal, audited as the gate's are
                    p.pacer.uncount(key, atype)
                    self.outcome(action, "blocked", error=e.error)
                    raise
                except BaseException:
                    p.pacer.uncount(key, atype)
                    raise
            self._audit(action, "attempt", None)
            p.telemetry.action(key, action)
            if action == "post.create":
                p.telemetry.publish_attempts.labels(self.service).inc()
                p.telemetry.mark(f"publish_attempt:{self.service}")
            self._open = action
            try:
                yield
            except (Held, Blocked) as e:
                # a resend inside this attempt (after a token refresh) met a kill switch or a
                # mode set meanwhile: the attempt ends unsent, refused — its one outcome (an
                # attempt is always closed, and never twice)
                self.outcome(action, "blocked", error=e.error)
                raise
            except Deferred:
                raise
            except JobInterrupt as e:
                self._failed(action, e.error)
                raise
            except Exception as e:
                self._failed(action, f"{type(e).__name__}: {e}")
                raise
        finally:
            self._open = None
            await p.pacer.release(self.service)

    def refused(self, action: str, error: str) -> None:
        """Audit a refusal a lane made before the side effect (a ``blocked`` outcome)."""
        self.outcome(action, "blocked", error=error)

    def _failed(self, action: str, error: str) -> None:
        if action == "post.create":
            self.p.telemetry.publish_failures.labels(
                self.service, error.split(":", 1)[0][:40]
            ).inc()
            self.p.telemetry.mark(f"publish_failed:{self.service}")
        self.outcome(action, "failed", error=error)

    # evidence -------------------------------------------------------------------------------
    def outcome(
        self,
        action: str,
        outcome: str,
        *,
        proof: dict[str, Any] | None = None,
        error: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Audit the outcome of a side effect of this job."""
        self._audit(action, "outcome", outcome, proof=proof, error=error, detail=detail)

    def _audit(self, action: str, phase: str, outcome: str | None, **kw: Any) -> None:
        self.p.audit.record(
            client_id=self.client_id,
            platform=self.service,
            account_id=self.account_id,
            action=action,
            phase=phase,
            outcome=outcome,
            job_id=self.job.id,
            idempotency_key=self.job.idempotency_key,
            lane=self.lane if self.lane in ("api", "browser") else "api",
            trace_id=self.job.trace_id,
            **kw,
        )

    def headers(self) -> dict[str, str]:
        """A fresh ``traceparent`` (same trace, new span: :meth:`JobRecord.next_traceparent`)
        and the job's idempotency key."""
        return {
            "traceparent": self.job.next_traceparent(),
            "idempotency-key": self.job.idempotency_key,
        }

    def note(self, key: str, value: Any) -> None:
        """Remember a fact across attempts of this job (kept in the job's result under ``notes``)."""
        notes = self.job.result.setdefault("notes", {})
        if value is None:
            notes.pop(key, None)
        else:
            notes[key] = value
        # stored now, not at the job's next change: the request that follows may be the one
        # a crash cuts, and the next process must know what this one had made
        self.p.jobs.noted(self.job)

    def recall(self, key: str) -> Any:
        """A fact remembered by :meth:`note`, or None."""
        return self.job.result.get("notes", {}).get(key)
