"""Control invariants: modes hold side effects, kill-switch releases lose and double nothing,
engagement never answers the platform's own account.

Modes come from the ``mode`` control changes (most restrictive applicable scope, as the platform
resolves them); approvals from the final jobs (``approved_at``); the jobs a kill switch stopped
from the audit's ``blocked`` outcomes whose error starts with ``kill_switch:``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from pydantic import Field

from ..record import PAID_LEDGER_ACTIONS, SIDE_EFFECT_ACTIONS, DrillRecord, KillInterval
from ..rows import InboundRow, JobRow, Json, JsonObject, json_object, number, text
from ..timeline import format_offset
from ._base import Findings, NoParams, NotApplicable, Params, Violation, invariant
from ._facts import evidence, facts, noun_of

__all__ = [
    "engagement_never_answers_itself",
    "no_reply_while_triggers_off",
    "no_side_effects_while_paused",
    "nothing_lost_or_doubled_across_release",
    "pause_holds_only_its_class",
    "refusals_only_while_a_control_holds",
    "runbook_steps_applied",
    "side_effects_only_as_the_mode_allows",
]

K = TypeVar("K", bound=Hashable)

_RANK = {"auto": 0, "approval_required": 1, "manual_only": 2, "read_only": 3}
#: job states that mean "never came back" after a kill switch was released
_PARKED = frozenset({"blocked", "queued", "running", "awaiting_approval"})


def mode_steps(record: DrillRecord) -> list[tuple[float, dict[tuple[Json, Json], str]]]:
    """``(t, {(client_id, platform): mode})`` after each ``mode`` control change, in order."""
    cur: dict[tuple[Json, Json], str] = {}
    out: list[tuple[float, dict[tuple[Json, Json], str]]] = [(float("-inf"), {})]
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
    steps: list[tuple[float, dict[tuple[Json, Json], str]]],
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
    effect landed (``approved_at`` of the final job). Canary jobs need no approval (they prove
    the path), but read_only refuses them like any other side effect.
    """
    steps = mode_steps(record)
    lanes = _intervals(record, "lane_read_only", lambda sc: (sc.get("platform"), sc.get("lane")))
    if len(steps) == 1 and not lanes:
        return NotApplicable("no mode was changed and no lane held read-only during the drill")
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
        lane = "browser" if e.get("channel") == "web" else "api"
        held = [a for (pf, ln), a, b in lanes if pf == e.get("fake") and ln == lane and a <= t < b]
        if held and _RANK[mode] < _RANK["read_only"]:
            mode, since = "read_only", max(held)
        if mode == "auto":
            continue
        checked += 1
        if t - since <= p.grace_s:
            continue
        job = jobs.get(str(intent.job_id)) if intent and intent.job_id else None
        if job is not None and job.get("kind") == "canary" and mode != "read_only":
            continue  # a canary needs no approval; read_only refuses it like any post
        approved = job.get("approved_at") if job else None
        if (
            mode != "read_only"
            and approved is not None
            and number(approved) <= t
            and _could_await_approval(steps, number(approved), client, e.get("fake"), job)
        ):
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


def _could_await_approval(
    steps: list[tuple[float, dict[tuple[Json, Json], str]]],
    at: float,
    client: str | None,
    platform: str | None,
    job: JobRow | None,
) -> bool:
    """Whether an approval given at ``at`` can have been for a job a mode held: a mode that
    holds for approval covered the job's client and platform then. An approval given while
    none did was for a job no mode held (a console a release had overtaken): the platform
    should have refused it, and it approves nothing. A tool call is also held for a person
    while the tool gateway fails, under any mode."""
    if job is not None and job.get("kind") == "tool_call":
        return True
    mode, _ = mode_at(steps, at, client, platform)
    return mode in ("approval_required", "manual_only")


class ApprovalParams(Params):
    """Parameters of ``approvals_let_work_go``."""

    settle_s: float = Field(
        300.0,
        gt=0,
        description="an approval is judged when the mode that held the job stayed this long "
        "after it (the runner's turn and pacing come first)",
    )


#: control changes that may rightly hold an approved post until after its mode is lifted
_HOLDING_CONTROLS = frozenset({"lane_read_only", "queue_paused", "lane", "pacing"})


