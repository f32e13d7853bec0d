"""The runbook action registry: ``<subject>.<imperative>`` → an async function of keyword arguments.

Every action acts through the platform contract (:class:`sandbox.contract.PlatformClient`),
except the rehearsal's own levers, which go through the :class:`ActionContext`: ``fault.heal``
(the fakes' admin contract: the outside world recovers) and ``evidence.snapshot`` (the drill's
evidence bundle). An action returns a small JSON-ready summary for the timeline.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from fakes.core.faults import did_you_mean
from sandbox.contract import JobSpec, KillScope, Lane, PlatformClient

from ..errors import BadInputError, DrillError

__all__ = [
    "ACTIONS",
    "ANSWER_WITHIN_S",
    "ActionContext",
    "ActionError",
    "action",
    "check_step",
    "params_of",
    "run_action",
]

ActionFn = Callable[..., Awaitable[dict[str, Any]]]
#: dotted name → the registered function
ACTIONS: dict[str, ActionFn] = {}

Mode = Literal["auto", "approval_required", "manual_only", "read_only"]
Capability = Literal["text", "image", "video"]


class ActionError(BadInputError):
    """A runbook step that cannot run: unknown action or bad parameters (names both)."""


#: how long (platform time) a control call may go unanswered before the drill says so: the
#: slowest healthy call, a canary post verified by its lookups, answers within a few minutes
ANSWER_WITHIN_S = 900.0


@dataclass
class ActionContext:
    """What an action may touch: the platform, and the rehearsal's heal and snapshot levers."""

    platform: PlatformClient
    actor: str = "ops-lead(auto)"
    reason: str = ""
    #: remove the fakes' fault rules of a kind (None = every scenario fault); returns how many
    heal: Callable[[str | None], Awaitable[int]] | None = None
    #: capture named evidence into the drill's bundle
    snapshot: Callable[[list[str], str], Awaitable[None]] | None = None
    #: stop the platform and start it again on its storage; returns what it restored
    restart: Callable[..., Awaitable[dict[str, Any]]] | None = None


def action(name: str) -> Callable[[ActionFn], ActionFn]:
    """Register an action under ``name``; a duplicate name is refused naming both definitions."""

    def deco(fn: ActionFn) -> ActionFn:
        if name in ACTIONS:
            prev = ACTIONS[name]
            raise TypeError(
                f"runbook action {name!r} defined twice: {prev.__module__}.{prev.__qualname__} and {fn.__module__}.{fn.__qualname__}"
            )
        ACTIONS[name] = fn
        return fn

    return deco


def params_of(name: str) -> list[str]:
    """The keyword parameters an action accepts (besides the context)."""
    sig = inspect.signature(ACTIONS[name])
    return [p for p in sig.parameters if p != "ctx"]


def check_step(name: str, params: dict[str, Any]) -> str | None:
    """Why a step of ``name`` with ``params`` cannot run, or None when it can."""
    if name not in ACTIONS:
        return f"{name!r} is not a runbook action{did_you_mean(name, ACTIONS)}; valid: {', '.join(sorted(ACTIONS))}"
    allowed = params_of(name)
    sig = inspect.signature(ACTIONS[name]).parameters
    for key, value in params.items():
        if key not in allowed:
            return f"{name} takes no parameter {key!r}{did_you_mean(key, allowed)}; valid: {', '.join(allowed)}"
        # a switch must be one (a quoted "no" is truthy: it would crash the platform, say)
        if sig[key].annotation in ("bool", bool) and not isinstance(value, bool):
            return f"{name}: {key} must be true or false, not {value!r}"
    return None


async def run_action(name: str, ctx: ActionContext, **params: Any) -> dict[str, Any]:
    """Run one registered action; ActionError when it is unknown or its parameters are wrong."""
    why = check_step(name, params)
    if why:
        raise ActionError(why)
    return await ACTIONS[name](ctx, **params)


def _cc(change: Any) -> dict[str, Any]:
    dump = getattr(change, "model_dump", None)
    return dump(mode="json") if dump else {"result": change}


