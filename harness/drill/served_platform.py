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
from sandbox.contract import Alert, AuditPage, ControlChange, Job, PlatformClient

from ..errors import DrillError
from ..scenario import Scenario
from .passthrough import PassThroughPlatformClient

__all__ = [
    "DrillSkipped",
    "ScopedPlatformClient",
    "preflight",
    "restore_controls",
    "served_clients",
]


class DrillSkipped(Exception):
    """The scenario needs what this platform cannot offer; the reason says what and how to fix it."""


class ScopedPlatformClient(PassThroughPlatformClient):
    """The platform contract, reading only what happened since :meth:`mark`."""

    def __init__(self, inner: PlatformClient) -> None:
        super().__init__(inner)
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

    async def control_changes(self, since: int = 0) -> list[ControlChange]:
        return await self.inner.control_changes(max(since, self.change0))

    async def jobs(self, state: str | None = None) -> list[Job]:
        return [j for j in await self.inner.jobs(state) if j.created_at >= self.since_t]

    async def audit(self, cursor: int = 0, limit: int = 500) -> AuditPage:
        return await self.inner.audit(max(cursor, self.audit0), limit)

    async def alerts(self, since: int = 0) -> list[Alert]:
        return await self.inner.alerts(max(since, self.alert0))


async def preflight(
    pc: PlatformClient, url: str, needed_defects: Collection[str]
) -> tuple[dict[str, Any], list[str]]:
    """Check the platform at ``url`` can be drilled; return its control state (at rest) and the
    defects it says are switched on (they go in the verdict: a report names what was drilled).

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
    return state, enabled


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


#: who restores a served platform's controls after a drill, and why
RESTORER = "drill"
RESTORE_REASON = "the drill ended: the platform's controls go back to how the drill found them"


async def restore_controls(pc: PlatformClient, before: dict[str, Any]) -> list[str]:
    """Put a served platform's controls back as ``before`` (its state when the drill began), so
    the next drill finds it at rest; return what was changed. Called after the report is
    written: the restore is housekeeping, never judged."""
    now = await pc.controls()
    done: list[str] = []
    kw = {"actor": RESTORER, "reason": RESTORE_REASON}
    for scope in now.get("kill_switches") or []:
        if scope not in (before.get("kill_switches") or []):
            await pc.call_control("set_kill_switch", {"scope": scope, "engaged": False, **kw})
            done.append(f"kill switch {scope or 'global'} released")
    for m in now.get("modes") or []:
        if m not in (before.get("modes") or []):
            scope = {k: m[k] for k in ("client_id", "platform") if m.get(k)}
            await pc.call_control("set_mode", {"mode": "auto", **scope, **kw})
            done.append(f"mode {m['mode']} of {scope or 'the platform'} back to auto")
    for q in now.get("paused") or []:
        if q not in (before.get("paused") or []):
            await pc.call_control("set_queue_paused", {"job_class": q, "paused": False, **kw})
            done.append(f"queue {q} resumed")
    for ro in now.get("read_only_lanes") or []:
        if ro not in (before.get("read_only_lanes") or []):
            await pc.call_control(
                "set_lane_read_only",
                {"platform": ro["platform"], "lane": ro["lane"], "read_only": False, **kw},
            )
            done.append(f"{ro['platform']} {ro['lane']} lane writable again")
    for platform, lane in (before.get("lanes") or {}).items():
        if (now.get("lanes") or {}).get(platform) != lane:
            await pc.call_control("set_lane", {"platform": platform, "lane": lane, **kw})
            done.append(f"{platform} back on the {lane} lane")
    for bp, enabled in (before.get("blueprints") or {}).items():
        if (now.get("blueprints") or {}).get(bp) != enabled and isinstance(enabled, bool):
            await pc.call_control(
                "set_blueprint_enabled", {"blueprint_id": bp, "enabled": enabled, **kw}
            )
            done.append(f"blueprint {bp} {'enabled' if enabled else 'disabled'} again")
    lock0 = before.get("trigger_lock") or {}
    lock1 = now.get("trigger_lock") or {}
    if bool(lock1.get("global")) != bool(lock0.get("global")):
        await pc.call_control("set_trigger_lock", {"locked": bool(lock0.get("global")), **kw})
        done.append("global trigger lock restored")
    for c in set(lock1.get("clients") or []) - set(lock0.get("clients") or []):
        await pc.call_control("set_trigger_lock", {"locked": False, "client_id": c, **kw})
        done.append(f"triggers of {c} unlocked")
    for cap, providers in (before.get("provider_routing") or {}).items():
        if (now.get("provider_routing") or {}).get(cap) != providers:
            await pc.call_control(
                "set_provider_routing", {"capability": cap, "providers": providers, **kw}
            )
            done.append(f"{cap} routed to {', '.join(providers)} again")
    for platform, pacing in (before.get("pacing") or {}).items():
        if (now.get("pacing") or {}).get(platform) != pacing and isinstance(pacing, dict):
            args = {k: pacing.get(k) for k in ("concurrency", "min_interval_s", "jitter_s")}
            args["daily_caps"] = dict(pacing.get("daily_caps") or {})
            await pc.call_control("set_pacing", {"platform": platform, **args, **kw})
            done.append(f"{platform} pacing restored")
    return done