@invariant(ApprovalParams)
def approvals_let_work_go(record: DrillRecord, p: ApprovalParams) -> Findings | NotApplicable:
    """A post a person approved while ``approval_required`` or ``manual_only`` held it goes out
    while that mode still holds: the approval is what lets it go. And an approval is the job's
    until it ends: no approved job is found waiting for approval again (a restart that forgot
    it, a retry that cleared it).

    Judged for each approved ``publish`` job whose mode (the strictest of every scope covering
    its client and platform) was one that holds for approval when it was approved, and still
    held ``settle_s`` later: its side effect must be attempted (an attempt in its audit) before
    the mode is lifted. Not judged when something else may hold it meanwhile — a kill switch
    covering it, ``read_only`` at any scope, a read-only lane, a paused queue, a lane routed or
    pacing changed. An approval that does nothing leaves approved work waiting until someone
    lifts the mode — the post goes out late, unreviewed by the change it waited for.
    """
    steps = mode_steps(record)
    out: list[Violation] = []
    # an approval is the job's until it ends: one found waiting for approval again (a restart
    # that forgot it, a retry that cleared it) makes a person approve the same work twice —
    # and until someone does, the work they let go waits
    given = [j for j in record.jobs if j.get("approved_at") is not None]
    for i, j in enumerate(record.jobs):
        if j.get("approved_at") is not None and j.get("state") == "awaiting_approval":
            out.append(
                Violation(
                    number(j.get("updated_at"), record.end_t),
                    ("job", "jobs"),
                    f"approved at {format_offset(record.offset(number(j.get('approved_at'))))} "
                    "was held for approval again: the approval was lost",
                    str(j.get("id")),
                    f"evidence/jobs.jsonl#L{i + 1}",
                )
            )
    approved = [j for j in given if j.get("kind") == "publish" and j.get("platform")]
    if not approved and not out:
        return NotApplicable("no post was approved by a person")
    kills = record.kill_intervals()
    others = sorted(
        float(c["t"]) for c in record.control_changes if c.get("control") in _HOLDING_CONTROLS
    )
    attempts: dict[str, list[float]] = {}
    for a in record.audit:
        if a.get("phase") == "attempt" and a.get("job_id"):
            attempts.setdefault(str(a["job_id"]), []).append(float(a.get("t") or 0.0))
    checked = len(out)
    for i, j in enumerate(record.jobs):
        if j not in approved:
            continue
        at = number(j.get("approved_at"))
        client, platform = j.get("client_id"), j.get("platform")
        client = None if client is None else str(client)
        platform = None if platform is None else str(platform)
        mode, _ = mode_at(steps, at, client, platform)
        if mode not in ("approval_required", "manual_only"):
            continue
        # when the mode stops holding for approval (lifted, or made stricter: read_only)
        lifted = next(
            (
                s
                for s, _m in steps
                if s > at and mode_at(steps, s, client, platform)[0] not in _APPROVAL_MODES
            ),
            record.end_t,
        )
        if lifted - at < p.settle_s:
            continue
        if any(
            mode_at(steps, s, client, platform)[0] == "read_only"
            for s, _m in steps
            if at < s <= lifted
        ):
            continue
        if any(at < t < lifted for t in others):
            continue
        if any(
            k.start < lifted and (k.end is None or k.end > at)
            and (k.scope.get("client_id") in (None, client))
            and (k.scope.get("platform") in (None, platform))
            for k in kills
        ):  # fmt: skip
            continue
        checked += 1
        if any(at <= t < lifted for t in attempts.get(str(j.get("id")), ())):
            continue
        end = (
            f"until its mode was lifted at {format_offset(record.offset(lifted))}"
            if lifted < record.end_t
            else "to the drill's end"
        )
        out.append(
            Violation(
                min(lifted, record.end_t),
                ("post", "posts"),
                f"approved at {format_offset(record.offset(at))} under {mode} waited {end} "
                "with no attempt: the approval let nothing go",
                str(j.get("id")),
                f"evidence/jobs.jsonl#L{i + 1}",
            )
        )
    if checked == 0:
        return NotApplicable(
            "no post was approved while a mode held it that stayed long enough to judge, with "
            "nothing else holding it"
        )
    return Findings(
        checked,
        out,
        f"each of {checked} approved posts was attempted while its mode still held, and no "
        f"approved job of {len(given)} was held for approval again",
    )


#: the modes under which a person's approval lets a job go
_APPROVAL_MODES = frozenset({"approval_required", "manual_only"})