@action("kill_switch.engage")
async def kill_switch_engage(
    ctx: ActionContext,
    client_id: str | None = None,
    platform: str | None = None,
    action: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """Engage a kill switch (global when no scope is given)."""
    scope = KillScope(client_id=client_id, platform=platform, action=action, account_id=account_id)  # type: ignore[arg-type]
    return _cc(await ctx.platform.set_kill_switch(scope, True, actor=ctx.actor, reason=ctx.reason))


@action("kill_switch.release")
async def kill_switch_release(
    ctx: ActionContext,
    client_id: str | None = None,
    platform: str | None = None,
    action: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """Release a kill switch."""
    scope = KillScope(client_id=client_id, platform=platform, action=action, account_id=account_id)  # type: ignore[arg-type]
    return _cc(await ctx.platform.set_kill_switch(scope, False, actor=ctx.actor, reason=ctx.reason))


@action("lane.route")
async def lane_route(ctx: ActionContext, platform: str, lane: str) -> dict[str, Any]:
    """Route a platform's side effects to the api, browser or hybrid lane."""
    return _cc(await ctx.platform.set_lane(platform, lane, actor=ctx.actor, reason=ctx.reason))  # type: ignore[arg-type]


@action("lane.read_only")
async def lane_read_only(
    ctx: ActionContext, platform: str, read_only: bool = True, lane: str = "browser"
) -> dict[str, Any]:
    """Hold one lane of a platform read-only (ingest only: verify and inbound keep working, its
    side effects are refused) or release it; the platform's other lanes are not touched."""
    return _cc(
        await ctx.platform.set_lane_read_only(
            platform,
            bool(read_only),
            lane=cast(Lane, lane),
            actor=ctx.actor,
            reason=ctx.reason,
        )
    )


@action("mode.set")
async def mode_set(
    ctx: ActionContext, mode: str, client_id: str | None = None, platform: str | None = None
) -> dict[str, Any]:
    """Set the operating mode (auto, approval_required, manual_only, read_only) for a scope."""
    return _cc(
        await ctx.platform.set_mode(
            cast(Mode, mode),
            client_id=client_id,
            platform=platform,
            actor=ctx.actor,
            reason=ctx.reason,
        )
    )


@action("queue.pause")
async def queue_pause(ctx: ActionContext, job_class: str) -> dict[str, Any]:
    """Pause the consumers of one job class (publish, engagement, generation, maintenance)."""
    return _cc(
        await ctx.platform.set_queue_paused(job_class, True, actor=ctx.actor, reason=ctx.reason)
    )


@action("queue.resume")
async def queue_resume(ctx: ActionContext, job_class: str) -> dict[str, Any]:
    """Resume the consumers of one job class."""
    return _cc(
        await ctx.platform.set_queue_paused(job_class, False, actor=ctx.actor, reason=ctx.reason)
    )


@action("pacing.set")
async def pacing_set(
    ctx: ActionContext,
    platform: str,
    concurrency: int | None = None,
    min_interval_s: float | None = None,
    jitter_s: float | None = None,
    daily_caps: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Change a platform's pacing: concurrency, minimum interval, jitter, daily caps."""
    return _cc(
        await ctx.platform.set_pacing(
            platform,
            actor=ctx.actor,
            reason=ctx.reason,
            concurrency=concurrency,
            min_interval_s=min_interval_s,
            jitter_s=jitter_s,
            daily_caps=daily_caps,
        )
    )


@action("blueprint.disable")
async def blueprint_disable(ctx: ActionContext, blueprint_id: str) -> dict[str, Any]:
    """Disable a blueprint (e.g. one causing burst actions)."""
    return _cc(
        await ctx.platform.set_blueprint_enabled(
            blueprint_id, False, actor=ctx.actor, reason=ctx.reason
        )
    )


@action("blueprint.enable")
async def blueprint_enable(ctx: ActionContext, blueprint_id: str) -> dict[str, Any]:
    """Re-enable a blueprint."""
    return _cc(
        await ctx.platform.set_blueprint_enabled(
            blueprint_id, True, actor=ctx.actor, reason=ctx.reason
        )
    )


@action("triggers.lock")
async def triggers_lock(ctx: ActionContext, client_id: str | None = None) -> dict[str, Any]:
    """Lock keyword triggers (globally or for one client)."""
    return _cc(
        await ctx.platform.set_trigger_lock(
            True, client_id=client_id, actor=ctx.actor, reason=ctx.reason
        )
    )


@action("triggers.unlock")
async def triggers_unlock(ctx: ActionContext, client_id: str | None = None) -> dict[str, Any]:
    """Unlock keyword triggers."""
    return _cc(
        await ctx.platform.set_trigger_lock(
            False, client_id=client_id, actor=ctx.actor, reason=ctx.reason
        )
    )


@action("provider.route")
async def provider_route(
    ctx: ActionContext, capability: str, providers: list[str]
) -> dict[str, Any]:
    """Route a capability (text, image, video) to providers in failover order."""
    return _cc(
        await ctx.platform.set_provider_routing(
            cast(Capability, capability), list(providers), actor=ctx.actor, reason=ctx.reason
        )
    )


@action("budget.set")
async def budget_set(
    ctx: ActionContext,
    client_id: str | None = None,
    episode_tokens: int | None = None,
    episode_usd: float | None = None,
    client_usd: float | None = None,
    client_tokens: int | None = None,
) -> dict[str, Any]:
    """Enforce cost caps per client and per episode; a cap in force is only ever tightened.

    "Enforce cost caps" must never loosen a budget the platform already has: each given cap
    becomes the smaller of itself and the one in force (for the client, else platform-wide).
    """
    budgets = dict((await ctx.platform.controls()).get("budgets") or {})
    cur = dict(budgets.get("platform") or {})
    if client_id is not None:
        cur.update(
            {
                k: v
                for k, v in dict((budgets.get("clients") or {}).get(client_id) or {}).items()
                if v is not None
            }
        )

    def tight(key: str, want: float | None) -> Any:
        have = cur.get(key)
        return want if want is None or have is None else type(want)(min(want, have))

    return _cc(
        await ctx.platform.set_budget(
            actor=ctx.actor,
            reason=ctx.reason,
            client_id=client_id,
            episode_tokens=tight("episode_tokens", episode_tokens),
            episode_usd=tight("episode_usd", episode_usd),
            client_usd=tight("client_usd", client_usd),
            client_tokens=tight("client_tokens", client_tokens),
        )
    )


@action("jobs.mark_needs_human_confirm")
async def jobs_mark_needs_human_confirm(
    ctx: ActionContext, platform: str | None = None, kind: str = "publish"
) -> dict[str, Any]:
    """Mark the platform's unconfirmed jobs of ``kind`` as needing a human's confirmation.

    As a person selecting "every unconfirmed post on X" does, the first request names the
    running ones too. A running job cannot be marked: the platform refuses the request (409),
    and a refused request must change nothing — the step checks that none of the jobs it named
    was marked by it (else the step fails, naming them: the operator was told no while part of
    the batch was parked), then asks again for the jobs that are not running.
    """
    # every unconfirmed post a console lists: waiting, retrying, held for approval, or stopped by
    # a control (a kill switch's blocked posts are as unconfirmed as the rest)
    pending = {"queued", "scheduled", "retry_wait", "awaiting_approval", "blocked"}
    mine = [
        j
        for j in await ctx.platform.jobs()
        if j.spec.kind == kind and (platform is None or j.spec.platform == platform)
    ]
    jobs = [j for j in mine if j.state in pending]
    running = [j for j in mine if j.state == "running"]
    if not jobs:
        return {"marked": 0}
    ids = [j.id for j in jobs]
    if running:
        # newest first, as a console lists them
        named = [j.id for j in reversed(mine) if j.state in pending or j.state == "running"]
        try:
            done = await ctx.platform.mark_needs_human_confirm(
                named, actor=ctx.actor, reason=ctx.reason
            )
            return {"marked": len(done), "running_named": len(running)}
        except Exception as e:  # the refusal a running job earns (409), checked below
            if not _refused_for_state(e):
                raise
        marked = [
            j.id
            for j in await ctx.platform.jobs()
            if j.id in set(named)
            and j.state == "needs_human_confirm"
            and str(j.last_error or "").startswith(f"marked by {ctx.actor}")
        ]
        if marked:
            raise DrillError(
                f"the platform refused marking {len(named)} jobs (one was running) but marked "
                f"{len(marked)} of them anyway ({', '.join(marked[:5])}): a refused request "
                "must change nothing"
            )
    for attempt in range(3):  # a job that started running meanwhile refuses the batch: again
        try:
            done = await ctx.platform.mark_needs_human_confirm(
                ids, actor=ctx.actor, reason=ctx.reason
            )
            return {"marked": len(done), "running_left": len(running)}
        except Exception as e:
            if not _refused_for_state(e) or attempt == 2:
                raise
        ids = [j.id for j in await ctx.platform.jobs() if j.id in set(ids) and j.state in pending]
        if not ids:
            break
    return {"marked": 0, "running_left": len(running)}


def _refused_for_state(e: Exception) -> bool:
    """Whether ``e`` is the platform refusing an operation for a job's state (HTTP 409)."""
    return getattr(e, "status", None) == 409 or type(e).__name__ == "JobStateError"


#: what a console that was not refreshed may still list as awaiting approval: jobs a release
#: sent on since (waiting, retrying or already running)
_STALE_LISTED = frozenset({"awaiting_approval", "queued", "scheduled", "retry_wait", "running"})


@action("jobs.approve")
async def jobs_approve(
    ctx: ActionContext,
    client_id: str | None = None,
    platform: str | None = None,
    kind: str | None = None,
    stale: bool = False,
) -> dict[str, Any]:
    """A person approves every job awaiting approval (of a client, platform or kind).

    ``stale``: from a console not refreshed since a release sent the held jobs on — every
    unfinished job of the scope is clicked; the platform must refuse each that no longer awaits
    approval (409) and change nothing (approving a running job would run it twice)."""
    states = _STALE_LISTED if stale else frozenset({"awaiting_approval"})
    jobs = [
        j
        for j in await ctx.platform.jobs()
        if j.state in states
        and (client_id is None or j.spec.client_id == client_id)
        and (platform is None or j.spec.platform == platform)
        and (kind is None or j.spec.kind == kind)
    ]
    approved = refused = 0
    for j in jobs:
        try:
            await ctx.platform.approve(j.id, actor=ctx.actor, reason=ctx.reason)
        except Exception as e:
            if not (stale and _refused_for_state(e)):
                raise
            refused += 1
        else:
            approved += 1
    return {"approved": approved, "refused": refused}


@action("jobs.submit")
async def jobs_submit(
    ctx: ActionContext,
    kind: str,
    client_id: str,
    platform: str | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Submit one job (an auth check, a test post, a tool health call)."""
    job = await ctx.platform.submit(
        JobSpec(kind=kind, client_id=client_id, platform=platform, payload=payload or {})
    )  # type: ignore[arg-type]
    return {"job_id": job.id, "state": job.state}


@action("evidence.snapshot")
async def evidence_snapshot(
    ctx: ActionContext, what: list[str] | None = None, why: str = ""
) -> dict[str, Any]:
    """Capture evidence (audit, metrics, controls, alerts, ledger, journal, faults) into the bundle."""
    items = list(what or ["audit", "metrics", "controls", "alerts"])
    if ctx.snapshot is not None:
        await ctx.snapshot(items, why or ctx.reason)
    return {"captured": items}


@action("fault.heal")
async def fault_heal(ctx: ActionContext, kind: str | None = None) -> dict[str, Any]:
    """The outside world recovers: remove the scenario's fault rules (of one kind, or all)."""
    n = await ctx.heal(kind) if ctx.heal is not None else 0
    return {"healed": n, "kind": kind}


@action("platform.restart")
async def platform_restart(ctx: ActionContext, crash: bool = False) -> dict[str, Any]:
    """Restart the platform mid-incident: stopped, then started again on its storage. What it
    held must still hold: kill switches, modes, pauses, caps, parked jobs. A deploy stops it
    gracefully (its running jobs go back to the queue first); ``crash: true`` kills it: the new
    process finds its storage as it was at that instant, the jobs it was running still stored
    as running, and must take them up again."""
    if ctx.restart is None:
        raise DrillError(
            "platform.restart needs a platform the drill runs itself (in-process); a served "
            "platform is restarted by whoever runs it"
        )
    return await ctx.restart(crash=crash)


@action("canary.run")
async def canary_run(ctx: ActionContext, client_id: str, platform: str) -> dict[str, Any]:
    """Run the golden-path canary: one test post for one client on one platform, verified."""
    return dict(await ctx.platform.canary(client_id, platform))
