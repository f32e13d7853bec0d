"""A platform that runs elsewhere, drilled over HTTP: its client scoped to one drill, and the checks
made before a drill may start.

A served platform outlives the drill: its jobs, audit feed, alerts and control changes hold what
earlier drills left. :class:`ScopedPlatformClient` wraps the contract client so the drill reads
only what happened since it began (cursors and sequence numbers taken at :meth:`mark`, jobs
created from the drill's start), and every control call still goes to the platform unchanged.
:func:`preflight` refuses a platform that cannot be drilled cleanly — it does not answer, a
kill switch or a pause is left over, a mode or lane is not the default — or says why a scenario
must be skipped (a defect it needs is not switched on there).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fakes.core.roster import Roster
from sandbox.contract import (
    Alert,
    AuditPage,
    ControlChange,
    Job,
    JobSpec,
    PlatformClient,
    PlatformControls,
)

from ..errors import DrillError
from ..scenario import Scenario

__all__ = ["DrillSkipped", "ScopedPlatformClient", "preflight", "served_clients"]


class DrillSkipped(Exception):
    """The scenario needs what this platform cannot offer; the reason says what and how to fix it."""


class ScopedPlatformClient(PlatformControls):
    """The platform contract, reading only what happened since :meth:`mark`."""

    def __init__(self, inner: PlatformClient) -> None:
        self.inner = inner
        self.since_t = 0.0
        self.audit0 = 0
        self.alert0 = 0
        self.change0 = 0

    async def mark(self, t: float) -> None:
        """Start the drill's window at time ``t`` (the feeds' current ends)."""
        self.since_t = t
        cursor = 0
        while True:
            page = await self.inner.audit(cursor, 1000)
            if not page.events or page.next_cursor == cursor:
                break
            cursor = page.next_cursor
        self.audit0 = cursor
        self.alert0 = max((a.seq for a in await self.inner.alerts(0)), default=0)
        self.change0 = max((c.seq for c in await self.inner.control_changes(0)), default=0)

    async def call_control(self, name: str, arguments: dict[str, Any]) -> ControlChange:
        return await self.inner.call_control(name, arguments)

    async def health(self) -> dict[str, Any]:
        return await self.inner.health()

    async def controls(self) -> dict[str, Any]:
        return await self.inner.controls()

    async def control_changes(self, since: int = 0) -> list[ControlChange]:
        return await self.inner.control_changes(max(since, self.change0))

    async def submit(self, spec: JobSpec) -> Job:
        return await self.inner.submit(spec)

    async def jobs(self, state: str | None = None) -> list[Job]:
        return [j for j in await self.inner.jobs(state) if j.created_at >= self.since_t]

    async def job(self, job_id: str) -> Job:
        return await self.inner.job(job_id)

    async def approve(self, job_id: str, *, actor: str, reason: str) -> Job:
        return await self.inner.approve(job_id, actor=actor, reason=reason)

    async def mark_needs_human_confirm(
        self, job_ids: list[str], *, actor: str, reason: str
    ) -> list[Job]:
        return await self.inner.mark_needs_human_confirm(job_ids, actor=actor, reason=reason)

    async def audit(self, cursor: int = 0, limit: int = 500) -> AuditPage:
        return await self.inner.audit(max(cursor, self.audit0), limit)

    async def alerts(self, since: int = 0) -> list[Alert]:
        return await self.inner.alerts(max(since, self.alert0))

    async def metrics(self) -> dict[str, float]:
        return await self.inner.metrics()

    async def defects(self) -> dict[str, Any]:
        return await self.inner.defects()

    async def canary(self, client_id: str, platform: str) -> dict[str, Any]:
        return await self.inner.canary(client_id, platform)


async def preflight(pc: PlatformClient, url: str, needed_defects: Collection[str]) -> list[str]:
    """Check the platform at ``url`` can be drilled; return the defects it has switched on.

    Raises :class:`DrillError` when it does not answer or is not in its resting state, and
    :class:`DrillSkipped` when a defect the scenario needs is not switched on there.
    """
    try:
        health = await pc.health()
    except Exception as e:
        raise DrillError(
            f"the platform at {url} does not answer GET /health ({type(e).__name__}: {e}); "
            "start it (e.g. `vibedrill platform serve --world <ready file>`) or fix --platform-url"
        ) from None
    if isinstance(health, dict) and health.get("status") not in (None, "ok"):
        raise DrillError(f"the platform at {url} is not healthy: {health}")
    try:
        enabled = sorted((await pc.defects()).get("enabled") or [])
    except Exception:  # defects are optional in the contract
        enabled = []
    missing = [d for d in needed_defects if d not in enabled]
    if missing:
        raise DrillSkipped(
            f"needs the platform defect(s) {', '.join(missing)} switched on, and the platform at "
            f"{url} has {', '.join(enabled) or 'none'} (serve it with "
            + " ".join(f"--defect {d}" for d in missing)
            + ")"
        )
    state = await pc.controls()
    left = []
    if state.get("kill_switches"):
        left.append(f"kill switches engaged: {state['kill_switches']}")
    if state.get("paused"):
        left.append(f"queues paused: {state['paused']}")
    modes = [m for m in state.get("modes") or [] if m.get("mode") not in (None, "auto")]
    if modes:
        left.append(f"modes set: {modes}")
    if state.get("read_only_lanes"):
        left.append(f"read-only lanes: {state['read_only_lanes']}")
    if left:
        raise DrillError(
            f"the platform at {url} is not at rest ({'; '.join(left)}): a drill starts from the "
            "platform's default controls; release them or restart the platform"
        )
    return enabled


def served_clients(scenario: Scenario, roster: Roster) -> list[str]:
    """The clients of the served world a scenario drills: its first ``world.clients`` tenants,
    each with an account on every platform the scenario uses (else :class:`DrillSkipped`)."""
    want = scenario.world.clients
    tenants = [c for c in roster.clients if c.id != "agency"]
    if len(tenants) < want:
        raise DrillSkipped(
            f"needs {want} clients and the served world has {len(tenants)} "
            f"(serve the fakes with `vibedrill serve --clients {want}`)"
        )
    chosen = tenants[:want]
    for c in chosen:
        have = {str(a.platform) for a in c.accounts}
        lacking = [p for p in scenario.world.platforms if p not in have]
        if lacking:
            raise DrillSkipped(
                f"needs an account of client {c.id} on {', '.join(lacking)}; the served world "
                f"gives it {', '.join(sorted(have)) or 'none'}"
            )
    return [c.id for c in chosen]
