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
import re
from collections.abc import Awaitable
from typing import Any, Protocol

from ..errors import BadInputError, DrillError
from ..judge.record import SOCIAL_AUDIT_ACTIONS
from ..judge.timeline import format_offset
from ..runbooks import ANSWER_WITHIN_S, ActionContext, run_action
from .state import DrillState


class Levers(Protocol):
    """The engine's levers an operator step may pull (passed in, so this module needs no engine)."""

    def heal(self, kind: str | None, actor: str = ...) -> Awaitable[int]: ...
    def snapshot(self, items: list[str], why: str) -> Awaitable[None]: ...
    def sync_controls(self) -> Awaitable[None]: ...
    def restart(self) -> Awaitable[dict[str, Any]]: ...


__all__ = ["ACTOR", "bite", "give_up_on_a_hanging_call", "kill_scope", "operate"]

ACTOR = "operator"


async def operate(engine: DrillState, levers: Levers) -> None:
    """Run the scenario's operator steps at their offsets (in order of time, then of listing)."""
    steps = sorted(enumerate(engine.scenario.operator), key=lambda x: (x[1].at, x[0]))
    for i, step in steps:
        d = engine.t0 + step.at - engine.now()
        if d > 0:
            await asyncio.sleep(d)
        ctx = ActionContext(
            engine.platform_client,
            actor=ACTOR,
            reason=f"scenario operator step {i}" if step.reason is None else step.reason,
            heal=levers.heal,
            snapshot=levers.snapshot,
            restart=levers.restart,
        )
        params = _resolve(engine, dict(step.params))
        task = asyncio.current_task()
        assert task is not None
        engine.operator_call = (engine.now(), task)
        try:
            result = await run_action(step.do, ctx, **params)
        except asyncio.CancelledError:
            if not engine.operator_gave_up:
                raise
            # the monitor gave up on the call (see give_up_on_a_hanging_call): the platform's
            # failure, judged by operator_calls_answered; the drill goes on with the next step
            engine.operator_gave_up = False
            task.uncancel()
            engine.ev(
                "operator.unanswered",
                ACTOR,
                f"operator: {step.do} {_label(step.params)}: the platform gave no answer to "
                f"{step.do} within {ANSWER_WITHIN_S / 60:g} minutes",
                {"index": i, "action": step.do, "params": _jsonable(step.params), "at": step.at},
            )
            await levers.sync_controls()
            continue
        except DrillError:
            raise
        except ValueError as e:
            if not getattr(step, "refused", False) or isinstance(e, BadInputError):
                raise DrillError(
                    f"operator step {i} ({step.do} {_label(params)} at "
                    f"{format_offset(step.at)}) failed on the platform: {type(e).__name__}: {e}"
                ) from e
            # a call the scenario wants refused, refused: what an operator must be told
            engine.ev(
                "operator.step",
                ACTOR,
                f"operator: {step.do} {_label(step.params)}: refused, as it must be".rstrip(),
                {"index": i, "action": step.do, "params": _jsonable(step.params),
                 "must_refuse": True, "refused": True, "error": str(e)[:300]},
            )  # fmt: skip
            await levers.sync_controls()
            continue
        except Exception as e:  # the platform refused or broke on a valid control: say which
            raise DrillError(
                f"operator step {i} ({step.do} {_label(params)} at "
                f"{format_offset(step.at)}) failed on the platform: {type(e).__name__}: {e}"
            ) from e
        finally:
            engine.operator_call = None
        engine.ev(
            "operator.step",
            ACTOR,
            f"operator: {step.do} {_label(step.params)}".rstrip(),
            {
                "index": i,
                "action": step.do,
                "params": _jsonable(step.params),
                "result": result,
                "asked_at": engine.t0 + step.at,
                **(
                    {}
                    if (within := getattr(step, "within", None)) is None
                    else {"within_s": within}
                ),
                **(
                    {"must_refuse": True, "refused": False}
                    if getattr(step, "refused", False)
                    else {}
                ),
            },
        )
        await levers.sync_controls()


def give_up_on_a_hanging_call(engine: DrillState) -> None:
    """Cancel the operator step that has waited :data:`ANSWER_WITHIN_S` for the platform.

    Called on each of the monitor's polls rather than on a timer of its own: a timer per
    control call would change the order the loop runs same-time callbacks in, and with it the
    timeline of every drill (its hash), while a hanging call is rare. A console call that never
    returns (a canary waiting for a job a kill switch parked) must not hold the drill for ever.
    """
    call = engine.operator_call
    if call is None or engine.operator_gave_up:
        return
    since, task = call
    if engine.now() - since >= ANSWER_WITHIN_S and not task.done():
        engine.operator_gave_up = True
        task.cancel()


_PLACEHOLDER = re.compile(r"\{(client|account):(\d+)(?::([a-z]+))?\}")


