"""The runbook steps a game day's people can take: which run in this scenario, their timeline
names, and where a console action lands in the right runbook."""

from __future__ import annotations

from typing import Any

from ..runbooks import ACTIONS, Runbook, Step, runbooks
from ..scenario import Scenario
from .participants import GamedayRefused, Participant

__all__ = ["CONTROL_ACTIONS", "active_steps", "place_step", "step_data", "step_name"]

#: the runbook actions a console button may send (every control of the platform contract and the
#: rehearsal's evidence and heal levers; submitting arbitrary jobs is not a control)
CONTROL_ACTIONS: tuple[str, ...] = tuple(a for a in ACTIONS if a != "jobs.submit")


def active_steps(scenario: Scenario, rb: Runbook) -> list[tuple[str, int, Step]]:
    """(phase, 1-based place in the phase, step) of every step of ``rb`` this scenario runs."""
    ov = scenario.runbook_overrides
    browser = "browser" in scenario.world.lanes.values() or scenario.lane == "browser"
    out = []
    for phase, steps in (("immediate", rb.immediate), ("diagnosis", rb.diagnosis), ("fix", rb.fix)):
        for i, s in enumerate(steps, 1):
            if s.id in ov.skip or (s.when == "lane:browser" and not browser):
                continue
            extra = ov.params.get(s.id)
            if extra:
                s = s.model_copy(update={"params": {**s.params, **extra}})
            dl = ov.deadlines.get(s.id)
            if dl is not None:
                s = s.model_copy(update={"deadline": dl})
            out.append((phase, i, s))
    return out


def step_name(rb: Runbook, phase: str, i: int) -> str:
    """The step's name on the timeline, as the automated Ops Lead writes it (``RB-01.immediate.1``)."""
    return f"{rb.id}.{phase}.{i}"


def step_data(name: str, index: int, st: Step, p: Participant) -> dict[str, Any]:
    """The data of a ``runbook_step.*`` event ``p`` caused."""
    from ..drill.respond import postcondition_of

    phase = name.split(".")[1]
    return {
        "step": name,
        "id": st.id,
        "index": index,
        "phase": phase,
        "action": st.action,
        "deadline_s": st.deadline,
        "postcondition": postcondition_of(st),
        "participant": p.actor,
    }


def place_step(
    scenario: Scenario, runbook: str | None, step: str | None, action: str
) -> tuple[str, int, Step] | None:
    """The right runbook's step this action is (name, place, step), or None."""
    if runbook is None or step is None:
        return None
    lib = runbooks()
    if runbook not in lib:
        raise GamedayRefused(f"runbook: {runbook!r} is not a runbook; valid: {', '.join(lib)}")
    rb = lib[runbook]
    if step not in rb.step_ids():
        raise GamedayRefused(
            f"step: {step!r} is not a step of {runbook}; valid: {', '.join(rb.step_ids())}"
        )
    if rb.step(step).action != action:
        raise GamedayRefused(f"step {runbook} {step} is {rb.step(step).action}, not {action}")
    if runbook != scenario.runbook:
        return None  # a wrong runbook's step: an action on the timeline, not adherence
    for index, (phase, i, st) in enumerate(active_steps(scenario, rb), 1):
        if st.id == step:
            return step_name(rb, phase, i), index, st
    return None
