"""A platform contract client that hands every call to another one: the base of the drill's
wrappers (:class:`~harness.drill.control_requests.RecordingPlatformClient` records the control
requests, :class:`~harness.drill.served_platform.ScopedPlatformClient` reads only one drill's
window of a served platform), each overriding only what it changes."""

from __future__ import annotations

from typing import Any

from sandbox.contract import (
    Alert,
    AuditPage,
    ControlChange,
    Job,
    JobSpec,
    PlatformClient,
    PlatformControls,
)

__all__ = ["PassThroughPlatformClient"]


class PassThroughPlatformClient(PlatformControls):
    """Every call of the contract goes to ``inner`` unchanged (the named controls too, through
    :meth:`call_control`)."""

    def __init__(self, inner: PlatformClient) -> None:
        self.inner = inner

    async def call_control(self, name: str, arguments: dict[str, Any]) -> ControlChange:
        return await self.inner.call_control(name, arguments)

    async def health(self) -> dict[str, Any]:
        return await self.inner.health()

    async def controls(self) -> dict[str, Any]:
        return await self.inner.controls()

    async def control_changes(self, since: int = 0) -> list[ControlChange]:
        return await self.inner.control_changes(since)

    async def submit(self, spec: JobSpec) -> Job:
        return await self.inner.submit(spec)

    async def jobs(self, state: str | None = None) -> list[Job]:
        return await self.inner.jobs(state)

    async def job(self, job_id: str) -> Job:
        return await self.inner.job(job_id)

    async def approve(self, job_id: str, *, actor: str, reason: str) -> Job:
        return await self.inner.approve(job_id, actor=actor, reason=reason)

    async def mark_needs_human_confirm(
        self, job_ids: list[str], *, actor: str, reason: str
    ) -> list[Job]:
        return await self.inner.mark_needs_human_confirm(job_ids, actor=actor, reason=reason)

    async def audit(self, cursor: int = 0, limit: int = 500) -> AuditPage:
        return await self.inner.audit(cursor, limit)

    async def alerts(self, since: int = 0) -> list[Alert]:
        return await self.inner.alerts(since)

    async def metrics(self) -> dict[str, float]:
        return await self.inner.metrics()

    async def defects(self) -> dict[str, Any]:
        return await self.inner.defects()

    async def canary(self, client_id: str, platform: str) -> dict[str, Any]:
        return await self.inner.canary(client_id, platform)
