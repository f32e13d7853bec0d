"""The runner: scheduler, priority dispatch, bounded concurrency, retries, holds and dead letters.

One dispatcher task moves due jobs from the timer heap to per-class ready heaps and starts a
worker per job while fewer than ``runner_concurrency`` run. Classes are served in priority
order — maintenance (canary, auth check), publish, engagement, generation — and a paused class
is skipped. Handlers are registered per job kind (``runner.register(kind, handler)``); what a
handler raises (:mod:`sandbox.errors`) decides the job's next state.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import random
from collections.abc import Awaitable, Callable
from typing import Any

from .contract import ControlChange
from .controls import Controls
from .defects import Defects
from .errors import Blocked, Deferred, Fatal, Held, NeedsHumanConfirm, Retryable
from .jobs import CLASS_PRIORITY, WAITING_STATES, JobRecord, JobStore
from .settings import Settings
from .telemetry import Telemetry

__all__ = ["CURRENT_JOB", "Handler", "Runner", "UnknownHandlerError"]

Handler = Callable[[JobRecord], Awaitable[dict[str, Any]]]
#: the job whose handler is running in this task (egress guard and audit read it)
CURRENT_JOB: contextvars.ContextVar[JobRecord | None] = contextvars.ContextVar(
    "vibedrill_job", default=None
)


class UnknownHandlerError(LookupError):
    """No handler is registered for a job kind."""


class Runner:
    """Dispatches jobs of one platform to their handlers."""

    def __init__(
        self,
        jobs: JobStore,
        controls: Controls,
        telemetry: Telemetry,
        settings: Settings,
        defects: Defects,
        rng: random.Random,
        now: Callable[[], float],
    ) -> None:
        self.jobs = jobs
        self.controls = controls
        self.telemetry = telemetry
        self.settings = settings
        self.defects = defects
        self.rng = rng
        self.now = now
        self.handlers: dict[str, Handler] = {}
        #: called when a job is dead-lettered (audit), with the job
        self.on_dead_letter: list[Callable[[JobRecord], None]] = []
        self._ready: dict[str, list[tuple[int, str]]] = {c: [] for c in CLASS_PRIORITY}
        self._timers: list[tuple[float, int, str]] = []
        self._active: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._depth: dict[str, int] = dict.fromkeys(CLASS_PRIORITY, 0)
        #: the waiting jobs of each class, by id (for the queue-age gauge)
        self._waiting: dict[str, dict[str, JobRecord]] = {c: {} for c in CLASS_PRIORITY}
        jobs.on_change.append(self._on_job_change)
        telemetry.collectors.append(self.update_queue_age)
        controls.listeners.append(self._on_control)

    # registration ---------------------------------------------------------------------------
    def register(self, kind: str, handler: Handler) -> None:
        """Handle jobs of ``kind`` with ``handler`` (replaces an earlier one)."""
        from .contract import JOB_KINDS

        if kind not in JOB_KINDS:
            raise ValueError(f"{kind!r} is not a job kind; valid: {', '.join(JOB_KINDS)}")
        self.handlers[kind] = handler

    # lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start dispatching (jobs already queued are picked up)."""
        if self._task is None:
            for j in self.jobs.all():
                if j.state in ("queued", "scheduled", "retry_wait"):
                    if j.id not in self._waiting[j.job_class]:
                        # restored from storage: counted in as it will be counted out (before,
                        # queue_depth went negative after every restart)
                        self._waiting[j.job_class][j.id] = j
                        self._depth[j.job_class] += 1
                    self._enqueue(j)
            for c, n in self._depth.items():
                self.telemetry.queue_depth.labels(c).set(n)
            self._task = asyncio.create_task(self._dispatch(), name="vibedrill-runner")

    async def stop(self) -> None:
        """Stop dispatching and cancel running jobs (they go back to the queue)."""
        tasks = [t for t in (self._task, *self._active) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._active.clear()
        for job in self.jobs.all("running"):  # cancelled before its first step
            job.run_at = self.now()
            self.jobs.set_state(job, "queued")

    @property
    def running(self) -> int:
        """Jobs being worked on right now."""
        return len(self._active)

    def wake(self) -> None:
        """Make the dispatcher look again (new job, control change, freed slot)."""
        self._wake.set()

    # queueing -------------------------------------------------------------------------------
    def _enqueue(self, job: JobRecord) -> None:
        if job.run_at > self.now():
            heapq.heappush(self._timers, (job.run_at, job.seq, job.id))
        else:
            heapq.heappush(self._ready[job.job_class], (job.seq, job.id))
        self.wake()

    def _on_job_change(self, job: JobRecord, old: str | None) -> None:
        c = job.job_class
        if old in WAITING_STATES:
            self._depth[c] -= 1
            self._waiting[c].pop(job.id, None)
        if job.state in WAITING_STATES:
            self._depth[c] += 1
            self._waiting[c][job.id] = job
        self.telemetry.queue_depth.labels(c).set(self._depth[c])
        if old is None or (job.state in ("queued", "scheduled") and old not in WAITING_STATES):
            self._enqueue(job)

    def queue_age(self) -> dict[str, float]:
        """Per job class, how long (s) its oldest due, waiting job has waited; 0 when none.

        Due and waiting: ``queued``, or ``scheduled``/``retry_wait`` past its ``run_at``; the wait
        counts from ``run_at`` (when the job became due), which is ``created_at`` for a job
        submitted to run now.
        """
        t = self.now()
        out: dict[str, float] = {}
        for c, waiting in self._waiting.items():
            oldest = t
            for job in waiting.values():
                if job.state == "queued" or job.run_at <= t:
                    oldest = min(oldest, job.run_at)
            out[c] = max(0.0, t - oldest)
        return out

    def update_queue_age(self) -> None:
        """Set the ``queue_oldest_age_s{job_class}`` gauges (called before every metrics export)."""
        for c, age in self.queue_age().items():
            self.telemetry.queue_oldest_age_s.labels(c).set(age)

    def _on_control(self, ch: ControlChange) -> None:
        if ch.control not in ("kill_switch", "mode", "queue_paused", "lane_read_only"):
            return
        for job in self.jobs.all("blocked") + self.jobs.all("awaiting_approval"):
            if job.state == "blocked" and job.hold_reason in ("kill_switch", "mode:read_only"):
                self.requeue(job)
            elif job.state == "awaiting_approval" and (job.hold_reason or "").startswith("mode:"):
                mode = self.controls.mode_for(job.spec.client_id, job.spec.platform)
                if mode == "auto":
                    self.requeue(job)
        self.wake()

    def requeue(self, job: JobRecord) -> None:
        """Put a parked job back in the queue now (its guards are checked again when it runs)."""
        job.hold_reason = None
        job.run_at = self.now()
        self.jobs.set_state(job, "queued")

    # dispatch -------------------------------------------------------------------------------
    def _next(self) -> str | None:
        paused = self.controls.paused
        if self.defects.on("fifo_queue"):
            heads = [(h[0][0], c) for c, h in self._ready.items() if h and c not in paused]
            if not heads:
                return None
            return heapq.heappop(self._ready[min(heads)[1]])[1]
        for c in CLASS_PRIORITY:
            if c not in paused and self._ready[c]:
                return heapq.heappop(self._ready[c])[1]
        return None

    async def _dispatch(self) -> None:
        limit = self.settings.runner_concurrency
        while True:
            t = self.now()
            while self._timers and self._timers[0][0] <= t:
                _, seq, jid = heapq.heappop(self._timers)
                heapq.heappush(self._ready[self.jobs.get(jid).job_class], (seq, jid))
            while len(self._active) < limit:
                nxt = self._next()
                if nxt is None:
                    break
                jid = nxt
                job = self.jobs.get(jid)
                if (
                    job.state not in ("queued", "scheduled", "retry_wait")
                    or job.run_at > self.now()
                ):
                    continue  # stale heap entry
                self.jobs.set_state(job, "running")
                task = asyncio.create_task(self._work(job), name=f"vibedrill-job-{jid}")
                self._active.add(task)
                task.add_done_callback(self._done)
            self._wake.clear()
            # not asyncio.wait_for: on 3.11 it can swallow a cancellation (and hang stop())
            loop = asyncio.get_running_loop()
            timer = (
                loop.call_later(max(0.0, self._timers[0][0] - self.now()), self._wake.set)
                if self._timers
                else None
            )
            try:
                await self._wake.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._active.discard(task)
        self.wake()

    async def _work(self, job: JobRecord) -> None:
        handler = self.handlers.get(job.kind)
        job.attempts += 1
        token = CURRENT_JOB.set(job)
        try:
            if handler is None:
                raise Fatal(
                    f"no handler for job kind {job.kind!r}; registered: {sorted(self.handlers)}"
                )
            result = await handler(job)
        except asyncio.CancelledError:
            # stopped (a deploy, a restart): the run goes back to the queue. Said so, as a crash
            # does: a side effect it had on the wire may have landed, and the process that
            # takes over counts that attempt and looks before it posts again
            job.attempts -= 1
            job.run_at = self.now()
            self.jobs.set_state(job, "queued", "interrupted by a platform restart")
            raise
        except Held as e:
            # parked by a control, not a failure: the run does not use up one of the retry
            # policy's attempts (a job released afterwards still has all its retries)
            job.attempts -= 1
            job.hold_reason = (
                e.error.split(":", 1)[0] if e.error.startswith("mode:") else "approval"
            )
            if e.error.startswith("mode:"):
                job.hold_reason = e.error.split(" ", 1)[0]
            self._finish(job, "awaiting_approval", e.error)
        except Blocked as e:
            job.attempts -= 1  # refused by a control or guard: not an attempt that failed
            job.hold_reason = e.reason
            self.telemetry.blocked.labels(e.reason).inc()
            self._finish(job, "blocked", e.error)
        except Deferred as e:
            job.attempts -= 1
            job.run_at = e.run_at
            self._finish(job, "scheduled", e.error)
        except NeedsHumanConfirm as e:
            job.result.update(e.result)
            self._finish(job, "needs_human_confirm", e.error)
        except Fatal as e:
            self._finish(job, "failed", e.error)
        except Retryable as e:
            self._retry(job, e.error, e.retry_after, outage=e.outage)
        except Exception as e:  # a handler bug must not stop the runner
            self._retry(job, f"internal: {type(e).__name__}: {e}", None)
        else:
            job.result.update(result)
            self._finish(job, "succeeded", None)
        finally:
            CURRENT_JOB.reset(token)

    def _finish(self, job: JobRecord, state: str, error: str | None) -> None:
        self.jobs.set_state(job, state, error)
        self.telemetry.jobs_finished.labels(state).inc()

    def _retry(
        self, job: JobRecord, error: str, retry_after: float | None, *, outage: bool = False
    ) -> None:
        policy = self.settings.retry
        if outage and policy.outage_window_s > 0:
            now = self.now()
            if job.outage_since is None:
                job.outage_since = now
            if now - job.outage_since < policy.outage_window_s:
                # the platform is down, not this job: back off (growing with each retry through
                # the outage, up to max_delay_s) without using up an attempt
                job.attempts -= 1
                job.outage_retries += 1
                delay = policy.backoff(job.outage_retries, self.rng.random())
                if retry_after is not None and not self.defects.on("retry_after_ignored"):
                    delay = max(delay, retry_after)
                self._schedule_retry(job, delay, error)
                return
        if job.attempts >= policy.max_attempts:
            job.last_error = error
            self._finish(job, "dead_letter", f"{error} (after {job.attempts} attempts)")
            self.telemetry.dead_letters.labels(job.job_class).inc()
            self.telemetry.mark("dead_letter")
            for fn in self.on_dead_letter:
                fn(job)
            return
        delay = policy.backoff(job.attempts, self.rng.random())
        if retry_after is not None and not self.defects.on("retry_after_ignored"):
            delay = max(delay, retry_after)
        self._schedule_retry(job, delay, error)

    def _schedule_retry(self, job: JobRecord, delay: float, error: str) -> None:
        job.run_at = self.now() + delay
        self.jobs.set_state(job, "retry_wait", error)
        heapq.heappush(self._timers, (job.run_at, job.seq, job.id))
        self.wake()