@invariant(ModeParams)
def side_effects_through_the_routed_lane(
    record: DrillRecord, p: ModeParams
) -> Findings | NotApplicable:
    """Each side effect on a social platform goes through the lane the platform is routed to.

    ``set_lane`` routes a platform's side effects to its ``api`` lane, its ``browser`` lane or
    ``hybrid`` (the browser, else the API). A platform routed to the browser lane makes no side
    effect through the API — not even when no browser lane is there to take them: then they
    wait, refused as ``lane_unavailable`` (an operator routes to the browser because the API
    path is the one in trouble: a revoked app, an API that posts wrongly). One routed to the API
    makes none through a browser. The ledger's ``channel`` says which lane made each (``web``
    the browser, ``api`` the API); requests in flight at a change may land ``grace_s`` after it.
    """
    start = json_object(record.controls_at_start.get("lanes"))
    steps: dict[str, list[tuple[float, str]]] = {
        str(pf): [(float("-inf"), str(v))] for pf, v in start.items()
    }
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        if c.get("control") == "lane":
            pf = str(dict(c.get("scope") or {}).get("platform"))
            steps.setdefault(pf, [(float("-inf"), "api")]).append(
                (float(c["t"]), str(c.get("value")))
            )
    if not any(v != "api" for st in steps.values() for _, v in st):
        return NotApplicable("no platform was routed away from its API lane during the drill")
    out: list[Violation] = []
    checked = 0
    for i, e in enumerate(record.ledger):
        pf = str(e.get("fake"))
        if e.get("action") not in p.actions or pf not in steps:
            continue
        t = float(e["t"])
        since, route = next(
            ((s, v) for s, v in reversed(steps[pf]) if s <= t), (float("-inf"), "api")
        )
        checked += 1
        if route == "hybrid" or t - since <= p.grace_s:
            continue
        lane = "browser" if e.get("channel") == "web" else "api"
        if lane == route:
            continue
        noun, verb = noun_of(str(e["action"]))
        phrase = (
            f"{verb} on {record.handle(e.get('account_id'))} through the {lane} lane while "
            f"{pf} was routed to its {route} lane (since {format_offset(record.offset(since))})"
        )
        ref = str(e.get("resource_id") or e.get("request_id"))
        out.append(Violation(t, noun, phrase, ref, evidence("ledger.jsonl", i)))
    return Findings(
        checked,
        out,
        f"all {checked} side effects on a routed platform went through the lane it was routed to",
    )


class ReleaseParams(Params):
    """Parameters of ``nothing_lost_or_doubled_across_release``."""

    actions: tuple[str, ...] = Field(SIDE_EFFECT_ACTIONS, description="ledger actions counted")
    resume_within_s: float = Field(
        120.0,
        gt=0,
        description=(
            "the work a release frees starts again within this long (the first of its stopped "
            "jobs), unless another kill switch still covers it"
        ),
    )


