"""The scenario's operator: control changes made on the clock, whatever the incident looks like.

A scenario's ``operator:`` steps are what a person at the console does at a fixed offset —
engage a kill switch while work is in flight, switch a client to ``manual_only`` and approve
what piles up, set a daily cap, release the switch again. They are not the runbook's response
(that one waits for detection): they exist so that every control meets live work (queued,
running, retrying, awaiting approval) and the judge can tell whether the platform obeyed.

Each step runs a registered runbook action (:mod:`harness.runbooks.actions`) as the actor
``operator`` and lands on the timeline as ``operator.step`` with the action's result. Once the
drill is drained, :func:`bite` writes one ``control.bit`` event per control that met work
(``probe`` names it, e.g. ``kill_switch.bit``), read from the platform's own evidence: audit
outcomes ``blocked`` with the control's reason, jobs held for approval and approved, side
effects deferred by a daily cap. A scenario's ``reached:`` probes name them, so a control
that met nothing makes the drill ``vacuous``, not ``held``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .runbooks import ActionContext, run_action

if TYPE_CHECKING:
    from .engine import DrillEngine

__all__ = ["ACTOR", "bite", "kill_scope", "operate"]

ACTOR = "operator"


async def operate(engine: DrillEngine) -> None:
    """Run the scenario's operator steps at their offsets (in order of time, then of listing)."""
    steps = sorted(enumerate(engine.s.operator), key=lambda x: (x[1].at, x[0]))
    for i, step in steps:
        d = engine.t0 + step.at - engine.now()
        if d > 0:
            await asyncio.sleep(d)
        ctx = ActionContext(
            engine.pc,
            actor=ACTOR,
            reason=step.reason or f"scenario operator step {i}",
            heal=engine._heal,
            snapshot=engine._snapshot,
        )
        result = await run_action(step.do, ctx, **_resolve(engine, dict(step.params)))
        engine.ev(
            "operator.step",
            ACTOR,
            f"operator: {step.do} {_label(step.params)}".rstrip(),
            {"index": i, "action": step.do, "params": _jsonable(step.params), "result": result},
        )
        await engine._sync_controls()


def _resolve(engine: DrillEngine, params: dict[str, Any]) -> dict[str, Any]:
    """``{client:N}`` → the N-th client's id, ``{account:N:platform}`` → its account id."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, str) and v.startswith("{client:") and v.endswith("}"):
            v = engine.clients[int(v[8:-1])]
        elif isinstance(v, str) and v.startswith("{account:") and v.endswith("}"):
            n, platform = v[9:-1].split(":", 1)
            v = engine.accounts[(engine.clients[int(n)], platform)]
        out[k] = v
    return out


def _label(params: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(dict(params).items()))


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


#: audit error prefix → the control whose refusal it is
_BLOCK_PROBES: tuple[tuple[str, str], ...] = (
    ("kill_switch:", "kill_switch.bit"),
    ("mode:read_only", "mode.read_only.bit"),
    ("lane:read_only", "lane.read_only.bit"),
)


#: the kill-switch scope a refusal names → the scope's name in probes and coverage
_SCOPE_NAMES: tuple[tuple[str, str], ...] = (
    ("'account_id'", "account"),
    ("'action'", "action"),
    ("'platform'", "platform"),
    ("'client_id'", "client"),
)


def kill_scope(error: str) -> str:
    """``global``, ``client``, ``platform``, ``account`` or ``action``: the narrowest field the
    switch named in a ``kill_switch:`` refusal (``… stopped by the switch {'platform': 'x'}``)."""
    switch = error.rpartition("stopped by the switch")[2]
    return next((name for key, name in _SCOPE_NAMES if key in switch), "global")


def bite(engine: DrillEngine, jobs: list[Any], changes: list[Any]) -> None:
    """Write ``control.bit`` events for the controls that met work in this drill (see module)."""
    if not engine.s.operator:
        return
    audit = list(engine.detector.audit)
    seen: dict[str, tuple[float, int]] = {}

    def hit(probe: str, t: float) -> None:
        first, n = seen.get(probe, (t, 0))
        seen[probe] = (min(first, t), n + 1)

    killed: set[str] = set()
    for a in audit:
        if a.phase != "outcome":
            continue
        if a.outcome == "success" and a.job_id in killed:
            killed.discard(a.job_id)
            hit("release.bit", a.t)
        if a.outcome != "blocked":
            continue
        for prefix, probe in _BLOCK_PROBES:
            if (a.error or "").startswith(prefix):
                hit(probe, a.t)
                if prefix == "kill_switch:":
                    hit(f"kill_switch.{kill_scope(a.error or '')}.bit", a.t)
                    if a.job_id is not None:
                        killed.add(a.job_id)
    for j in jobs:
        approved = j.result.get("approved_by")
        if isinstance(approved, dict):
            hit("approval.bit", float(approved.get("t") or engine.now()))
        notes = str(j.last_error or "")
        if notes.startswith("pacing: daily cap"):
            hit("daily_cap.bit", j.updated_at)
    paused: dict[str, float] = {}
    samples = list(engine.detector.metrics_samples)
    for c in changes:
        if c.control != "queue_paused":
            continue
        cls = str(dict(c.scope).get("job_class"))
        if c.value:
            paused.setdefault(cls, c.t)
        elif cls in paused:
            start = paused.pop(cls)
            metric = f'queue_depth{{job_class="{cls}"}}'
            for t, m in samples:
                if start < t <= c.t and (m.get(metric) or 0) > 0:
                    hit("queue_paused.bit", t)
    for probe, (t, n) in sorted(seen.items(), key=lambda x: (x[1][0], x[0])):
        engine.ev(
            "control.bit",
            "drill",
            f"{probe.rsplit('.', 1)[0]} met {n} piece(s) of work",
            {"probe": probe, "count": n},
            t=t,
        )
