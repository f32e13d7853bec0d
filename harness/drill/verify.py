"""Verification after recovery: the runbook's checks, run through the platform contract.

Each check is judged from the platform's own telemetry (jobs, audit) the way an operator would
run it — a canary, three posts verified in a row, an auth check job, the tool health suite, one
asset end to end, a replay of the test thread, queue freshness, audit completeness, cost burn.
Each lands on the timeline as ``verification.passed`` or ``verification.failed`` with a reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sandbox.contract import Job, JobSpec

from ..durations import format_duration, parse_duration
from ..runbooks.model import VerificationCheck
from .state import DrillState
from .workload import tag_text, tool_arguments

__all__ = ["CHECKS", "CHECK_ANSWER_WITHIN_S", "run_checks"]

#: virtual seconds one check may wait for the platform in all (a check of three posts waits for
#: each); one the platform leaves unanswered longer fails with that reason
CHECK_ANSWER_WITHIN_S = 3600.0

_TERMINAL = {"succeeded", "needs_human_confirm", "failed", "dead_letter", "cancelled", "blocked"}
Check = Callable[[DrillState, dict[str, Any]], Awaitable[tuple[bool, str]]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    """Register a verification check under ``name``."""

    def deco(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn

    return deco


def _platforms(e: DrillState) -> list[str]:
    det = e.detection
    world: list[str] = list(e.scenario.world.platforms)
    plats: list[str] = [p for p in (det.platforms if det else ()) if p in world]
    if not plats:
        plats = sorted({str(f.target()) for f in e.scenario.faults if f.target() in world})
    return plats or [world[0]]


async def _wait(e: DrillState, job: Job, limit: float = 900.0) -> Job:
    end = e.now() + limit
    while job.state not in _TERMINAL and e.now() < end:
        await asyncio.sleep(10.0)
        job = await e.platform_client.job(job.id)
    return job


async def _submit(e: DrillState, kind: str, platform: str | None = None, **payload: Any) -> Job:
    client = e.clients[0]
    account = e.accounts.get((client, platform)) if platform else None
    job = await e.platform_client.submit(
        JobSpec(
            kind=kind,
            client_id=client,
            platform=platform,
            account_id=account,  # type: ignore[arg-type]
            payload=payload,
            idempotency_key=f"verify-{e.run_tag}{kind}-{platform}-{e.now():.0f}",
        )
    )
    return await _wait(e, job)


@check("canary")
async def _canary(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    bad = []
    for plat in _platforms(e):
        res = await e.platform_client.canary(e.clients[0], plat)
        ok = bool(res.get("verified", res.get("ok", False)))
        if not ok:
            bad.append(f"{plat}: {res.get('error') or res.get('state') or res}")
    return (not bad, "; ".join(bad) or f"canary verified on {', '.join(_platforms(e))}")


@check("posts_verified")
async def _posts_verified(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    n = int(p.get("count", 3))
    plat = _platforms(e)[0]
    for i in range(n):
        job = await _submit(
            e, "publish", plat, text=f"verification post {i + 1} of {n}{tag_text(e.run_tag)}"
        )
        if job.state != "succeeded":
            return (
                False,
                f"post {i + 1} of {n} on {plat} ended {job.state}: {job.last_error or ''}".strip(),
            )
    return True, f"{n} consecutive posts verified on {plat}"


@check("auth_check")
async def _auth_check(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    for plat in _platforms(e):
        job = await _submit(e, "auth_check", plat)
        if job.state != "succeeded":
            return False, f"auth check on {plat} ended {job.state}: {job.last_error or ''}".strip()
    return True, "auth check passed on " + ", ".join(_platforms(e))


@check("tool_health")
async def _tool_health(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    bad = []
    for tool in ("kb_search", "schedule_lookup", "analytics_fetch"):
        job = await _submit(
            e,
            "tool_call",
            None,
            tool=tool,
            arguments=tool_arguments(tool, e.clients[0], e.scenario.world.platforms[0]),
        )
        if job.state != "succeeded":
            bad.append(f"{tool} ended {job.state}: {job.last_error or ''}".strip())
    return not bad, "; ".join(
        bad
    ) or "tool health suite: kb_search, schedule_lookup and analytics_fetch answered"


@check("asset_end_to_end")
async def _asset(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    job = await _submit(e, "generate_text", None, prompt="a one-line caption for a health check")
    return job.state == "succeeded", f"one asset generated end to end: {job.state}"


@check("thread_replay")
async def _thread_replay(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    plat = e.scenario.world.platforms[0]
    acc = e.accounts[(e.clients[0], plat)]
    before = await e.view.ledger_seq()
    r = await e.admin.post(
        "/inbound",
        json={
            "fake": plat,
            "kind": "comment",
            "account": acc,
            "text": f"{e.scenario.workload.trigger_keyword} (test thread)",
            "author": "@drill_tester",
        },
    )
    item_id = r.json()["ids"][0] if r.status_code == 201 else None
    await asyncio.sleep(600.0)
    replies = [x for x in await e.view.ledger(before) if x["action"] == "reply.created"]
    to_item = [x for x in replies if x.get("in_reply_to") == item_id] if item_id else replies
    ok = len(replies) <= 2
    return (
        ok,
        f"test thread replayed: {len(to_item)} reply to the test comment, {len(replies)} replies in 10m",
    )


@check("queue_freshness")
async def _queue_freshness(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    max_age = parse_duration(p.get("max_age", "5m"))
    now = e.now()
    stale = [
        j
        for j in await e.platform_client.jobs()
        if j.state in ("queued", "scheduled", "retry_wait")
        and (j.spec.run_at or j.created_at) < now - max_age
    ]
    return not stale, f"{len(stale)} jobs waiting longer than {p.get('max_age', '5m')}"


@check("audit_complete")
async def _audit_complete(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    plat = e.scenario.world.platforms[0]
    job = await _submit(e, "publish", plat, text=f"audit completeness probe{tag_text(e.run_tag)}")
    await e.poll()
    outcomes = [x for x in e.detector.audit if x.job_id == job.id and x.phase == "outcome"]
    return (
        job.state == "succeeded" and len(outcomes) >= 1,
        f"probe post {job.state}; {len(outcomes)} outcome audit event(s)",
    )


@check("cost_burn_normal")
async def _cost_burn(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    window = parse_duration(p.get("window", "10m"))
    job = await _submit(e, "generate_text", None, prompt="a short caption")
    now = e.now()
    ledger = await e.view.ledger()
    spent = sum(x.get("cost_usd", 0.0) for x in ledger if x["t"] >= now - window)
    base = sum(x.get("cost_usd", 0.0) for x in ledger if e.t0 <= x["t"] < e.t0 + window)
    # a probe refused by a budget in force is the cap doing its job, not a failed check
    ran = job.state == "succeeded" or (
        job.state == "blocked" and "budget" in (job.last_error or "")
    )
    ok = ran and spent <= max(3 * base, 0.5)
    return (
        ok,
        f"spend in the last {format_s(window)}: ${spent:.4f} (steady state ${base:.4f}); probe {job.state}",
    )


@check("no_new_blocks")
async def _no_new_blocks(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    window = parse_duration(p.get("window", "10m"))
    plat = _platforms(e)[0]
    job = await _submit(e, "publish", plat, text=f"resume slowly probe{tag_text(e.run_tag)}")
    await e.poll()
    now = e.now()
    blocks = [
        x
        for x in e.detector.audit
        if x.t >= now - window and x.error and ("rate_limited" in x.error or "blocked" in x.error)
    ]
    return (
        job.state == "succeeded" and not blocks,
        f"{len(blocks)} new blocks in {format_s(window)}; probe {job.state}",
    )


@check("accounts_correct")
async def _accounts_correct(e: DrillState, p: dict[str, Any]) -> tuple[bool, str]:
    plat = _platforms(e)[0]
    before = await e.view.ledger_seq()
    job = await _submit(e, "publish", plat, text=f"identity probe{tag_text(e.run_tag)}")
    new = [x for x in await e.view.ledger(before) if x["action"] == "post.created"]
    wrong = [x for x in new if x.get("tenant_id") != e.clients[0]]
    return (
        job.state == "succeeded" and not wrong,
        f"probe {job.state}; {len(wrong)} side effect(s) on another tenant",
    )


def format_s(seconds: float) -> str:
    """Seconds as ``10m``."""
    return format_duration(seconds)


async def run_checks(e: DrillState, checks: tuple[VerificationCheck, ...]) -> list[dict[str, Any]]:
    """Run every check in order; record each on the timeline; return their results."""
    out: list[dict[str, Any]] = []
    for c in checks:
        task = asyncio.ensure_future(CHECKS[c.check](e, dict(c.params)))
        done, _ = await asyncio.wait({task}, timeout=CHECK_ANSWER_WITHIN_S)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            ok = False
            why = (
                f"the platform gave no answer within {format_duration(CHECK_ANSWER_WITHIN_S)} "
                "(a call that never returns, or work put off far into the future)"
            )
        elif (err := task.exception()) is not None:  # a check that cannot run fails, with why
            ok, why = False, f"{type(err).__name__}: {err}"
        else:
            ok, why = task.result()
        kind = "verification.passed" if ok else "verification.failed"
        e.ev(kind, "drill", f"{c.check}: {why}", {"check": c.check, "reason": why, "text": c.text})
        out.append({"check": c.check, "passed": ok, "detail": why, "text": c.text})
    return out
