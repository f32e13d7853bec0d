"""Control invariants: modes hold side effects, kill-switch releases lose and double nothing,
engagement never answers the platform's own account.

Modes come from the ``mode`` control changes (most restrictive applicable scope, as the platform
resolves them); approvals from the final jobs (``approved_at``); the jobs a kill switch stopped
from the audit's ``blocked`` outcomes whose error starts with ``kill_switch:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from ..record import SIDE_EFFECT_ACTIONS, DrillRecord
from ..timeline import format_offset
from ._base import Findings, NotApplicable, Params, Violation, invariant
from ._facts import evidence, facts, noun_of

__all__ = [
    "engagement_never_answers_itself",
    "nothing_lost_or_doubled_across_release",
    "side_effects_only_as_the_mode_allows",
]

_RANK = {"auto": 0, "approval_required": 1, "manual_only": 2, "read_only": 3}
#: job states that mean "never came back" after a kill switch was released
_PARKED = frozenset({"blocked", "queued", "running", "awaiting_approval"})


def mode_steps(record: DrillRecord) -> list[tuple[float, dict[tuple[Any, Any], str]]]:
    """``(t, {(client_id, platform): mode})`` after each ``mode`` control change, in order."""
    cur: dict[tuple[Any, Any], str] = {}
    out: list[tuple[float, dict[tuple[Any, Any], str]]] = [(float("-inf"), {})]
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        if c.get("control") != "mode":
            continue
        scope = dict(c.get("scope") or {})
        key = (scope.get("client_id"), scope.get("platform"))
        mode = str(c.get("value"))
        cur = dict(cur)
        if mode == "auto":
            cur.pop(key, None)
        else:
            cur[key] = mode
        out.append((float(c["t"]), cur))
    return out


def mode_at(
    steps: list[tuple[float, dict[tuple[Any, Any], str]]],
    t: float,
    client_id: str | None,
    platform: str | None,
) -> tuple[str, float]:
    """The mode in force at ``t`` for a client on a platform, and since when."""
    since, modes = next((s, m) for s, m in reversed(steps) if s <= t)
    best = "auto"
    for (c, p), m in modes.items():
        if (
            (c is None or c == client_id)
            and (p is None or p == platform)
            and _RANK[m] > _RANK[best]
        ):
            best = m
    return best, since


class ModeParams(Params):
    """Parameters of ``side_effects_only_as_the_mode_allows``."""

    grace_s: float = Field(
        5.0, ge=0, description="requests already in flight may land this long after a mode change"
    )
    actions: tuple[str, ...] = Field(SIDE_EFFECT_ACTIONS, description="ledger actions judged")


@invariant(ModeParams)
def side_effects_only_as_the_mode_allows(
    record: DrillRecord, p: ModeParams
) -> Findings | NotApplicable:
    """No side effect lands under read_only, and under manual_only or approval_required only for an approved job.

    The mode in force is the most restrictive one of every scope covering the side effect's
    client and platform. A job counts as approved when a person approved it before its side
    effect landed (``approved_at`` of the final job). Canary jobs are exempt (they prove the path).
    """
    steps = mode_steps(record)
    if len(steps) == 1:
        return NotApplicable("no mode was changed during the drill")
    f = facts(record)
    jobs = {str(j.get("id")): j for j in record.jobs}
    out: list[Violation] = []
    checked = 0
    for i, e in enumerate(record.ledger):
        if e.get("action") not in p.actions:
            continue
        t = float(e["t"])
        intent = f.intents.get(i)
        client = (intent.client_id if intent else None) or e.get("tenant_id")
        mode, since = mode_at(steps, t, client, e.get("fake"))
        if mode == "auto":
            continue
        checked += 1
        if t - since <= p.grace_s:
            continue
        job = jobs.get(str(intent.job_id)) if intent and intent.job_id else None
        if job is not None and job.get("kind") == "canary":
            continue
        approved = job.get("approved_at") if job else None
        if mode != "read_only" and approved is not None and float(approved) <= t:
            continue
        noun, verb = noun_of(str(e["action"]))
        why = "" if mode == "read_only" else " without an approval"
        phrase = (
            f"{verb} on {record.handle(e.get('account_id'))} under {mode}{why} "
            f"(in force since {format_offset(record.offset(since))})"
        )
        ref = str(e.get("resource_id") or e.get("request_id"))
        out.append(Violation(t, noun, phrase, ref, evidence("ledger.jsonl", i)))
    return Findings(
        checked,
        out,
        f"{checked} side effects landed under a restrictive mode, each one approved "
        "(none under read_only)",
    )


class ReleaseParams(Params):
    """Parameters of ``nothing_lost_or_doubled_across_release``."""

    actions: tuple[str, ...] = Field(SIDE_EFFECT_ACTIONS, description="ledger actions counted")


@invariant(ReleaseParams)
def nothing_lost_or_doubled_across_release(
    record: DrillRecord, p: ReleaseParams
) -> Findings | NotApplicable:
    """Every job a kill switch stopped runs exactly once after the switch is released: none lost, none doubled.

    The stopped jobs are those with an audit outcome ``blocked`` by a kill switch that was
    released before the drill ended. Lost: the job is still parked (blocked, queued, awaiting
    approval) at the end, or it ended without its side effect. Doubled: more than one side
    effect of the job (or of its idempotency key) landed.
    """
    released = [k for k in record.kill_intervals() if k.end is not None]
    if not released:
        return NotApplicable("no kill switch was engaged and released during the drill")
    last_release = max(float(k.end or 0.0) for k in released)
    stopped: dict[str, tuple[float, int]] = {}
    for j, a in enumerate(record.audit):
        if (
            a.get("outcome") == "blocked"
            and str(a.get("error") or "").startswith("kill_switch:")
            and a.get("job_id") is not None
            and float(a["t"]) <= last_release
        ):
            stopped.setdefault(str(a["job_id"]), (float(a["t"]), j))
    if not stopped:
        return NotApplicable("no job met an engaged kill switch")
    f = facts(record)
    keys = {str(w["job_id"]): w.get("idempotency_key") for w in record.workload if w.get("job_id")}
    by_key = {key: job_id for job_id, key in keys.items() if job_id in stopped and key}
    landed: dict[str, list[int]] = {}
    ran: set[str] = set()
    for i, e in enumerate(record.ledger):
        intent = f.intents.get(i)
        if intent is None:
            continue
        job_id = intent.job_id if intent.job_id in stopped else None
        if job_id is None and intent.idempotency_key is not None:
            job_id = by_key.get(intent.idempotency_key)
        if job_id is None:
            continue
        ran.add(job_id)
        if e.get("action") in p.actions:
            landed.setdefault(job_id, []).append(i)
    # a copy of a stopped job resubmitted under a new key posts the same content on its account
    by_content = {
        (record.ledger[i].get("account_id"), record.ledger[i].get("content_hash")): job_id
        for job_id, idx in landed.items()
        for i in idx
        if record.ledger[i].get("content_hash")
    }
    claimed = {i for idx in landed.values() for i in idx}
    for i, e in enumerate(record.ledger):
        job_id = by_content.get((e.get("account_id"), e.get("content_hash")))
        if job_id is not None and i not in claimed and e.get("action") in p.actions:
            landed[job_id] = sorted([*landed[job_id], i])
    jobs = {str(j.get("id")): j for j in record.jobs}
    out: list[Violation] = []
    for job_id, (t, j) in sorted(stopped.items(), key=lambda x: x[1]):
        job = jobs.get(job_id) or {}
        state = str(job.get("state"))
        n = len(landed.get(job_id, []))
        if n > 1:
            first = record.ledger[landed[job_id][1]]
            out.append(
                Violation(
                    float(first["t"]),
                    ("job", "jobs"),
                    "stopped by a kill switch landed more than once after its release",
                    f"{job_id} ({n} side effects)",
                    evidence("ledger.jsonl", landed[job_id][1]),
                )
            )
        elif state in _PARKED or (job_id not in ran and state == "succeeded"):
            out.append(
                Violation(
                    t,
                    ("job", "jobs"),
                    f"stopped by a kill switch never ran after its release (ended {state})",
                    job_id,
                    evidence("audit.jsonl", j),
                )
            )
    return Findings(
        len(stopped),
        out,
        f"all {len(stopped)} jobs stopped by a kill switch ran exactly once after its release",
    )


def _bare(handle: Any) -> str:
    return str(handle or "").lstrip("@").lower()


@invariant()
def engagement_never_answers_itself(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """No reply or DM answers an inbound item authored by the answering account itself.

    The own-message guard: an inbound comment or DM whose author is the account (its handle) is
    an echo of the platform's own voice, never a conversation to join.
    """
    inbound: dict[str, Mapping[str, Any]] = {
        str(c.get("id")): c for c in record.inbound if c.get("id") is not None
    }
    own = {
        k
        for k, c in inbound.items()
        if c.get("author")
        and _bare(c.get("author"))
        == _bare(record.accounts.get(str(c.get("account_id")), {}).get("handle"))
    }
    if not own:
        return NotApplicable("no inbound item was authored by the platform's own account")
    out: list[Violation] = []
    checked = 0
    for i, e in enumerate(record.ledger):
        if e.get("action") not in ("reply.created", "dm.sent"):
            continue
        checked += 1
        target = str(e.get("in_reply_to"))
        if target in own:
            noun, verb = noun_of(str(e["action"]))
            out.append(
                Violation(
                    float(e["t"]),
                    noun,
                    f"{verb} on {record.handle(e.get('account_id'))} answering its own message",
                    f"{e.get('resource_id')} (to {target})",
                    evidence("ledger.jsonl", i),
                )
            )
    return Findings(
        checked,
        out,
        f"{len(own)} inbound items authored by the platform's own accounts; none answered",
    )
