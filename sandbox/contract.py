"""The platform contract: the models and the Protocol every drillable platform implements.

The harness talks to a platform only through :class:`PlatformClient`: over HTTP
(``HttpPlatformClient``) or in-process (``InProcessPlatformClient``), both in ``sandbox.client``.
A real deployment that serves the same HTTP API can be drilled with ``--platform-url``.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ACTION_TYPES",
    "AUDIT_ACTIONS",
    "JOB_KINDS",
    "Alert",
    "AuditEvent",
    "AuditPage",
    "ControlChange",
    "Job",
    "JobSpec",
    "KillScope",
    "PlatformClient",
    "PlatformControls",
]

#: the action types a kill switch, a mode or a daily cap can name
ACTION_TYPES: tuple[str, ...] = ("publish", "reply", "dm", "like", "generate")
#: audit actions (the platform's claims) — compare with the fakes' ledger actions
AUDIT_ACTIONS: tuple[str, ...] = (
    "post.create",
    "post.delete",
    "reply.create",
    "dm.send",
    "like.create",
    "llm.complete",
    "image.generate",
    "video.generate",
    "tool.call",
)
JobKind = Literal[
    "publish",
    "reply",
    "dm",
    "like",
    "generate_text",
    "generate_image",
    "generate_video",
    "tool_call",
    "canary",
    "auth_check",
    "engagement_poll",
]
JOB_KINDS: tuple[str, ...] = JobKind.__args__  # type: ignore[attr-defined]
JobState = Literal[
    "queued",
    "scheduled",
    "running",
    "awaiting_approval",
    "retry_wait",
    "succeeded",
    "needs_human_confirm",
    "failed",
    "dead_letter",
    "cancelled",
    "blocked",
]
Lane = Literal["api", "browser", "hybrid"]
Mode = Literal["auto", "approval_required", "manual_only", "read_only"]


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KillScope(_M):
    """What a kill switch covers: everything, one client, one platform, one account or one
    action type.

    Fields combine: ``{"client_id": "acme", "action": "reply"}`` stops Acme's replies only.
    An empty scope is the global switch.
    """

    client_id: str | None = None
    platform: str | None = None
    action: Literal["publish", "reply", "dm", "like", "generate"] | None = None
    #: one social account (e.g. the one account that misbehaves, RB-10)
    account_id: str | None = None


class JobSpec(_M):
    """A unit of work submitted to the platform."""

    kind: JobKind
    client_id: str
    platform: str | None = None
    #: the account the job is meant to act on (the tenancy guard compares against it)
    account_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    #: unix seconds; None = now
    run_at: float | None = None
    #: the blueprint that generated the job (engagement), if any
    blueprint_id: str | None = None
    episode_id: str | None = None


class Job(_M):
    """A job as the platform tracks it."""

    id: str
    spec: JobSpec
    state: JobState
    attempts: int = 0
    created_at: float
    updated_at: float
    last_error: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    job_class: Literal["publish", "engagement", "generation", "maintenance"] = "publish"
    #: when a scheduled or waiting job runs next (unix seconds; a retry after a platform's
    #: announced reset may be hours away), None in every other state
    next_run_at: float | None = None


class AuditEvent(_M):
    """One side-effect attempt or outcome, as the platform claims it. Never holds a secret."""

    seq: int
    t: float
    event_id: str
    client_id: str
    platform: str
    account_id: str | None
    action: str
    phase: Literal["attempt", "outcome"]
    outcome: (
        Literal["success", "failed", "blocked", "needs_human_confirm", "dead_letter"] | None
    ) = None
    job_id: str | None = None
    idempotency_key: str | None = None
    lane: Literal["api", "browser"] = "api"
    trace_id: str
    proof: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditPage(_M):
    """A page of the audit feed; pass ``next_cursor`` back to continue."""

    events: list[AuditEvent]
    next_cursor: int


class ControlChange(_M):
    """A change to the control plane, with who did it and why."""

    seq: int
    t: float
    actor: str
    reason: str
    control: str
    scope: dict[str, Any] = Field(default_factory=dict)
    value: Any = None


class Alert(_M):
    """An alert the platform raised about itself."""

    seq: int
    t: float
    name: str
    severity: Literal["page", "ticket", "info"] = "page"
    labels: dict[str, str] = Field(default_factory=dict)
    message: str


def _arguments(local_vars: dict[str, Any]) -> dict[str, Any]:
    """A control method's arguments from its ``locals()`` (taken first thing, so nothing else)."""
    return {k: v for k, v in local_vars.items() if k != "self"}


