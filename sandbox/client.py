"""Clients of the platform contract: in-process (direct calls) and, below, over HTTP.

:class:`InProcessPlatformClient` implements :class:`~sandbox.contract.PlatformClient` by calling
a :class:`~sandbox.platform.Platform` on the same event loop. It holds no logic of its own, so
the HTTP app can be the same thin adapter over the same calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from .contract import Alert, AuditPage, ControlChange, Job, JobSpec, PlatformControls
from .control_table import CONTROLS_BY_NAME, request_body
from .jobs import TERMINAL_STATES

if TYPE_CHECKING:
    from .platform import Platform

__all__ = ["HttpPlatformClient", "InProcessPlatformClient", "JobStateError", "PlatformHttpError"]


class JobStateError(ValueError):
    """An operation is not valid for a job in its current state (HTTP 409)."""

    def __init__(self, job_id: str, state: str, operation: str, valid: tuple[str, ...]) -> None:
        super().__init__(
            f"job {job_id!r} is {state!r}; {operation} needs one of: {', '.join(valid)}"
        )
        self.job_id, self.state, self.valid = job_id, state, valid


class InProcessPlatformClient(PlatformControls):
    """The platform contract as direct calls on a :class:`Platform`."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def health(self) -> dict[str, Any]:
        """Liveness and vital signs."""
        return self.platform.health()

    async def controls(self) -> dict[str, Any]:
        """The whole control state."""
        return self.platform.controls.snapshot()

    async def control_changes(self, since: int = 0) -> list[ControlChange]:
        """Control changes after ``since``."""
        return self.platform.controls.since(since)

    async def call_control(self, name: str, arguments: dict[str, Any]) -> ControlChange:
        """Call ``Controls.<name>`` of the platform (see ``sandbox.control_table``)."""
        spec = CONTROLS_BY_NAME.get(name)
        if spec is None:
            raise ValueError(f"{name!r} is not a control; controls: {', '.join(CONTROLS_BY_NAME)}")
        # who and why first: a setter applies its change before it records it, so a change it
        # then refused for want of either would be in force with no record of it (found by
        # ctl_kill_switch_scopes: a release without a reason, refused, left the switch released)
        self.platform.controls.check_attribution(
            str(arguments.get("actor") or ""), str(arguments.get("reason") or "")
        )
        change: ControlChange = getattr(self.platform.controls, spec.name)(**arguments)
        return change

    async def submit(self, spec: JobSpec) -> Job:
        """Take in a job."""
        return self.platform.submit(spec).to_model()

    async def jobs(self, state: str | None = None) -> list[Job]:
        """Jobs, optionally in one state."""
        return [j.to_model() for j in self.platform.jobs.all(state)]

    async def job(self, job_id: str) -> Job:
        """One job."""
        return self.platform.jobs.get(job_id).to_model()

    async def approve(self, job_id: str, *, actor: str, reason: str) -> Job:
        """Approve a held job: it runs (its kill switches are still checked)."""
        rec = self.platform.jobs.get(job_id)
        if rec.state != "awaiting_approval":
            raise JobStateError(job_id, rec.state, "approve", ("awaiting_approval",))
        rec.approved = True
        rec.result["approved_by"] = {"actor": actor, "reason": reason, "t": self.platform.now()}
        self.platform.runner.requeue(rec)
        return rec.to_model()

    async def mark_needs_human_confirm(
        self, job_ids: list[str], *, actor: str, reason: str
    ) -> list[Job]:
        """Mark jobs as needing a person to confirm their side effect (RB-03)."""
        recs = [self.platform.jobs.get(j) for j in job_ids]
        for rec in recs:
            if rec.state == "running":
                raise JobStateError(
                    rec.id, rec.state, "mark_needs_human_confirm", tuple(sorted(TERMINAL_STATES))
                )
        for rec in recs:
            rec.result["marked_by"] = {"actor": actor, "reason": reason, "t": self.platform.now()}
            self.platform.jobs.set_state(rec, "needs_human_confirm", f"marked by {actor}: {reason}")
        return [r.to_model() for r in recs]

    async def audit(self, cursor: int = 0, limit: int = 500) -> AuditPage:
        """A page of the audit feed."""
        return self.platform.audit.page(cursor, limit)

    async def alerts(self, since: int = 0) -> list[Any]:
        """Alerts after ``since``."""
        return self.platform.alerts.since(since)

    async def metrics(self) -> dict[str, float]:
        """The telemetry snapshot."""
        return self.platform.telemetry.snapshot()

    async def defects(self) -> dict[str, Any]:
        """The defect catalogue and the defects switched on."""
        return self.platform.defects.listing()

    async def canary(self, client_id: str, platform: str) -> dict[str, Any]:
        """Publish and verify one test post."""
        return await self.platform.canary(client_id, platform)


