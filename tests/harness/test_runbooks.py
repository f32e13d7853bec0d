"""The runbook library loads, every step names a registered action, and actions drive the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.drill.respond import expand_step
from harness.runbooks import (
    ACTIONS,
    ActionContext,
    ActionError,
    RunbookError,
    check_step,
    load_runbook,
    run_action,
    runbooks,
)
from harness.runbooks.actions import action
from sandbox.contract import ControlChange, KillScope


def test_every_runbook_rb01_to_rb12_loads_in_the_seeds_shape() -> None:
    rbs = runbooks()
    assert list(rbs) == [f"RB-{i:02d}" for i in range(1, 13)]
    for rb in rbs.values():
        assert rb.symptoms and rb.immediate and rb.verification and rb.follow_ups, rb.id
        assert all(s.deadline is not None for s in rb.immediate), rb.id


def test_every_step_of_every_runbook_names_a_registered_action_with_valid_params() -> None:
    for rb in runbooks().values():
        for step in (*rb.immediate, *rb.diagnosis, *rb.fix):
            assert step.action in ACTIONS, (rb.id, step.id)
            assert check_step(step.action, step.params) is None, (rb.id, step.id)


def test_the_action_names_follow_subject_imperative() -> None:
    for name in ACTIONS:
        subject, _, verb = name.partition(".")
        assert subject and verb and "." not in verb, name
    for required in (
        "kill_switch.engage",
        "kill_switch.release",
        "lane.route",
        "mode.set",
        "queue.pause",
        "queue.resume",
        "pacing.set",
        "blueprint.disable",
        "triggers.lock",
        "provider.route",
        "budget.set",
        "jobs.mark_needs_human_confirm",
        "evidence.snapshot",
        "fault.heal",
    ):
        assert required in ACTIONS


def test_a_duplicate_action_is_refused_naming_both_definitions() -> None:
    with pytest.raises(
        TypeError, match=r"defined twice: harness\.runbooks\.actions\.kill_switch_engage and"
    ):

        @action("kill_switch.engage")
        async def again(ctx: ActionContext) -> dict[str, Any]:
            return {}


def test_a_runbook_step_with_an_unknown_action_fails_to_load_with_a_suggestion(
    tmp_path: Path,
) -> None:
    src = (Path(__file__).resolve().parents[2] / "harness/runbooks/data/rb05.yaml").read_text()
    p = tmp_path / "rb05.yaml"
    p.write_text(src.replace("action: pacing.set", "action: pacing.sett", 1))
    with pytest.raises(
        RunbookError,
        match=r"rb05.yaml: immediate\[0\].action: 'pacing.sett' is not a runbook action; did you mean 'pacing.set'\?",
    ):
        load_runbook(p)


class FakePlatform:
    """Records control calls; enough of the PlatformClient for the actions."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def set_kill_switch(
        self, scope: KillScope, engaged: bool, *, actor: str, reason: str
    ) -> ControlChange:
        self.calls.append(("kill", (scope.model_dump(exclude_none=True), engaged, actor)))
        return ControlChange(
            seq=len(self.calls),
            t=0.0,
            actor=actor,
            reason=reason,
            control="kill_switch",
            scope=scope.model_dump(),
            value={"engaged": engaged},
        )

    async def set_pacing(self, platform: str, **kw: Any) -> ControlChange:
        self.calls.append(("pacing", (platform, kw["concurrency"])))
        return ControlChange(
            seq=len(self.calls), t=0.0, actor=kw["actor"], reason=kw["reason"], control="pacing"
        )


async def test_kill_switch_engage_calls_the_contract_with_actor_and_reason() -> None:
    fp = FakePlatform()
    ctx = ActionContext(fp, actor="ops-lead (auto)", reason="RB-01 freeze")  # type: ignore[arg-type]
    out = await run_action("kill_switch.engage", ctx)
    assert fp.calls == [("kill", ({}, True, "ops-lead (auto)"))]
    assert out["control"] == "kill_switch"


async def test_an_action_with_a_wrong_parameter_is_refused_before_any_call() -> None:
    fp = FakePlatform()
    with pytest.raises(
        ActionError,
        match=r"pacing\.set takes no parameter 'concurency'; did you mean 'concurrency'",
    ):
        await run_action("pacing.set", ActionContext(fp), platform="x", concurency=1)  # type: ignore[arg-type]
    assert fp.calls == []


def test_a_step_naming_the_platform_runs_once_per_affected_platform() -> None:
    step = runbooks()["RB-05"].immediate[0]
    assert expand_step(step, ("instagram", "x"), ()) == [
        {"platform": "instagram", "concurrency": 1},
        {"platform": "x", "concurrency": 1},
    ]
    glob = runbooks()["RB-01"].immediate[0]
    assert expand_step(glob, ("x",), ("acme",)) == [{}]
