"""Clients of the platform contract: in-process (direct calls) and, below, over HTTP.

:class:`InProcessPlatformClient` implements :class:`~sandbox.contract.PlatformClient` by calling
a :class:`~sandbox.platform.Platform` on the same event loop. It holds no logic of its own, so
the HTTP app can be the same thin adapter over the same calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx

from .contract import Alert, AuditPage, ControlChange, Job, JobSpec, KillScope, Lane, Mode
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


class InProcessPlatformClient:
    """The platform contract as direct calls on a :class:`Platform`."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform

    async def health(self) -> dict[str, Any]:
        """Liveness and vital signs."""
        return self.p.health()

    async def controls(self) -> dict[str, Any]:
        """The whole control state."""
        return self.p.controls.snapshot()

    async def control_changes(self, since: int = 0) -> list[ControlChange]:
        """Control changes after ``since``."""
        return self.p.controls.since(since)

    async def set_kill_switch(
        self, scope: KillScope, engaged: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """Engage or release a kill switch."""
        return self.p.controls.set_kill_switch(scope, engaged, actor=actor, reason=reason)

    async def set_lane(
        self, platform: str, lane: Literal["api", "browser", "hybrid"], *, actor: str, reason: str
    ) -> ControlChange:
        """Route a platform to a lane."""
        return self.p.controls.set_lane(platform, lane, actor=actor, reason=reason)

    async def set_lane_read_only(
        self,
        platform: str,
        read_only: bool,
        *,
        lane: Literal["api", "browser", "hybrid"] = "browser",
        actor: str,
        reason: str,
    ) -> ControlChange:
        """Hold a platform's lane read-only (ingest only), or let it act again."""
        return self.p.controls.set_lane_read_only(
            platform, read_only, lane=lane, actor=actor, reason=reason
        )

    async def set_mode(
        self,
        mode: Literal["auto", "approval_required", "manual_only", "read_only"],
        *,
        client_id: str | None = None,
        platform: str | None = None,
        actor: str,
        reason: str,
    ) -> ControlChange:
        """Set the mode of a scope."""
        return self.p.controls.set_mode(
            mode, client_id=client_id, platform=platform, actor=actor, reason=reason
        )

    async def set_queue_paused(
        self, job_class: str, paused: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """Pause or resume a job class's consumers."""
        return self.p.controls.set_queue_paused(job_class, paused, actor=actor, reason=reason)

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
        """Change a platform's pacing."""
        return self.p.controls.set_pacing(
            platform, actor=actor, reason=reason, concurrency=concurrency,
            min_interval_s=min_interval_s, jitter_s=jitter_s, daily_caps=daily_caps,
        )  # fmt: skip

    async def set_blueprint_enabled(
        self, blueprint_id: str, enabled: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """Enable or disable a blueprint."""
        return self.p.controls.set_blueprint_enabled(
            blueprint_id, enabled, actor=actor, reason=reason
        )

    async def set_trigger_lock(
        self, locked: bool, *, client_id: str | None = None, actor: str, reason: str
    ) -> ControlChange:
        """Lock or unlock keyword triggers."""
        return self.p.controls.set_trigger_lock(
            locked, client_id=client_id, actor=actor, reason=reason
        )

    async def set_provider_routing(
        self,
        capability: Literal["text", "image", "video"],
        providers: list[str],
        *,
        actor: str,
        reason: str,
    ) -> ControlChange:
        """Route a capability to providers in failover order."""
        return self.p.controls.set_provider_routing(
            capability, providers, actor=actor, reason=reason
        )

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
        """Set cost budgets."""
        return self.p.controls.set_budget(
            actor=actor, reason=reason, client_id=client_id, episode_tokens=episode_tokens,
            episode_usd=episode_usd, client_usd=client_usd, client_tokens=client_tokens,
        )  # fmt: skip

    async def submit(self, spec: JobSpec) -> Job:
        """Take in a job."""
        return self.p.submit(spec).to_model()

    async def jobs(self, state: str | None = None) -> list[Job]:
        """Jobs, optionally in one state."""
        return [j.to_model() for j in self.p.jobs.all(state)]

    async def job(self, job_id: str) -> Job:
        """One job."""
        return self.p.jobs.get(job_id).to_model()

    async def approve(self, job_id: str, *, actor: str, reason: str) -> Job:
        """Approve a held job: it runs (its kill switches are still checked)."""
        rec = self.p.jobs.get(job_id)
        if rec.state != "awaiting_approval":
            raise JobStateError(job_id, rec.state, "approve", ("awaiting_approval",))
        rec.approved = True
        rec.result["approved_by"] = {"actor": actor, "reason": reason, "t": self.p.now()}
        self.p.runner.requeue(rec)
        return rec.to_model()

    async def mark_needs_human_confirm(
        self, job_ids: list[str], *, actor: str, reason: str
    ) -> list[Job]:
        """Mark jobs as needing a person to confirm their side effect (RB-03)."""
        recs = [self.p.jobs.get(j) for j in job_ids]
        for rec in recs:
            if rec.state == "running":
                raise JobStateError(
                    rec.id, rec.state, "mark_needs_human_confirm", tuple(sorted(TERMINAL_STATES))
                )
        for rec in recs:
            rec.result["marked_by"] = {"actor": actor, "reason": reason, "t": self.p.now()}
            self.p.jobs.set_state(rec, "needs_human_confirm", f"marked by {actor}: {reason}")
        return [r.to_model() for r in recs]

    async def audit(self, cursor: int = 0, limit: int = 500) -> AuditPage:
        """A page of the audit feed."""
        return self.p.audit.page(cursor, limit)

    async def alerts(self, since: int = 0) -> list[Any]:
        """Alerts after ``since``."""
        return self.p.alerts.since(since)

    async def metrics(self) -> dict[str, float]:
        """The telemetry snapshot."""
        return self.p.telemetry.snapshot()

    async def defects(self) -> dict[str, Any]:
        """The defect catalogue and the defects switched on."""
        return self.p.defects.listing()

    async def canary(self, client_id: str, platform: str) -> dict[str, Any]:
        """Publish and verify one test post."""
        return await self.p.canary(client_id, platform)


class HttpPlatformClient:
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

    async def _control(self, path: str, body: dict[str, Any]) -> ControlChange:
        return ControlChange.model_validate(
            await self._call("POST", f"/controls/{path}", json=body)
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

    async def set_kill_switch(
        self, scope: KillScope, engaged: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """POST /controls/kill-switch."""
        return await self._control(
            "kill-switch",
            {
                "scope": scope.model_dump(exclude_none=True),
                "engaged": engaged,
                "actor": actor,
                "reason": reason,
            },
        )

    async def set_lane(
        self, platform: str, lane: Lane, *, actor: str, reason: str
    ) -> ControlChange:
        """POST /controls/lane."""
        return await self._control(
            "lane", {"platform": platform, "lane": lane, "actor": actor, "reason": reason}
        )

    async def set_lane_read_only(
        self, platform: str, read_only: bool, *, lane: Lane = "browser", actor: str, reason: str
    ) -> ControlChange:
        """POST /controls/lane-read-only."""
        return await self._control(
            "lane-read-only",
            {
                "platform": platform,
                "lane": lane,
                "read_only": read_only,
                "actor": actor,
                "reason": reason,
            },
        )

    async def set_mode(
        self,
        mode: Mode,
        *,
        client_id: str | None = None,
        platform: str | None = None,
        actor: str,
        reason: str,
    ) -> ControlChange:
        """POST /controls/mode."""
        return await self._control(
            "mode",
            _drop_none(
                {
                    "mode": mode,
                    "client_id": client_id,
                    "platform": platform,
                    "actor": actor,
                    "reason": reason,
                }
            ),
        )

    async def set_queue_paused(
        self, job_class: str, paused: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """POST /controls/queue."""
        return await self._control(
            "queue", {"job_class": job_class, "paused": paused, "actor": actor, "reason": reason}
        )

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
        """POST /controls/pacing."""
        return await self._control(
            "pacing",
            _drop_none(
                {
                    "platform": platform,
                    "concurrency": concurrency,
                    "min_interval_s": min_interval_s,
                    "jitter_s": jitter_s,
                    "daily_caps": daily_caps,
                    "actor": actor,
                    "reason": reason,
                }
            ),
        )

    async def set_blueprint_enabled(
        self, blueprint_id: str, enabled: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """POST /controls/blueprint."""
        return await self._control(
            "blueprint",
            {"blueprint_id": blueprint_id, "enabled": enabled, "actor": actor, "reason": reason},
        )

    async def set_trigger_lock(
        self, locked: bool, *, client_id: str | None = None, actor: str, reason: str
    ) -> ControlChange:
        """POST /controls/trigger-lock."""
        return await self._control(
            "trigger-lock",
            _drop_none(
                {"locked": locked, "client_id": client_id, "actor": actor, "reason": reason}
            ),
        )

    async def set_provider_routing(
        self,
        capability: Literal["text", "image", "video"],
        providers: list[str],
        *,
        actor: str,
        reason: str,
    ) -> ControlChange:
        """POST /controls/provider-routing."""
        return await self._control(
            "provider-routing",
            {
                "capability": capability,
                "providers": list(providers),
                "actor": actor,
                "reason": reason,
            },
        )

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
        """POST /controls/budget."""
        return await self._control(
            "budget",
            _drop_none(
                {
                    "client_id": client_id,
                    "episode_tokens": episode_tokens,
                    "episode_usd": episode_usd,
                    "client_usd": client_usd,
                    "client_tokens": client_tokens,
                    "actor": actor,
                    "reason": reason,
                }
            ),
        )

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


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