class HttpPlatformClient(PlatformControls):
    """The platform contract over HTTP (httpx): for a served sandbox or any drillable deployment.

    Errors come back as :class:`PlatformHttpError` carrying the status and the error body (which
    names the field, the value and the valid choices); a 404 on a job is a ``KeyError``.
    """

    def __init__(
        self, base_url: str, *, http: httpx.AsyncClient | None = None, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._own = http is None
        self.http = http or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._own:
            await self.http.aclose()

    async def __aenter__(self) -> HttpPlatformClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        r = await self.http.request(method, f"{self.base_url}{path}", json=json, params=params)
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = {"error": {"message": r.text[:500]}}
            err = body.get("error", {}) if isinstance(body, dict) else {}
            if r.status_code == 404:
                raise KeyError(str(err.get("message", f"{path} not found")))
            raise PlatformHttpError(r.status_code, err)
        return (
            r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
        )

    async def call_control(self, name: str, arguments: dict[str, Any]) -> ControlChange:
        """POST the control's path (see ``sandbox.control_table``) with its arguments."""
        spec = CONTROLS_BY_NAME.get(name)
        if spec is None:
            raise ValueError(f"{name!r} is not a control; controls: {', '.join(CONTROLS_BY_NAME)}")
        return ControlChange.model_validate(
            await self._call(spec.method, spec.path, json=request_body(arguments))
        )

    async def health(self) -> dict[str, Any]:
        """GET /health."""
        return dict(await self._call("GET", "/health"))

    async def controls(self) -> dict[str, Any]:
        """GET /controls."""
        return dict(await self._call("GET", "/controls"))

    async def control_changes(self, since: int = 0) -> list[ControlChange]:
        """GET /controls/changes."""
        data = await self._call("GET", "/controls/changes", params={"since": since})
        return [ControlChange.model_validate(c) for c in data["changes"]]

    async def submit(self, spec: JobSpec) -> Job:
        """POST /jobs."""
        return Job.model_validate(
            await self._call("POST", "/jobs", json=spec.model_dump(mode="json", exclude_none=True))
        )

    async def jobs(self, state: str | None = None) -> list[Job]:
        """GET /jobs."""
        data = await self._call("GET", "/jobs", params={"state": state} if state else None)
        return [Job.model_validate(j) for j in data["jobs"]]

    async def job(self, job_id: str) -> Job:
        """GET /jobs/{id}."""
        return Job.model_validate(await self._call("GET", f"/jobs/{quote(job_id, safe='')}"))

    async def approve(self, job_id: str, *, actor: str, reason: str) -> Job:
        """POST /jobs/{id}/approve."""
        return Job.model_validate(
            await self._call(
                "POST",
                f"/jobs/{quote(job_id, safe='')}/approve",
                json={"actor": actor, "reason": reason},
            )
        )

    async def mark_needs_human_confirm(
        self, job_ids: list[str], *, actor: str, reason: str
    ) -> list[Job]:
        """POST /jobs/needs-human-confirm."""
        data = await self._call(
            "POST",
            "/jobs/needs-human-confirm",
            json={"job_ids": list(job_ids), "actor": actor, "reason": reason},
        )
        return [Job.model_validate(j) for j in data["jobs"]]

    async def audit(self, cursor: int = 0, limit: int = 500) -> AuditPage:
        """GET /audit."""
        return AuditPage.model_validate(
            await self._call("GET", "/audit", params={"cursor": cursor, "limit": limit})
        )

    async def alerts(self, since: int = 0) -> list[Alert]:
        """GET /alerts."""
        data = await self._call("GET", "/alerts", params={"since": since})
        return [Alert.model_validate(a) for a in data["alerts"]]

    async def metrics(self) -> dict[str, float]:
        """GET /metrics.json."""
        return {str(k): float(v) for k, v in (await self._call("GET", "/metrics.json")).items()}

    async def defects(self) -> dict[str, Any]:
        """GET /defects."""
        return dict(await self._call("GET", "/defects"))

    async def canary(self, client_id: str, platform: str) -> dict[str, Any]:
        """POST /canary."""
        return dict(
            await self._call("POST", "/canary", json={"client_id": client_id, "platform": platform})
        )


class PlatformHttpError(ValueError):
    """A 4xx/5xx answer of the platform's HTTP API; ``detail`` is its error body."""

    def __init__(self, status: int, detail: dict[str, Any]) -> None:
        self.status, self.detail = status, detail
        super().__init__(f"HTTP {status}: {detail.get('message', detail)}")
