"""The automated Ops Lead: runs a runbook's steps through the platform contract, on the clock.

On detection it works through the immediate actions in order, each due ``deadline`` after
detection, then the diagnosis snapshots; the fix steps run once the outside world can be healed
(open-ended faults at once, timed faults when their window ends). ``observe`` mode does nothing:
only the platform's own guards act. Every step lands on the timeline as started / completed /
missed, with its deadline and whether it was met.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fakes.core.roster import SOCIAL_PLATFORMS

from ..judge.rows import JsonObject
from ..judge.timeline import Timeline
from ..runbooks import ActionContext, Runbook, Step, run_action
from ..scenario import Scenario
from .detect import Detection

__all__ = ["ACTOR", "OpsLead", "expand_step"]

ACTOR = "ops-lead (auto)"
#: how long the automated Ops Lead takes per step (reading, typing): keeps the timeline readable
STEP_SECONDS = 5.0


def expand_step(
    step: Step, platforms: tuple[str, ...], clients: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The parameter sets a step runs with: one per affected platform / client it names."""
    uses_p = any(v == "{platform}" for v in step.params.values())
    uses_c = any(v == "{client_id}" for v in step.params.values())
    out: list[dict[str, Any]] = []
    for p in platforms if uses_p else (None,):
        for c in clients if uses_c else (None,):
            out.append(
                {
                    k: (p if v == "{platform}" else c if v == "{client_id}" else v)
                    for k, v in step.params.items()
                }
            )
    return out


#: what holds once a step's action went through (the postcondition the judge reads)
_POSTCONDITIONS: dict[str, str] = {
    "kill_switch.engage": "the kill switch is engaged for the scope",
    "kill_switch.release": "the kill switch is released for the scope",
    "lane.route": "the platform is routed to the lane",
    "lane.read_only": "the lane's read-only mode is as set for the platform",
    "mode.set": "the mode is in force for the scope",
    "queue.pause": "the job class is paused",
    "queue.resume": "the job class is consuming again",
    "pacing.set": "the pacing is in force for the platform",
    "blueprint.disable": "the blueprint is disabled",
    "blueprint.enable": "the blueprint is enabled",
    "triggers.lock": "keyword triggers are locked",
    "triggers.unlock": "keyword triggers answer again",
    "provider.route": "the capability is routed to the providers",
    "budget.set": "the cost caps are in force",
    "jobs.mark_needs_human_confirm": "the unconfirmed jobs wait for a person",
    "jobs.submit": "the job is submitted",
    "canary.run": "the canary post is verified",
    "evidence.snapshot": "the evidence is captured",
    "fault.heal": "the outside world is healed",
}


def postcondition_of(step: Step) -> str:
    """The sentence that holds once ``step`` went through (read back through the contract)."""
    return _POSTCONDITIONS.get(step.action, f"{step.action} went through")


@dataclass
class OpsLead:
    """Runs one runbook for one scenario, recording every step on the timeline."""

    scenario: Scenario
    runbook: Runbook
    ctx: ActionContext
    timeline: Timeline
    now: Callable[[], float]
    #: offset → absolute time
    t0: float
    #: when the drill's timed faults end (absolute); fix steps wait for it
    faults_end: float | None = None
    done: list[dict[str, Any]] = field(default_factory=list)
    #: called after every step (the drill syncs control changes onto the timeline)
    after_step: Callable[[], Awaitable[None]] | None = None
    first_containment_t: float | None = None
    _order: int = 0

    def _active(self, step: Step) -> bool:
        ov = self.scenario.runbook_overrides
        if step.id in ov.skip:
            return False
        if step.when == "lane:browser":
            return (
                "browser" in self.scenario.world.lanes.values() or self.scenario.lane == "browser"
            )
        return True

    def _params(self, step: Step) -> Step:
        extra = self.scenario.runbook_overrides.params.get(step.id)
        if extra:
            step = step.model_copy(update={"params": {**step.params, **extra}})
        dl = self.scenario.runbook_overrides.deadlines.get(step.id)
        if dl is not None:
            step = step.model_copy(update={"deadline": dl})
        return step

    async def _run_step(self, phase: str, index: int, step: Step, det: Detection) -> None:
        step = self._params(step)
        name = f"{self.runbook.id}.{phase}.{index}"
        self._order += 1
        index = self._order  # the judge reads ``index`` as the step's place in the whole runbook
        deadline_t = det.t + step.deadline if step.deadline is not None else None
        await asyncio.sleep(STEP_SECONDS)
        base: JsonObject = {
            "step": name,
            "id": step.id,
            "index": index,
            "phase": phase,
            "action": step.action,
            "deadline_s": step.deadline,
            "postcondition": postcondition_of(step),
        }
        self.timeline.append(
            self.now(),
            "runbook_step.started",
            ACTOR,
            f"{name} {step.action}: {step.text or step.id}",
            {**base, "postcondition_met": None},
        )
        self.ctx.reason = f"{self.runbook.id} {step.id}: {step.text or step.action}"
        results: list[dict[str, Any]] = []
        error: str | None = None
        for params in expand_step(step, det.platforms or self._fault_platforms(), det.clients):
            try:
                results.append(await run_action(step.action, self.ctx, **params))
            except Exception as e:  # a refused control is a finding, not a crash of the drill
                error = f"{type(e).__name__}: {e}"
        t = self.now()
        in_time = deadline_t is None or t <= deadline_t
        if error is None:
            self.timeline.append(
                t,
                "runbook_step.completed",
                ACTOR,
                f"{name} done{'' if in_time else ' (late)'}",
                {**base, "postcondition_met": True, "in_time": in_time, "runs": len(results)},
            )
            if (
                phase == "immediate"
                and self.first_containment_t is None
                and step.action != "evidence.snapshot"
            ):
                self.first_containment_t = t
        else:
            self.timeline.append(
                t,
                "runbook_step.missed",
                ACTOR,
                f"{name} failed: {error}",
                {**base, "postcondition_met": False, "in_time": in_time, "reason": error},
            )
        if self.after_step is not None:
            await self.after_step()
        self.done.append(
            {"step": name, "id": step.id, "t": t, "ok": error is None, "in_time": in_time}
        )

    def _fault_platforms(self) -> tuple[str, ...]:
        plats = {f.target() for f in self.scenario.faults if f.target() in SOCIAL_PLATFORMS}
        return tuple(sorted(plats)) or tuple(self.scenario.world.platforms)

    async def respond(self, det: Detection) -> None:
        """Run the immediate actions and the diagnosis, then (when healable) the fix steps."""
        if self.scenario.response == "observe":
            return
        for i, step in enumerate(self.runbook.immediate, 1):
            if self._active(step):
                await self._run_step("immediate", i, step, det)
        for i, step in enumerate(self.runbook.diagnosis, 1):
            if self._active(step):
                await self._run_step("diagnosis", i, step, det)
        if self.faults_end is not None and self.faults_end > self.now():
            await asyncio.sleep(self.faults_end - self.now())
        for i, step in enumerate(self.runbook.fix, 1):
            if self._active(step):
                await self._run_step("fix", i, step, det)
