"""The control requests a drill sends, recorded: what the operator asked, so the judge need not
take the platform's word for it.

:class:`RecordingPlatformClient` wraps the contract client the drill talks to the platform
through. Every control call (``call_control``: kill switches, modes, pacing, budgets, …, from
the scenario's operator steps, the automated Ops Lead, a game day's people or the drill's own
arrangement) is written down with its time, actor, reason, arguments and the ``seq`` of the
ControlChange the platform answered with — or the error it raised. Everything else passes
through unchanged. The judge's ``controls_as_requested`` replays these requests over the
platform's control state at the start and compares what the platform then reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

from ..judge.rows import ControlRequestRow, Json, JsonObject

__all__ = ["RecordingPlatformClient", "request_arguments"]


def _json(value: object) -> Json:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        value = dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def request_arguments(arguments: Mapping[str, Any]) -> JsonObject:
    """A control call's arguments as JSON, without ``actor`` and ``reason`` (kept apart)."""
    return {k: _json(v) for k, v in arguments.items() if k not in ("actor", "reason")}


class RecordingPlatformClient(PlatformControls):
    """The platform contract, writing down every control request (see the module docstring)."""

    def __init__(self, inner: PlatformClient, now: Callable[[], float]) -> None:
        self.inner = inner
        self.now = now
        self.requests: list[ControlRequestRow] = []

    async def call_control(self, name: str, arguments: dict[str, Any]) -> ControlChange:
        row = ControlRequestRow(
            seq=len(self.requests) + 1,
            t=self.now(),
            actor=str(arguments.get("actor") or ""),
            reason=str(arguments.get("reason") or ""),
            name=name,
            arguments=request_arguments(arguments),
            change_seq=None,
            error=None,
        )
        self.requests.append(row)
        try:
            change = await self.inner.call_control(name, arguments)
        except Exception as e:
            row["error"] = f"{type(e).__name__}: {e}"[:300]
            raise
        row["change_seq"] = change.seq
        return change

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