@invariant(ReleaseParams)
def nothing_lost_or_doubled_across_release(
    record: DrillRecord, p: ReleaseParams
) -> Findings | NotApplicable:
    """Every job a kill switch stopped runs exactly once after the switch is released: none lost, none doubled.

    The stopped jobs are those with an audit outcome ``blocked`` by a kill switch that was
    released before the drill ended. Lost: the job is still parked (blocked, queued, awaiting
    approval) at the end, or it ended without its side effect, or it failed for good (failed,
    dead-lettered) without one attempt after its last stop — it gave up while parked. Doubled: more than one side
    effect of the job (or of its idempotency key) landed. Late: a release after which none of
    the jobs it stopped started again (any audit event of the job) within ``resume_within_s``,
    leaving out the jobs another switch still engaged also covers — a runner that re-queues
    parked work only when some other control changes, or only once every switch is off,
    leaves it waiting for that.
    """
    intervals = record.kill_intervals()
    released = [k for k in intervals if k.end is not None]
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
    # — unless its audit says it answers another inbound item (two DMs of one fan, each
    # answered with the same words, are two answers, not one answer twice)
    def answers(i: int) -> str | None:
        for k in f.claims.get(i, ()):
            inbound = (record.audit[k].get("detail") or {}).get("inbound_id")
            if inbound is not None:
                return str(inbound)
        return None

    by_content = {
        (record.ledger[i].get("account_id"), record.ledger[i].get("content_hash")): job_id
        for job_id, idx in landed.items()
        for i in idx
        if record.ledger[i].get("content_hash")
    }
    claimed = {i for idx in landed.values() for i in idx}
    for i, e in enumerate(record.ledger):
        job_id = by_content.get((e.get("account_id"), e.get("content_hash")))
        if job_id is None or i in claimed or e.get("action") not in p.actions:
            continue
        theirs, mine = answers(i), {answers(k) for k in landed[job_id]}
        if theirs is not None and theirs not in mine:
            continue
        landed[job_id] = sorted([*landed[job_id], i])
    jobs = {str(j.get("id")): j for j in record.jobs}
    # a stopped job that failed for good without one attempt after its last stop gave up while
    # parked: the release had nothing left to resume
    last_stop: dict[str, float] = {}
    for a in record.audit:
        if (
            a.get("outcome") == "blocked"
            and str(a.get("error") or "").startswith("kill_switch:")
            and str(a.get("job_id")) in stopped
        ):
            last_stop[str(a["job_id"])] = float(a["t"])
    tried_after = {
        str(a.get("job_id"))
        for a in record.audit
        if a.get("phase") == "attempt"
        and str(a.get("job_id")) in last_stop
        and float(a["t"]) >= last_stop[str(a.get("job_id"))]
    }
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
        elif (
            state in _PARKED
            or (job_id not in ran and state == "succeeded")
            or (state in ("failed", "dead_letter") and job_id not in tried_after)
        ):
            out.append(
                Violation(
                    t,
                    ("job", "jobs"),
                    f"stopped by a kill switch never ran after its release (ended {state})",
                    job_id,
                    evidence("audit.jsonl", j),
                )
            )
    out += _late_resumes(record, intervals, p.resume_within_s)
    return Findings(
        len(stopped),
        out,
        f"all {len(stopped)} jobs stopped by a kill switch ran exactly once after its release, "
        f"each release's work starting again within {p.resume_within_s:g}s",
    )


def _late_resumes(
    record: DrillRecord, intervals: list[KillInterval], within_s: float
) -> list[Violation]:
    """Releases whose stopped work did not start again within ``within_s`` (the work another
    switch, still engaged, also covers may wait for that one)."""
    events: dict[str, list[tuple[float, bool]]] = {}
    #: job → (client, platform, action type, account) of its side effect, from its audit
    whose: dict[str, tuple[str | None, str | None, str | None, str | None]] = {}
    for a in record.audit:
        if a.get("job_id") is not None:
            blocked = a.get("outcome") == "blocked" and str(a.get("error") or "").startswith(
                "kill_switch:"
            )
            events.setdefault(str(a["job_id"]), []).append((float(a["t"]), blocked))
            if blocked:
                whose[str(a["job_id"])] = (
                    text(a.get("client_id")),
                    text(a.get("platform")),
                    _KILL_ACTION_OF_AUDIT.get(str(a.get("action"))),
                    text(a.get("account_id")),
                )
    out: list[Violation] = []
    for k in intervals:
        if k.end is None:
            continue
        end = float(k.end)
        others = [
            o for o in intervals if o is not k and o.start <= end and (o.end is None or o.end > end)
        ]
        firsts: list[float] = []
        for job_id, evs in events.items():
            if not any(b and k.start <= t <= end for t, b in evs):
                continue
            client, platform, action, account = whose.get(job_id, (None, None, None, None))
            if any(
                o.covers(
                    end, client_id=client, platform=platform, action=action, account_id=account
                )
                for o in others
            ):
                continue  # another switch, still engaged, holds it too: it may wait for that one
            later = [t for t, b in evs if t >= end and not (b and t <= end)]
            if later:
                firsts.append(min(later))
        if firsts and min(firsts) - end > within_s:
            scope = ", ".join(f"{n}={v}" for n, v in sorted(k.scope.items())) or "global"
            out.append(
                Violation(
                    min(firsts),
                    ("release", "releases"),
                    f"left the work it freed waiting more than {within_s:g}s",
                    f"kill switch ({scope}) released at {format_offset(record.offset(end))}: "
                    f"the first of {len(firsts)} stopped jobs started again at "
                    f"{format_offset(record.offset(min(firsts)))}",
                    "evidence/controls.jsonl",
                )
            )
    return out


