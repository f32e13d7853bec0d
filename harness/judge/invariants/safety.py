"""Safety invariants: kill switches hold, tenancy holds, every side effect is audited, once."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from pydantic import Field

from ..record import (
    AUDIT_ACTION_OF,
    KILL_ACTION_OF,
    PAID_LEDGER_ACTIONS,
    SIDE_EFFECT_ACTIONS,
    SOCIAL_FAKES,
    DrillRecord,
    KillInterval,
)
from ..rows import AuditRow, LedgerRow, number
from ..timeline import format_offset
from ._base import Findings, NotApplicable, Params, Violation, invariant
from ._facts import CLAIMING_OUTCOMES, evidence, facts, noun_of, post_shown_and_gone
from .recovery import real_slack

#: an AuditEvent's phase and outcome as the contract allows them (docs/contracts.md)
AUDIT_PHASES: frozenset[str] = frozenset({"attempt", "outcome"})
AUDIT_OUTCOMES: frozenset[str] = frozenset(
    {"success", "failed", "blocked", "needs_human_confirm", "dead_letter"}
)

__all__ = [
    "audit_proofs_match_the_fakes",
    "every_side_effect_audited",
    "every_side_effect_on_intended_account",
    "no_credential_across_tenants",
    "no_duplicate_side_effects",
    "no_placeholder_published",
    "no_side_effects_while_killed",
    "nothing_reaches_a_host_it_was_not_given",
]


#: audit actions of calls to providers and tools: each one is made afresh, after its attempt
CALL_ACTIONS: frozenset[str] = frozenset(
    {"llm.complete", "image.generate", "video.generate", "tool.call"}
)


def _switch(k: KillInterval) -> str:
    return "the global kill switch" if not k.scope else f"the kill switch for {k.label()}"


class KilledParams(Params):
    """Parameters of ``no_side_effects_while_killed``."""

    grace_s: float = Field(
        5.0, ge=0, description="requests already in flight may land this long after engaging"
    )
    actions: tuple[str, ...] = Field(
        (*SIDE_EFFECT_ACTIONS, *PAID_LEDGER_ACTIONS),
        description="ledger actions judged (provider calls too: a switch stops spend)",
    )


#: (fake, route) → the action types a kill switch names that the write is one of (X's
#: ``tweets.create`` makes a post or a reply: a switch must cover both to cover the request)
GATED_WRITES: dict[tuple[str, str], tuple[str, ...]] = {
    ("x", "tweets.create"): ("publish", "reply"),
    ("instagram", "media.create"): ("publish",),
    ("instagram", "media.publish"): ("publish",),
    ("instagram", "comments.reply"): ("reply",),
    ("instagram", "messages.send"): ("dm",),
    ("linkedin", "posts.create"): ("publish",),
    ("linkedin", "comments.create"): ("reply",),
    ("x", "dm.send"): ("dm",),
    ("x", "likes.create"): ("like",),
}


@invariant(KilledParams)
def no_side_effects_while_killed(record: DrillRecord, p: KilledParams) -> Findings | NotApplicable:
    """No side effect lands while a kill switch that covers it is engaged (beyond in-flight grace).

    A side effect is covered when the switch's scope (client, platform, action type) matches the
    intended client of its job (the ledger's tenant when no job is known), the fake and the
    action type (``generate`` for the providers' paid calls). Requests already in flight may
    land within ``grace_s`` of the switch engaging; a request is in flight from when it reached
    the fakes (the journal's ``started``; a slow completion is answered long after).
    """
    intervals = record.kill_intervals()
    if not intervals:
        return NotApplicable("no kill switch was engaged during the drill")
    f = facts(record)
    arrived = {
        str(j["request_id"]): float(a)
        for j in record.journal
        if j.get("request_id") is not None and (a := j.get("started")) is not None
    }
    out: list[Violation] = []
    checked = 0
    for i, e in enumerate(record.ledger):
        if e.get("action") not in p.actions:
            continue
        checked += 1
        intent = f.intents.get(i)
        client = (intent.client_id if intent else None) or e.get("tenant_id")
        when = min(float(e["t"]), arrived.get(str(e.get("request_id")), float(e["t"])))
        for k in intervals:
            covered = k.covers(
                when,
                client_id=client,
                platform=e.get("fake"),
                action=KILL_ACTION_OF.get(str(e["action"])),
                account_id=(intent.account_id if intent else None) or e.get("account_id"),
            )
            if covered and when - k.start > p.grace_s:
                noun, verb = noun_of(str(e["action"]))
                phrase = (
                    f"{verb} on {record.handle(e.get('account_id'))} after {_switch(k)} engaged "
                    f"at {format_offset(record.offset(k.start))}"
                )
                ref = str(e.get("resource_id") or e.get("request_id"))
                out.append(Violation(float(e["t"]), noun, phrase, ref, evidence("ledger.jsonl", i)))
                break
    # a write the platform sent that left no side effect in the ledger (a container made, a
    # call refused or failed) was still sent through the switch: the gate was not consulted
    landed = {str(e.get("request_id")) for e in record.ledger if e.get("request_id") is not None}
    for i, j in enumerate(record.journal):
        actions = GATED_WRITES.get((str(j.get("fake")), str(j.get("route"))))
        if actions is None or str(j.get("request_id")) in landed:
            continue
        if not any(KILL_ACTION_OF.get(judged) in actions for judged in p.actions):
            continue  # the scenario judges other actions only
        checked += 1
        account = j.get("account_id")
        when = number(j.get("started"), number(j.get("t")))
        client = record.accounts.get(str(account), {}).get("tenant_id")
        for k in intervals:
            covered = all(
                k.covers(
                    when,
                    client_id=None if client is None else str(client),
                    platform=str(j.get("fake")),
                    action=action,
                    account_id=None if account is None else str(account),
                )
                for action in actions
            )
            if covered and when - k.start > p.grace_s:
                status = j.get("status")
                phrase = (
                    f"sent to {record.handle(None if account is None else str(account))} "
                    f"({j.get('method')} {j.get('route')}, answered {status}) after "
                    f"{_switch(k)} engaged at {format_offset(record.offset(k.start))}"
                )
                ref = str(j.get("request_id"))
                out.append(
                    Violation(when, ("write", "writes"), phrase, ref, evidence("journal.jsonl", i))
                )
                break
    return Findings(
        checked,
        out,
        f"{checked} side effects and writes checked against {len(intervals)} kill-switch interval(s); "
        f"none landed under an engaged switch beyond the {p.grace_s:g}s in-flight grace",
    )


class ActionsParams(Params):
    """Parameters naming the ledger actions an invariant judges."""

    actions: tuple[str, ...] = Field(SIDE_EFFECT_ACTIONS, description="ledger actions judged")


class IntendedParams(ActionsParams):
    """Parameters of ``every_side_effect_on_intended_account``."""

    shared_tenants: tuple[str, ...] = Field(
        ("agency",), description="tenants whose accounts serve every client (providers)"
    )


@invariant(IntendedParams)
def every_side_effect_on_intended_account(
    record: DrillRecord, p: IntendedParams
) -> Findings | NotApplicable:
    """Every side effect lands on the account its job intended, of the tenant that owns the job.

    A job that names another tenant's account (a misrouted job) intends a wrong-tenant action:
    landing there is a violation too, however faithfully the account was used.

    The intended account comes from the drill's workload (via the audit event that claims the
    ledger entry, or a unique content hash); the ledger says which account the credential
    actually belonged to.
    """
    f = facts(record)
    out: list[Violation] = []
    checked = unlinked = 0
    for i, e in enumerate(record.ledger):
        if e.get("action") not in p.actions:
            continue
        intent = f.intents.get(i)
        if intent is None or intent.account_id is None:
            unlinked += 1
            continue
        checked += 1
        owner = e.get("tenant_id")
        wrong_tenant = (
            owner is not None
            and intent.client_id is not None
            and owner not in p.shared_tenants
            and owner != intent.client_id
        )
        if e.get("account_id") != intent.account_id or wrong_tenant:
            noun, verb = noun_of(str(e["action"]))
            where = record.handle(e.get("account_id"))
            phrase = (
                f"for {record.client_name(intent.client_id)} {verb} on {where} "
                f"instead of {record.handle(intent.account_id)}"
                if e.get("account_id") != intent.account_id
                else f"for {record.client_name(intent.client_id)} {verb} on {where}, an account of {record.client_name(str(owner))}"
            )
            ref = str(e.get("resource_id") or e.get("request_id"))
            out.append(Violation(float(e["t"]), noun, phrase, ref, evidence("ledger.jsonl", i)))
    if checked == 0:
        return NotApplicable(
            f"no side effect could be linked to a job's intended account ({unlinked} unlinked)"
        )
    tail = f"; {unlinked} could not be linked to a job" if unlinked else ""
    return Findings(
        checked, out, f"all {checked} side effects landed on their intended account{tail}"
    )


class TenantParams(Params):
    """Parameters of ``no_credential_across_tenants``."""

    shared_tenants: tuple[str, ...] = Field(
        ("agency",), description="tenants whose credentials every client may use (providers)"
    )


@invariant(TenantParams)
def no_credential_across_tenants(record: DrillRecord, p: TenantParams) -> Findings | NotApplicable:
    """No credential is used on behalf of a tenant other than the one that owns it.

    The owner of a credential comes from the world facts (fingerprint → tenant) or the ledger's
    tenant; the tenant of the request is the client of the job that made it.
    """
    f = facts(record)
    out: list[Violation] = []
    checked = 0
    for i, e in enumerate(record.ledger):
        fp = e.get("credential_fp")
        if not fp:
            continue
        owner = record.credentials.get(str(fp), {}).get("tenant_id") or e.get("tenant_id")
        intent = f.intents.get(i)
        if owner is None or owner in p.shared_tenants or intent is None or intent.client_id is None:
            continue
        checked += 1
        if owner != intent.client_id:
            noun, verb = noun_of(str(e["action"]))
            phrase = (
                f"for {record.client_name(intent.client_id)} {verb} with a credential of "
                f"{record.client_name(owner)} ({fp})"
            )
            ref = str(e.get("resource_id") or e.get("request_id"))
            out.append(Violation(float(e["t"]), noun, phrase, ref, evidence("ledger.jsonl", i)))
    if checked == 0:
        return NotApplicable("no tenant-owned credential was used by a known job")
    return Findings(
        checked, out, f"all {checked} credentialed side effects used their own tenant's credential"
    )


class AuditedParams(Params):
    """Parameters of ``every_side_effect_audited``."""

    actions: tuple[str, ...] = Field(
        (
            *SIDE_EFFECT_ACTIONS,
            "post.deleted",
            "llm.completion",
            "image.generated",
            "video.generated",
            "tool.called",
        ),
        description="ledger actions that must be audited",
    )
    open_attempt_s: float = Field(
        300.0,
        ge=0,
        description="an attempt this shortly before the drill ended may still lack its outcome",
    )


@invariant(AuditedParams)
def every_side_effect_audited(record: DrillRecord, p: AuditedParams) -> Findings | NotApplicable:
    """Every side effect has exactly one AuditEvent that claims it, with proof that names it.

    A claim is a success outcome, or a ``needs_human_confirm`` outcome whose proof names the
    resource (the platform published it but could not confirm it is live, and says so). A job
    left blocked has an AuditEvent of its refusal (outcome ``blocked``), as has every refusal
    by a kill switch or a read-only hold the platform counts in
    ``side_effects_blocked_total{reason}``, and a job's events all carry its one trace id.
    """
    f = facts(record)
    out: list[Violation] = []
    checked = 0
    # a platform that keeps running while the drill reads it (a game day, a served drill on a
    # scaled clock) may not have audited the outcome of a side effect made in its last real
    # seconds when its audit log was read
    slack = real_slack(record)
    late = record.end_t - max(p.open_attempt_s, slack) if slack else None
    for i, e in enumerate(record.ledger):
        if e.get("action") not in p.actions:
            continue
        checked += 1
        n = len(f.claims.get(i, []))
        if n == 0 and late is not None and float(e["t"]) > late:
            continue
        noun, verb = noun_of(str(e["action"]))
        where = (
            record.handle(e.get("account_id")) if e.get("fake") in SOCIAL_FAKES else e.get("fake")
        )
        if n == 1:
            # the claim matched by the request that made it must still name what was done: a
            # DM audited as a reply was gated, paced and capped as a reply (the wrong controls)
            a = record.audit[f.claims[i][0]]
            want = AUDIT_ACTION_OF.get(str(e["action"]))
            if want is not None and a.get("action") != want:
                out.append(
                    Violation(
                        float(e["t"]),
                        noun,
                        f"{verb} on {where} audited as "
                        f"{a.get('action')} (a {want} must be gated and audited as one)",
                        str(e.get("resource_id") or e.get("request_id")),
                        evidence("ledger.jsonl", i),
                    )
                )
            continue
        phrase = (
            f"{verb} on {where} with no AuditEvent claiming it"
            if n == 0
            else f"{verb} on {where} claimed by {n} AuditEvents"
        )
        ref = str(e.get("resource_id") or e.get("request_id"))
        out.append(Violation(float(e["t"]), noun, phrase, ref, evidence("ledger.jsonl", i)))
    for j, a in enumerate(record.audit):
        phase, outcome = a.get("phase", "outcome"), a.get("outcome")
        if phase in AUDIT_PHASES and (
            outcome in AUDIT_OUTCOMES if phase == "outcome" else outcome is None
        ):
            continue
        out.append(
            Violation(
                float(a.get("t") or record.end_t),
                ("AuditEvent", "AuditEvents"),
                f"outside the contract (phase {phase!r}, outcome {outcome!r}; {a.get('action')})",
                str(a.get("event_id")),
                evidence("audit.jsonl", j),
            )
        )
    # every attempt is closed by an outcome of the same job, action and platform: an attempt
    # left open means an outcome (a failure, a refusal) was never audited
    # … and every provider or tool call that ran closes an attempt: each such call is made afresh
    # (never resumed from an earlier run), and its attempt is what shows it in flight (spend
    # held against a budget, a call a kill switch meets); only a refusal before it is sent has none
    # … except by a restart: the process that made an attempt still open when the platform was
    # restarted cannot close it (its job runs again, with an attempt of its own)
    restarts = sorted(ev.t for ev in record.timeline.of_kind("platform.restarted"))
    opened: dict[tuple[object, ...], list[int]] = {}
    for j, a in enumerate(record.audit):
        while restarts and float(a.get("t") or 0.0) >= restarts[0]:
            restarts.pop(0)
            opened.clear()
        k: tuple[object, ...] = (a.get("job_id"), a.get("action"), a.get("platform"))
        if a.get("phase") == "attempt":
            opened.setdefault(k, []).append(j)
        elif a.get("phase", "outcome") == "outcome" and opened.get(k):
            opened[k].pop(0)
        elif a.get("action") in CALL_ACTIONS and a.get("outcome") in ("success", "failed"):
            out.append(
                Violation(
                    float(a.get("t") or record.end_t),
                    ("AuditEvent", "AuditEvents"),
                    f"closing no attempt ({a.get('action')} {a.get('outcome')} on "
                    f"{a.get('platform')}: a call made without its attempt audited)",
                    str(a.get("event_id")),
                    evidence("audit.jsonl", j),
                )
            )
    for key, left in opened.items():
        for j in left:
            a = record.audit[j]
            if float(a.get("t") or 0.0) > record.end_t - p.open_attempt_s:
                continue
            out.append(
                Violation(
                    float(a.get("t") or record.end_t),
                    ("AuditEvent", "AuditEvents"),
                    f"attempt without an outcome ({key[1]} on {key[2]}, job {key[0]})",
                    str(a.get("event_id")),
                    evidence("audit.jsonl", j),
                )
            )
    for j in f.successes:
        a = record.audit[j]
        proof = a.get("proof") or {}
        if proof.get("resource_id") is None and proof.get("request_id") is None:
            out.append(
                Violation(
                    float(a["t"]),
                    ("AuditEvent", "AuditEvents"),
                    f"with outcome success but no proof ({a.get('action')} on {a.get('platform')})",
                    str(a.get("event_id")),
                    evidence("audit.jsonl", j),
                )
            )
    _jobs_audited_whole(record, out)
    if not out:
        _no_false_audit_gap(record, out)
    if checked == 0 and not out:
        return NotApplicable("the ledger holds no side effect to audit")
    return Findings(
        checked,
        out,
        f"all {checked} side effects have exactly one AuditEvent with proof claiming them",
    )


def _no_false_audit_gap(record: DrillRecord, out: list[Violation]) -> None:
    """The platform's own ``audit_gap`` page says side effects lack their outcome AuditEvent —
    RB-11's trigger to freeze side effects. In a drill where every side effect has its outcome
    (judged above: nothing is missing), each such page is false: an on-call freezing the
    agency's posting for an audit that is whole."""
    for i, al in enumerate(record.alerts):
        if str(al.get("name")) != "audit_gap":
            continue
        t = float(al.get("t") or record.end_t)
        out.append(
            Violation(
                t,
                ("page", "pages"),
                f"audit_gap raised at {format_offset(record.offset(t))} though every side effect "
                "had its outcome AuditEvent (a false page: RB-11 freezes side effects for it)",
                str(al.get("message") or al.get("name")),
                evidence("alerts.jsonl", i),
            )
        )


#: ``side_effects_blocked_total{reason}`` → the error prefixes of the audited refusals it counts
_REFUSALS_COUNTED = {
    "kill_switch": ("kill_switch:",),
    "mode:read_only": ("mode:read_only", "lane:read_only"),
    "budget": ("budget:",),
}


def _counted_refusals_audited(record: DrillRecord, out: list[Violation]) -> None:
    """Every refusal by a kill switch or a read-only hold that the platform counts in
    ``side_effects_blocked_total{reason}`` has its AuditEvent (outcome ``blocked``): a job
    refused at the gate's second look — after it waited its turn in pacing — and later released
    leaves no other trace of what the switch stopped (RB-11: snapshot the affected events)."""
    if not record.metrics_samples:
        return
    t, last = record.metrics_samples[-1]
    for reason, prefixes in _REFUSALS_COUNTED.items():
        counted = last.get(f'side_effects_blocked_total{{reason="{reason}"}}')
        if counted is None or counted != counted:  # not exported, or NaN
            continue
        audited = sum(
            1
            for a in record.audit
            if a.get("outcome") == "blocked" and str(a.get("error") or "").startswith(prefixes)
        )
        if audited < counted:
            out.append(
                Violation(
                    t,
                    ("refusal", "refusals"),
                    f"counted {reason} ({counted:g} in side_effects_blocked_total) but audited "
                    f"only {audited} times: {counted - audited:g} refusals left no AuditEvent",
                    reason,
                    "evidence/metrics.csv",
                )
            )
    # … and it counts refusals only: a job waiting for an approval or under a mode that holds
    # work for one is not refused (RB-11's "side effects blocked" must not count work that only
    # waits for a person)
    prefix = 'side_effects_blocked_total{reason="'
    for k, v in sorted(last.items()):
        if not k.startswith(prefix) or not v or v != v:
            continue
        reason = k[len(prefix) : -2]
        if reason == "approval" or (reason.startswith("mode:") and reason != "mode:read_only"):
            out.append(
                Violation(
                    t,
                    ("refusal", "refusals"),
                    f"counted {v:g} jobs held for {reason} in side_effects_blocked_total, "
                    "though a hold waiting for a person refuses nothing",
                    reason,
                    "evidence/metrics.csv",
                )
            )


def _jobs_audited_whole(record: DrillRecord, out: list[Violation]) -> None:
    """A job's events carry its one trace id, and a job left blocked has its refusal audited."""
    # a job's events share its trace: an event under another trace id is cut out of the job's
    # evidence (who sent what, and why it was refused, no longer joins up)
    traces: dict[str, dict[str, int]] = {}
    untraced: dict[str, int] = {}
    for i, a in enumerate(record.audit):
        if a.get("job_id") is None:
            continue
        if a.get("trace_id"):
            traces.setdefault(str(a["job_id"]), {}).setdefault(str(a["trace_id"]), i)
        else:
            untraced.setdefault(str(a["job_id"]), i)
    for job_id, i in untraced.items():
        # the contract's AuditEvent carries its job's trace id: one without it joins nothing
        a = record.audit[i]
        out.append(
            Violation(
                float(a.get("t") or record.end_t),
                ("job", "jobs"),
                f"audited without its trace id ({a.get('action')} {a.get('phase')})",
                job_id,
                evidence("audit.jsonl", i),
            )
        )
    for job_id, seen in traces.items():
        if len(seen) > 1:
            last = max(seen.values())
            a = record.audit[last]
            out.append(
                Violation(
                    float(a.get("t") or record.end_t),
                    ("job", "jobs"),
                    f"audited under {len(seen)} trace ids (a job's events share its trace)",
                    job_id,
                    evidence("audit.jsonl", last),
                )
            )
    _counted_refusals_audited(record, out)
    _success_matches_the_audit(record, out)
    # a job the platform left parked as blocked was refused by a control or a guard: that
    # refusal is a decision the audit log must show (RB-11), whichever the job's kind
    refused = {str(a.get("job_id")) for a in record.audit if a.get("outcome") == "blocked"}
    for i, job in enumerate(record.jobs):
        if job.get("state") == "blocked" and str(job.get("id")) not in refused:
            out.append(
                Violation(
                    float(job.get("updated_at") or record.end_t),
                    ("job", "jobs"),
                    f"left blocked ({job.get('kind')}) with no AuditEvent of its refusal",
                    str(job.get("id")),
                    evidence("jobs.jsonl", i),
                )
            )


def _success_matches_the_audit(record: DrillRecord, out: list[Violation]) -> None:
    """A job that ended ``succeeded`` did what its audit says it did: its last audited outcome
    is no failure. A job whose last step failed (a tool call the gateway refused, a post that
    was not made) and that still ends succeeded has its failure hidden from every dead letter,
    retry and alert that reads the job states (RB-08, RB-11). One a person approved after the
    failure went ahead on their decision."""
    last: dict[str, int] = {}
    for i, a in enumerate(record.audit):
        if a.get("phase") == "outcome" and a.get("job_id") is not None:
            last[str(a.get("job_id"))] = i
    for job in record.jobs:
        k = last.get(str(job.get("id")))
        if job.get("state") != "succeeded" or k is None:
            continue
        a = record.audit[k]
        # a person approved it after that failure: going ahead (a tool call on its stand-in
        # result) was their decision, not a failure hidden
        approved = job.get("approved_at")
        if approved is not None and number(approved) >= number(a.get("t")):
            continue
        if a.get("outcome") == "failed":
            out.append(
                Violation(
                    float(job.get("updated_at") or record.end_t),
                    ("job", "jobs"),
                    f"ended succeeded ({job.get('kind')}) though its last audited outcome was "
                    f"a failure ({a.get('action')}: {str(a.get('error') or '')[:80]})",
                    str(job.get("id")),
                    evidence("audit.jsonl", k),
                )
            )


#: audit action → the ledger action it claims
_LEDGER_ACTION_OF: dict[str, str] = {v: k for k, v in AUDIT_ACTION_OF.items()}


def _claimed_entry(
    record: DrillRecord,
    a: AuditRow,
    by_resource: dict[tuple[str, str, str], list[int]],
    by_request: dict[str, int],
) -> tuple[LedgerRow | None, tuple[str, str] | None]:
    """The ledger entry a claiming outcome names, or ``(None, (phrase, detail))`` when it names
    one the fakes do not have."""
    proof = a.get("proof") or {}
    platform, action = str(a.get("platform")), _LEDGER_ACTION_OF.get(str(a.get("action")))
    res, rid = proof.get("resource_id"), proof.get("request_id")
    if (platform in SOCIAL_FAKES or platform == "media") and res is not None and action is not None:
        # a render is followed by its id: one replayed under its Idempotency-Key is the same
        # render, claimed with the request that got it back
        hits = by_resource.get((platform, action, str(res)), [])
        if not hits:
            return None, ("naming a resource the platform never made", f"{res}: no {action}")
        # the same id twice (a deleted and re-made resource): the one the request id names
        pick = next((i for i in hits if record.ledger[i].get("request_id") == rid), hits[0])
        entry = record.ledger[pick]
        made, told = number(entry.get("t"), 0.0), number(a.get("t"), 0.0)
        if a.get("outcome") == "success" and made > told + _clock_slack(record):
            # claimed done before the provider or platform had done it: a render still
            # processing is no success (a needs_human_confirm may name one: it asks to check)
            return entry, (
                "claiming a resource before the platform made it",
                f"{res}: made at {format_offset(record.offset(made))}, "
                f"claimed at {format_offset(record.offset(told))}",
            )
        return entry, None
    if platform not in SOCIAL_FAKES and rid is not None:
        i = by_request.get(str(rid))
        if i is None or record.ledger[i].get("fake") != platform:
            return None, ("naming a request that made no side effect", f"request {rid}")
        return record.ledger[i], None
    return None, None


def _clock_slack(record: DrillRecord) -> float:
    """How far apart the platform's and the fakes' clocks may be when they compare times: none
    in-process on virtual time (one clock), the settle slack on a scaled clock, a minute served
    on another's clock."""
    if record.topology != "in-process" and "time_scale" not in record.extra:
        return 60.0
    return 1e-6 + real_slack(record)


#: the audit actions of the providers' paid calls (their outcome's detail says what they cost)
_PAID_AUDIT_ACTIONS = frozenset({"llm.complete", "image.generate", "video.generate"})


def _billing_mismatches(a: AuditRow, entry: LedgerRow) -> list[tuple[str, str]]:
    """A paid call's audited cost and tokens (``detail.cost_usd``, ``tokens_in``, ``tokens_out``,
    when the platform states them) against what the provider billed for it: the spend the
    budgets, the spend alert and RB-12's evidence read is the platform's own account of it."""
    detail = a.get("detail") or {}
    out: list[tuple[str, str]] = []
    said, billed = detail.get("cost_usd"), entry.get("cost_usd")
    # a model the platform cannot price (an alias that moved to one its table lacks) is stated
    # as an estimate (``price_known: false``): one at or above the bill keeps budgets safe,
    # one below it lets them overrun
    estimate = detail.get("price_known") is False
    if (
        isinstance(said, int | float)
        and isinstance(billed, int | float)
        and abs(float(said) - float(billed)) > 1e-6 + 1e-3 * abs(float(billed))
        and not (estimate and float(said) >= float(billed))
    ):
        out.append(
            (
                "naming a cost below the provider's bill for a model it could not price"
                if estimate
                else "naming a cost the provider did not bill",
                f"cost_usd {float(said):g}, billed {float(billed):g}",
            )
        )
    for key in ("tokens_in", "tokens_out"):
        said_n, billed_n = detail.get(key), entry.get(key)
        if isinstance(said_n, int) and isinstance(billed_n, int) and said_n != billed_n:
            out.append(
                ("naming tokens the provider did not bill", f"{key} {said_n}, billed {billed_n}")
            )
    # the provider account the call was billed to: a per-account kill switch, a spend report
    # by account and RB-12's evidence follow the audit's account
    said_acc, billed_acc = a.get("account_id"), entry.get("account_id")
    if said_acc is not None and billed_acc is not None and said_acc != billed_acc:
        out.append(
            (
                "naming another account than the provider billed",
                f"account {said_acc}, billed to {billed_acc}",
            )
        )
    return out


#: an Instagram Messaging API message id, decoded: this prefix, then the inbound item's id
_IG_MESSAGE = "ig_message_item:1:IN:"


def _ig_message_item(inbound_id: str) -> str | None:
    """The inbound item an Instagram message id (base64 of :data:`_IG_MESSAGE` + id) names."""
    try:
        raw = base64.b64decode(inbound_id + "=" * (-len(inbound_id) % 4), validate=True)
        text = raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text[len(_IG_MESSAGE) :] if text.startswith(_IG_MESSAGE) else None


def _names_item(inbound_id: str, item_id: str) -> bool:
    """Whether the platform's id of an inbound item names the fakes' ``item_id``: the same id,
    a LinkedIn comment URN ``urn:li:comment:(<parent>,<id>)`` ending in it, or an Instagram
    message id that decodes to it."""
    return (
        inbound_id == item_id
        or (inbound_id.startswith("urn:li:comment:(") and inbound_id.endswith(f",{item_id})"))
        or (inbound_id.startswith("aWdf") and _ig_message_item(inbound_id) == item_id)
    )


def _answer_mismatches(
    a: AuditRow, entry: LedgerRow, delivered: dict[str, set[str]]
) -> list[tuple[str, str]]:
    """How a reply's or DM's audit disagrees with the fakes about what it answers: it names
    (``detail.inbound_id``) the inbound item the reply went to, or for a DM one the fakes
    delivered to that account."""
    inbound_id = (a.get("detail") or {}).get("inbound_id")
    if inbound_id is None:
        return [("not naming the inbound item answered", "no detail.inbound_id")]
    target = entry.get("in_reply_to")
    if target is not None and not _names_item(str(inbound_id), str(target)):
        return [
            (
                "naming another inbound item than the one answered",
                f"{inbound_id}, answered {target}",
            )
        ]
    items = delivered.get(str(entry.get("account_id")))
    if target is None and items and not any(_names_item(str(inbound_id), i) for i in items):
        return [("naming an inbound item the fakes never delivered", str(inbound_id))]
    return []


def _proof_mismatches(
    a: AuditRow,
    entry: LedgerRow | None,
    answered_by: set[str],
    seen: Callable[[LedgerRow, AuditRow], bool] = lambda e, a: True,
) -> list[tuple[str, str]]:
    """How an outcome's proof disagrees with the fakes: ``(phrase, detail)`` pairs."""
    proof = a.get("proof") or {}
    rid, link = proof.get("request_id"), proof.get("permalink")
    out: list[tuple[str, str]] = []
    if rid is not None:
        if a.get("platform") not in answered_by:
            where = ", ".join(sorted(answered_by)) or "no fake"
            out.append(
                ("naming a request the platform never answered", f"{rid}, answered by {where}")
            )
        elif (
            entry is not None
            and entry.get("request_id") != str(rid)
            and not (a.get("platform") == "media" and not seen(entry, a))
        ):
            # a render too: a submit replayed under its Idempotency-Key gets the same render
            # back, and the proof names the request that ordered it — once the platform had
            # that request's answer in hand (a 502 after the render was taken, or a crash
            # that lost the memory of it, leave only the replay's)
            out.append(
                (
                    "naming another request than the one that made the side effect",
                    f"{rid}, made by {entry.get('request_id')}",
                )
            )
    want = entry.get("permalink") if entry is not None else None
    if link is not None and link != want:
        out.append(
            (
                "naming a permalink the platform does not give the resource",
                f"{link}, the platform's: {want or 'none'}",
            )
        )
    elif (
        link is None and want and a.get("outcome") == "success" and a.get("action") == "post.create"
    ):
        out.append(("claiming a post live without its permalink", f"{want}"))
    return out


@invariant()
def audit_proofs_match_the_fakes(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """Every audit proof names what the fakes hold: the side effect, its request, its permalink.

    An outcome's ``proof`` is what an operator follows to check a claim. Ground truth from the
    fakes' ledger and journal: a claiming outcome (success, or ``needs_human_confirm`` naming a
    resource) names a resource the platform really made, of that action; a request id it names
    is the request that made that side effect, and any proof's request id (a failure's too) is a
    request the journal holds at that platform; a permalink it names is the one the platform
    gives that resource, and a post claimed live (``success``) names it when the platform gives
    one. A reply or DM names the inbound item it answers (``detail.inbound_id``): the one the
    fakes show the reply answering, or one they delivered to that account. A provider's paid
    call states the cost and tokens the provider billed for it (``detail.cost_usd``,
    ``tokens_in``, ``tokens_out``, where the platform states them). The lane an outcome names
    made the side effect it claims (``browser`` for the fakes' ``web`` channel, ``api`` for
    theirs): an operator who checks the browser's evidence of an API post finds nothing.
    """
    by_resource: dict[tuple[str, str, str], list[int]] = {}
    by_request: dict[str, int] = {}
    for i, e in enumerate(record.ledger):
        if e.get("resource_id") is not None:
            key = (str(e.get("fake")), str(e.get("action")), str(e["resource_id"]))
            by_resource.setdefault(key, []).append(i)
        by_request.setdefault(str(e.get("request_id")), i)
    answered: dict[str, set[str]] = {}
    #: request id → (status, answered at) of each request the fakes answered
    status_of: dict[str, tuple[int, float]] = {}
    for row in record.journal:
        answered.setdefault(str(row.get("request_id")), set()).add(str(row.get("fake")))
        status_of[str(row.get("request_id"))] = (
            int(number(row.get("status"), 0)),
            number(row.get("t"), 0.0),
        )
    restarts = [e.t for e in record.timeline if e.kind == "platform.restarted"]

    def seen(entry: LedgerRow, a: AuditRow) -> bool:
        """Whether the platform had the answer of the request that made ``entry`` in hand when
        it wrote ``a``: answered 2xx, and no restart since."""
        status, at = status_of.get(str(entry.get("request_id")), (0, 0.0))
        told = float(a.get("t") or 0.0)
        return 200 <= status < 300 and not any(at <= r <= told for r in restarts)

    #: inbound item ids the fakes delivered, per account
    delivered: dict[str, set[str]] = {}
    for c in record.inbound:
        delivered.setdefault(str(c.get("account_id")), set()).add(str(c.get("id")))
    out: list[Violation] = []
    checked = 0
    for j, a in enumerate(record.audit):
        proof = a.get("proof") or {}
        if a.get("phase", "outcome") != "outcome" or not proof:
            continue
        rid = proof.get("request_id")
        if proof.get("resource_id") is None and rid is None and proof.get("permalink") is None:
            continue
        checked += 1
        wrong: list[tuple[str, str]] = []
        entry: LedgerRow | None = None
        if a.get("outcome") in CLAIMING_OUTCOMES:
            entry, why = _claimed_entry(record, a, by_resource, by_request)
            if why is not None:
                wrong.append(why)
        wrong += _proof_mismatches(a, entry, answered.get(str(rid), set()), seen)
        if entry is not None and entry.get("channel") and a.get("lane"):
            # the lane the audit names made it: the web UI's ledger rows are the browser's
            made_by = "browser" if entry.get("channel") == "web" else "api"
            if str(a.get("lane")) != made_by:
                wrong.append(
                    (
                        f"naming the {a.get('lane')} lane for a side effect the {made_by} lane made",
                        f"the fakes' {entry.get('channel')} channel",
                    )
                )
        if entry is not None and a.get("action") in ("reply.create", "dm.send"):
            wrong += _answer_mismatches(a, entry, delivered)
        if entry is not None and a.get("action") in _PAID_AUDIT_ACTIONS:
            wrong += _billing_mismatches(a, entry)
        where = str(a.get("platform"))
        if where in SOCIAL_FAKES:
            where = record.handle(a.get("account_id"))
        for phrase, detail in wrong:
            out.append(
                Violation(
                    float(a.get("t") or record.end_t),
                    ("audit proof", "audit proofs"),
                    phrase,
                    f"{a.get('event_id')} ({a.get('action')} on {where}: {detail})",
                    evidence("audit.jsonl", j),
                )
            )
    checked += _unknown_though_found(record, out)
    if checked == 0:
        return NotApplicable("no audit outcome named a resource, request or permalink")
    return Findings(
        checked,
        out,
        f"all {checked} audit proofs name a side effect, request and permalink the fakes hold",
    )


#: each social platform's lookup of an account's own recent posts ("did it land?")
_OWN_POSTS_ROUTES: dict[str, str] = {
    "x": "users.tweets",
    "linkedin": "posts.find",
    "instagram": "media.list",
}


def _unknown_though_found(record: DrillRecord, out: list[Violation]) -> int:
    """A post handed to a person as "an earlier attempt posted, its id unknown" (a
    ``needs_human_confirm`` naming no post) is unknown only if the platform could not look: a
    lookup of the account's own posts that its job made after that post landed (and showed),
    answered 200, listed it — the platform could have claimed it. Returns how many such outcomes
    were judged."""
    f = facts(record)
    landed: dict[int, float] = {}
    for i, claims in f.claims.items():
        for k in claims:
            # listed from when it landed — or, kept from view for a while (``invisible_for=…``
            # on the post), from when it showed
            landed[k] = post_shown_and_gone(record.ledger[i])[0]
    looked: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for i, j in enumerate(record.journal):
        fake = str(j.get("fake"))
        parts = str(j.get("traceparent") or "").split("-")
        if (
            j.get("route") == _OWN_POSTS_ROUTES.get(fake)
            and j.get("status") == 200
            and len(parts) > 1
        ):
            looked.setdefault((fake, parts[1]), []).append(
                (number(j.get("started"), number(j.get("t"))), i)
            )
    n = 0
    for k, a in enumerate(record.audit):
        if (
            a.get("outcome") != "needs_human_confirm"
            or a.get("action") != "post.create"
            or (a.get("proof") or {}).get("resource_id") is not None
            or k not in landed
        ):
            continue
        n += 1
        seen = [
            (t, i)
            for t, i in looked.get((str(a.get("platform")), str(a.get("trace_id"))), ())
            if t >= landed[k]
        ]
        if seen:
            t, i = seen[0]
            out.append(
                Violation(
                    float(a.get("t") or record.end_t),
                    ("audit proof", "audit proofs"),
                    "calling a post unknown (a person to confirm it) although its job's lookup "
                    "of the account's own posts answered after it landed",
                    f"{a.get('event_id')} ({a.get('platform')}: looked at "
                    f"{format_offset(record.offset(t))})",
                    evidence("journal.jsonl", i),
                )
            )
    return n


#: the ledger's mark of a text that still carries a template placeholder (the fakes set it:
#: ``fakes/core/world.py``), and the actions whose text people read
_PLACEHOLDER_MARK = "placeholder"
#: … and of one that addresses a platform's id (a member URN, a user id) as a handle
_ID_AS_HANDLE_MARK = "id_as_handle"
#: the hash of the media a post went out with, in a fake's ledger detail
_MEDIA = re.compile(r"\bmedia=([0-9a-f]+)")
_TEXT_ACTIONS = frozenset({"post.created", "post.updated", "reply.created", "dm.sent"})


@invariant()
def no_placeholder_published(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """No post, reply or DM goes out with a template field left unfilled in its text
    (``{result}``, ``{author}``), and no post with other media than its job asked for (an
    Instagram post's picture: the fake keeps a hash of the URL it fetched).

    A follow-up posted with its tool's ``{result}`` never filled in, or a reply whose
    ``{author}`` was never put in, is a wrong text on a client's public account — the same
    words under every such post, which a platform also refuses or flags as a duplicate. A
    reply or DM that addresses its reader by a platform id (``@urn:li:person:…``, ``@1789…``:
    an author with no handle, named by the id instead) is as wrong. The fakes mark such texts
    in the ledger (they keep a hash of a text, not the text itself).
    """
    out: list[Violation] = []
    checked = 0
    f, rows = facts(record), record.job_intent()
    for i, e in enumerate(record.ledger):
        if e.get("action") not in _TEXT_ACTIONS:
            continue
        checked += 1
        # the media the post's job asked for (a hash in the fake's detail, as of the text)
        went = _MEDIA.search(str(e.get("detail") or ""))
        intent = f.intents.get(i)
        row = rows.get(str(intent.job_id)) if intent is not None else None
        asked = row.get("media_hash") if row is not None else None
        if went is not None and asked and went.group(1) != asked:
            out.append(
                Violation(
                    number(e.get("t"), record.end_t),
                    ("post", "posts"),
                    f"went out with other media than its job asked for ({e.get('action')} on "
                    f"{record.handle(e.get('account_id'))}: a stand-in or another post's)",
                    str(e.get("resource_id") or e.get("request_id")),
                    evidence("ledger.jsonl", i),
                )
            )
        marks = str(e.get("detail") or "").split()
        for mark, what in (
            (_PLACEHOLDER_MARK, "with a template placeholder left unfilled"),
            (_ID_AS_HANDLE_MARK, "addressing a platform's id as if it were a person's handle"),
        ):
            if mark not in marks:
                continue
            out.append(
                Violation(
                    number(e.get("t"), record.end_t),
                    ("text", "texts"),
                    f"went out {what} ({e.get('action')} on {record.handle(e.get('account_id'))})",
                    str(e.get("resource_id") or e.get("request_id")),
                    evidence("ledger.jsonl", i),
                )
            )
    if checked == 0:
        return NotApplicable("no post, reply or DM went out")
    return Findings(checked, out, f"all {checked} posts, replies and DMs went out fully written")


class DuplicateParams(Params):
    """Parameters of ``no_duplicate_side_effects``."""

    window_s: float = Field(
        86_400.0, gt=0, description="same content on the same account within this window"
    )
    content_actions: tuple[str, ...] = Field(
        ("post.created",), description="actions compared by content hash"
    )
    target_actions: tuple[str, ...] = Field(
        ("reply.created", "like.created", "dm.sent"),
        description="actions compared by their target (in_reply_to)",
    )


@invariant(DuplicateParams)
def no_duplicate_side_effects(record: DrillRecord, p: DuplicateParams) -> Findings | NotApplicable:
    """No side effect happens twice: same content on the same account, same target, or same idempotency key."""
    f = facts(record)
    out: list[Violation] = []
    flagged: set[int] = set()
    seen_content: dict[tuple[object, ...], tuple[float, str]] = {}
    seen_target: dict[tuple[object, ...], str] = {}
    seen_key: dict[str, str] = {}
    checked = 0
    for i, e in enumerate(record.ledger):
        action = str(e.get("action"))
        if action not in (*p.content_actions, *p.target_actions):
            continue
        checked += 1
        t = float(e["t"])
        noun, verb = noun_of(action)
        handle = record.handle(e.get("account_id"))
        ref = str(e.get("resource_id") or e.get("request_id"))
        why: str | None = None
        if action in p.content_actions and e.get("content_hash"):
            k = (e.get("account_id"), action, e["content_hash"])
            prev = seen_content.get(k)
            if prev is not None and t - prev[0] <= p.window_s:
                why = f"{verb} twice on {handle} with the same content"
                ref = f"{ref} (first {prev[1]})"
            seen_content[k] = (t, str(e.get("resource_id") or e.get("request_id")))
        if why is None and action in p.target_actions and e.get("in_reply_to"):
            k = (e.get("account_id"), action, e["in_reply_to"])
            if k in seen_target:
                why = f"{verb} twice on {handle} to the same target"
                ref = f"{ref} (target {e['in_reply_to']})"
            seen_target[k] = ref
        intent = f.intents.get(i)
        key = intent.idempotency_key if intent else None
        if why is None and key:
            if key in seen_key:
                why = f"{verb} twice on {handle} under one idempotency key"
                ref = f"{ref} (key {key})"
            seen_key[key] = ref
        if why is not None and i not in flagged:
            flagged.add(i)
            out.append(Violation(t, noun, why, ref, evidence("ledger.jsonl", i)))
    if checked == 0:
        return NotApplicable("the ledger holds no side effect that could be duplicated")
    return Findings(
        checked,
        out,
        f"all {checked} side effects are distinct by content, target and idempotency key",
    )


#: the fakes' honeypot (``fakes/honeypot.py``): the addresses no platform may reach
HONEYPOT = "honeypot"


@invariant()
def nothing_reaches_a_host_it_was_not_given(
    record: DrillRecord, p: Params
) -> Findings | NotApplicable:
    """No request reaches an address the platform was never given (a cloud metadata service …).

    Ground truth from the fakes' journal: the honeypot answers the addresses of server-side
    request forgery (``169.254.169.254``, ``metadata.google.internal``; ``/honeypot`` when
    served) and journals every request that gets there; a platform whose egress guard works
    never sends one, whatever URL a provider hands it (``media.content_url_elsewhere``). Where
    the drill knows the base URLs the platform was given (in-process), a request that reached a
    service outside its base URL's path (``/v2/…`` of a service given as ``…/v1``) also got
    somewhere it was not given: an egress guard that checks hosts only lets a URL taken from a
    response reach another API of the same host, with the platform's key. Nor may a request
    reach a fake by a path with a dot segment or one naming the fakes' admin API (``_fake``),
    however the URL spelled it: served, the admin API shares the fakes' host and port.
    """
    if not record.journal:
        return NotApplicable("no request reached the fakes")
    bases = {
        fake: tuple(urlsplit(u).path.rstrip("/") for u in urls)
        for fake, urls in record.given_urls.items()
        if urls
    }
    out: list[Violation] = []
    for i, j in enumerate(record.journal):
        ref = f"{j.get('method', 'GET')} {j.get('path')} ({j.get('request_id')})"
        fake = str(j.get("fake"))
        path = str(j.get("path") or "").split("?", 1)[0]
        segments = path.split("/")
        if fake == HONEYPOT:
            phrase = "reached an address the platform was never given (the honeypot)"
        elif "_fake" in segments or "." in segments or ".." in segments:
            # a URL taken from a response, its path spelled so that a guard reading it
            # undecoded saw neither (``/v1/%2E%2E/%5Ffake/roster``): served, that is the
            # fakes' admin API (secrets, reset) on the very host and port the platform uses
            phrase = (
                f"reached {fake} by a path the egress guard must refuse (the fakes' admin API "
                "or a dot segment)"
            )
        else:
            given = bases.get(fake)
            if given is None or any(path == b or path.startswith(b + "/") for b in given):
                continue
            shown = " or ".join(f"…{b or '/'}" for b in given)
            phrase = f"reached {fake} outside the base URL the platform was given ({shown})"
        out.append(
            Violation(
                float(j["t"]), ("request", "requests"), phrase, ref, evidence("journal.jsonl", i)
            )
        )
    return Findings(
        len(record.journal),
        out,
        f"none of {len(record.journal)} requests reached an address outside the platform's settings",
    )


@invariant()
def tools_as_the_job_allows(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """A tool runs only for a job that was given it: each tool call of a drafted text names one of the tools its job lists, and a tool_call job calls its own tool.

    Judged on the audit's ``tool.call`` attempts of the jobs the drill submitted, against each
    job's intent (``evidence/workload.jsonl``: a text job's ``tools``, a tool call's ``tool``).
    The model calls what it is offered; a platform that offers it more than the job lists lets
    a prompt — a client's brief, an instruction injected into one — run tools nobody allowed:
    billed calls, and writes through the agency's gateway account (RB-08).
    """
    allowed: dict[str, set[str]] = {}
    for w in record.workload:
        if w.get("kind") == "generate_text":
            allowed[str(w.get("job_id"))] = {str(t) for t in w.get("tools") or ()}
        elif w.get("kind") == "tool_call" and w.get("tool"):
            allowed[str(w.get("job_id"))] = {str(w.get("tool"))}
    out: list[Violation] = []
    judged = 0
    for i, a in enumerate(record.audit):
        job = str(a.get("job_id"))
        if a.get("action") != "tool.call" or a.get("phase") != "attempt" or job not in allowed:
            continue
        judged += 1
        detail = a.get("detail")
        tool = str(detail.get("tool")) if isinstance(detail, dict) else "?"
        if tool not in allowed[job]:
            given = ", ".join(sorted(allowed[job])) or "none"
            out.append(
                Violation(
                    number(a.get("t"), record.end_t),
                    ("tool call", "tool calls"),
                    "ran a tool its job was not given",
                    f"{tool} for {job} (given: {given})",
                    evidence("audit.jsonl", i),
                )
            )
    if judged == 0:
        return NotApplicable("no tool call of a job the drill submitted was audited")
    return Findings(judged, out, f"each of {judged} tool calls ran a tool its job was given")


@invariant()
def no_web_side_effects_after_a_challenge(
    record: DrillRecord, p: Params
) -> Findings | NotApplicable:
    """A challenge halts the browser lane: once a platform's web UI has shown the browser lane a "confirm you are human" challenge, no post, reply, DM or like goes through that platform's web UI again in the drill.

    The challenge is the fakes' ``web.captcha`` (a journaled page it replaced); the side effects
    are the fakes' ledger, ``channel: web``. Only a person clears a challenge (the contract has no
    control for it), so a lane that goes on after one — a path that forgot to ask whether the
    lane is halted, a retry, the inbox's replies — is automation answering a platform that asked
    for a human (RB-06).
    """
    challenged: dict[str, float] = {}
    for j in record.journal:
        if j.get("fault_kind") == "web.captcha":
            fake = str(j.get("fake"))
            challenged.setdefault(fake, number(j.get("t")))
    if not challenged:
        return NotApplicable("no web UI showed the browser lane a challenge")
    out: list[Violation] = []
    judged = 0
    for i, e in enumerate(record.ledger):
        fake = str(e.get("fake"))
        if e.get("channel") != "web" or e.get("action") not in SIDE_EFFECT_ACTIONS:
            continue
        if fake not in challenged:
            continue
        judged += 1
        t = number(e.get("t"))
        if t > challenged[fake]:
            noun, verb = noun_of(str(e.get("action")))
            out.append(
                Violation(
                    t,
                    noun,
                    f"{verb} through {fake}'s web UI after it showed a challenge at "
                    f"{format_offset(record.offset(challenged[fake]))}",
                    str(e.get("resource_id")),
                    evidence("ledger.jsonl", i),
                )
            )
    return Findings(
        max(judged, len(challenged)),
        out,
        "no side effect went through a web UI after it showed a challenge ("
        + ", ".join(
            f"{f} at {format_offset(record.offset(t))}" for f, t in sorted(challenged.items())
        )
        + ")",
    )
