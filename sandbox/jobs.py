"""Jobs: intake, the job store, job classes and priorities, idempotency keys.

A job is kept as a mutable :class:`JobRecord` (cheap to update a hundred thousand times) and shown
to the outside as the frozen contract model :class:`~sandbox.contract.Job`. Intake dedupes on the
idempotency key: submitting the same key twice returns the first job, so a client retrying a
submit never creates a second post.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .contract import JOB_KINDS, Job, JobSpec

__all__ = [
    "ACTION_OF",
    "AUDIT_ACTION_OF",
    "CLASS_PRIORITY",
    "JOB_CLASS",
    "PARKED_STATES",
    "TERMINAL_STATES",
    "WAITING_STATES",
    "JobRecord",
    "JobStore",
    "UnknownJobError",
]

#: job kind → job class (what a queue pause names)
JOB_CLASS: dict[str, str] = {
    "publish": "publish",
    "canary": "maintenance",
    "auth_check": "maintenance",
    "reply": "engagement",
    "dm": "engagement",
    "like": "engagement",
    "engagement_poll": "engagement",
    "generate_text": "generation",
    "generate_image": "generation",
    "generate_video": "generation",
    "tool_call": "generation",
}
#: lower runs first: operator checks, then publish, then engagement, then long generation
CLASS_PRIORITY: dict[str, int] = {"maintenance": 0, "publish": 1, "engagement": 2, "generation": 3}
#: job kind → the action type kill switches, modes and caps name (None: covered by broad switches only)
ACTION_OF: dict[str, str | None] = {
    "publish": "publish",
    "canary": "publish",
    "reply": "reply",
    "dm": "dm",
    "like": "like",
    "generate_text": "generate",
    "generate_image": "generate",
    "generate_video": "generate",
    "tool_call": None,
    "auth_check": None,
    "engagement_poll": None,
}
#: job kind → the audit action its events are written under (docs/contracts.md): a dead letter
#: and a fail-closed follow-up are audited under the action of the job's work, never its kind
AUDIT_ACTION_OF: dict[str, str] = {
    "publish": "post.create",
    "canary": "post.create",
    "reply": "reply.create",
    "dm": "dm.send",
    "like": "like.create",
    "generate_text": "llm.complete",
    "generate_image": "image.generate",
    "generate_video": "video.generate",
    "tool_call": "tool.call",
    "auth_check": "auth.check",
    "engagement_poll": "engagement.poll",
}
TERMINAL_STATES = frozenset(
    {"succeeded", "failed", "dead_letter", "cancelled", "needs_human_confirm"}
)
WAITING_STATES = frozenset({"queued", "scheduled", "retry_wait"})
PARKED_STATES = frozenset({"awaiting_approval", "blocked"})


#: one shared ``model_fields_set`` per distinct set of explicitly given JobSpec fields (a set of
#: five names is 728 bytes; a hundred thousand kept specs need only a handful of them)
_SHARED_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
_INTERNED_SPEC_FIELDS = ("kind", "client_id", "platform", "account_id")


def _compact_spec(spec: JobSpec) -> JobSpec:
    """Make a kept spec cheaper in place, without changing any value: the few distinct tenant,
    platform and kind strings are interned and the fields-set is shared. JobSpec is frozen, so
    neither is ever mutated through the model (pydantic copies the fields-set on ``model_copy``).
    """
    d = spec.__dict__
    for name in _INTERNED_SPEC_FIELDS:
        v = d.get(name)
        if type(v) is str:
            d[name] = sys.intern(v)
    fs = spec.__pydantic_fields_set__
    key = frozenset(fs)
    shared = _SHARED_FIELDS_SETS.get(key)
    if shared is None:
        shared = _SHARED_FIELDS_SETS.setdefault(key, set(key))
    object.__setattr__(spec, "__pydantic_fields_set__", shared)
    return spec


class UnknownJobError(KeyError):
    """No job with this id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r}")
        self.job_id = job_id


@dataclass(slots=True)
class JobRecord:
    """A job as the runner tracks it (mutable); ``to_model()`` gives the contract view."""

    id: str
    spec: JobSpec
    state: str
    created_at: float
    updated_at: float
    seq: int
    job_class: str
    trace_id: str
    idempotency_key: str
    run_at: float
    attempts: int = 0
    #: when this job first met a platform outage, and how often it was retried through it
    #: (those runs do not count in ``attempts``; see ``RetryPolicy.outage_window_s``)
    outage_since: float | None = None
    outage_retries: int = 0
    last_error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    approved: bool = False
    #: why a job is blocked/held (kill_switch, mode:read_only, tenancy, …)
    hold_reason: str | None = None
    #: outbound requests sent so far, over all runs and scopes: each one's span id
    spans: int = 0

    @property
    def kind(self) -> str:
        """The job's kind."""
        return self.spec.kind

    @property
    def action(self) -> str | None:
        """The action type of the job's side effect."""
        return ACTION_OF[self.spec.kind]

    def traceparent(self, span: int) -> str:
        """A W3C ``traceparent`` header for one outbound request of this job."""
        return f"00-{self.trace_id}-{span & 0xFFFFFFFFFFFFFFFF:016x}-01"

    def next_traceparent(self) -> str:
        """The ``traceparent`` of the job's next outbound request: same trace, a new span.

        The span id counts the job's requests over all its runs and scopes (an engagement poll
        reads every account at once, a retried job runs again with the same attempt number), in
        a range of each platform process's own (a restart re-runs what was running): no two
        requests of a trace share one.
        """
        self.spans += 1
        return self.traceparent(((self.seq << 32) | (self.spans & 0xFFFFFFFF)) or 1)

    def to_model(self) -> Job:
        """The contract model of this job."""
        return Job.model_construct(
            id=self.id,
            spec=self.spec,
            state=self.state,  # type: ignore[arg-type]
            attempts=self.attempts,
            created_at=self.created_at,
            updated_at=self.updated_at,
            last_error=self.last_error,
            result=dict(self.result),
            job_class=self.job_class,  # type: ignore[arg-type]
            next_run_at=self.run_at if self.state in ("scheduled", "retry_wait") else None,
        )