#: the action type of an audited side effect, as a kill switch's ``action`` scope names it
_KILL_ACTION_OF_AUDIT = {
    "post.create": "publish",
    "post.delete": "publish",
    "reply.create": "reply",
    "dm.send": "dm",
    "like.create": "like",
}


def _intervals(
    record: DrillRecord, control: str, key: Callable[[JsonObject], K]
) -> list[tuple[K, float, float]]:
    """``(key(scope), on, off)`` of a boolean control (``off`` = end of drill when never off)."""
    on: dict[K, float] = {}
    out: list[tuple[K, float, float]] = []
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        if c.get("control") != control:
            continue
        k = key(dict(c.get("scope") or {}))
        if bool(c.get("value")):
            on.setdefault(k, float(c["t"]))
        elif k in on:
            out.append((k, on.pop(k), float(c["t"])))
    out += [(k, t, float("inf")) for k, t in on.items()]
    return out


class TriggerParams(Params):
    """Parameters of ``no_reply_while_triggers_off``."""

    grace_s: float = Field(
        5.0, ge=0, description="replies already in flight may land this long after the change"
    )


@invariant(TriggerParams)
def no_reply_while_triggers_off(record: DrillRecord, p: TriggerParams) -> Findings | NotApplicable:
    """No reply or DM lands for a client whose keyword triggers are locked, or from a disabled blueprint.

    A blueprint is ``bp-<client>-<platform>`` (the drill's blueprints, one per client and
    platform); a lock without a client locks every client's triggers.
    """
    off: list[tuple[str, str | None, str | None, float, float]] = [
        (f"triggers of {k or 'every client'}", k, None, a, b)
        for k, a, b in _intervals(record, "trigger_lock", lambda sc: text(sc.get("client_id")))
    ]
    # blueprint_enabled is true when *enabled*: its off intervals run from false to true
    disabled: dict[str, float] = {}
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        if c.get("control") != "blueprint_enabled":
            continue
        k = str((c.get("scope") or {}).get("blueprint_id"))
        if not c.get("value"):
            disabled.setdefault(k, float(c["t"]))
        elif k in disabled:
            off.append((f"blueprint {k}", None, k, disabled.pop(k), float(c["t"])))
    off += [(f"blueprint {k}", None, k, t, float("inf")) for k, t in disabled.items()]
    out, retired = _shipped_disabled(record)
    if not off and not retired:
        return NotApplicable("no trigger was locked and no blueprint disabled during the drill")
    items = {str(i.get("id")): i for i in record.inbound}
    checked = 0
    for i, e in enumerate(record.ledger):
        if e.get("action") not in ("reply.created", "dm.sent"):
            continue
        checked += 1
        t = float(e["t"])
        tenant = record.accounts.get(str(e.get("account_id")), {}).get("tenant_id") or e.get(
            "tenant_id"
        )
        item = items.get(str(e.get("in_reply_to")))
        bp = _answered_only_by(record.blueprints, retired, item, tenant, str(e.get("fake")))
        if bp is not None and not _enabled_before(record, bp, t):
            noun, verb = noun_of(str(e["action"]))
            out.append(
                Violation(
                    t,
                    noun,
                    f"{verb} on {record.handle(e.get('account_id'))} to "
                    f"{text(item.get('text') if item else '')!r}: only blueprint {bp} answers "
                    "it, and the settings ship it disabled (no operator enabled it)",
                    str(e.get("resource_id")),
                    evidence("ledger.jsonl", i),
                )
            )
            continue
        for what, client, blueprint, a, b in off:
            if not a + p.grace_s < t < b:
                continue
            if client is not None and client != tenant:
                continue
            if blueprint is not None and blueprint != f"bp-{tenant}-{e.get('fake')}":
                continue
            noun, verb = noun_of(str(e["action"]))
            out.append(
                Violation(
                    t,
                    noun,
                    f"{verb} on {record.handle(e.get('account_id'))} while the {what} was off",
                    str(e.get("resource_id")),
                    evidence("ledger.jsonl", i),
                )
            )
            break
    return Findings(
        checked,
        out,
        f"{checked} replies/DMs checked; none while its triggers or blueprint were off",
    )