def _resolve(engine: DrillState, params: dict[str, Any]) -> dict[str, Any]:
    """``{client:N}`` → the N-th client's id, ``{account:N:platform}`` → its account id
    (anywhere in a string: ``bp-{client:1}-x``)."""

    def sub(m: re.Match[str]) -> str:
        client = engine.clients[int(m[2])]
        return client if m[1] == "client" else engine.accounts[(client, str(m[3]))]

    return {k: _PLACEHOLDER.sub(sub, v) if isinstance(v, str) else v for k, v in params.items()}


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
    ("budget:", "budget.bit"),
)


#: the kill-switch scope a refusal names → the scope's name in probes and coverage
_SCOPE_NAMES: tuple[tuple[str, str], ...] = (
    ("'account_id'", "account"),
    ("'action'", "action"),
    ("'platform'", "platform"),
    ("'client_id'", "client"),
)


#: the audit actions of the providers' paid calls (a kill switch stopping one is RB-12's stop)
_GENERATION_ACTIONS = frozenset({"llm.complete", "image.generate", "video.generate"})


def kill_scope(error: str) -> str:
    """``global``, ``client``, ``platform``, ``account`` or ``action``: the narrowest field the
    switch named in a ``kill_switch:`` refusal (``… stopped by the switch {'platform': 'x'}``)."""
    switch = error.rpartition("stopped by the switch")[2]
    return next((name for key, name in _SCOPE_NAMES if key in switch), "global")


def bite(engine: DrillState, jobs: list[Any], changes: list[Any]) -> None:
    """Write ``control.bit`` events for the controls that met work in this drill (see module)."""
    probes = [c.probe for c in engine.scenario.reached or () if c.probe]
    if not engine.scenario.operator and not any(p.endswith(".bit") for p in probes):
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
                    if a.action in _GENERATION_ACTIONS:
                        # RB-12's spend stop: a switch stopped a provider call
                        hit("kill_switch.generation.bit", a.t)
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
    _engagement(engine, changes, hit)
    _restarts(engine, audit, hit)
    for probe, (t, n) in sorted(seen.items(), key=lambda x: (x[1][0], x[0])):
        engine.ev(
            "control.bit",
            "drill",
            f"{probe.rsplit('.', 1)[0]} met {n} piece(s) of work",
            {"probe": probe, "count": n},
            t=t,
        )


def _restarts(engine: DrillState, audit: list[Any], hit: Any) -> None:
    """``restart.in_flight.bit``: a restart (or crash) stopped the platform in the middle of a
    social side effect — an attempt audited, its outcome not yet — the case a restart must
    count as a spent attempt that may have landed."""
    stops = [e.t for e in engine.timeline if e.kind == "platform.restarted"]
    if not stops:
        return
    open_at: dict[str, float] = {}
    i = 0
    for a in sorted(audit, key=lambda a: a.t):
        while i < len(stops) and stops[i] < a.t:
            for _job in open_at:
                hit("restart.in_flight.bit", stops[i])
            open_at.clear()
            i += 1
        if a.job_id is None or a.action not in SOCIAL_AUDIT_ACTIONS:
            continue
        if a.phase == "attempt":
            open_at[a.job_id] = a.t
        elif a.phase == "outcome":
            open_at.pop(a.job_id, None)
    for stop in stops[i:]:
        for _job in open_at:
            hit("restart.in_flight.bit", stop)
        open_at.clear()


def _engagement(engine: DrillState, changes: list[Any], hit: Any) -> None:
    """``own_message.bit``: the account's own comments arrived; ``trigger_lock.bit`` /
    ``blueprint_off.bit``: keyword comments arrived for a client whose triggers were locked or
    whose blueprint was disabled."""
    from .workload import OWN_AUTHOR

    owner = {acc: c for (c, _p), acc in engine.accounts.items()}
    keyword = engine.scenario.workload.trigger_keyword
    off: list[tuple[str | None, str | None, float, float]] = []
    on: dict[tuple[str, str], float] = {}
    for c in changes:
        scope = dict(c.scope)
        if c.control == "trigger_lock":
            k, stop = ("lock", str(scope.get("client_id"))), not c.value
        elif c.control == "blueprint_enabled":
            k, stop = ("bp", str(scope.get("blueprint_id"))), bool(c.value)
        else:
            continue
        if not stop:
            on.setdefault(k, c.t)
        elif k in on:
            start = on.pop(k)
            off.append((k[1], None, start, c.t) if k[0] == "lock" else (None, k[1], start, c.t))
    for item in engine.inbound_planned:
        t = engine.t0 + item.at
        if item.author == OWN_AUTHOR:
            hit("own_message.bit", t)
            continue
        if keyword not in item.text:
            continue
        client = owner.get(item.account)
        for lock, bp, a, b in off:
            if bp is None and a <= t < b and lock in ("None", client):
                hit("trigger_lock.bit", t)
            elif bp is not None and a <= t < b and bp == f"bp-{client}-{item.fake}":
                hit("blueprint_off.bit", t)