class JobStore:
    """Every job of one platform, by id and by idempotency key."""

    def __init__(
        self,
        now: Callable[[], float],
        trace_id: Callable[[], str],
        scrub: Callable[[Any], Any] | None = None,
    ) -> None:
        self.now = now
        self._trace_id = trace_id
        self._jobs: dict[str, JobRecord] = {}
        self._by_key: dict[str, JobRecord] = {}
        self._waiters: dict[str, list[asyncio.Future[JobRecord]]] = {}
        self.counts: dict[str, int] = {}
        #: called after every state change (runner wake-up, telemetry, storage)
        self.on_change: list[Callable[[JobRecord, str | None], None]] = []
        #: called when a running job records a fact its next attempt needs (storage)
        self.on_note: list[Callable[[JobRecord], None]] = []
        #: what a job's error and result go through when its state changes (a JSON-like value in,
        #: the same with its strings scrubbed out): anyone who may list jobs reads them, and an
        #: error quotes outside text (an API's message, which may echo a credential)
        self.scrub = scrub

    def __len__(self) -> int:
        return len(self._jobs)

    def submit(self, spec: JobSpec) -> tuple[JobRecord, bool]:
        """Take in a job; returns (record, created). A known idempotency key returns the first job."""
        if spec.kind not in JOB_KINDS:
            raise ValueError(
                f"kind: {spec.kind!r} is not a job kind; valid: {', '.join(JOB_KINDS)}"
            )
        if spec.idempotency_key is not None and spec.idempotency_key in self._by_key:
            return self._by_key[spec.idempotency_key], False
        spec = _compact_spec(spec)
        t = self.now()
        seq = len(self._jobs) + 1
        jid = f"j-{seq:06d}"
        # interned: the fakes' journal interns the idempotency-key header it records, so the
        # job, its audit rows and every journal entry of its requests share one string
        key = sys.intern(spec.idempotency_key or f"{spec.client_id}:{jid}")
        run_at = spec.run_at if spec.run_at is not None else t
        rec = JobRecord(
            id=jid,
            spec=spec,
            state="scheduled" if run_at > t else "queued",
            created_at=t,
            updated_at=t,
            seq=seq,
            job_class=JOB_CLASS[spec.kind],
            trace_id=self._trace_id(),
            idempotency_key=key,
            run_at=run_at,
        )
        self._jobs[jid] = rec
        self._by_key[key] = rec
        self.counts[rec.state] = self.counts.get(rec.state, 0) + 1
        for fn in self.on_change:
            fn(rec, None)
        return rec, True

    def restore(self, rec: JobRecord) -> None:
        """Put back a job loaded from storage."""
        self._jobs[rec.id] = rec
        self._by_key[rec.idempotency_key] = rec
        self.counts[rec.state] = self.counts.get(rec.state, 0) + 1

    def get(self, job_id: str) -> JobRecord:
        """The job ``job_id``; :class:`UnknownJobError` otherwise."""
        try:
            return self._jobs[job_id]
        except KeyError:
            raise UnknownJobError(job_id) from None

    def all(self, state: str | None = None) -> list[JobRecord]:
        """Every job (in intake order), optionally only those in ``state``."""
        return [j for j in self._jobs.values() if state is None or j.state == state]

    def noted(self, rec: JobRecord) -> None:
        """A job noted a fact for its next attempt (an Instagram container made before it is
        published): tell the listeners, so a process that dies in the middle of the request
        that follows leaves the fact behind for the one that takes over."""
        for fn in self.on_note:
            fn(rec)

    def set_state(self, rec: JobRecord, state: str, error: str | None = None) -> None:
        """Move a job to ``state`` (recording ``error``) and tell the listeners."""
        old = rec.state
        rec.state = state
        rec.updated_at = self.now()
        if error is not None:
            rec.last_error = error if self.scrub is None else self.scrub(error)
        if self.scrub is not None and rec.result:
            rec.result = self.scrub(rec.result)
        self.counts[old] = self.counts.get(old, 1) - 1
        self.counts[state] = self.counts.get(state, 0) + 1
        for fn in self.on_change:
            fn(rec, old)
        if state in TERMINAL_STATES or state in PARKED_STATES:
            for fut in self._waiters.pop(rec.id, ()):
                if not fut.done():
                    fut.set_result(rec)

    async def wait_settled(self, job_id: str) -> JobRecord:
        """Wait until the job is terminal or parked (awaiting approval, blocked)."""
        rec = self.get(job_id)
        if rec.state in TERMINAL_STATES or rec.state in PARKED_STATES:
            return rec
        fut: asyncio.Future[JobRecord] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(job_id, []).append(fut)
        return await fut