def _shipped_disabled(record: DrillRecord) -> tuple[list[Violation], list[JsonObject]]:
    """The blueprints the drill's settings ship disabled, and a violation for each one the
    platform's controls call enabled when the drill starts (it would answer from the start)."""
    retired = [b for b in record.blueprints if b.get("enabled") is False]
    said = json_object(record.controls_at_start.get("blueprints"))
    out = [
        Violation(
            record.start_t,
            ("blueprint", "blueprints"),
            f"the controls call blueprint {b.get('id')} enabled at the start; the settings "
            "ship it disabled",
            str(b.get("id")),
            "evidence/controls-state.json",
        )
        for b in retired
        if said.get(str(b.get("id"))) is True
    ]
    return out, retired


def _answered_only_by(
    record_blueprints: tuple[JsonObject, ...],
    retired: list[JsonObject],
    item: InboundRow | None,
    tenant: object,
    fake: str,
) -> str | None:
    """The disabled blueprint that is the only one to answer ``item`` (a comment carrying its
    keyword and no keyword of the client's other blueprints), if any."""
    if item is None or not retired:
        return None
    said = str(item.get("text") or "").lower()
    others = [
        str(k).lower()
        for b in record_blueprints
        if b.get("enabled") is not False
        and b.get("client_id") == tenant
        and b.get("platform") == fake
        for k in _keywords(b)
    ]
    if any(k in said for k in others):
        return None
    for b in retired:
        if b.get("client_id") != tenant or b.get("platform") != fake:
            continue
        if any(k.lower() in said for k in _keywords(b)):
            return str(b.get("id"))
    return None


def _keywords(blueprint: JsonObject) -> list[str]:
    got = blueprint.get("keywords")
    return [str(k) for k in got] if isinstance(got, list | tuple) else []


def _enabled_before(record: DrillRecord, blueprint: str, t: float) -> bool:
    """Whether an operator turned ``blueprint`` on before ``t`` (and left it on)."""
    on = False
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        if float(c.get("t", 0.0)) >= t:
            break
        if c.get("control") == "blueprint_enabled" and (
            (c.get("scope") or {}).get("blueprint_id") == blueprint
        ):
            on = bool(c.get("value"))
    return on


def _bare(handle: object) -> str:
    return str(handle or "").lstrip("@").lower()