class PlatformControls(Protocol):
    """The controls of the platform, typed; every call goes through :meth:`call_control`.

    Each method is a signature and one line: the table ``sandbox.control_table.CONTROLS`` says
    how the call travels over HTTP, and ``sandbox.controls.Controls`` implements it under the
    same name. A client subclasses this class and implements only :meth:`call_control`.
    """

    async def call_control(self, name: str, arguments: dict[str, Any]) -> ControlChange: ...

    async def set_kill_switch(
        self, scope: KillScope, engaged: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """Engage or release a kill switch."""
        return await self.call_control("set_kill_switch", _arguments(locals()))

    async def set_lane(
        self, platform: str, lane: Lane, *, actor: str, reason: str
    ) -> ControlChange:
        """Route a platform's side effects through a lane."""
        return await self.call_control("set_lane", _arguments(locals()))

    async def set_mode(
        self,
        mode: Mode,
        *,
        client_id: str | None = None,
        platform: str | None = None,
        actor: str,
        reason: str,
    ) -> ControlChange:
        """Set the mode of a scope (auto removes the override)."""
        return await self.call_control("set_mode", _arguments(locals()))

    async def set_lane_read_only(
        self, platform: str, read_only: bool, *, lane: Lane = "browser", actor: str, reason: str
    ) -> ControlChange:
        """Hold one lane of a platform read-only (ingest only), or let it act again."""
        return await self.call_control("set_lane_read_only", _arguments(locals()))

    async def set_queue_paused(
        self, job_class: str, paused: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """Pause or resume the consumers of a job class."""
        return await self.call_control("set_queue_paused", _arguments(locals()))

    async def set_pacing(
        self,
        platform: str,
        *,
        actor: str,
        reason: str,
        concurrency: int | None = None,
        min_interval_s: float | None = None,
        jitter_s: float | None = None,
        daily_caps: dict[str, int] | None = None,
    ) -> ControlChange:
        """Change a platform's pacing; arguments left None keep their value."""
        return await self.call_control("set_pacing", _arguments(locals()))

    async def set_blueprint_enabled(
        self, blueprint_id: str, enabled: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """Enable or disable an engagement blueprint."""
        return await self.call_control("set_blueprint_enabled", _arguments(locals()))

    async def set_trigger_lock(
        self, locked: bool, *, client_id: str | None = None, actor: str, reason: str
    ) -> ControlChange:
        """Lock or unlock keyword triggers, globally or for one client."""
        return await self.call_control("set_trigger_lock", _arguments(locals()))

    async def set_provider_routing(
        self,
        capability: Literal["text", "image", "video"],
        providers: list[str],
        *,
        actor: str,
        reason: str,
    ) -> ControlChange:
        """Route a capability to providers, in failover order."""
        return await self.call_control("set_provider_routing", _arguments(locals()))

    async def set_budget(
        self,
        *,
        actor: str,
        reason: str,
        client_id: str | None = None,
        episode_tokens: int | None = None,
        episode_usd: float | None = None,
        client_usd: float | None = None,
        client_tokens: int | None = None,
    ) -> ControlChange:
        """Set cost budgets, platform-wide or for one client; None keeps a value."""
        return await self.call_control("set_budget", _arguments(locals()))


@runtime_checkable
class PlatformClient(PlatformControls, Protocol):
    """What the harness may do to a platform. Every control call returns the ControlChange."""

    async def health(self) -> dict[str, Any]: ...
    async def controls(self) -> dict[str, Any]: ...
    async def control_changes(self, since: int = 0) -> list[ControlChange]: ...

    async def submit(self, spec: JobSpec) -> Job: ...
    async def jobs(self, state: str | None = None) -> list[Job]: ...
    async def job(self, job_id: str) -> Job: ...
    async def approve(self, job_id: str, *, actor: str, reason: str) -> Job: ...
    async def mark_needs_human_confirm(
        self, job_ids: list[str], *, actor: str, reason: str
    ) -> list[Job]: ...

    async def audit(self, cursor: int = 0, limit: int = 500) -> AuditPage: ...
    async def alerts(self, since: int = 0) -> list[Alert]: ...
    async def metrics(self) -> dict[str, float]: ...
    async def defects(self) -> dict[str, Any]: ...
    async def canary(self, client_id: str, platform: str) -> dict[str, Any]: ...
