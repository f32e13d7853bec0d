"""The runbook library loads, every step names a registered action, and actions drive the contract."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.clock import run_virtual
from harness.drill.operator import give_up_on_a_hanging_call, operate
from harness.drill.respond import expand_step
from harness.runbooks import (
    ACTIONS,
    ANSWER_WITHIN_S,
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


class _Jobs:
    """A platform with queued and running jobs whose batch marking may be all-or-nothing (the
    contract) or partial (a refused batch that marked the jobs listed before a running one)."""

    def __init__(self, partial: bool) -> None:
        self.states = dict(
            zip(("j-0", "j-1", "j-2", "j-3"), ("running", "queued") * 2, strict=True)
        )
        self.errors: dict[str, str | None] = {}
        self.partial = partial
        self.asked: list[list[str]] = []

    async def jobs(self, state: str | None = None) -> list[Any]:
        from sandbox.contract import Job, JobSpec

        spec = JobSpec(kind="publish", client_id="acme", platform="x", payload={"text": "t"})
        return [
            Job(
                id=i,
                spec=spec,
                state=st,  # type: ignore[arg-type]
                created_at=float(n),
                updated_at=float(n),
                last_error=self.errors.get(i),
            )
            for n, (i, st) in enumerate(self.states.items())
        ]

    async def mark_needs_human_confirm(
        self, job_ids: list[str], *, actor: str, reason: str
    ) -> list[Any]:
        from sandbox.client import JobStateError

        self.asked.append(list(job_ids))

        def mark(i: str) -> None:
            self.states[i], self.errors[i] = "needs_human_confirm", f"marked by {actor}: {reason}"

        for i in job_ids:
            if self.states[i] == "running":
                raise JobStateError(i, "running", "mark_needs_human_confirm", ("queued",))
            if self.partial:
                mark(i)
        for i in job_ids:
            mark(i)
        return [j for j in await self.jobs() if j.id in job_ids]


async def test_marking_asks_for_running_jobs_too_and_then_only_for_the_others() -> None:
    fp = _Jobs(partial=False)
    out = await run_action("jobs.mark_needs_human_confirm", ActionContext(fp), platform="x")  # type: ignore[arg-type]
    # newest first, as a console lists them; refused for the running ones, then asked again
    assert fp.asked == [["j-3", "j-2", "j-1", "j-0"], ["j-1", "j-3"]]
    assert out == {"marked": 2, "running_left": 2}
    assert list(fp.states.values()) == ["running", "needs_human_confirm"] * 2


async def test_a_refused_batch_that_marked_jobs_anyway_fails_the_step_naming_them() -> None:
    fp = _Jobs(partial=True)
    with pytest.raises(Exception, match=r"marked 1 of them anyway \(j-3\): a refused request"):
        await run_action("jobs.mark_needs_human_confirm", ActionContext(fp), platform="x")  # type: ignore[arg-type]


def test_a_switch_parameter_that_is_not_true_or_false_is_refused_naming_the_value() -> None:
    assert check_step("platform.restart", {"crash": True}) is None
    assert (
        check_step("platform.restart", {"crash": "no"})
        == "platform.restart: crash must be true or false, not 'no'"
    )


class HangingCanary(FakePlatform):
    """A platform whose canary waits for ever (for a job a kill switch parked)."""

    async def canary(self, client_id: str, platform: str) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}


def test_a_control_call_the_platform_never_answers_is_given_up_and_the_operator_goes_on() -> None:
    # the monitor's polls (every 30 s here) give up on the canary after fifteen minutes of the
    # drills' virtual clock; the next step still runs, at its own offset
    events: list[tuple[float, str, dict[str, Any]]] = []
    platform = HangingCanary()

    async def main() -> float:
        loop = asyncio.get_running_loop()
        engine = SimpleNamespace(
            t0=loop.time(),
            now=loop.time,
            platform_client=platform,
            clients=["acme"],
            accounts={},
            operator_call=None,
            operator_gave_up=False,
            scenario=SimpleNamespace(
                operator=[
                    SimpleNamespace(
                        at=0.0,
                        do="canary.run",
                        params={"client_id": "acme", "platform": "x"},
                        reason=None,
                    ),
                    SimpleNamespace(at=1200.0, do="kill_switch.engage", params={}, reason=None),
                ]
            ),
            ev=lambda kind, actor, summary, data: events.append((loop.time(), kind, data)),
        )

        async def sync() -> None:
            return None

        levers = SimpleNamespace(sync_controls=sync, heal=sync, snapshot=sync, restart=sync)

        async def monitor() -> None:
            while True:
                await asyncio.sleep(30)
                give_up_on_a_hanging_call(engine)  # type: ignore[arg-type]

        watch = asyncio.ensure_future(monitor())
        await operate(engine, levers)  # type: ignore[arg-type]
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        return engine.t0

    t0 = run_virtual(main)
    assert [(t - t0, kind, data["action"]) for t, kind, data in events] == [
        (ANSWER_WITHIN_S, "operator.unanswered", "canary.run"),
        (1200.0, "operator.step", "kill_switch.engage"),
    ]
    assert ANSWER_WITHIN_S == 900.0
    assert platform.calls == [("kill", ({}, True, "operator"))]