@invariant()
def engagement_never_answers_itself(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """No reply or DM answers an inbound item authored by the answering account itself.

    The own-message guard: an inbound comment or DM whose author is the account (its handle) is
    an echo of the platform's own voice, never a conversation to join.
    """
    inbound: dict[str, InboundRow] = {
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


@invariant(NoParams)
def runbook_steps_applied(record: DrillRecord, p: NoParams) -> Findings | NotApplicable:
    """Every control the automated Ops Lead asked for was applied: no runbook step failed.

    A step fails when the platform refuses or breaks on a control call (``runbook_step.missed``
    with the error): a kill switch, routing change or pause the runbook needs and cannot get is
    a broken toolbox, even when the incident then ends on its own.
    """
    # a step nobody attempted (a game day's "not done", ``attempted: false``) is graded in the
    # rehearsal, not here: only a step that was tried and failed is a refused control
    steps = [
        e
        for e in record.timeline.of_kind("runbook_step.completed", "runbook_step.missed")
        if e.data.get("attempted", True) is not False
    ]
    if not steps:
        return NotApplicable("no runbook step was taken (observe mode or nothing detected)")
    out = [
        Violation(
            e.t,
            ("runbook step", "runbook steps"),
            f"failed: {str(e.data.get('reason') or e.summary)[:160]}",
            str(e.data.get("id") or e.seq),
            e.evidence or "evidence/timeline.jsonl",
        )
        for e in steps
        if e.kind == "runbook_step.missed"
    ]
    return Findings(len(steps), out, f"all {len(steps)} runbook steps were applied")


class PausedParams(Params):
    """Parameters of ``no_side_effects_while_paused``."""

    grace_s: float = Field(
        5.0, ge=0, description="side effects already in flight may land this long after the pause"
    )


@invariant(PausedParams)
def no_side_effects_while_paused(record: DrillRecord, p: PausedParams) -> Findings | NotApplicable:
    """No side effect of a paused job class lands while its queue is paused, unless its job was already running.

    A queue pause names a job class; which class each job kind belongs to is the contract's
    (docs/contracts.md: publish; reply, DM, like and the engagement poll → engagement; …), kept
    in the judge, not read from the platform — a platform that files DMs under ``publish`` makes
    RB-10's "pause engagement" let its DMs through while reporting every job's class as it
    files it. A side effect's job class is that of its job's kind; one whose job made its
    attempt before the pause began was already in flight and may land (a pause holds new work,
    it does not cut a request on the wire). The providers' paid calls count too (a completion,
    an image, a video render billed): RB-07's, RB-09's and RB-12's "pause generation" is what
    stops the spend.
    """
    from .recovery import JOB_HOLDS

    intervals = _intervals(record, "queue_paused", lambda sc: str(sc.get("job_class")))
    if not intervals:
        return NotApplicable("no job queue was paused during the drill")
    f = facts(record)
    kinds = {str(j.get("id")): str(j.get("kind")) for j in record.jobs}
    attempts: dict[str, list[float]] = {}
    for a in record.audit:
        if a.get("phase") == "attempt" and a.get("job_id") is not None:
            attempts.setdefault(str(a.get("job_id")), []).append(number(a.get("t")))
    for ts in attempts.values():
        ts.sort()
    out: list[Violation] = []
    checked = 0
    for i, e in enumerate(record.ledger):
        if (
            e.get("action") not in SIDE_EFFECT_ACTIONS
            and e.get("action") not in PAID_LEDGER_ACTIONS
        ):
            continue
        intent = f.intents.get(i)
        job_id = intent.job_id if intent else None
        if job_id is None or job_id not in kinds:
            continue
        cls = JOB_HOLDS.get(kinds[job_id], (None, None))[0]
        t = number(e.get("t"))
        covering = [on for k, on, off in intervals if k == cls and on + p.grace_s < t < off]
        if cls is None:
            continue
        checked += 1
        if not covering:
            continue
        since = max(covering)
        began = [a for a in attempts.get(job_id, ()) if a <= t]
        if began and began[-1] < since:
            continue  # its attempt was made before the pause: in flight
        noun, verb = noun_of(str(e["action"]))
        phrase = (
            f"{verb} on {record.handle(e.get('account_id'))} while the {cls} queue was paused "
            f"(since {format_offset(record.offset(since))}; job kind {kinds[job_id]})"
        )
        ref = str(e.get("resource_id") or e.get("request_id"))
        out.append(Violation(t, noun, phrase, ref, evidence("ledger.jsonl", i)))
    return Findings(
        checked,
        out,
        f"{checked} side effects judged; none of a paused job class landed while its queue was "
        "paused",
    )


class PauseScopeParams(Params):
    """Parameters of ``pause_holds_only_its_class``."""

    slack_s: float = Field(
        180.0,
        gt=0,
        description="a poll created this long before the pause of another class ended must "
        "not wait for that end",
    )


@invariant(PauseScopeParams)
def pause_holds_only_its_class(
    record: DrillRecord, p: PauseScopeParams
) -> Findings | NotApplicable:
    """A queue pause holds the class it names and no other: engagement polls created while
    another class's queue is paused (publish, generation, maintenance) run while it lasts.

    RB-02's and RB-12's "pause publishing" or "pause generation" is a narrow step: an operator
    who pauses posts still expects replies and DMs to flow. A poll created at least ``slack_s``
    before the other class's pause ended, with the engagement queue itself not paused and no
    restart from its creation to that end, which finished only once the pause was lifted waited
    on a class it is not in (a runner that stops at the first paused class of its priority
    order, a pause stored under the wrong class). The engagement poll reads only: kill switches
    and modes never hold it.
    """
    intervals = _intervals(record, "queue_paused", lambda sc: str(sc.get("job_class")))
    others = [(k, on, off) for k, on, off in intervals if k != "engagement"]
    if not others:
        return NotApplicable("no queue other than engagement's was paused during the drill")
    own = [(on, off) for k, on, off in intervals if k == "engagement"]
    restarts = [e.t for e in record.timeline.of_kind("platform.restarted")]
    out: list[Violation] = []
    checked = 0
    for i, j in enumerate(record.jobs):
        if j.get("kind") != "engagement_poll":
            continue
        made = number(j.get("created_at"))
        done = (
            number(j.get("updated_at"), float("inf"))
            if j.get("state")
            in (
                "succeeded",
                "failed",
                "dead_letter",
            )
            else float("inf")
        )
        for cls, on, off in others:
            end = min(off, record.end_t)
            if not on <= made <= end - p.slack_s:
                continue
            if any(a < end and b > made for a, b in own) or any(made <= r <= end for r in restarts):
                continue
            checked += 1
            if done >= end:
                out.append(
                    Violation(
                        made,
                        ("engagement poll", "engagement polls"),
                        f"waited for the {cls} queue's pause to end (created "
                        f"{format_offset(record.offset(made))}, the pause lifted at "
                        f"{format_offset(record.offset(end))}; the engagement queue was not paused)",
                        str(j.get("id")),
                        evidence("jobs.jsonl", i),
                    )
                )
            break
    if checked == 0:
        return NotApplicable(
            "no engagement poll was created while only another class's queue was paused"
        )
    return Findings(
        checked,
        out,
        f"{checked} engagement polls created while another class's queue was paused; each ran "
        "while it lasted",
    )


def _lane_read_only_at(record: DrillRecord) -> Callable[[float, str, str], bool]:
    """Whether the ``lane`` of ``platform`` was held read-only at ``t`` (control
    ``lane_read_only``; a change at ``t`` itself may go either way)."""
    changes: dict[tuple[str, str], list[tuple[float, bool]]] = {}
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        if c.get("control") != "lane_read_only":
            continue
        scope = json_object(c.get("scope"))
        key = (str(scope.get("platform")), str(scope.get("lane") or "browser"))
        changes.setdefault(key, []).append((number(c.get("t")), bool(c.get("value"))))

    def held(t: float, platform: str, lane: str) -> bool:
        state = False
        for at, value in changes.get((platform, lane), ()):
            if at < t:
                state = value
            elif at == t:
                state = state or value
        return state

    return held


@invariant()
def refusals_only_while_a_control_holds(
    record: DrillRecord, p: NoParams
) -> Findings | NotApplicable:
    """A side effect refused for a control was refused while that control held it: a refusal
    citing a kill switch came while a switch covering its client, platform and account was
    engaged; one citing a read-only lane, while that lane of its platform was read-only; one
    citing the ``read_only`` mode, while that mode was in force for its client and platform.

    A control whose release does not reach every part of the platform (a lane that keeps its
    own copy of a hold, a cache of the switches, a mode looked up once) goes on refusing work
    nobody holds any more: the posts fail as refused and nothing says why.
    """
    slack = float(record.extra.get("clock_skew_s") or 0.0)
    kills = record.kill_intervals()
    steps = mode_steps(record)
    lane_held = _lane_read_only_at(record)
    out: list[Violation] = []
    checked = 0
    for i, a in enumerate(record.audit):
        if a.get("outcome") != "blocked":
            continue
        error = str(a.get("error") or "")
        t = number(a.get("t"))
        client = None if a.get("client_id") is None else str(a["client_id"])
        platform = None if a.get("platform") is None else str(a["platform"])
        account = None if a.get("account_id") is None else str(a["account_id"])
        if error.startswith("kill_switch:"):
            checked += 1
            held = any(
                k.start - slack <= t
                and (k.end is None or t <= k.end + slack)
                and all(
                    k.scope.get(key) in (None, value)
                    for key, value in (
                        ("client_id", client),
                        ("platform", platform),
                        ("account_id", account),
                    )
                )
                for k in kills
            )
            what = "a kill switch"
        elif error.startswith("lane:read_only") or ".read_only: the " in error:
            checked += 1
            lane = str(a.get("lane") or ("browser" if ".browser." in error else "api"))
            held = platform is not None and any(
                lane_held(t + d, platform, lane) for d in (-slack, 0.0, slack)
            )
            what = f"the read-only {lane} lane"
        elif error.startswith("mode:read_only"):
            checked += 1
            held = any(
                mode_at(steps, t + d, client, platform)[0] == "read_only"
                for d in (-slack, 0.0, slack)
            )
            what = "the read_only mode"
        else:
            continue
        if held:
            continue
        out.append(
            Violation(
                t,
                ("refusal", "refusals"),
                f"of {a.get('action')} for {record.client_name(client) if client else 'the agency'}"
                f" on {platform} cited {what} although none held it then",
                f"{a.get('event_id')} ({error[:80]})",
                evidence("audit.jsonl", i),
            )
        )
    if checked == 0:
        return NotApplicable("no side effect was refused for a control")
    return Findings(
        checked, out, f"each of {checked} refusals for a control came while that control held"
    )
