"""The platform's exceptions: one root, and the signals a job handler raises to steer its job.

A handler returns a result dict on success; anything else is one of the :class:`JobInterrupt`
subclasses below, which the runner maps onto a job state (retry, hold, block, fail, confirm).
An unexpected exception is treated as a retryable error and, when retries run out, a dead letter.
"""

from __future__ import annotations

import httpx

__all__ = [
    "Ambiguous",
    "AuthFailed",
    "Blocked",
    "Deferred",
    "EgressRefused",
    "Fatal",
    "Held",
    "JobInterrupt",
    "NeedsHumanConfirm",
    "RateLimited",
    "Retryable",
    "SandboxError",
]


class SandboxError(Exception):
    """Root of every error the platform raises on purpose."""


class JobInterrupt(SandboxError):
    """A handler's way to end an attempt other than with success."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class Retryable(JobInterrupt):
    """A transient failure; retry after backoff (or after ``retry_after`` seconds, if larger)."""

    def __init__(
        self, error: str, retry_after: float | None = None, *, outage: bool = False
    ) -> None:
        super().__init__(error)
        self.retry_after = retry_after
        #: the platform or the path to it is failing (5xx, timeout, dropped or refused
        #: connection, a body cut short), not this job: retried through the outage window
        #: (``RetryPolicy.outage_window_s``) without using up the job's attempts
        self.outage = outage


class RateLimited(Retryable):
    """The platform throttled us (429 / throttling codes); ``retry_after`` from its headers."""


class Ambiguous(Retryable):
    """The request may or may not have taken effect (timeout, dropped connection, 5xx after send).

    A retry must first find out whether the side effect happened (idempotency).
    """


class Fatal(JobInterrupt):
    """A permanent failure: the job fails without retry."""


class AuthFailed(Fatal):
    """The account's credentials are rejected and cannot be refreshed (RB-04)."""


class Held(JobInterrupt):
    """The job needs an operator's approval before its side effect (fail closed)."""


class Blocked(JobInterrupt):
    """A control or guard refused the side effect.

    ``reason`` says which: the runner re-queues a job blocked by a kill switch or a read-only
    mode or lane (``kill_switch``, ``mode:read_only``) when a control changes; others (tenancy
    mismatch, egress refused, a budget) stay blocked.
    """

    def __init__(self, error: str, *, reason: str) -> None:
        super().__init__(error)
        self.reason = reason


class Deferred(JobInterrupt):
    """Not now, without using an attempt: run again at ``run_at`` (e.g. a daily cap is reached)."""

    def __init__(self, error: str, run_at: float) -> None:
        super().__init__(error)
        self.run_at = run_at


class NeedsHumanConfirm(JobInterrupt):
    """The side effect may have happened but could not be verified: a person must confirm."""

    def __init__(self, error: str, result: dict[str, object] | None = None) -> None:
        super().__init__(error)
        self.result = result or {}


class EgressRefused(httpx.ConnectError):
    """The egress guard refused a request to a host not in the platform's settings."""
