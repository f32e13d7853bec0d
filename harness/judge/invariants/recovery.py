"""Truth and recovery invariants: claims match the fakes, gates hold, secrets stay out, work finishes."""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from itertools import pairwise
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import Field

from sandbox.contract import AUDIT_ACTIONS, JOB_KINDS, JobState

from ...durations import Duration, format_duration
from ..record import (
    SIDE_EFFECT_ACTIONS,
    SOCIAL_AUDIT_ACTIONS,
    SOCIAL_FAKES,
    DrillRecord,
    scenario_field,
)
from ..rows import AuditRow, JobRow, JournalRow, Json, json_object, number
from ..secrets import SecretHit, SecretIndex
from ..timeline import format_offset
from ._base import Findings, NoParams, NotApplicable, Params, Violation, invariant
from ._facts import evidence, facts, noun_of, trace_id

__all__ = [
    "TERMINAL_STATES",
    "action_rate_gauge_truthful",
    "alerts_deduplicated",
    "auth_failures_alerted",
    "auth_failures_on_the_wire",
    "dead_letters_alerted",
    "every_job_terminal_after_healing",
    "jobs_within_the_contract",
    "no_job_left_behind",
    "no_secret_in_artifacts",
    "no_side_effect_while_toolgate_failing",
    "no_unexpected_errors",
    "no_unverified_publish_reported_live",
    "publish_failures_alerted",
    "queue_backlog_alerted",
    "queue_freshness_restored",
    "requests_traced_to_their_jobs",
    "retries_within_policy",
    "tool_followups_submitted",
    "verification_failures_alerted",
]

TERMINAL_STATES: tuple[str, ...] = (
    "succeeded",
    "needs_human_confirm",
    "failed",
    "dead_letter",
    "cancelled",
    "blocked",
)


@invariant(NoParams)
def no_unverified_publish_reported_live(
    record: DrillRecord, p: NoParams
) -> Findings | NotApplicable:
    """No post is reported live unless it was verified and the platform actually shows it.

    A success AuditEvent for ``post.create`` is a claim that the post is live: its proof must say
    ``verified: true``, the ledger must hold the post, and the fakes must not have kept it invisible
    (forever, or still at the time of the claim — a lookup that answered 200 with a post LinkedIn
    had not published yet, ``lifecycleState: PUBLISH_REQUESTED``, proves nothing either).
    Through the API lane the verification is a lookup: the fakes' journal (when the record has
    one) must show a lookup of the post that succeeded (2xx) before the claim — a lookup that
    errored proves nothing.
    """
    looked: dict[tuple[str, str], float] = {}
    for jr in record.journal:
        if jr.get("method") == "GET" and 200 <= int(jr.get("status") or 0) < 300:
            k = (str(jr.get("fake")), unquote(str(jr.get("path") or "")).rsplit("/", 1)[-1])
            looked[k] = min(looked.get(k, float("inf")), float(jr["t"]))
    created: set[tuple[str, str]] = set()
    #: when a post the fakes kept invisible for a time (``invisible_for=Ns``) became visible
    visible_at: dict[tuple[str, str], float] = {}
    for e in record.ledger:
        if e.get("action") != "post.created":
            continue
        k = (str(e.get("fake")), str(e.get("resource_id")))
        created.add(k)
        for word in str(e.get("detail") or "").split():
            if word.startswith("invisible_for=") and word.endswith("s"):
                visible_at[k] = float(e["t"]) + float(word[len("invisible_for=") : -1])
    out: list[Violation] = []
    checked = 0
    for j, a in enumerate(record.audit):
        if a.get("action") != "post.create" or a.get("outcome") != "success":
            continue
        checked += 1
        proof = a.get("proof") or {}
        rid, platform = str(proof.get("resource_id")), str(a.get("platform"))
        where = record.handle(a.get("account_id"))
        why = None
        if proof.get("verified") is not True:
            why = f"reported live on {where} without verification"
        elif f"{platform}:{rid}" in record.invisible_resources:
            why = f"reported live on {where} but never visible on {platform}"
        elif (platform, rid) not in created:
            why = f"reported live on {where} but never created on {platform}"
        elif float(a["t"]) < visible_at.get((platform, rid), float("-inf")):
            why = (
                f"reported live on {where} {visible_at[(platform, rid)] - float(a['t']):.0f}s "
                f"before {platform} showed it"
            )
        elif (
            record.journal
            and a.get("lane", "api") == "api"
            and looked.get((platform, rid), float("inf")) > float(a["t"])
        ):
            why = f"reported live on {where} though no lookup of it on {platform} succeeded"
        if why:
            ref = f"{rid} (job {a.get('job_id')})"
            out.append(
                Violation(float(a["t"]), ("post", "posts"), why, ref, evidence("audit.jsonl", j))
            )
    if checked == 0:
        return NotApplicable("no post was reported live")
    return Findings(checked, out, f"all {checked} posts reported live were verified and visible")


class ToolgateParams(Params):
    """Parameters of ``no_side_effect_while_toolgate_failing``."""

    grace_s: float = Field(
        5.0, ge=0, description="in-flight grace after the gateway starts failing"
    )
    actions: tuple[str, ...] = Field(SIDE_EFFECT_ACTIONS, description="ledger actions judged")
    judged: Literal["dependent", "all"] = Field(
        "dependent",
        description="dependent: side effects that ride on a tool result (a tool call's follow-up, "
        "idempotency key '…:then'); all: every side effect",
    )


#: toolgate fault kinds that change how the gateway answers without making it fail
TOOLGATE_VARIANTS: frozenset[str] = frozenset({"toolgate.no_meta_request_id"})


def _failing(record: DrillRecord) -> list[tuple[float, float, str, str | None]]:
    """Failure windows of the gateway: (start, end, fault kind, the one tool it hits or None)."""
    injected = {
        str(e.data.get("rule_id")): dict(json_object(e.data.get("params")))
        for e in record.timeline.of_kind("fault.injected")
    }
    out = []
    for r in record.fault_rows():
        kind = str(r.get("kind", ""))
        # a gateway that names its request only in a header is a variant, not a failure
        if not kind.startswith("toolgate.") or kind in TOOLGATE_VARIANTS:
            continue
        starts = [x for x in (r.get("start"), r.get("installed_at")) if x is not None]
        ends = [x for x in (r.get("end"), r.get("removed_at")) if x is not None]
        start = max(starts) if starts else record.start_t
        end = min(ends) if ends else record.end_t
        params = r.get("params") or injected.get(str(r.get("id"))) or {}
        if kind == "toolgate.schema_drift" and params.get("change") == "opaque":
            continue  # tools listed free-form, answering as before: a variant, no failure
        tool = params.get("tool") if kind != "toolgate.unavailable" else None
        out.append((float(start), float(end), kind, str(tool) if tool else None))
    return out


@invariant(ToolgateParams)
def no_side_effect_while_toolgate_failing(
    record: DrillRecord, p: ToolgateParams
) -> Findings | NotApplicable:
    """No side effect lands while the tool gateway is failing, unless its job was approved by a person.

    Judged by default on the side effects that depend on a tool's result (the follow-up a
    ``tool_call`` job submits, idempotency key ``<tool job's key>:then``): failing closed means
    not acting on a result the gateway never gave. ``judged: all`` holds every side effect to it.
    """
    windows = _failing(record)
    if not windows:
        return NotApplicable("the tool gateway never failed in this drill")
    approved = {str(e.data.get("job_id")) for e in record.timeline.of_kind("job.approved")}
    approved |= {str(w.get("job_id")) for w in record.workload if w.get("approved")}
    approved |= {
        str(a.get("job_id")) for a in record.audit if (a.get("detail") or {}).get("approved")
    }
    f = facts(record)
    tool_of = {str(w.get("idempotency_key")): w.get("tool") for w in record.workload}
    # a tool call a person approved lets the post made from its (stand-in) result go ahead,
    # from the approval on
    approved_at = {
        str(j.get("id")): number(j.get("approved_at"))
        for j in record.jobs
        if j.get("approved_at") is not None
    }
    approved_tools = {
        str(w.get("idempotency_key")): approved_at[str(w.get("job_id"))]
        for w in record.workload
        if str(w.get("job_id")) in approved_at
    }
    out: list[Violation] = []
    checked = 0
    for i, e in enumerate(record.ledger):
        if e.get("action") not in p.actions:
            continue
        checked += 1
        t = float(e["t"])
        intent = f.intents.get(i)
        if intent is not None and str(intent.job_id) in approved:
            continue
        key = str((intent.idempotency_key if intent else "") or "")
        if approved_tools.get(key.removesuffix(":then"), math.inf) <= t and key.endswith(":then"):
            continue
        if p.judged == "dependent" and not key.endswith(":then"):
            continue
        rode_on = tool_of.get(key.removesuffix(":then"))
        for start, end, kind, tool in windows:
            if tool is not None and rode_on is not None and tool != rode_on:
                continue  # the fault hits another tool: this result was real
            if start + p.grace_s < t < end:
                noun, verb = noun_of(str(e["action"]))
                phrase = f"{verb} on {record.handle(e.get('account_id'))} without approval while the tool gateway was failing ({kind})"
                ref = str(e.get("resource_id") or e.get("request_id"))
                out.append(Violation(t, noun, phrase, ref, evidence("ledger.jsonl", i)))
                break
    held = _held_tool_calls_rerun(record)
    out += held
    return Findings(
        checked,
        out,
        f"no unapproved side effect landed in {len(windows)} tool-gateway failure window(s); "
        "no tool call held for a person ran again before it was approved",
    )


def _held_tool_calls_rerun(record: DrillRecord) -> list[Violation]:
    """A tool call the platform held for a person (failed closed: its follow-up refused
    ``fail_closed``) that called its tool again before anyone approved it: something other than
    the approval (another control's change re-queuing every parked job) let it go, and its
    follow-up follows the gateway's next answer without the decision it was held for."""
    approved_at = {
        str(j.get("id")): number(j.get("approved_at"))
        for j in record.jobs
        if j.get("approved_at") is not None
    }
    closed: dict[str, float] = {}
    out: list[Violation] = []
    for i, a in enumerate(record.audit):
        job_id = str(a.get("job_id"))
        t = float(a.get("t") or 0.0)
        if a.get("outcome") == "blocked" and str(a.get("error") or "").startswith("fail_closed:"):
            closed.setdefault(job_id, t)
        elif (
            a.get("action") == "tool.call"
            and a.get("phase") == "attempt"
            and job_id in closed
            and t > closed[job_id]
            and not approved_at.get(job_id, math.inf) <= t
        ):
            out.append(
                Violation(
                    t,
                    ("tool call", "tool calls"),
                    f"held for a person at {format_offset(record.offset(closed[job_id]))} "
                    "(failed closed) called its tool again unapproved",
                    job_id,
                    evidence("audit.jsonl", i),
                )
            )
            closed.pop(job_id)
    return out


def _dump(row: object) -> str:
    return json.dumps(row, sort_keys=True, default=str, ensure_ascii=False)


def _secret_phrase(hit: SecretHit) -> str:
    if hit.whole:
        return f"contain the credential {hit.fp}"
    return f"contain part of the credential {hit.fp} ({hit.chars} characters)"


@invariant(NoParams)
def no_secret_in_artifacts(record: DrillRecord, p: NoParams) -> Findings | NotApplicable:
    """No known secret — whole, or any run of 12 characters of it past its public prefix such as
    ``xat-`` — appears in any audit event, log, alert, timeline event, job or report artifact."""
    index = SecretIndex.of(record.secrets)
    if not index:
        return NotApplicable("the drill knows no secret to look for")

    def at(rows: Sequence[Mapping[str, Any]]) -> list[float]:
        return [float(r.get("t", record.end_t)) for r in rows]

    sources: list[tuple[str, list[float], Sequence[str]]] = [
        ("audit.jsonl", at(record.audit), record.dumped("audit")),
        (
            "timeline.jsonl",
            [e.t for e in record.timeline],
            [_dump(e.to_json()) for e in record.timeline],
        ),
        ("alerts.jsonl", at(record.alerts), record.dumped("alerts")),
        ("controls.jsonl", at(record.control_changes), record.dumped("control_changes")),
        ("journal.jsonl", at(record.journal), record.dumped("journal")),
        ("ledger.jsonl", at(record.ledger), record.dumped("ledger")),
        (
            "jobs.jsonl",
            [float(j.get("updated_at") or record.end_t) for j in record.jobs],
            record.dumped("jobs"),
        ),
    ]
    out: list[Violation] = []
    checked = 0
    for name, times, texts in sources:
        checked += len(texts)
        if not index.spans("\n".join(texts)):
            continue
        for i, (t, text) in enumerate(zip(times, texts, strict=True)):
            for hit in index.find(text):
                ref = evidence(name, i)
                out.append(Violation(t, ("record", "records"), _secret_phrase(hit), ref, ref))
    for path, text in sorted(record.artifacts.items()):
        checked += 1
        for hit in index.find(text):
            out.append(
                Violation(record.end_t, ("record", "records"), _secret_phrase(hit), path, path)
            )
    return Findings(
        checked,
        out,
        f"none of {len(index.secrets)} known secrets appears, whole or as a run of "
        f"{index.n} characters, in {checked} records and artifacts",
    )


class TerminalParams(Params):
    """Parameters of ``every_job_terminal_after_healing``."""

    also_terminal: tuple[str, ...] = Field((), description="extra states accepted as an end state")
    ignore_scheduled_after_end: bool = Field(
        True,
        description="skip jobs due after the drill ended (unless the platform put one off for "
        "longer than max_defer_s)",
    )
    max_defer_s: Duration = Field(
        32 * 86_400.0,
        description="the longest a platform may put a job off after it ran (a month's cap resets "
        "within a month; a later run_at is work stopped for good)",
    )
    must_succeed: tuple[str, ...] = Field(
        (),
        description="job kinds whose work has a healthy alternative (a failover provider): they must "
        "end succeeded, not failed or dead-lettered",
    )
    settle_s: float = Field(
        120.0,
        ge=0,
        description="jobs created (or due) this shortly before the drill ended had no time to finish",
    )
    never_fail: tuple[str, ...] = Field(
        (),
        description="job kinds a healed, transient fault must not lose: they may end succeeded or "
        "needs_human_confirm (the platform says it cannot tell), not failed or dead-lettered",
    )
    succeed_within: dict[str, Duration] = Field(
        default_factory=dict,
        description="job kind → how soon after it was created (or due) it ends succeeded: work "
        "a healthy alternative serves at once (a failover provider) does not wait out the fault",
    )
    run_within: dict[str, Duration] = Field(
        default_factory=dict,
        description="audit action → the longest one attempt may take to its outcome: a call to "
        "a provider that hangs gives up at its deadline instead of holding a runner slot for as "
        "long as the provider hangs",
    )


#: real seconds a drill on a scaled wall clock leaves the work begun before its end to finish,
#: and a platform's alert to follow its cause (its rules run on a loaded machine's real time)
SCALED_SETTLE_REAL_S = 5.0


def real_slack(record: DrillRecord) -> float:
    """Scenario seconds of :data:`SCALED_SETTLE_REAL_S` on the record's scaled clock (0 on
    virtual time: an in-process drill's platform answers in no time)."""
    return SCALED_SETTLE_REAL_S * float(record.extra.get("time_scale") or 0.0)


@invariant(TerminalParams)
def every_job_terminal_after_healing(
    record: DrillRecord, p: TerminalParams
) -> Findings | NotApplicable:
    """Every job reaches an end state (succeeded, failed, dead letter, …) once the fault is healed."""
    if not record.jobs:
        return NotApplicable("the platform reported no jobs")
    ok = set(TERMINAL_STATES) | set(p.also_terminal)
    # on a scaled wall clock (a game day, a served drill) a job needs real time to finish: a
    # loaded machine's second is ``time_scale`` seconds of the scenario
    settle_s = max(p.settle_s, real_slack(record))
    out: list[Violation] = []
    checked = 0
    for i, j in enumerate(record.jobs):
        spec_run_at = json_object(j.get("spec")).get("run_at")
        run_at = j.get("run_at") or (None if spec_run_at is None else number(spec_run_at))
        if p.ignore_scheduled_after_end and run_at is not None and float(run_at) > record.end_t:
            # put off past the drill by the platform: no throttle or cap it may meet resets
            # later than ``max_defer_s`` after the job last ran (a month's cap the latest)
            put_off = number(j.get("run_at"), 0.0) - number(j.get("updated_at"), record.end_t)
            if str(j.get("state")) not in ok and put_off > p.max_defer_s:
                checked += 1
                out.append(
                    Violation(
                        number(j.get("updated_at"), record.end_t),
                        ("job", "jobs"),
                        f"of kind {j.get('kind')} was put off {put_off / 86_400:,.0f} days "
                        f"after it last ran, longer than any reset it could wait for "
                        f"({p.max_defer_s / 86_400:g} days): work silently stopped "
                        f"({str(j.get('last_error') or '')[:80]})",
                        str(j.get("id")),
                        f"evidence/jobs.jsonl#L{i + 1}",
                    )
                )
            continue
        born = max(float(j.get("created_at") or 0.0), float(run_at or 0.0))
        if born > record.end_t - settle_s:
            continue
        checked += 1
        state, kind = str(j.get("state")), str(j.get("kind"))
        ended = float(j.get("updated_at") or record.end_t)
        limit = p.succeed_within.get(kind)
        phrase = None
        if state in ok and state != "succeeded" and kind in p.must_succeed:
            phrase = (
                f"of kind {kind} ended {state} although its work had a healthy alternative "
                f"({str(j.get('last_error') or '')[:80]})"
            )
        elif state == "succeeded" and limit is not None and ended - born > limit:
            phrase = (
                f"of kind {kind} took {format_duration(ended - born)} to succeed although a "
                f"healthy alternative could serve it (within {format_duration(limit)})"
            )
        elif state in ("failed", "dead_letter") and kind in p.never_fail:
            phrase = (
                f"of kind {kind} ended {state} although the fault was transient "
                f"({str(j.get('last_error') or '')[:80]})"
            )
        elif state == "awaiting_approval" and (approved := j.get("approved_at")) is not None:
            # a person's approval is not asked for again: a job held once more after it was
            # approved waits for a second click nobody knows they owe
            ended = record.end_t
            phrase = (
                f"of kind {kind} was approved at {format_offset(record.offset(number(approved)))} "
                "and still awaited approval when the drill ended (an approval given is not "
                "asked for again)"
            )
        elif state not in ok:
            ended = record.end_t
            phrase = f"still {state} when the drill ended at {format_offset(record.offset(ended))}"
        if phrase is not None:
            out.append(
                Violation(
                    ended,
                    ("job", "jobs"),
                    phrase,
                    str(j.get("id")),
                    f"evidence/jobs.jsonl#L{i + 1}",
                )
            )
    if p.run_within:
        opened: dict[tuple[str, str], float] = {}
        for i, a in enumerate(record.audit):
            action = str(a.get("action"))
            limit = p.run_within.get(action)
            if limit is None:
                continue
            k = (str(a.get("job_id")), action)
            t = number(a.get("t"))
            if a.get("phase") == "attempt":
                opened[k] = t
            elif k in opened and t - opened[k] > limit:
                start = opened.pop(k)
                out.append(
                    Violation(
                        t,
                        ("attempt", "attempts"),
                        f"of {action} took {format_duration(t - start)} from its attempt at "
                        f"{format_offset(record.offset(start))} to its outcome (at most "
                        f"{format_duration(limit)}: a call gives up at its deadline)",
                        str(a.get("job_id")),
                        evidence("audit.jsonl", i),
                    )
                )
            else:
                opened.pop(k, None)
    return Findings(checked, out, f"all {checked} jobs reached an end state")


#: job kind → (the job class a queue pause names, the action type kill switches name), as
#: docs/contracts.md states them; kept here, not read from the platform, so that a platform whose
#: own table slips is judged against the contract (a test keeps it in step with ``JOB_KINDS``)
JOB_HOLDS: dict[str, tuple[str, str | None]] = {
    "publish": ("publish", "publish"),
    "canary": ("maintenance", "publish"),
    "auth_check": ("maintenance", None),
    "reply": ("engagement", "reply"),
    "dm": ("engagement", "dm"),
    "like": ("engagement", "like"),
    "engagement_poll": ("engagement", None),
    "generate_text": ("generation", "generate"),
    "generate_image": ("generation", "generate"),
    "generate_video": ("generation", "generate"),
    "tool_call": ("generation", None),
}
#: states of a job that still waits for the runner (not for a person, not done)
WAITING_STATES: tuple[str, ...] = ("queued", "scheduled", "retry_wait", "running")


_QUEUE_GAUGE = re.compile(r'^(?P<name>queue_depth|queue_oldest_age_s)\{job_class="(?P<c>[^"]*)"\}$')


@invariant()
def queue_metrics_truthful(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """The queue gauges tell the truth RB-07 reads: no ``queue_depth`` or ``queue_oldest_age_s``
    of a job class is ever negative, and the oldest waiting job of a class that the platform
    reports (``queue_oldest_age_s{job_class}`` = A at time t) is one that could have been
    waiting then: a job of that class created by t − A that had not finished before t (in
    process on virtual time; a served platform's or a game day's ages are judged for their sign
    only, as their gauges and jobs are read at different wall-clock moments).

    A gauge that counts restored jobs only on their way out goes negative after a restart; one
    that keeps a job it ran on its waiting list reports a backlog that is not there (and one
    that forgets a waiting state hides the backlog an outage builds).
    """
    waiting = set(WAITING_STATES)
    # a served platform lists only the drill's own jobs and keeps its own clock, and a game day
    # samples its gauges on a scaled wall clock: their ages are judged for their sign alone
    in_process = record.topology == "in-process" and "time_scale" not in record.extra
    #: each job's audit times: a job that ran at u waits again only from after u
    ran: dict[str, list[float]] = {}
    for a in record.audit:
        if a.get("job_id") is not None:
            ran.setdefault(str(a["job_id"]), []).append(number(a.get("t")))
    by_class: dict[str, list[tuple[float, float, bool, list[float]]]] = {}
    for j in record.jobs:
        cls = JOB_HOLDS.get(str(j.get("kind")), (None, None))[0]
        if cls is None:
            continue
        by_class.setdefault(cls, []).append(
            (
                number(j.get("created_at"), 0.0),
                number(j.get("updated_at"), record.end_t),
                str(j.get("state")) in waiting,
                sorted(ran.get(str(j.get("id")), ())),
            )
        )
    out: list[Violation] = []
    told: set[tuple[str, str]] = set()
    checked = 0
    waited = _waited_through_a_pause(record) if in_process else {}
    for t, values in record.metrics_samples:
        readings = list(values.items())
        if any(_QUEUE_GAUGE.match(k) for k, _ in readings):
            # a class whose job waits out a pause must have an age gauge: one never set is
            # absent from the export, and judged as the 0 a dashboard would show for it
            readings += [
                (key, math.nan)
                for cls, spans in waited.items()
                if (key := f'queue_oldest_age_s{{job_class="{cls}"}}') not in values
                and any(s + 2.0 < t < until - 1.0 for s, until in spans)
            ]
        for key, value in readings:
            m = _QUEUE_GAUGE.match(key)
            if m is None:
                continue
            checked += 1
            name, cls = m["name"], m["c"]
            if (name, cls) in told:
                continue
            since = min(
                (s for s, until in waited.get(cls, ()) if s + 2.0 < t < until - 1.0),
                default=None,
            )
            if name == "queue_oldest_age_s" and since is not None and math.isnan(value):
                phrase = (
                    f"was not exported at {format_offset(record.offset(t))}, though a {cls} "
                    f"job had waited in its paused queue since "
                    f"{format_offset(record.offset(since))}"
                )
                told.add((name, cls))
                out.append(Violation(t, ("gauge", "gauges"), phrase, key, "evidence/metrics.csv"))
                continue
            if math.isnan(value):
                continue
            if name == "queue_oldest_age_s" and since is not None and value < t - since - 1.0:
                phrase = (
                    f"read {value:g}s at {format_offset(record.offset(t))}, though a {cls} job "
                    f"had waited in its paused queue since {format_offset(record.offset(since))}"
                )
                told.add((name, cls))
                out.append(Violation(t, ("gauge", "gauges"), phrase, key, "evidence/metrics.csv"))
                continue
            if value < 0:
                phrase = f"read {value:g} at {format_offset(record.offset(t))} (a gauge of jobs waiting is never negative)"
            elif (
                name == "queue_oldest_age_s"
                and value > 1.0
                and in_process
                and not any(
                    created <= t - value + 1.0
                    and (updated >= t - 1.0 or still)
                    # it did not run in the meantime (a retried job waits from its retry on)
                    and bisect_left(times, t - 1.0) == bisect_right(times, t - value + 1.0)
                    for created, updated, still, times in by_class.get(cls, ())
                )
            ):
                phrase = (
                    f"read {value:g}s at {format_offset(record.offset(t))}, though no {cls} job "
                    f"had waited that long without running"
                )
            elif (
                name == "queue_depth"
                and in_process
                and value
                > 1  # a job submitted as the sample was taken, after the jobs were read
                + (
                    bound := sum(
                        1
                        for created, updated, still, _ in by_class.get(cls, ())
                        if created <= t + 1.0 and (updated >= t - 1.0 or still)
                    )
                )
            ):
                # a job that finished before t no longer waits: a depth past the jobs that
                # could still be waiting counts work that is done (a gauge never lowered)
                phrase = (
                    f"read {value:g} at {format_offset(record.offset(t))}, though at most "
                    f"{bound} {cls} jobs could have been waiting then"
                )
            else:
                continue
            told.add((name, cls))
            out.append(Violation(t, ("gauge", "gauges"), phrase, key, "evidence/metrics.csv"))
        # the label-free totals are what a dashboard's headline (and queue_freshness_restored)
        # reads: the depth of all classes together, the age of the oldest of them
        for name, combine in (("queue_depth", sum), ("queue_oldest_age_s", max)):
            total = values.get(name)
            parts = [
                v
                for k, v in values.items()
                if (m := _QUEUE_GAUGE.match(k)) is not None and m["name"] == name
            ]
            if total is None or not parts or (name, "") in told:
                continue
            checked += 1
            want = combine(parts)
            if abs(total - want) > 1.0:
                how = "sum" if combine is sum else "largest"
                told.add((name, ""))
                out.append(
                    Violation(
                        t,
                        ("gauge", "gauges"),
                        f"read {total:g} at {format_offset(record.offset(t))}, though the "
                        f"{how} of its job classes' readings then was {want:g}",
                        name,
                        "evidence/metrics.csv",
                    )
                )
    if checked == 0:
        return NotApplicable(
            "the platform exports no queue_depth or queue_oldest_age_s per job class"
        )
    return Findings(
        checked,
        out,
        f"all {checked} readings of the queue gauges agree with the platform's jobs",
    )


def _waited_through_a_pause(record: DrillRecord) -> dict[str, list[tuple[float, float]]]:
    """Per job class, ``(due, resumed)`` of each job that came due in its paused queue —
    submitted to run at once, or scheduled (the calendar's post) for an instant inside the
    pause — and did nothing (no audit event) before the queue resumed: it waited, due, from
    then to the resume, and the queue's oldest age was at least that long."""
    pauses: dict[str, list[tuple[float, float]]] = {}
    on: dict[str, float] = {}
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        if c.get("control") != "queue_paused":
            continue
        cls = str(dict(c.get("scope") or {}).get("job_class"))
        if bool(c.get("value")):
            on.setdefault(cls, float(c["t"]))
        elif cls in on:
            pauses.setdefault(cls, []).append((on.pop(cls), float(c["t"])))
    if not pauses:
        return {}
    first_event: dict[str, float] = {}
    for row in record.audit:
        jid = str(row.get("job_id"))
        first_event[jid] = min(first_event.get(jid, math.inf), number(row.get("t")))
    out: dict[str, list[tuple[float, float]]] = {}
    for w in record.workload:
        held = JOB_HOLDS.get(str(w.get("kind")), (None, None))[0]
        if held is None:
            continue
        due = w.get("run_at")
        at = number(w.get("submitted_at") if due is None else due, math.inf)
        for a, b in pauses.get(held, ()):
            if a <= at < b and first_event.get(str(w.get("job_id")), math.inf) >= b:
                out.setdefault(held, []).append((at, b))
    return out


@invariant()
def tool_followups_submitted(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """Every tool call that succeeded submitted its own follow-up: in a drill whose tool calls
    carry a dependent job (``workload.tool_followup``, e.g. a post made from a knowledge-base
    answer), the platform made one job of that kind for each ``tool_call`` job that succeeded
    (the drill submitted none of those itself). Fewer means follow-ups were lost or merged —
    keyed alike, handed back the first one's job — and their posts never went out.
    """
    workload = scenario_field(record.scenario, "workload")
    kind = scenario_field(workload, "tool_followup") if workload is not None else None
    if not kind or kind == "none":
        return NotApplicable("the drill's tool calls carry no follow-up")
    submitted = {str(w.get("job_id")) for w in record.workload}
    out: list[Violation] = []
    refused = _followups_refused_unaudited(record, str(kind), submitted, out)
    # the drill's own tool calls (a runbook's check of the gateway carries no follow-up)
    tools = [
        j
        for j in record.jobs
        if j.get("kind") == "tool_call"
        and j.get("state") == "succeeded"
        and str(j.get("id")) in submitted
    ]
    if not tools:
        if refused:
            return Findings(refused, out, f"each of {refused} follow-ups withheld was audited")
        return NotApplicable("no tool call succeeded")
    made = [j for j in record.jobs if j.get("kind") == kind and str(j.get("id")) not in submitted]
    if len(made) < len(tools):
        out.append(
            Violation(
                record.end_t,
                ("drill", "drills"),
                f"saw {len(tools)} tool calls succeed but only {len(made)} {kind} jobs made from "
                "their results",
                f"{len(tools) - len(made)} missing",
                "evidence/jobs.jsonl",
            )
        )
    return Findings(
        len(tools) + refused,
        out,
        f"each of {len(tools)} tool calls that succeeded submitted its {kind} follow-up"
        + (f"; each of {refused} withheld was audited as refused" if refused else ""),
    )


#: the audit action of each follow-up job kind
_FOLLOWUP_ACTION = {"publish": "post.create", "reply": "reply.create", "dm": "dm.send"}


def _followups_refused_unaudited(
    record: DrillRecord, kind: str, submitted: set[str], out: list[Violation]
) -> int:
    """RB-08's fail-closed refusal is audited: a drill's tool call whose call failed and that
    did not go on to succeed withheld its follow-up, and its job's audit says so — a ``blocked``
    outcome of the follow-up's action. A refusal nobody can see is the silent stop RB-11 warns
    of. Returns how many tool calls were judged."""
    action = _FOLLOWUP_ACTION.get(kind)
    if action is None:
        return 0
    failed: dict[str, float] = {}
    blocked: set[str] = set()
    for a in record.audit:
        job = str(a.get("job_id"))
        if a.get("phase") != "outcome" or job not in submitted:
            continue
        if a.get("action") == "tool.call" and a.get("outcome") == "failed":
            failed.setdefault(job, number(a.get("t"), record.end_t))
        elif a.get("action") == action and a.get("outcome") == "blocked":
            blocked.add(job)
    judged = 0
    # … and no refusal is audited that did not happen: once a person approved the tool call
    # (fail closed unless approved), its follow-up goes ahead, so a "blocked" outcome of the
    # follow-up's action after the approval, with the follow-up submitted, is a false record
    jobs = {str(j.get("id")): (i, j) for i, j in enumerate(record.jobs)}
    for a in record.audit:
        got = jobs.get(str(a.get("job_id")))
        if got is None or a.get("phase") != "outcome" or a.get("outcome") != "blocked":
            continue
        i, j = got
        approved, t = j.get("approved_at"), number(a.get("t"), record.end_t)
        follow = json_object(j.get("result")).get("followup_job_id")
        if (
            j.get("kind") == "tool_call"
            and a.get("action") == action
            and approved is not None
            and t >= float(approved)
            and follow
        ):
            judged += 1
            out.append(
                Violation(
                    t,
                    ("tool call", "tool calls"),
                    f"audited its {kind} follow-up as refused after a person approved it, and "
                    f"submitted it all the same ({follow}): the audit says it was kept back",
                    str(a.get("job_id")),
                    evidence("jobs.jsonl", i),
                )
            )
    for i, j in enumerate(record.jobs):
        jid = str(j.get("id"))
        if j.get("kind") != "tool_call" or jid not in failed or j.get("state") == "succeeded":
            continue
        judged += 1
        if jid not in blocked:
            out.append(
                Violation(
                    failed[jid],
                    ("tool call", "tool calls"),
                    f"failed and withheld its {kind} follow-up with no audit of the refusal "
                    f"(a blocked {action} outcome)",
                    jid,
                    evidence("jobs.jsonl", i),
                )
            )
    return judged


_RATE_GAUGE = re.compile(r'^actions_per_minute\{account_id="(?P<a>[^"]*)"\}$')


@invariant()
def action_rate_gauge_truthful(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """``actions_per_minute{account_id}`` — the side-effect rate RB-10 and RB-11 watch for a
    runaway account — counts that account's side effects of the last 60 seconds: at each
    reading, the attempts the platform audited for that account in the minute before it (in
    process, on virtual time; a served platform's gauges are read at other moments than its
    audit; after a restart, those since the restart). A series whose label is no account of the
    drill, or a rate that counts other accounts' side effects or forgets to decay, is a gauge
    the on-call engineer cannot trust.
    """
    if record.topology != "in-process" or "time_scale" in record.extra:
        return NotApplicable("the rate gauge is judged on virtual time only")
    attempts: dict[str, list[float]] = {}
    for a in record.audit:
        if a.get("phase") == "attempt" and a.get("platform") in SOCIAL_FAKES:
            attempts.setdefault(str(a.get("account_id")), []).append(number(a.get("t")))
    for ts in attempts.values():
        ts.sort()
    # a restarted process counts from its start (its gauges begin empty, as any exporter's)
    restarts = sorted(e.t for e in record.timeline if e.kind == "platform.restarted")
    out: list[Violation] = []
    told: set[str] = set()
    checked = 0
    for t, values in record.metrics_samples:
        since = max([t - 60.0, *(r for r in restarts if r < t)])
        for key, value in values.items():
            m = _RATE_GAUGE.match(key)
            if m is None:
                continue
            checked += 1
            acc = m["a"]
            if acc in told:
                continue
            if acc not in record.accounts:
                phrase = f"read {value:g} for {acc!r}, which is no account of the drill"
            else:
                ts = attempts.get(acc, [])
                lo = bisect_left(ts, t) - bisect_right(ts, since)
                hi = bisect_right(ts, t) - bisect_left(ts, since)
                if lo <= value <= hi:
                    continue
                phrase = (
                    f"read {value:g} for {record.handle(acc)} at {format_offset(record.offset(t))}, "
                    f"though it had {hi} side effects in the minute before"
                )
            told.add(acc)
            out.append(Violation(t, ("gauge", "gauges"), phrase, key, "evidence/metrics.csv"))
    if checked == 0:
        return NotApplicable("the platform exports no actions_per_minute per account")
    return Findings(
        checked,
        out,
        f"all {checked} readings of actions_per_minute agree with the audited side effects",
    )


_KILL_GAUGE = re.compile(r'^kill_switch_state\{scope="(?P<s>[^"]*)"\}$')


def kill_gauge_label(scope: Mapping[str, object]) -> str:
    """The ``scope`` label of ``kill_switch_state`` for a kill switch's scope (docs/contracts.md):
    its set keys as ``k=v`` in key order, joined by commas; ``global`` for none."""
    return ",".join(f"{k}={v}" for k, v in sorted(scope.items()) if v is not None) or "global"


@invariant()
def kill_switch_gauge_truthful(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """The ``kill_switch_state{scope}`` gauge tells the truth the recovery checks read: 1 while
    the kill switch of that scope is engaged, 0 (or absent) once it is released or before it was
    engaged — against the drill's kill-switch intervals, not the platform's other words. A
    reading within a second of a change of that switch (a minute on a served platform or a
    scaled clock, whose gauges are read at another moment than the change) is not judged.

    A gauge left at 1 after a release tells the Ops Lead a stop is still in force while work
    has resumed (RB-01, RB-10), and the evidence bundle carries it (RB-11); one at 0 while
    engaged hides the stop.
    """
    in_process = record.topology == "in-process" and "time_scale" not in record.extra
    slack = 1.0 if in_process else 60.0
    spans: dict[str, list[tuple[float, float | None]]] = {}
    for k in record.kill_intervals():
        spans.setdefault(kill_gauge_label(k.scope), []).append((k.start, k.end))
    out: list[Violation] = []
    told: set[str] = set()
    checked = 0
    seen = False
    for t, values in record.metrics_samples:
        readings = {m["s"]: v for key, v in values.items() if (m := _KILL_GAUGE.match(key))}
        if not readings and not seen:
            continue  # no such gauge yet; once exported, a sample without it reads absent
        seen = True
        for label in sorted(set(readings) | set(spans)):
            ivs = spans.get(label, [])
            if any(abs(t - x) <= slack for iv in ivs for x in iv if x is not None):
                continue
            engaged = any(s <= t and (e is None or t < e) for s, e in ivs)
            value = readings.get(label)
            checked += 1
            if label in told or bool(value) == engaged:
                continue
            told.add(label)
            since = max((x for iv in ivs for x in iv if x is not None and x <= t), default=None)
            when = "" if since is None else f" (since {format_offset(record.offset(since))})"
            state = "engaged" if engaged else ("released" if ivs else "never engaged")
            got = "absent" if value is None else f"{value:g}"
            out.append(
                Violation(
                    t,
                    ("gauge", "gauges"),
                    f"read {got} at {format_offset(record.offset(t))} while that kill switch "
                    f"was {state}{when}",
                    f'kill_switch_state{{scope="{label}"}}',
                    "evidence/metrics.csv",
                )
            )
    if not seen:
        # the contract's metrics include the gauge: a platform that never exports it while a
        # switch is engaged says no switch is engaged to every dashboard that reads it
        engaged_at = [
            t
            for t, _ in record.metrics_samples
            for ivs in spans.values()
            for s, e in ivs
            if s + slack < t and (e is None or t < e - slack)
        ]
        if not engaged_at:
            return NotApplicable("the platform exports no kill_switch_state gauge")
        t = engaged_at[0]
        return Findings(
            len(engaged_at),
            [
                Violation(
                    t,
                    ("gauge", "gauges"),
                    f"absent from the platform's metrics at {format_offset(record.offset(t))} "
                    "while a kill switch was engaged (the contract's metrics include it)",
                    "kill_switch_state",
                    "evidence/metrics.csv",
                )
            ],
            "",
        )
    return Findings(
        checked,
        out,
        f"all {checked} readings of kill_switch_state agree with the drill's kill switches",
    )


class LeftBehindParams(Params):
    """Parameters of ``no_job_left_behind``."""

    settle_s: float = Field(
        900.0,
        ge=0,
        description="a job due this shortly before the drill ended may still be waiting its turn",
    )


def _listed(value: Json) -> list[Json]:
    return value if isinstance(value, list) else []


def _hold_at_end(record: DrillRecord, job: JobRow) -> str | None:
    """What control, in force when the drill ended, rightly keeps ``job`` waiting (None: none)."""
    kind = str(job.get("kind"))
    job_class, action = JOB_HOLDS.get(kind, (None, None))
    client, platform = job.get("client_id"), job.get("platform")
    end = record.controls_at_end
    for k in record.kill_intervals():
        if k.end is None and all(
            v is None or v == have
            for v, have in (
                (k.scope.get("client_id"), client),
                (k.scope.get("platform"), platform),
                (k.scope.get("action"), action),
            )
        ):
            return f"the kill switch for {k.label()}"
    if job_class is not None and job_class in _listed(end.get("paused")):
        return f"the paused {job_class} queue"
    for m in _listed(end.get("modes")):
        if isinstance(m, dict) and all(
            m.get(key) in (None, have)
            for key, have in (("client_id", client), ("platform", platform))
        ):
            return f"mode {m.get('mode')}"
    for lane in _listed(end.get("read_only_lanes")):
        if isinstance(lane, dict) and lane.get("platform") == platform:
            return f"the read-only {platform} {lane.get('lane')} lane"
    return None


@invariant(LeftBehindParams)
def no_job_left_behind(record: DrillRecord, p: LeftBehindParams) -> Findings | NotApplicable:
    """No work stops silently: a job still waiting for the runner at the end is waiting its turn.

    A job queued, scheduled, in retry_wait or running when the drill ended is left behind when it
    was due (its ``run_at``, or when it last changed state) more than ``settle_s`` before the end
    and no control in force at the end holds it (a kill switch covering its client, platform and
    action; its job class paused; a mode other than auto for its client and platform; a
    read-only lane). Jobs that wait for a person (awaiting approval, needs human confirmation)
    and jobs due after the end (parked by a daily cap until midnight, a retry's back-off) are
    not left behind. This is the "silently stops" incident: a crash on a retry or release path
    that leaves a job queued forever while every dashboard shows nothing failed.
    """
    if not record.jobs:
        return NotApplicable("the platform reported no jobs")
    out: list[Violation] = []
    checked = 0
    held: dict[str, int] = {}
    for i, j in enumerate(record.jobs):
        state = str(j.get("state"))
        if state not in WAITING_STATES:
            continue
        run_at = j.get("run_at")
        changed = j.get("updated_at") or j.get("created_at") or record.end_t
        due = max(float(run_at or 0.0), float(changed))
        if due > record.end_t - p.settle_s:
            continue
        checked += 1
        hold = _hold_at_end(record, j)
        if hold is not None:
            held[hold] = held.get(hold, 0) + 1
            continue
        since = "it started" if state == "running" else "it was due"
        phrase = (
            f"of kind {j.get('kind')} still {state} when the drill ended, more than "
            f"{format_duration(p.settle_s)} after {since}, with no control holding it"
        )
        out.append(
            Violation(
                record.end_t, ("job", "jobs"), phrase, str(j.get("id")), evidence("jobs.jsonl", i)
            )
        )
    if checked == 0:
        return NotApplicable(
            f"no job was still waiting for the runner {format_duration(p.settle_s)} after it was due"
        )
    why = "; ".join(f"{n} held by {h}" for h, n in sorted(held.items()))
    return Findings(
        checked,
        out,
        f"{checked} jobs still waiting {format_duration(p.settle_s)} after they were due, each "
        "held by a "
        f"control in force at the end ({why})",
    )


#: every state a job may be in (``sandbox.contract.JobState``)
JOB_STATES: tuple[str, ...] = JobState.__args__  # type: ignore[attr-defined]
#: the actions an audit event may carry: the contract's, and the reference platform's own
#: (docs/contracts.md: egress refusals, a dead-lettered auth check or engagement poll)
EVENT_ACTIONS: tuple[str, ...] = (*AUDIT_ACTIONS, "http.request", "auth.check", "engagement.poll")


#: the reasons a refusal by the gate names first (docs/contracts.md)
_GATE_REFUSALS = ("kill_switch:", "mode:", "lane:read_only")


def _action_breach(a: AuditRow) -> str | None:
    """How an audit event's action leaves the contract, or None (phase and outcome:
    ``every_side_effect_audited``)."""
    action = a.get("action")
    if action in EVENT_ACTIONS:
        return None
    return (
        f"written under action {action!r}, not one the contract defines (a job kind is no "
        f"action; valid: {', '.join(EVENT_ACTIONS)})"
    )


#: how the runner names an exception no handler expected (``internal: <type>: <message>``)
_INTERNAL = re.compile(r"(?:^|\W)internal: (?P<type>[A-Z][\w.]*):")
#: how the platform words a tool-call recursion stop (``sandbox.budget.RecursionCapExceeded``)
_RECURSION_STOP = re.compile(
    r"recursion_stop: episode '(?P<episode>[^']*)' reached tool-call round (?P<round>\d+), "
    r"above the cap of (?P<cap>\d+)"
)


@invariant()
def no_unexpected_errors(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """No job fails, retries or stops on an error its own code did not mean to raise.

    The runner turns an exception no handler expected into ``internal: <type>: <message>`` and
    retries the job: a ``TypeError``, ``KeyError`` or ``AttributeError`` there is a bug in the
    platform the drill surfaced, even when a retry went on to succeed or the job then stopped for
    another reason. Judged on every job's last error and every audit event's error. A stop
    that contradicts itself is one too: a tool-call recursion stop at a round within its cap
    (``reached tool-call round 8, above the cap of 8``) stopped work the cap allowed, and so
    did one at a round its episode had not reached (round *n* follows the episode's *n*-th model
    call, which the audit's ``llm.complete`` attempts count by ``episode_id``), or after more
    answered model calls than its round (the cap let one more round run than it says); and the
    job a stop ended ran no tool call of the round the cap refused (one after its episode's
    answer number ``cap + 1``).
    """
    out: list[Violation] = []
    checked = 0
    sources: list[tuple[int, str, str, str, float]] = [
        (i, "jobs.jsonl", str(j.get("id")), str(j.get("last_error") or ""), record.end_t)
        for i, j in enumerate(record.jobs)
    ] + [
        (i, "audit.jsonl", str(a.get("event_id")), str(a.get("error") or ""), float(a["t"]))
        for i, a in enumerate(record.audit)
        if a.get("error")
    ]
    #: each episode's model calls (their times): a tool-call round follows a model call
    model_calls: dict[str, list[float]] = {}
    #: … and the times of those the provider answered (a retried call answers once)
    answered: dict[str, list[float]] = {}
    for a in record.audit:
        if a.get("action") != "llm.complete":
            continue
        ep = dict(a.get("detail") or {}).get("episode_id")
        if ep is None:
            continue
        if a.get("phase") == "attempt":
            model_calls.setdefault(str(ep), []).append(float(a["t"]))
        elif a.get("phase") == "outcome" and a.get("outcome") == "success":
            answered.setdefault(str(ep), []).append(float(a["t"]))
    for i, file, ref, error, t in sources:
        if not error:
            continue
        checked += 1
        noun = ("job", "jobs") if file == "jobs.jsonl" else ("audit event", "audit events")
        if (m := _INTERNAL.search(error)) is not None:
            phrase = f"hit an error its code did not expect ({m['type']})"
        elif (m := _RECURSION_STOP.search(error)) is not None and int(m["round"]) <= int(m["cap"]):
            phrase = f"stopped at tool-call round {m['round']}, which its cap of {m['cap']} allows"
        elif (
            m is not None
            and m["episode"] in model_calls
            and (made := sum(1 for u in model_calls[m["episode"]] if u <= t)) < int(m["round"])
        ):
            # round n of an episode follows its n-th model call: a count that ran ahead of the
            # episode's own calls was kept somewhere else (per client, per job class …)
            phrase = (
                f"stopped episode {m['episode']!r} at tool-call round {m['round']} after only "
                f"{made} model calls of that episode"
            )
        elif m is not None and (
            paid := sum(1 for u in answered.get(m["episode"], ()) if u <= t)
        ) > int(m["round"]):
            # … and the stop comes at the round after the model's answer that went over the cap:
            # more answered calls than the stop's round is a round the cap let through
            phrase = (
                f"stopped episode {m['episode']!r} at tool-call round {m['round']} (cap "
                f"{m['cap']}) after {paid} answered model calls: the cap let a round more run"
            )
        else:
            continue
        out.append(Violation(t, noun, phrase, ref, evidence(file, i)))
    out += _tools_past_the_cap(record)
    if checked == 0:
        return NotApplicable("no job and no audit event carried an error")
    return Findings(
        checked,
        out,
        f"none of {checked} errors of jobs and audit events was one the platform did not expect",
    )


def _tools_past_the_cap(record: DrillRecord) -> list[Violation]:
    """A job stopped by a recursion stop ran no tool of the round the cap stopped: round *k*
    follows its episode's *k*-th answered model call, so no ``tool.call`` of the job may follow
    the answer of round ``cap + 1`` (that round's tools run only for a cap that let it through)."""
    stops: dict[str, tuple[str, int, int]] = {}
    for i, j in enumerate(record.jobs):
        if (m := _RECURSION_STOP.search(str(j.get("last_error") or ""))) is not None:
            stops[str(j.get("id"))] = (m["episode"], int(m["cap"]), i)
    if not stops:
        return []
    out: list[Violation] = []
    answers: dict[tuple[str, str], int] = {}
    told: set[str] = set()
    for a in sorted(record.audit, key=lambda a: int(a.get("seq") or 0)):
        job = str(a.get("job_id"))
        if job not in stops or job in told:
            continue
        episode, cap, _ = stops[job]
        if a.get("action") == "llm.complete" and a.get("phase") == "outcome":
            if a.get("outcome") == "success" and (
                dict(a.get("detail") or {}).get("episode_id") == episode
            ):
                answers[(job, episode)] = answers.get((job, episode), 0) + 1
        elif (
            a.get("action") == "tool.call"
            and a.get("phase") == "attempt"
            and answers.get((job, episode), 0) > cap
        ):
            told.add(job)
            out.append(
                Violation(
                    float(a.get("t") or 0.0),
                    ("job", "jobs"),
                    f"ran a tool call of round {answers[(job, episode)]} of episode "
                    f"{episode!r}, which its cap of {cap} stops (the round is refused "
                    "before its tools run)",
                    job,
                    evidence("audit.jsonl", record.audit.index(a)),
                )
            )
    return out


@invariant()
def jobs_within_the_contract(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """Every job and audit event the platform reports stays within the platform contract.

    A job has a kind and a state of the contract; an audit event an action the contract defines
    (a dead letter or a fail-closed follow-up written under the job's kind, ``publish``, is one
    no detection rule, ``vibedrill coverage`` or judge matches: RB-02's dead-letter symptom
    looks for ``post.create``).

    A state outside ``JobState`` (a typo, another spelling) is one no operator filter, runner
    check or judge knows: a job in it is neither waiting, running nor done for anyone reading it.
    Every audit event names the job that acted (``job_id``), a job the platform reports, of the
    event's client: an event without it cannot be traced to its work, its approval or its retries.
    A post handed to a person (``needs_human_confirm``) follows an earlier attempt of its job or
    a post the fakes hold: after a single refused attempt nothing can have posted, and the
    confirmation queue would claim posts that never existed.
    The feed numbers its events in order, one apart and above the cursor they were read after:
    a reader resuming from the last ``seq`` it saw must neither skip nor re-read an event; nor
    may the control-change feed answer a change at or before the cursor it was read after.
    """
    if not record.jobs:
        return NotApplicable("the platform reported no jobs")
    out: list[Violation] = []
    jobs = {str(j.get("id")): j for j in record.jobs}
    for i, a in enumerate(record.audit):
        job = jobs.get(str(a.get("job_id")))
        breach = _action_breach(a)
        if breach is not None:
            phrase = breach
        elif (
            a.get("phase") == "outcome"
            and a.get("outcome") not in (None, "blocked")
            and str(a.get("error") or "").startswith(_GATE_REFUSALS)
        ):
            # the contract: a refusal by the gate is audited blocked, its reason first — a
            # control's hold written as a failure counts as a failed side effect (the
            # error-rate alert, the failure tally) and hides the control that stopped it
            phrase = (
                f"audited {a.get('outcome')} though the gate refused it "
                f"({str(a.get('error')).split(' ', 1)[0]}: a control's refusal is blocked)"
            )
        elif job is None:
            phrase = "naming no job the platform reports"
        elif a.get("client_id") is not None and job.get("client_id") not in (
            None,
            a.get("client_id"),
        ):
            phrase = "naming a job of another client"
        else:
            continue
        out.append(
            _event_finding(record, i, phrase, f"{a.get('action')}, job_id {a.get('job_id')}")
        )
    out += _lone_attempts_handed_over(record)
    out += _feed_misnumbered(record)
    out += _control_feed_reread(record)
    out += _resubmissions_forked(record)
    for i, j in enumerate(record.jobs):
        state, kind = str(j.get("state")), j.get("kind")
        wrong = [f"state {state!r}"] if state not in JOB_STATES else []
        wrong += [f"kind {kind!r}"] if kind is not None and kind not in JOB_KINDS else []
        if wrong:
            out.append(
                Violation(
                    float(j.get("updated_at") or record.end_t),
                    ("job", "jobs"),
                    f"reported outside the contract ({' and '.join(wrong)}; the contract's "
                    f"states: {', '.join(JOB_STATES)})",
                    str(j.get("id")),
                    f"evidence/jobs.jsonl#L{i + 1}",
                )
            )
    return Findings(
        len(record.jobs) + len(record.audit),
        out,
        f"all {len(record.jobs)} jobs have a kind and a state of the contract, and all "
        f"{len(record.audit)} audit events an action of the contract and a job among them",
    )


def _event_finding(record: DrillRecord, i: int, phrase: str, what: str) -> Violation:
    """The finding about ``record.audit[i]``: ``phrase``, referenced by its id and ``what``."""
    a = record.audit[i]
    return Violation(
        float(a.get("t") or record.end_t),
        ("audit event", "audit events"),
        phrase,
        f"{a.get('event_id')} ({what})",
        f"evidence/audit.jsonl#L{i + 1}",
    )


def _resubmissions_forked(record: DrillRecord) -> list[Violation]:
    """A job submitted again under its idempotency key is the job submitted first, whatever
    became of it (succeeded, failed, dead-lettered): a second job under the key posts again
    without what the first one knew (an earlier attempt that may have landed)."""
    first = {str(w.get("idempotency_key")): str(w.get("job_id")) for w in record.workload}
    out: list[Violation] = []
    for r in record.resubmissions:
        key, got = str(r.get("idempotency_key")), str(r.get("job_id"))
        was = first.get(key)
        if was is not None and got != was:
            state = next((j.get("state") for j in record.jobs if str(j.get("id")) == was), "?")
            out.append(
                Violation(
                    number(r.get("t"), record.end_t),
                    ("job", "jobs"),
                    f"submitted again under key {key} came back as a new job {got}, not the "
                    f"first one ({was}, {state}): one key, two jobs",
                    got,
                    "evidence/workload.jsonl",
                )
            )
    return out


def _lone_attempts_handed_over(record: DrillRecord) -> list[Violation]:
    """Posts handed to a person as "an earlier attempt may have posted" with neither an earlier
    attempt nor a post of their job: after one refused attempt there is no doubt to hand over."""
    made: dict[str, int] = {}
    for a in record.audit:
        if a.get("action") == "post.create" and a.get("phase") == "attempt":
            made[str(a.get("job_id"))] = made.get(str(a.get("job_id")), 0) + 1
    f = facts(record)
    posted = {
        intent.job_id
        for i, e in enumerate(record.ledger)
        if e.get("action") in SIDE_EFFECT_ACTIONS and (intent := f.intents.get(i)) is not None
    }
    return [
        _event_finding(
            record,
            i,
            "handed a post to a person as maybe posted after its only attempt, which posted "
            "nothing (no earlier attempt could have)",
            f"post.create, job_id {a.get('job_id')}",
        )
        for i, a in enumerate(record.audit)
        if a.get("action") == "post.create"
        and a.get("outcome") == "needs_human_confirm"
        and made.get(str(a.get("job_id")), 0) <= 1
        and str(a.get("job_id")) not in posted
    ]


def _control_feed_reread(record: DrillRecord) -> list[Violation]:
    """The control-change feed answering, after a cursor, a change at or before it (the drill's
    monitor reads it that way and puts each such answer on the timeline)."""
    ev = record.timeline.of_kind("control.feed_reread")
    if not ev:
        return []
    first = ev[0]
    return [
        Violation(
            first.t,
            ("control change", "control changes"),
            f"answered again after the cursor {first.data.get('after')} by the cursor-paged change "
            f"feed ({len(ev)} times in the drill; a reader resuming from the last seq it saw "
            "would apply a change twice)",
            f"#{first.data.get('control_seq')}",
            "evidence/timeline.jsonl",
        )
    ]


def _feed_misnumbered(record: DrillRecord) -> list[Violation]:
    """The first audit event out of the feed's numbering: append-only and cursor-paged (``seq >
    cursor``), read in order from a cursor of 0 or more, its events are numbered one apart."""
    before = 0
    for i, a in enumerate(record.audit):
        seq = a.get("seq")
        if (
            isinstance(seq, int)
            and not isinstance(seq, bool)
            and seq > before
            and (i == 0 or seq == before + 1)
        ):
            before = seq
            continue
        return [  # one misnumbered feed is one finding
            _event_finding(
                record,
                i,
                f"numbered {seq!r} after {before} in the cursor-paged feed (each event's seq is "
                "one more than the one before, and above the cursor it was read after)",
                str(a.get("action")),
            )
        ]
    return []


#: a W3C ``traceparent`` of version 00: trace id, parent (span) id, flags
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")


@invariant()
def requests_traced_to_their_jobs(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """Every request the platform sends for its work can be traced: a W3C ``traceparent`` of
    the job's trace, with a span id of its own.

    Ground truth is the fakes' journal (the header as it reached them). A malformed header, or
    an all-zero trace or span id, is one a tracing backend drops; a request carrying a job's
    idempotency key names the trace the platform audits that job under, and one of a job's
    trace carries that job's key (on every attempt: a retry under a key of its own is a new
    request to an API that deduplicates on it); and no two requests of
    a trace share a span id — a span id names one request, or a slow call, a 429 or a
    double post cannot be told from its neighbours in the trace (an SDK's own resend, marked by
    its retry count, is the same request).
    """
    traces: dict[str, set[str]] = {}
    #: trace → the idempotency keys its job is audited under
    keys: dict[str, set[str]] = {}
    for a in record.audit:
        key = a.get("idempotency_key")
        if key is not None and a.get("trace_id"):
            traces.setdefault(str(key), set()).add(str(a.get("trace_id")))
            keys.setdefault(str(a.get("trace_id")), set()).add(str(key))
    out: list[Violation] = []
    first: dict[tuple[str, str], int] = {}
    checked = 0
    for i, r in enumerate(record.journal):
        header = r.get("traceparent")
        if header is None:
            continue
        checked += 1
        m = _TRACEPARENT.fullmatch(header)
        trace, span = (m.group(1), m.group(2)) if m else ("", "")
        key = r.get("idempotency_key")
        if m is None or int(trace, 16) == 0 or int(span, 16) == 0:
            phrase = f"carrying a traceparent outside W3C Trace Context ({header!r})"
        elif key is not None and str(key) in traces and trace not in traces[str(key)]:
            phrase = (
                f"carrying trace {trace} though the platform audits its job (idempotency key "
                f"{key}) under {', '.join(sorted(traces[str(key)]))}"
            )
        elif (
            key is not None
            and r.get("fake") in SOCIAL_FAKES  # a render service's key is the render's own
            and trace in keys
            and str(key) not in keys[trace]
        ):
            # the key on the wire is not the job's: a retry under a key of its own is a new
            # request to any API that deduplicates on it, and its evidence names no job
            phrase = (
                f"carrying idempotency key {key} though the platform audits the job of its "
                f"trace {trace} under {', '.join(sorted(keys[trace]))}"
            )
        elif (trace, span) in first and not r.get("retry_count"):
            j = first[(trace, span)]
            phrase = (
                f"sharing span id {span} of trace {trace} with request "
                f"{record.journal[j].get('request_id')} ({record.journal[j].get('route')})"
            )
        else:
            if not r.get("retry_count"):
                first[(trace, span)] = i
            continue
        out.append(
            Violation(
                float(r.get("t") or record.end_t),
                ("request", "requests"),
                phrase,
                f"{r.get('request_id')} ({r.get('fake')} {r.get('route')})",
                evidence("journal.jsonl", i),
            )
        )
    if checked == 0:
        return NotApplicable("no request carried a traceparent")
    return Findings(
        checked,
        out,
        f"all {checked} traced requests carry their job's trace, each with a span id of its own",
    )


class _Silence:
    """Bursts no alert answered: an alert ``window_s`` before a burst or ``within_s`` after it
    answers it, and a silent burst is reported once per window of silence."""

    def __init__(self, alerts: list[float], window_s: float, within_s: float) -> None:
        self.alerts, self.window_s, self.within_s = alerts, window_s, within_s
        self.until = float("-inf")

    def new(self, t: float) -> bool:
        """Whether the burst completed at ``t`` is a new finding (and start its window)."""
        if t <= self.until or any(
            t - self.window_s <= at <= t + self.within_s for at in self.alerts
        ):
            return False
        self.until = t + self.window_s
        return True


def _unalerted(
    record: DrillRecord,
    due: list[float],
    glob: str,
    window_s: float,
    within_s: float,
    noun: tuple[str, str],
    said: tuple[str, str],
    evidence: str,
) -> tuple[int, list[Violation]]:
    """The readings or bursts completed at ``due`` that no alert whose name matches ``glob``
    answered (:class:`_Silence`, with the scaled clock's slack): (alerts raised, violations).
    Each violation says ``said[0]`` "without an alert matching … within …" (``said[1]``; how
    many such alerts the drill had)."""
    alerts = [
        float(a.get("t") or 0.0) for a in record.alerts if fnmatchcase(str(a.get("name")), glob)
    ]
    silence = _Silence(alerts, window_s, within_s + real_slack(record))
    how = f"{said[1]}; " if said[1] else ""
    return len(alerts), [
        Violation(
            t,
            noun,
            f"{said[0]}without an alert matching {glob!r} within {format_duration(within_s)} "
            f"({how}{len(alerts)} such alerts in the whole drill)",
            format_offset(record.offset(t)),
            evidence,
        )
        for t in due
        if silence.new(t)
    ]


class DeadLetterAlertParams(Params):
    """Parameters of ``dead_letters_alerted``."""

    alert: str = Field(
        "dead_letters*", description="glob of the alert's name (RB-02's dead-letter symptom)"
    )
    min_dead_letters: int = Field(
        3, ge=1, description="dead letters within window_s that call for the alert"
    )
    window_s: float = Field(600.0, gt=0, description="the window the dead letters fall in")
    within_s: float = Field(
        120.0,
        ge=0,
        description="how soon after the dead letter that completes the count the alert fires",
    )


@invariant(DeadLetterAlertParams)
def dead_letters_alerted(record: DrillRecord, p: DeadLetterAlertParams) -> Findings | NotApplicable:
    """Lost work pages someone: when ``min_dead_letters`` jobs are dead-lettered within
    ``window_s``, the platform raises the dead-letter alert within ``within_s`` (or already
    raised it in the window before).

    A dead letter is work the platform gave up on; the alert is how the on-call engineer hears
    of it (RB-02 detects on it). The dead letters are the jobs the platform reports in that
    state at the end (a dead letter is final: its last update is when it was given up).
    """
    times = sorted(
        float(j.get("updated_at") or record.end_t)
        for j in record.jobs
        if str(j.get("state")) == "dead_letter"
    )
    n = p.min_dead_letters
    due = [
        times[k]
        for k in range(n - 1, len(times))
        if times[k] - times[k - n + 1] <= p.window_s and times[k] + p.within_s <= record.end_t
    ]
    if not due:
        return NotApplicable(
            f"the platform never dead-lettered {n} jobs within {format_duration(p.window_s)}"
        )
    raised, out = _unalerted(
        record,
        due,
        p.alert,
        p.window_s,
        p.within_s,
        ("dead-letter burst", "dead-letter bursts"),
        ("", f"{n} jobs dead-lettered within {format_duration(p.window_s)}"),
        "evidence/alerts.jsonl",
    )
    return Findings(
        len(due),
        out,
        f"every burst of {n} dead letters within {format_duration(p.window_s)} raised an alert "
        f"matching {p.alert!r} ({raised} raised)",
    )


class AlertRepeatParams(Params):
    """Parameters of ``alerts_deduplicated``."""

    min_gap_s: float = Field(
        300.0, gt=0, description="the least time between two pages of one alert (name and labels)"
    )


@invariant(AlertRepeatParams)
def alerts_deduplicated(record: DrillRecord, p: AlertRepeatParams) -> Findings | NotApplicable:
    """One problem is one page: the same alert (name and labels) is not raised again within
    ``min_gap_s`` of its last raising.

    An on-call engineer paged every evaluation for the problem they are already working on stops
    reading the pager (alert fatigue): a dedupe keyed on something that changes each time — the
    message with its live counts, a timestamp — turns one page into a storm while the alert
    rules themselves look right.
    """
    if not record.alerts:
        return NotApplicable("the platform raised no alert")
    # a restart forgets what was paged (a platform's own dedupe lives in its process)
    restarts = [e.t for e in record.timeline if e.kind == "platform.restarted"]
    last: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    out: list[Violation] = []
    told: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for a in sorted(record.alerts, key=lambda a: float(a.get("t") or 0.0)):
        labels = tuple(sorted((str(k), str(v)) for k, v in dict(a.get("labels") or {}).items()))
        key = (str(a.get("name")), labels)
        t = float(a.get("t") or 0.0)
        before = last.get(key)
        last[key] = t
        if before is None or t - before >= p.min_gap_s or key in told:
            continue
        if any(before <= r <= t for r in restarts):
            continue
        told.add(key)
        shown = ", ".join(f"{k}={v}" for k, v in labels)
        out.append(
            Violation(
                t,
                ("alert", "alerts"),
                f"raised again {format_duration(t - before)} after it last paged (under "
                f"{format_duration(p.min_gap_s)}: one problem, one page)",
                f"{key[0]}{'{' + shown + '}' if shown else ''} at {format_offset(record.offset(t))}",
                "evidence/alerts.jsonl",
            )
        )
    return Findings(
        len(record.alerts),
        out,
        f"none of {len(record.alerts)} alerts was raised again within "
        f"{format_duration(p.min_gap_s)} of its last page",
    )


class BacklogAlertParams(Params):
    """Parameters of ``queue_backlog_alerted``."""

    alert: str = Field("queue_backlog*", description="glob of the alert's name (RB-07's symptom)")
    depth: float = Field(
        500.0, gt=0, description="jobs waiting (the label-free queue_depth) that call for it"
    )
    window_s: float = Field(
        600.0, gt=0, description="an alert this long before the reading still answers it"
    )
    within_s: float = Field(120.0, ge=0, description="how soon after the reading it fires")


@invariant(BacklogAlertParams)
def queue_backlog_alerted(record: DrillRecord, p: BacklogAlertParams) -> Findings | NotApplicable:
    """A backlog pages someone: when the platform's own ``queue_depth`` (all job classes) reads
    at least ``depth``, it raises its queue backlog alert within ``within_s`` (or had raised it
    in the ``window_s`` before).

    RB-07 begins with "queue depth rising": a gauge that shows the backlog while the alert
    that should read it counts something else (the jobs running, one class's queue) leaves the
    backlog to be found by the clients whose posts are late. The gauge's own truth is
    ``queue_metrics_truthful``'s to judge.
    """
    due = [
        t
        for t, values in record.metrics_samples
        if number(values.get("queue_depth"), 0.0) >= p.depth
        and t + p.within_s + real_slack(record) <= record.end_t
    ]
    if not due:
        return NotApplicable(f"the platform's queue_depth never read {p.depth:g} or more")
    raised, out = _unalerted(
        record,
        due,
        p.alert,
        p.window_s,
        p.within_s,
        ("backlog", "backlogs"),
        (f"of {p.depth:g} or more jobs waiting ", ""),
        "evidence/metrics.csv",
    )
    return Findings(
        len(due),
        out,
        f"every reading of {p.depth:g} or more jobs waiting had an alert matching {p.alert!r} "
        f"({raised} raised)",
    )


def _alerts_by_platform(
    record: DrillRecord, glob: str, severity: str | None = None
) -> dict[str | None, list[float]]:
    """Times of the alerts whose name matches ``glob`` (and of ``severity``, when given), by
    their ``platform`` label (None: an alert naming no platform, which answers for every one)."""
    alerts: dict[str | None, list[float]] = {}
    for al in record.alerts:
        if severity is not None and al.get("severity") not in (None, severity):
            continue
        if fnmatchcase(str(al.get("name")), glob):
            where = dict(al.get("labels") or {}).get("platform")
            alerts.setdefault(where, []).append(float(al.get("t") or 0.0))
    return alerts


def _silent_bursts(
    record: DrillRecord,
    times: dict[str, list[float]],
    alerts: dict[str | None, list[float]],
    p: VerificationAlertParams
    | AuthAlertParams
    | RateLimitAlertParams
    | EngagementAlertParams
    | InboxAlertParams,
    noun: tuple[str, str],
    what: str,
) -> tuple[int, list[Violation]]:
    """Bursts of ``p.min_failures`` events per platform within ``p.window_s`` (``times``) that
    no alert of that platform answered within ``p.within_s``: (bursts judged, violations).
    ``what`` names the events in the sentence ("publishes not visible")."""
    n = p.min_failures
    out: list[Violation] = []
    checked = 0
    for platform, ts in sorted(times.items()):
        ts.sort()
        silence = _Silence(
            alerts.get(platform, []) + alerts.get(None, []),
            p.window_s,
            p.within_s + real_slack(record),
        )
        for k in range(n - 1, len(ts)):
            t = ts[k]
            if t - ts[k - n + 1] > p.window_s or t + p.within_s > record.end_t:
                continue
            checked += 1
            if not silence.new(t):
                continue
            out.append(
                Violation(
                    t,
                    noun,
                    f"on {platform} without an alert matching {p.alert!r} within "
                    f"{format_duration(p.within_s)} ({n} {what} within "
                    f"{format_duration(p.window_s)})",
                    format_offset(record.offset(t)),
                    "evidence/alerts.jsonl",
                )
            )
    return checked, out


class VerificationAlertParams(Params):
    """Parameters of ``verification_failures_alerted``."""

    alert: str = Field(
        "verification_failed*", description="glob of the alert's name (RB-03's symptom)"
    )
    min_failures: int = Field(
        3, ge=1, description="publishes on a platform left unverified within window_s"
    )
    window_s: float = Field(600.0, gt=0, description="the window the failures fall in")
    within_s: float = Field(
        120.0, ge=0, description="how soon after the failure that completes the count it fires"
    )


def _unverified(a: Mapping[str, object]) -> bool:
    """An audited publish the platform could not see after it posted (RB-03)."""
    proof = a.get("proof")
    return (
        a.get("action") == "post.create"
        and a.get("phase") == "outcome"
        and isinstance(proof, Mapping)
        and proof.get("verified") is False
    )


@invariant(VerificationAlertParams)
def verification_failures_alerted(
    record: DrillRecord, p: VerificationAlertParams
) -> Findings | NotApplicable:
    """Posts that never become visible page someone: when ``min_failures`` publishes on a
    platform end unverified within ``window_s``, the platform raises its verification alert for
    that platform within ``within_s`` (or had already raised it in the window before).

    A post the platform made but cannot find (RB-03: shadow-banned, filtered, still processing)
    ends ``needs_human_confirm``: no job fails, no side effect is lost, so nothing but the alert
    tells the on-call engineer that a platform has stopped showing the agency's posts. The
    unverified publishes are the platform's audit (``post.create`` outcomes whose proof says
    ``verified: false``); the alert is what its metrics make of them — and it does not fire for
    fewer of them than ``min_failures`` in the window (a false page).
    """
    times: dict[str, list[float]] = {}
    for a in record.audit:
        if _unverified(a):
            times.setdefault(str(a.get("platform")), []).append(float(a["t"]))
    n = p.min_failures
    alerts = _alerts_by_platform(record, p.alert)
    checked, out = _silent_bursts(
        record,
        times,
        alerts,
        p,
        ("burst of unverified posts", "bursts of unverified posts"),
        "publishes not visible",
    )
    # … and no such page for fewer: the alert counts posts left unverified, not the lookups of
    # one post that did not find it (each counted, one invisible post pages on its own)
    checked += _alerts_without_cause(
        record, alerts, times, p, f"fewer than {n} publishes had ended unverified", out, need=n
    )
    if checked == 0:
        return NotApplicable(
            f"no platform left {n} publishes unverified within {format_duration(p.window_s)}"
        )
    return Findings(
        checked,
        out,
        f"every burst of {n} unverified publishes within {format_duration(p.window_s)} raised "
        f"an alert matching {p.alert!r}",
    )


class _RefusalAlertParams(Params):
    """The window of a burst of refused requests and how soon its alert fires."""

    window_s: float = Field(600.0, gt=0, description="the window the refusals fall in")
    within_s: float = Field(
        120.0, ge=0, description="how soon after the refusal that completes the count it fires"
    )


class AuthAlertParams(_RefusalAlertParams):
    """Parameters of ``auth_failures_alerted``."""

    alert: str = Field("auth_failing*", description="glob of the alert's name (RB-04's symptom)")
    min_failures: int = Field(
        3, ge=1, description="requests to a platform refused as unauthorised within window_s"
    )


def _unauthorised(j: Mapping[str, object]) -> bool:
    """A request a social platform refused for its token (a 401, a token fault's answer, or
    Graph's code 190 — Instagram refuses a token with a 400 — also once the fault's window is
    over and the token it revoked stays refused)."""
    kind = str(j.get("fault_kind") or "")
    status = int(number(j.get("status"), 0))
    return str(j.get("fake")) in SOCIAL_FAKES and (
        status == 401
        or (status >= 400 and "token" in kind.partition(".")[2])
        or (j.get("fake") == "instagram" and str(j.get("error") or "").partition("/")[0] == "190")
    )


@invariant(AuthAlertParams)
def auth_failures_alerted(record: DrillRecord, p: AuthAlertParams) -> Findings | NotApplicable:
    """Refused tokens page someone, and only refused tokens do: when ``min_failures`` requests to a
    platform are refused as unauthorised within ``window_s``, the platform raises its auth alert
    for that platform within ``within_s``; an auth alert for a platform that refused no token in
    the ``window_s`` before it sends the on-call engineer to the wrong runbook (RB-04 for what
    is a rate limit or an outage).

    The refusals are the fakes' journal (a 401, or an answer of a token fault: Instagram refuses
    an expired token with a 400 and code 190), not the platform's word; the alert is what its
    metrics make of them.
    """
    times: dict[str, list[float]] = {}
    for j in record.journal:
        if _unauthorised(j):
            times.setdefault(str(j.get("fake")), []).append(number(j.get("t")))
    alerts = _alerts_by_platform(record, p.alert)
    n = p.min_failures
    checked, out = _silent_bursts(
        record,
        times,
        alerts,
        p,
        ("burst of refused tokens", "bursts of refused tokens"),
        "requests refused as unauthorised",
    )
    for where, ats in sorted(alerts.items(), key=lambda kv: str(kv[0])):
        for at in ats:
            if where is None:
                continue
            checked += 1
            if any(at - p.window_s <= t <= at for t in times.get(str(where), ())):
                continue
            out.append(
                Violation(
                    at,
                    ("false auth page", "false auth pages"),
                    f"for {where}, which refused no token in the {format_duration(p.window_s)} "
                    "before it",
                    format_offset(record.offset(at)),
                    "evidence/alerts.jsonl",
                )
            )
    if checked == 0:
        return NotApplicable(
            f"no platform refused {n} tokens within {format_duration(p.window_s)} and no auth "
            "alert was raised"
        )
    return Findings(
        checked,
        out,
        f"every burst of {n} refused tokens raised an alert matching {p.alert!r}, and every "
        "such alert followed refused tokens",
    )


#: a failure the platform blames on the platform's refusal of a token (its own wording: a 401,
#: Graph's code 190, a token it gave up as needing re-authentication, a refresh refused)
_AUTH_FAILURE = re.compile(
    r"^(?:(?P<account>[\w.-]+): )?(?P<fake>x|instagram|linkedin)\."
    r"(?:unauthorized|token_invalid|token_rejected|refresh_failed)\b"
)


def _token_route(j: Mapping[str, object]) -> bool:
    return "token" in str(j.get("route") or "") or "oauth" in str(j.get("route") or "")


@invariant()
def auth_failures_on_the_wire(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """Work fails for a refused token only once the platform refused one: a job (or a poll's
    account) the platform failed as unauthorised — a 401, Graph's code 190, a token given up as
    needing re-authentication, a refresh refused — has, at or before that failure, a request of
    that platform's account in the fakes' journal that was refused for its token (or a token
    endpoint of that platform that answered an error or nothing).

    A platform that gives up a token the platform still takes (an expiry margin meant for
    tokens it can refresh applied to ones it cannot, an expiry misread) stops an account that
    works, and sends someone to reconnect it for nothing.
    """
    slack = 1.0 + float(record.extra.get("clock_skew_s") or 0.0)
    #: (fake, account or None) → when its tokens were refused
    refused: dict[tuple[str, str | None], list[float]] = {}
    for j in record.journal:
        fake = str(j.get("fake"))
        if fake not in SOCIAL_FAKES:
            continue
        status = int(number(j.get("status"), 0))
        if _unauthorised(j) or (_token_route(j) and (status >= 400 or status == 0)):
            account = j.get("account_id")
            refused.setdefault((fake, None if account is None else str(account)), []).append(
                number(j.get("t"))
            )

    def told(fake: str, account: str | None, t: float) -> bool:
        keys: list[tuple[str, str | None]] = [(fake, None)]
        if account:
            keys.append((fake, account))
        if account is None:
            keys += [k for k in refused if k[0] == fake]
        return any(r <= t + slack for k in keys for r in refused.get(k, ()))

    out: list[Violation] = []
    checked = 0
    for i, job in enumerate(record.jobs):
        t = number(job.get("updated_at"), record.end_t)
        blamed: list[tuple[str, str | None]] = []
        m = _AUTH_FAILURE.match(str(job.get("last_error") or ""))
        if m is not None and job.get("state") in ("failed", "dead_lettered"):
            blamed.append(
                (m["fake"], None if job.get("account_id") is None else str(job["account_id"]))
            )
        errors = json_object(job.get("result")).get("errors")
        for err in errors if isinstance(errors, list) else ():
            m = _AUTH_FAILURE.match(str(err))
            if m is not None and m["account"]:
                blamed.append((m["fake"], m["account"]))
        for fake, account in blamed:
            checked += 1
            if told(fake, account, t):
                continue
            who = record.handle(account) if account else fake
            out.append(
                Violation(
                    t,
                    ("job", "jobs"),
                    f"failed as unauthorised on {who} though {fake} had refused no token of it",
                    f"{job.get('id')} ({str(job.get('last_error') or '')[:80]})",
                    evidence("jobs.jsonl", i),
                )
            )
    if checked == 0:
        return NotApplicable("no work failed as unauthorised")
    return Findings(
        checked,
        out,
        f"each of {checked} failures as unauthorised followed a token the platform refused",
    )


class RateLimitAlertParams(_RefusalAlertParams):
    """Parameters of ``rate_limits_alerted``."""

    alert: str = Field("rate_limited*", description="glob of the alert's name (RB-05's symptom)")
    min_failures: int = Field(
        3, ge=1, description="requests to a platform refused as throttled within window_s"
    )


def _throttled(j: Mapping[str, object]) -> bool:
    """A request a social platform refused as over its limits: a 429, or an answer of a rate
    fault (Instagram throttles with a 400 and a code)."""
    kind = str(j.get("fault_kind") or "")
    status = int(number(j.get("status"), 0))
    return str(j.get("fake")) in SOCIAL_FAKES and (
        status == 429 or (status >= 400 and kind.endswith(".rate_limited"))
    )


@invariant(RateLimitAlertParams)
def rate_limits_alerted(record: DrillRecord, p: RateLimitAlertParams) -> Findings | NotApplicable:
    """A platform throttling the agency raises a ticket: when ``min_failures`` requests to a
    platform are refused as throttled within ``window_s`` (the fakes' journal: a 429, or the
    answer of a rate fault), the platform raises its rate-limit alert for that platform within
    ``within_s`` (or had raised it in the window before).

    RB-05 starts from that symptom; a platform that counts the throttles of one platform under
    another, or not at all, leaves a rate-limit storm to be found by the posts it delays.
    """
    times: dict[str, list[float]] = {}
    for j in record.journal:
        if _throttled(j):
            times.setdefault(str(j.get("fake")), []).append(number(j.get("t")))
    # what may justify a page: a throttle, or an action block (RB-05's other face: the platform
    # may count the spam restriction with the throttles)
    restrained: dict[str, list[float]] = {}
    for j in record.journal:
        if _throttled(j) or str(j.get("fault_kind") or "").endswith(".action_blocked"):
            restrained.setdefault(str(j.get("fake")), []).append(number(j.get("t")))
    n = p.min_failures
    alerts = _alerts_by_platform(record, p.alert)
    checked, out = _silent_bursts(
        record,
        times,
        alerts,
        p,
        ("burst of throttled requests", "bursts of throttled requests"),
        "requests refused as throttled",
    )
    # … and pages only then: an alert naming a platform that throttled nothing in the window
    # before it (a count since start read as the window's) pages on-call for a storm long over
    checked += _alerts_without_cause(
        record, alerts, restrained, p, "it throttled or blocked no request", out
    )
    if checked == 0:
        return NotApplicable(
            f"no platform throttled {n} requests within {format_duration(p.window_s)}"
        )
    return Findings(
        checked,
        out,
        f"every burst of {n} throttled requests within {format_duration(p.window_s)} raised an "
        f"alert matching {p.alert!r}",
    )


class InboxAlertParams(_RefusalAlertParams):
    """Parameters of ``inbox_failures_alerted``."""

    alert: str = Field(
        "inbox*", description="glob of the alert's name (RB-10's silent stop of engagement)"
    )
    min_failures: int = Field(
        5, ge=1, description="reads of a platform's inboxes that failed within window_s"
    )


#: the requests that open an account's inboxes on each platform: when one fails, nothing of
#: that inbox is read (X's mentions and DM events; Instagram's media, whose comments follow, and
#: its DM conversations); the reads behind them (a message, a post's comments) may fail one at
#: a time and be read again at the next poll
_INBOX_OPENERS = frozenset(
    {
        ("x", "users.mentions"),
        ("x", "dm_events.list"),
        ("instagram", "media.list"),
        ("instagram", "conversations.list"),
    }
)


#: a poll's error that a refused token caused (the auth alert's to page)
_TOKEN = re.compile(r"unauthori[sz]ed|\b401\b|token", re.IGNORECASE)

#: Graph's throttle codes (an Instagram 400 carrying one is a rate limit, not a failure)
_GRAPH_THROTTLES = frozenset({"4", "17", "32", "613", "80002"})


def _unreadable(j: JournalRow) -> bool:
    """A request that failed as an outage or an error would: a 5xx, no answer, or a 4xx that
    is no throttle (429, Graph's throttle codes) and no refused token (401, Graph's 190)."""
    status = int(number(j.get("status"), 0))
    if status == 0 or status >= 500:
        return True
    if status == 429 and j.get("error") == "usage-capped":
        # X's monthly cap is no throttle to wait out: the account's inboxes stay unreadable
        # until the month turns, a page for which sends responders to a real stop
        return True
    if status < 400 or status in (401, 429):
        return False
    code = str(j.get("error") or "").split("/", 1)[0]
    return not (j.get("fake") == "instagram" and (code in _GRAPH_THROTTLES or code == "190"))


@invariant(InboxAlertParams)
def inbox_failures_alerted(record: DrillRecord, p: InboxAlertParams) -> Findings | NotApplicable:
    """Engagement that stops pages someone: when ``min_failures`` reads that open accounts'
    inboxes on a platform (X's mentions or DM events, Instagram's media list or DM
    conversations) fail within ``window_s`` — a 5xx
    or no answer in the fakes' journal (throttles and refused tokens have alerts of their own) —
    the platform raises an alert for that platform within ``within_s``, or had raised it in the
    window before.

    A platform that takes an inbox it cannot read for an empty one answers nobody and says
    nothing: polls succeed, no error is counted, no page goes out (RB-10's silent stop).
    """
    times: dict[str, list[float]] = {}
    for j in record.journal:
        fake, status = str(j.get("fake")), int(number(j.get("status"), 0))
        if (fake, str(j.get("route"))) in _INBOX_OPENERS and (status >= 500 or status == 0):
            times.setdefault(fake, []).append(number(j.get("t")))
    n = p.min_failures
    # a silent stop of engagement pages someone: a ticket answers nothing in the night
    alerts = _alerts_by_platform(record, p.alert, severity="page")
    checked, out = _silent_bursts(
        record,
        times,
        alerts,
        p,
        ("burst of failed inbox reads", "bursts of failed inbox reads"),
        "inbox reads failed",
    )
    # … and no page without a failure behind it: a throttled read is read again once the
    # window resets (rate_limits_alerted's ticket), a refused token is the auth alert's — an
    # inbox page for either sends responders after an outage that is not there. Any request of
    # the platform that failed otherwise may be why its inboxes went unread (a token refresh
    # answered 500, an outage the platform stopped sending reads into)
    failed: dict[str, list[float]] = {}
    for j in record.journal:
        if _unreadable(j):
            failed.setdefault(str(j.get("fake")), []).append(number(j.get("t")))
    # … or a failure of the platform's own making its polls reported (an inbox routed to a lane
    # it does not have, a guard that refused the read): no request shows those
    for job in record.jobs:
        if job.get("kind") != "engagement_poll":
            continue
        errors = json_object(job.get("result")).get("errors")
        for err in errors if isinstance(errors, list) else ():
            account, _, why = str(err).partition(": ")
            facts_of = record.accounts.get(account)
            if facts_of is not None and not _THROTTLED.search(why) and not _TOKEN.search(why):
                failed.setdefault(str(facts_of.get("platform")), []).append(
                    number(job.get("updated_at"))
                )
    checked += _alerts_without_cause(
        record, alerts, failed, p, "no request to it had failed (throttles and tokens aside)", out
    )
    if checked == 0:
        return NotApplicable(
            f"no platform failed {n} inbox reads within {format_duration(p.window_s)}"
        )
    return Findings(
        checked,
        out,
        f"every burst of {n} failed inbox reads within {format_duration(p.window_s)} raised an "
        f"alert matching {p.alert!r}",
    )


class EngagementAlertParams(_RefusalAlertParams):
    """Parameters of ``engagement_bursts_alerted``."""

    alert: str = Field("engagement*", description="glob of the alert's name (RB-10's symptom)")
    min_failures: int = Field(
        60,
        ge=1,
        description="replies and DMs the platform sent within window_s (the contract's rate)",
    )


@invariant(EngagementAlertParams)
def engagement_bursts_alerted(
    record: DrillRecord, p: EngagementAlertParams
) -> Findings | NotApplicable:
    """A burst of engagement pages the Ops Lead: when the platform has sent ``min_failures``
    replies and DMs within ``window_s`` (the fakes' ledger, every social platform together), it
    raises its engagement alert within ``within_s`` (or had raised it in the window before);
    and it raises none without that many sent in the window before it.

    RB-10 starts from that symptom: the caps and cooldowns bound each conversation, the alert is
    what tells a person that the agency's accounts are answering at a rate nobody planned.
    """
    ts = [
        number(e.get("t"))
        for e in record.ledger
        if e.get("action") in ("reply.created", "dm.sent") and e.get("fake") in SOCIAL_FAKES
    ]
    n = p.min_failures
    alerts = _alerts_by_platform(record, p.alert)
    checked, out = _silent_bursts(
        record,
        {"the agency's accounts": ts} if ts else {},
        alerts,
        p,
        ("burst of replies", "bursts of replies"),
        "replies and DMs sent",
    )
    # … and no page without the burst behind it: replies decided but held (a mode, a cap, a
    # kill switch), failed or never sent are no rate anybody sees — a page for them sends the
    # Ops Lead after a burst that is not happening
    ts.sort()
    for t in sorted(x for fired in alerts.values() for x in fired):
        checked += 1
        since = t - p.window_s - p.within_s - real_slack(record)
        sent = bisect_right(ts, t + 1e-6) - bisect_left(ts, since)
        if sent < n:
            out.append(
                Violation(
                    t,
                    ("alert", "alerts"),
                    f"raised at {format_offset(record.offset(t))} though the platform had sent "
                    f"{sent} replies and DMs in the {format_duration(p.window_s)} before "
                    f"(the rate is {n})",
                    "engagement",
                    "evidence/alerts.jsonl",
                )
            )
    if checked == 0:
        return NotApplicable(
            f"the platform never sent {n} replies and DMs within {format_duration(p.window_s)}"
        )
    return Findings(
        checked,
        out,
        f"every burst of {n} replies and DMs within {format_duration(p.window_s)} raised an "
        f"alert matching {p.alert!r}",
    )


class GuardAlertParams(Params):
    """Parameters of ``guard_refusals_alerted``."""

    within_s: float = Field(60.0, ge=0, description="how soon after the refusal the alert fires")
    cooldown_s: float = Field(
        600.0,
        ge=0,
        description="an alert this long before the refusal, for the same labels, answers it too "
        "(the platform pages once per storm)",
    )


#: audited refusal (the error's opening words) → the alert that must page it and the labels
#: the alert must agree on (RB-01: a post meant for another tenant; an unknown host)
_GUARD_ALERTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("tenancy:", "tenancy", "tenancy_mismatch*", ("client_id", "platform")),
    ("egress refused", "egress", "egress_refused*", ("host",)),
)
_REFUSED_HOST = re.compile(r"egress refused: \w+://\[?([^\]/:]+)")


@invariant(GuardAlertParams)
def guard_refusals_alerted(record: DrillRecord, p: GuardAlertParams) -> Findings | NotApplicable:
    """A guard that refuses pages at once: a side effect the tenancy guard refused (audited
    ``blocked``, error ``tenancy: …``) raises the tenancy alert naming that client and platform,
    and a request the egress guard refused (``egress refused: …``) raises the egress alert naming
    that host, within ``within_s`` (or the same alert ``cooldown_s`` before).

    The refusal keeps the harm out; the page is how RB-01's people learn that something tried —
    a misrouted job, a content URL pointing at the cloud's metadata service. An alert with the
    wrong labels sends them to the wrong client or host.
    """
    out: list[Violation] = []
    checked = 0
    for i, a in enumerate(record.audit):
        if a.get("outcome") != "blocked":
            continue
        error = str(a.get("error") or "")
        for prefix, guard, glob, keys in _GUARD_ALERTS:
            if not error.startswith(prefix):
                continue
            want: dict[str, str] = {}
            if "host" in keys:
                host = json_object(a.get("detail")).get("host")
                m = _REFUSED_HOST.match(error)
                host = host or (m.group(1) if m else None)
                if host:
                    want["host"] = str(host)
            else:
                want = {k: str(a[k]) for k in keys if a.get(k) not in (None, "", "-")}  # type: ignore[literal-required]
            t = float(a["t"])
            if t + p.within_s > record.end_t:
                continue
            checked += 1
            if any(
                fnmatchcase(str(al.get("name")), glob)
                and t - p.cooldown_s <= float(al.get("t") or 0.0) <= t + p.within_s
                and all((al.get("labels") or {}).get(k) in (None, v) for k, v in want.items())
                for al in record.alerts
            ):
                continue
            named = ", ".join(f"{k}={v}" for k, v in sorted(want.items()))
            out.append(
                Violation(
                    t,
                    ("refusal", "refusals"),
                    f"by the {guard} guard with no alert matching {glob!r} for {named or 'it'} "
                    f"within {format_duration(p.within_s)}",
                    str(a.get("job_id") or a.get("event_id")),
                    evidence("audit.jsonl", i),
                )
            )
    # a job that met an egress refusal (its own outcome says so) has that refusal audited as
    # one: a guard that reports each refused address once hides every later attempt
    refusals: dict[str, list[float]] = {}
    for a in record.audit:
        if a.get("outcome") == "blocked" and str(a.get("error") or "").startswith("egress refused"):
            refusals.setdefault(str(a.get("job_id")), []).append(float(a.get("t") or 0.0))
    for i, a in enumerate(record.audit):
        if a.get("phase") != "outcome" or a.get("outcome") == "blocked":
            continue  # the refusal's own record, not an outcome it caused
        error = str(a.get("error") or "")
        if "egress refused:" not in error or a.get("job_id") is None:
            continue
        checked += 1
        t = float(a.get("t") or 0.0)
        # one refusal record answers one outcome: a job refused twice is audited twice
        mine = refusals.get(str(a.get("job_id")), [])
        seen = next((k for k, r in enumerate(mine) if r <= t + 1e-6), None)
        if seen is not None:
            mine.pop(seen)
            continue
        out.append(
            Violation(
                t,
                ("refusal", "refusals"),
                f"by the egress guard that its job {a.get('job_id')} met left no audited "
                "refusal (http.request blocked)",
                str(a.get("job_id")),
                evidence("audit.jsonl", i),
            )
        )
    if checked == 0:
        return NotApplicable("no guard refused a side effect or a request")
    return Findings(
        checked,
        out,
        f"every one of {checked} refusals of the tenancy and egress guards raised its alert "
        "and was audited",
    )


class PublishAlertParams(Params):
    """Parameters of ``publish_failures_alerted``."""

    alert: str = Field(
        "publish_error*", description="glob of the alert's name (RB-02's error-rate symptom)"
    )
    min_publishes: int = Field(
        5, ge=1, description="publishes (attempts with an outcome) on a platform within the window"
    )
    min_failures: int = Field(3, ge=1, description="… of which at least this many failed")
    min_rate: float = Field(0.5, gt=0, le=1, description="… and at least this share of them")
    window_s: float = Field(600.0, gt=0, description="the window the failures fall in")
    within_s: float = Field(
        120.0, ge=0, description="how soon after the failure that completes the count it fires"
    )


def _alerts_without_cause(
    record: DrillRecord,
    alerts: dict[str | None, list[float]],
    causes: dict[str, list[float]],
    p: PublishAlertParams | RateLimitAlertParams | InboxAlertParams | VerificationAlertParams,
    nothing: str,
    out: list[Violation],
    need: int = 1,
) -> int:
    """Each alert naming a platform with fewer than ``need`` of its ``causes`` (times per
    platform; none, by default) in the ``window_s`` before it (and ``within_s`` of evaluation, and the scaled clock's slack): a
    page for an incident that is not happening. Adds a finding per such alert to ``out`` and
    returns how many alerts it judged."""
    checked = 0
    for platform, fired in sorted((k, v) for k, v in alerts.items() if k is not None):
        ts = sorted(causes.get(platform, []))
        for t in sorted(fired):
            checked += 1
            since = t - p.window_s - p.within_s - real_slack(record)
            if bisect_right(ts, t + 1e-6) - bisect_left(ts, since) < need:
                out.append(
                    Violation(
                        t,
                        ("alert", "alerts"),
                        f"for {platform} raised at {format_offset(record.offset(t))} though "
                        f"{nothing} in the {format_duration(p.window_s)} before",
                        platform,
                        "evidence/alerts.jsonl",
                    )
                )
    return checked


@invariant(PublishAlertParams)
def publish_failures_alerted(
    record: DrillRecord, p: PublishAlertParams
) -> Findings | NotApplicable:
    """Failing publishes page someone: when a platform has at least ``min_publishes``
    publishes within a window, at least ``min_failures`` and ``min_rate`` of them failed, the
    platform raises its publish error alert for that platform within ``within_s`` of the failure
    that made it so (or had already raised it in the window before). The window is
    ``window_s`` less ``within_s``: every publish counted is still inside an alert rule's
    ``window_s`` whenever the platform evaluates it in those ``within_s``. A low-volume platform
    whose few publishes mostly fail is an outage too (an alert waiting for five failures stays
    silent while three of five fail).

    The publishes and their failures are the platform's own audit (``post.create`` outcomes
    that close an attempt: a success claimed by looking for what an earlier attempt posted is
    that attempt's post found, not a publish of its own);
    the alert is what its metrics make of them — a publish failure that is audited but not
    counted (a metric label misspelt, a mark dropped) leaves the on-call engineer blind to an
    outage RB-02 is written for.
    """
    outcomes: dict[str, list[tuple[float, bool]]] = {}
    #: (job, time) of each failed attempt: a dead letter written with it is the same publish
    failed_at = {
        (a.get("job_id"), round(float(a["t"])))
        for a in record.audit
        if a.get("action") == "post.create" and a.get("outcome") == "failed"
    }
    #: attempts still open per job: an outcome that closes none is a claim, not a publish — the
    #: post an earlier attempt made, found by looking before posting again
    open_attempts: dict[object, int] = {}
    tried: set[object] = set()
    for a in record.audit:
        if a.get("action") == "post.create" and a.get("phase") == "attempt":
            open_attempts[a.get("job_id")] = open_attempts.get(a.get("job_id"), 0) + 1
        if (
            a.get("action") == "post.create"
            and a.get("phase") == "outcome"
            and a.get("outcome") in ("success", "failed", "dead_letter")
        ):
            if (
                a.get("outcome") == "dead_letter"
                and (a.get("job_id"), round(float(a["t"]))) in failed_at
            ):
                continue
            job = a.get("job_id")
            if a.get("outcome") == "success" and not open_attempts.get(job) and job in tried:
                continue
            tried.add(job)
            if open_attempts.get(job):
                open_attempts[job] -= 1
            outcomes.setdefault(str(a.get("platform")), []).append(
                (float(a["t"]), a.get("outcome") != "success")
            )
    alerts = _alerts_by_platform(record, p.alert)
    out: list[Violation] = []
    checked = 0
    for platform, rows in sorted(outcomes.items()):
        rows.sort()
        fails = [t for t, failed in rows if failed]
        # the contract labels this alert with its platform (docs/contracts.md): one that names
        # none tells the on-call engineer nothing about which platform is failing — and, kept
        # under one name, one platform's page would silence every other's for its cooldown
        said = alerts.get(platform, [])
        # on a scaled clock (served, a game day) the platform's evaluation runs late by real time
        slack = real_slack(record)
        silence = _Silence(said, p.window_s, p.within_s + slack)
        span = max(p.window_s - p.within_s, 0.0)
        for k in range(p.min_failures - 1, len(fails)):
            t = fails[k]
            if t - fails[k - p.min_failures + 1] > span or t + p.within_s + slack > record.end_t:
                continue
            all_ = sum(1 for u, _ in rows if t - span <= u <= t)
            bad = sum(1 for u in fails if t - span <= u <= t)
            if all_ < p.min_publishes or bad < p.min_rate * all_:
                continue
            checked += 1
            if not silence.new(t):
                continue
            out.append(
                Violation(
                    t,
                    ("publish failure burst", "publish failure bursts"),
                    f"on {platform} without an alert matching {p.alert!r} within "
                    f"{format_duration(p.within_s)} ({bad} of {all_} publishes failed within "
                    f"{format_duration(span)}; {len(said)} such alerts in the whole drill)",
                    format_offset(record.offset(t)),
                    "evidence/alerts.jsonl",
                )
            )
    # … and pages only then: a publish alert naming a platform where no publish failed in the
    # window before it (failed replies or DMs counted as publishes) sends on-call to RB-02 for
    # an outage of publishing that is not happening
    failed_on = {
        platform: sorted(t for t, failed in rows if failed) for platform, rows in outcomes.items()
    }
    checked += _alerts_without_cause(record, alerts, failed_on, p, "no publish failed there", out)
    if checked == 0:
        return NotApplicable(
            f"no platform had {p.min_failures} of at least {p.min_publishes} publishes fail "
            f"within {format_duration(max(p.window_s - p.within_s, 0.0))}, {p.min_rate:.0%} of "
            "its publishes"
        )
    return Findings(
        checked,
        out,
        f"every burst of failing publishes raised an alert matching {p.alert!r}",
    )


class FreshnessParams(Params):
    """Parameters of ``queue_freshness_restored``."""

    metric: str = Field("queue_oldest_age_s", description="the metric of queue age, in seconds")
    target_s: float = Field(60.0, ge=0, description="the freshness target")
    within_s: float = Field(900.0, ge=0, description="how long after healing freshness must return")


@invariant(FreshnessParams)
def queue_freshness_restored(record: DrillRecord, p: FreshnessParams) -> Findings | NotApplicable:
    """Queue freshness returns to target within the deadline after healing, and stays there."""
    window = record.window()
    samples = [(t, float(m[p.metric])) for t, m in record.metrics_samples if p.metric in m]
    if window is None or not samples:
        return NotApplicable(f"no fault window or no samples of {p.metric}")
    heal, deadline = window[1], window[1] + p.within_s
    after = [(t, v) for t, v in samples if t >= heal]
    if not after:
        return NotApplicable(f"no sample of {p.metric} after healing")
    by_deadline = [(t, v) for t, v in after if t <= deadline]
    restored = next((t for t, v in by_deadline if v <= p.target_s), None)
    last_t, last_v = after[-1]
    msg = None
    if restored is None:
        worst = max(by_deadline or after[:1], key=lambda s: s[1])
        msg = (
            f"{p.metric} did not return to {p.target_s:g}s within {p.within_s:g}s of healing at "
            f"{format_offset(record.offset(heal))} (worst {worst[1]:g}s at {format_offset(record.offset(worst[0]))})"
        )
        t_v = deadline
    elif last_v > p.target_s:
        msg = f"{p.metric} rose again to {last_v:g}s at {format_offset(record.offset(last_t))} after returning to target"
        t_v = last_t
    if msg:
        return Findings(
            len(after),
            [
                Violation(
                    t_v, ("check", "checks"), "", p.metric, "evidence/metrics.csv", message=msg
                )
            ],
            "",
        )
    restored = heal if restored is None else restored
    return Findings(
        len(after),
        [],
        f"{p.metric} back to ≤{p.target_s:g}s at {format_offset(record.offset(restored))}, {restored - heal:g}s after healing",
    )


class RetriesParams(Params):
    """Parameters of ``retries_within_policy``."""

    sdk_max_retries: int = Field(
        2,
        ge=0,
        description=(
            "how often a provider SDK may retry one call on its own (its x-stainless-retry-count "
            "counts them): the official OpenAI and Anthropic SDKs' default is 2, after which the "
            "platform fails over instead of pressing a throttled or failing provider"
        ),
    )
    sdk_base_delay_s: float = Field(
        0.5,
        ge=0,
        description=(
            "an SDK's first wait before retrying a failed provider call that named no "
            "Retry-After: the official OpenAI and Anthropic SDKs wait min(0.5·2^n, 8) s before "
            "retry n+1, less up to a quarter of jitter"
        ),
    )
    sdk_max_delay_s: float = Field(8.0, ge=0, description="the SDKs' longest such wait")
    failures_on_the_wire: bool = Field(
        False,
        description=(
            "every failure of this drill's side effects is an answer on the wire (a scenario "
            "whose only fault is the platform's API refusing them): a dead-lettered job's audit "
            "then shows the policy's attempts in full — one short of them, a run that sent "
            "nothing (held, parked, refused by a control) was counted as a failed attempt"
        ),
    )


@invariant(RetriesParams)
def retries_within_policy(record: DrillRecord, p: RetriesParams) -> Findings | NotApplicable:
    """No job runs more often than the platform's retry policy allows, and none is dead-lettered
    before it used its attempts.

    The policy is the one the platform states in ``controls()["retry"]`` (``max_attempts``), not a
    number copied into the scenario; the attempts are the platform's own count per job. A job
    over the limit made requests the policy forbids (more load on a struggling platform, more
    side effects risked); a dead letter under it gave up on work it was allowed to retry.
    """
    raw = record.retry_policy.get("max_attempts")
    if raw is None:
        return NotApplicable("the platform states no retry policy (controls() has no retry)")
    limit = int(number(raw, -1.0))
    if limit < 1:
        return NotApplicable(f"the platform's retry policy has no usable max_attempts ({raw!r})")
    if not record.jobs:
        return NotApplicable("the platform reported no jobs")
    out: list[Violation] = []
    checked = dead = 0
    for i, j in enumerate(record.jobs):
        attempts = int(j.get("attempts") or 0)
        if attempts <= 0:
            continue
        checked += 1
        state = str(j.get("state"))
        phrase = None
        if attempts > limit:
            phrase = f"ran {attempts} times ({state}), the retry policy allows {limit}"
        elif state not in ("failed", "running") and _RECURSION_STOP.search(
            str(j.get("last_error") or "")
        ):
            # the cap stopped an agent stuck in a tool loop: a retry pays for the loop again
            phrase = (
                f"retried after a tool-call recursion stop (ended {state} after {attempts} "
                "attempts; a stop is final)"
            )
        elif state == "dead_letter":
            dead += 1
            if attempts < limit:
                phrase = (
                    f"was dead-lettered after {attempts} of the {limit} attempts the policy allows"
                )
        if phrase is not None:
            out.append(
                Violation(
                    float(j.get("updated_at") or record.end_t),
                    ("job", "jobs"),
                    phrase,
                    str(j.get("id")),
                    f"evidence/jobs.jsonl#L{i + 1}",
                )
            )
    _audited_past_the_policy(record, limit, out)
    if p.failures_on_the_wire:
        _dead_letters_audited_in_full(record, limit, out)
    _own_failures_counted(record, out)
    retried = _backoff(record, out)
    _resumed_within_the_cap(record, out)
    _runs_backed_off(record, out)
    window = number(record.retry_policy.get("outage_window_s"), -1.0)
    if window > 0:
        _outage_window_kept(record, window, limit, out)
    _no_retry_into_a_block(record, out)
    _no_retry_of_a_bad_request(record, out)
    _throttled_past_the_attempts(record, limit, out)
    _no_loop_into_refused_tokens(record, limit, out)
    _sdk_retries_kept(record, p.sdk_max_retries, out)
    _sdk_retries_spaced(record, p, out)
    return Findings(
        checked,
        out,
        f"all {checked} jobs that ran stayed within {limit} attempts; {dead} dead-lettered "
        f"after exactly {limit}"
        + (
            f"; {retried} jobs retried failed requests no faster than the back-off"
            if retried
            else ""
        ),
    )


def _dead_letters_audited_in_full(record: DrillRecord, limit: int, out: list[Violation]) -> None:
    """A dead-lettered side effect whose audit shows fewer failed attempts than the policy
    allows, in a drill where every failure is an answer on the wire: some run that sent nothing
    — a control's hold, an approval's wait — was counted as an attempt, and the job gave up on
    retries it was owed (an approved post dead-lettered early)."""
    failed: dict[str, int] = {}
    for a in record.audit:
        if (
            a.get("phase") == "outcome"
            and a.get("outcome") == "failed"
            and a.get("action") in SOCIAL_AUDIT_ACTIONS
            and a.get("job_id")
        ):
            failed[str(a["job_id"])] = failed.get(str(a["job_id"]), 0) + 1
    for i, j in enumerate(record.jobs):
        n = failed.get(str(j.get("id")))
        if j.get("state") != "dead_letter" or n is None or n >= limit:
            continue
        out.append(
            Violation(
                float(j.get("updated_at") or record.end_t),
                ("job", "jobs"),
                f"was dead-lettered with {n} failed attempt{'s' if n != 1 else ''} in its audit "
                f"of the {limit} the policy allows (the platform counted "
                f"{int(j.get('attempts') or 0)}: a run that sent nothing counted as a failure)",
                str(j.get("id")),
                f"evidence/jobs.jsonl#L{i + 1}",
            )
        )


def _audited_past_the_policy(record: DrillRecord, limit: int, out: list[Violation]) -> None:
    """A job whose audit shows more attempts of its side effect than the policy allows, though
    the platform's own count says otherwise: the count was lost (a restart that started it over,
    a counter kept elsewhere) and the job was sent again past its policy. Each run of a job
    writes at most one attempt of its side effect, so the audit's count is a floor."""
    counted = {str(j.get("id")): (i, j) for i, j in enumerate(record.jobs)}
    # with an outage window, retries through an outage do not use attempts: such a job's audit
    # says nothing of its count
    window = number(record.retry_policy.get("outage_window_s"), -1.0) > 0
    # … but a request left without an answer because the platform itself stopped (a restart or
    # a crash cut it) met no outage: the attempt was spent, and may have landed
    restarts = {e.t for e in record.timeline if e.kind == "platform.restarted"}
    outage_keys = {
        str(j.get("idempotency_key"))
        for j in record.journal
        if window
        and j.get("idempotency_key") is not None
        and _outage_status(j.get("status"))
        and not (j.get("status") == 0 and float(j.get("t") or 0.0) in restarts)
    }
    runs: dict[str, list[float]] = {}
    tool_runs: dict[str, list[float]] = {}
    met_outage: set[str] = set()
    for a in record.audit:
        if (
            a.get("phase") == "attempt"
            and a.get("action") in SOCIAL_AUDIT_ACTIONS
            and a.get("job_id")
        ):
            runs.setdefault(str(a["job_id"]), []).append(float(a.get("t") or 0.0))
            if str(a.get("idempotency_key")) in outage_keys:
                met_outage.add(str(a["job_id"]))
    # a tool call the gateway answered (a missing tool, a drifted schema, an error result)
    # failed for a reason of its own, not an outage's: each such call used an attempt
    for a in record.audit:
        if (
            a.get("phase") == "outcome"
            and a.get("action") == "tool.call"
            and a.get("outcome") == "failed"
            and a.get("job_id")
            and str(dict(a.get("detail") or {}).get("failure")) in _TOOL_REFUSALS
        ):
            tool_runs.setdefault(str(a["job_id"]), []).append(float(a.get("t") or 0.0))
    for job_id, times, what in [
        *((k, v, "attempted its side effect") for k, v in sorted(runs.items())),
        *((k, v, "had its tool call refused by the gateway") for k, v in sorted(tool_runs.items())),
    ]:
        if len(times) <= limit or job_id not in counted or job_id in met_outage:
            continue
        i, j = counted[job_id]
        if int(j.get("attempts") or 0) > limit:
            continue  # said above, by the platform's own count
        out.append(
            Violation(
                max(times),
                ("job", "jobs"),
                f"{what} {len(times)} times by its audit, the retry policy "
                f"allows {limit} (the platform counts {int(j.get('attempts') or 0)})",
                job_id,
                f"evidence/jobs.jsonl#L{i + 1}",
            )
        )


#: generation actions: one run of a generation job tries its routed providers in turn
_GENERATION_ACTIONS = frozenset({"llm.complete", "image.generate", "video.generate"})


def _outage_failure(kind: str) -> bool:
    """A provider failure that is an outage (``detail.failure`` of a failed generation): no
    answer, a 5xx, Anthropic's 529 — what the runner may retry without using an attempt."""
    what = kind.rsplit(".", 1)[-1]
    return what in ("unreachable", "overloaded") or what.startswith("http_5")


def _own_failed_runs(evs: Sequence[AuditRow]) -> tuple[int, float]:
    """The runs among one job's generation audit events that failed on every provider tried,
    none of them by an outage; and when the last failure was."""
    own, last_t = 0, 0.0
    route: dict[str, str] = {}
    for a in [*evs, None]:
        provider = None if a is None else str(a.get("platform"))
        if a is None or (a.get("phase") == "attempt" and provider in route):
            if route and not any(_outage_failure(k) for k in route.values()):
                own += 1
            route.clear()
        elif a.get("phase") == "outcome":
            if a.get("outcome") == "failed":
                route[str(provider)] = str(json_object(a.get("detail")).get("failure") or "")
                last_t = float(number(a.get("t"), 0.0))
            else:
                route.clear()
    return own, last_t


def _own_failures_counted(record: DrillRecord, out: list[Violation]) -> None:
    """A generation job's runs that failed on every provider they tried for reasons of the
    request's own — a render that failed, a 4xx, a throttle — each use an attempt; only a run
    that met an outage may be retried through the outage window without one. Runs are read from
    the audit: each run tries each routed provider at most once per round, so a provider
    attempted again begins the next run. A job that counts fewer attempts than such runs
    retried failures as if they were outages (no dead letter, no page, renders paid again)."""
    events: dict[str, list[AuditRow]] = {}
    for a in record.audit:
        if a.get("action") in _GENERATION_ACTIONS and a.get("job_id"):
            events.setdefault(str(a["job_id"]), []).append(a)
    counted = {str(j.get("id")): (i, j) for i, j in enumerate(record.jobs)}
    for job_id, evs in sorted(events.items()):
        if job_id not in counted:
            continue
        own, last_t = _own_failed_runs(evs)
        i, j = counted[job_id]
        attempts = int(j.get("attempts") or 0)
        if own > attempts:
            out.append(
                Violation(
                    last_t,
                    ("job", "jobs"),
                    f"ran {own} times to a failure of the request's own on every provider it "
                    f"tried (not an outage), yet counts {attempts} attempt(s): failures retried "
                    "as if they were outages",
                    job_id,
                    f"evidence/jobs.jsonl#L{i + 1}",
                )
            )


#: the tool gateway's answers that refuse one call while the gateway is up (``detail.failure``
#: of a failed ``tool.call``; ``unavailable`` is the outage that does not use attempts)
_TOOL_REFUSALS = frozenset({"tool_missing", "schema_drift", "tool_error"})


#: methods of requests that act (a retry of one repeats a side effect's request)
_ACTING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _acting_answers(
    record: DrillRecord, which: Callable[[JournalRow], bool]
) -> dict[str, list[tuple[float, int]]]:
    """Per job key, ``(arrival, journal line)`` of its acting requests to a social platform
    whose answer ``which`` picks (jobs with none are left out)."""
    out: dict[str, list[tuple[float, int]]] = {}
    for key, reqs in _job_requests(record).items():
        picked = [
            (t, i)
            for t, i, j in reqs
            if j.get("fake") in SOCIAL_FAKES
            and str(j.get("method") or "").upper() in _ACTING
            and which(j)
        ]
        if picked:
            out[key] = picked
    return out


def _no_loop_into_refused_tokens(record: DrillRecord, limit: int, out: list[Violation]) -> None:
    """RB-04: a request refused as unauthorised (401) is tried once more, after a refresh, in
    the same run; a run whose refresh fails or whose fresh token is refused too ends, as a
    failure that uses an attempt (or closes the job). So a job meets at most two 401s per
    attempt: one with more kept sending into a token the platform could not renew (a refused
    refresh read as an outage, retried without using attempts)."""
    for key, refused in _acting_answers(record, lambda j: j.get("status") == 401).items():
        if len(refused) > 2 * limit:
            t, i = max(refused)
            out.append(
                Violation(
                    t,
                    ("job", "jobs"),
                    f"sent its request {len(refused)} times into a 401, where {limit} attempts "
                    f"allow {2 * limit} (each tries once more after a refresh)",
                    key,
                    evidence("journal.jsonl", i),
                )
            )


def _throttled_past_the_attempts(record: DrillRecord, limit: int, out: list[Violation]) -> None:
    """The attempts as the fakes saw them: a social platform's throttle of a job's acting
    request (a 429, or a ``*.rate_limited`` answer) ends that run as a failure that uses one of
    the job's attempts — a throttle is not an outage. A job whose requests were throttled more
    often than the policy's ``max_attempts`` kept retrying past its attempts, whatever count the
    platform reports (a retry path that spends no attempt on a throttle retries it for as long
    as the throttle lasts, and no dead letter ever pages anyone)."""

    def throttled(j: JournalRow) -> bool:
        return j.get("status") == 429 or str(j.get("fault_kind") or "").endswith(".rate_limited")

    for key, throttles in _acting_answers(record, throttled).items():
        if len(throttles) > limit:
            t, i = max(throttles)
            out.append(
                Violation(
                    t,
                    ("job", "jobs"),
                    f"had its requests throttled {len(throttles)} times and retried after each, "
                    f"where the retry policy allows {limit} attempts",
                    key,
                    evidence("journal.jsonl", i),
                )
            )


def _least_backoff(n: int, base: float, cap: float) -> float:
    """The least n retries wait under a doubling back-off: ``min(base · 2^(k-1), cap)`` each
    (in closed form: a platform that retried thousands of times must not overflow the judge)."""
    if n <= 0:
        return 0.0
    if base >= cap:
        return n * cap
    # the retries before the delay reaches the cap double; every one after waits the cap
    doubling = min(n, 1 + math.floor(math.log2(cap / base)))
    return base * (2.0**doubling - 1) + (n - doubling) * cap


def _backoff(record: DrillRecord, out: list[Violation]) -> int:
    """Judge the spacing of each job's retries against the stated back-off; return how many
    jobs retried a failed request.

    A job's requests carry its idempotency key. Each acting request that failed in a way worth
    retrying (5xx, 429, no answer) and is followed by another of the job's acting requests is
    a retry. The policy waits ``min(base_delay_s · 2^(k-1), max_delay_s)`` (or longer: jitter
    and Retry-After only add) before the k-th retry of each of the runner's two counters —
    attempts, and retries through a platform outage. With the policy's ``outage_window_s``
    known, a retry of a 5xx or of no answer inside the job's window is an outage retry and any
    other an attempt, and n retries need the delays of each counter's own count; without it,
    at least the cheapest split of n between the two. A job that fits more retries into the
    time its retries took hammered a failing platform.
    """
    base = number(record.retry_policy.get("base_delay_s"), -1.0)
    cap = number(record.retry_policy.get("max_delay_s"), -1.0)
    if base <= 0 or cap <= 0:
        return 0
    stated = number(record.retry_policy.get("outage_window_s"), -1.0)
    window = stated if stated >= 0 else None
    by_key = _job_requests(record)

    retried = 0
    for key, reqs in by_key.items():
        # the render service's client retries a submit at once under its Idempotency-Key (the
        # same render back, nothing doubled): its own policy, not the runner's back-off
        reqs = [r for r in reqs if r[2].get("fake") != "media"]
        reqs.sort(key=lambda r: (r[0], r[2].get("seq", 0)))
        retries = [(a, b) for a, b in pairwise(reqs) if _worth_retrying(a[2].get("status"))]
        if not retries:
            continue
        retried += 1
        n = len(retries)
        span = retries[-1][1][0] - retries[0][0][0]
        if window is None:
            # which counter each retry ran on is unknown: the cheapest split of n between them
            need = _least_backoff((n + 1) // 2, base, cap) + _least_backoff(n // 2, base, cap)
        else:
            # a 5xx or no answer inside the job's outage window is an outage retry, anything
            # else (a 429, an outage failure after the window) an attempt: each counter's k-th
            # retry waits its own base · 2^(k-1)
            first = next(
                (
                    number(a[2].get("t"), a[0])
                    for a, _ in retries
                    if _outage_status(a[2].get("status"))
                ),
                None,
            )
            outage = sum(
                1
                for a, _ in retries
                if first is not None
                and _outage_status(a[2].get("status"))
                and number(a[2].get("t"), a[0]) < first + window
            )
            need = _least_backoff(outage, base, cap) + _least_backoff(n - outage, base, cap)
        if need > span + 1.0:
            last = retries[-1][1]
            out.append(
                Violation(
                    last[0],
                    ("job", "jobs"),
                    f"retried {n} failed requests in {span:.1f}s, faster than the back-off "
                    f"allows ({base:g}s doubling up to {cap:g}s: {n} retries take at least "
                    f"{need:g}s)",
                    key,
                    evidence("journal.jsonl", last[1]),
                )
            )
    return retried


#: the routes of the social fakes' token endpoints
_TOKEN_ROUTES = frozenset({"oauth2.token", "token.refresh", "oauth.token"})


def _resumed_within_the_cap(record: DrillRecord, out: list[Violation]) -> None:
    """The other side of the back-off: no retry of a failed request waits longer than the policy
    says. After a 5xx or no answer (no Retry-After named), the job's next request comes within
    ``max_delay_s`` (stretched by ``jitter``) and a minute's slack or a quarter of the cap for
    the runner's queue — unless a control changed, the platform restarted or a throttle held
    the account meanwhile. A back-off that grows past its cap leaves a platform that has
    recovered idle for up to an hour (RB-02: work resumes within minutes of the recovery)."""
    cap = number(record.retry_policy.get("max_delay_s"), -1.0)
    if cap <= 0:
        return
    jitter = max(0.0, number(record.retry_policy.get("jitter"), 0.0))
    allowance = cap * (1.0 + jitter) + max(60.0, 0.25 * cap)
    rules = {str(r.get("id")): r for r in record.fault_rows()}
    # what may hold a job past its back-off: a control change, a restart, a throttle anywhere
    excuses = sorted(
        [float(c.get("t") or 0.0) for c in record.control_changes]
        + [e.t for e in record.timeline if e.kind.startswith("platform.")]
        + [
            number(j.get("t"), 0.0)
            for j in record.journal
            if j.get("status") == 429 or str(j.get("fault_kind") or "").endswith("_limited")
        ]
    )
    # a run may fail before it sends anything of its own: on a token refresh the endpoint did
    # not answer (it carries neither the job's key nor its trace)
    refreshes: dict[str, list[float]] = {}
    for j in record.journal:
        if j.get("route") in _TOKEN_ROUTES and _outage_status(j.get("status")):
            refreshes.setdefault(str(j.get("fake")), []).append(number(j.get("t"), 0.0))
    for key, reqs in _job_requests(record).items():
        reqs = sorted(
            (r for r in reqs if r[2].get("fake") != "media"),
            key=lambda r: (r[0], r[2].get("seq", 0)),
        )
        for (_, _, a), (b_start, b_i, _) in pairwise(reqs):
            if not _outage_status(a.get("status")):
                continue
            rule = rules.get(str(a.get("fault_id")))
            if json_object((rule or {}).get("params")).get("retry_after_s") is not None:
                continue  # the service named its wait (rate_within_platform_limits judges it)
            failed = number(a.get("t"), 0.0)
            gap = b_start - failed
            if gap <= allowance:
                continue
            n = bisect_left(excuses, failed)
            if n < len(excuses) and excuses[n] <= b_start:
                continue
            if any(failed <= t <= b_start for t in refreshes.get(str(a.get("fake")), ())):
                continue
            out.append(
                Violation(
                    b_start,
                    ("job", "jobs"),
                    f"waited {gap:.0f}s after a failed request before its next one, longer than "
                    f"the policy's back-off allows ({cap:g}s at most, jitter {jitter:g})",
                    key,
                    evidence("journal.jsonl", b_i),
                )
            )
            break


#: a failure whose next run a throttle's own wait (Retry-After, a hold) may govern, within the run
#: or without the back-off: not a retry this judge can time
_THROTTLED = re.compile(r"rate_limit|throttl|\b429\b|held for|quota", re.IGNORECASE)


def _runs_backed_off(record: DrillRecord, out: list[Violation]) -> None:
    """Judge the spacing of a job's runs from the audit, for retries the journal cannot key.

    A run of a job that failed (an audited outcome ``failed``) and the job's next audited attempt
    after it are one retry when time passed between them (a failover to the next provider, in
    the same run, follows at once). n such retries take at least the back-off's cheapest split
    between the runner's two counters (attempts and outage retries: ``min(base_delay_s ·
    2^(k-1), max_delay_s)`` for each counter's k-th), as in ``_backoff``; only failures a throttle
    did not cause count (a throttle's Retry-After or hold may govern its next try). A job whose
    renders, containers or tool calls keep failing and whose runs come a second apart burns its
    attempts in seconds and hammers what is failing — and its requests carry no idempotency key
    for ``_backoff`` to group.
    """
    base = number(record.retry_policy.get("base_delay_s"), -1.0)
    cap = number(record.retry_policy.get("max_delay_s"), -1.0)
    if base <= 0 or cap <= 0:
        return

    by_job: dict[str, list[tuple[float, int, AuditRow]]] = {}
    for i, a in enumerate(record.audit):
        if a.get("job_id") is not None and a.get("phase") in ("attempt", "outcome"):
            by_job.setdefault(str(a["job_id"]), []).append((number(a.get("t")), i, a))
    for job_id, events in by_job.items():
        events.sort(key=lambda e: (e[0], e[2].get("seq", 0)))
        gaps: list[float] = []
        failed: tuple[float, int, AuditRow] | None = None
        last = None
        for t, i, a in events:
            if a.get("phase") == "outcome":
                throttled = _THROTTLED.search(str(a.get("error") or ""))
                failed = (t, i, a) if a.get("outcome") == "failed" and not throttled else None
            elif failed is not None:
                if t - failed[0] > 1e-6:
                    gaps.append(t - failed[0])
                    last = (t, i)
                failed = None
        n = len(gaps)
        if n < 2 or last is None:
            continue
        need = _least_backoff((n + 1) // 2, base, cap) + _least_backoff(n // 2, base, cap)
        span = sum(gaps)
        if need > span + 1e-6:
            out.append(
                Violation(
                    last[0],
                    ("job", "jobs"),
                    f"ran again {n} times after failed runs within {span:.1f}s in all, faster "
                    f"than the back-off allows ({base:g}s doubling up to {cap:g}s: {n} retries "
                    f"wait at least {need:g}s)",
                    job_id,
                    evidence("audit.jsonl", last[1]),
                )
            )


def _sdk_retries_kept(record: DrillRecord, limit: int, out: list[Violation]) -> None:
    """A provider call is retried by its SDK at most ``limit`` times (``x-stainless-retry-count``
    in the journal), then the platform fails over: a retry past that presses a provider that is
    throttling or failing, and makes the failover later."""
    for i, j in enumerate(record.journal):
        n = j.get("retry_count")
        if isinstance(n, int) and n > limit and j.get("fake") in ("openai", "anthropic"):
            out.append(
                Violation(
                    number(j.get("t")),
                    ("request", "requests"),
                    f"sent to {j.get('fake')} as its SDK's retry {n} of one call (the SDK "
                    f"retries at most {limit} times before the platform fails over)",
                    str(j.get("request_id")),
                    evidence("journal.jsonl", i),
                )
            )


def _sdk_retries_spaced(record: DrillRecord, p: RetriesParams, out: list[Violation]) -> None:
    """A provider call's SDK retry waits out the back-off after a failure that named no wait.

    A retry is a request with ``x-stainless-retry-count`` n ≥ 1 (the journal's ``retry_count``);
    the try it repeats is the latest earlier request of its trace to the same provider with
    count n−1. After a failure with no Retry-After (a 5xx, Anthropic's 529, a connection
    dropped or timed out) the SDKs wait ``min(base·2^(n−1), max)`` less at most a quarter of
    jitter, timed here from when the try was sent (how long its answer took only adds); a retry
    sent sooner presses an overloaded or failing provider with every call in
    flight at once (RB-09). A 429's own Retry-After governs its retry (``rate_within_platform_
    limits`` judges that), so a 429 is left out."""
    if p.sdk_base_delay_s <= 0:
        return
    #: (trace, provider, retry count) → (answered at, status) of the latest such request so far
    tries: dict[tuple[str, str, int], tuple[float, Json]] = {}
    rows = sorted(
        enumerate(record.journal),
        key=lambda e: (number(e[1].get("started"), number(e[1].get("t"))), e[0]),
    )
    for i, j in rows:
        fake = str(j.get("fake"))
        n = j.get("retry_count")
        trace = trace_id(j.get("traceparent"))
        if fake not in ("openai", "anthropic") or not isinstance(n, int) or trace is None:
            continue
        sent = number(j.get("started"), number(j.get("t")))
        if n >= 1:
            before = tries.get((trace, fake, n - 1))
            if before is not None and before[1] != 429:
                wait = min(p.sdk_base_delay_s * 2 ** (n - 1), p.sdk_max_delay_s) * 0.75
                gap = sent - before[0]
                if gap < wait - 1e-3:
                    out.append(
                        Violation(
                            sent,
                            ("request", "requests"),
                            f"sent to {fake} as its SDK's retry {n} of one call {gap:.2f}s after "
                            f"the try it repeats (answered {before[1] or 'nothing'}) was sent, "
                            "where the "
                            f"back-off waits at least {wait:g}s (min({p.sdk_base_delay_s:g}·2^"
                            f"{n - 1}, {p.sdk_max_delay_s:g}) s less a quarter of jitter)",
                            str(j.get("request_id")),
                            evidence("journal.jsonl", i),
                        )
                    )
        # timed from when the try was sent: its answer's time is when the fake gave it, which for
        # a hang the client gave up on is later than when the client saw it fail
        tries[(trace, fake, n)] = (sent, j.get("status"))


def _refusal_for_good(kind: str) -> str | None:
    """What a fault answer that no retry can change refused (None: it is worth a retry)."""
    if kind.endswith(".action_blocked"):
        return "blocked the action as spam"
    if kind == "instagram.container_error":
        return "rejected the post's media (its container ended ERROR)"
    if kind.endswith(".scope_revoked"):
        return "refused the app the permission for it (revoked by the account's owner)"
    return None


#: the providers whose 400 is always the request's own fault (invalid_request_error): no
#: throttle, no outage — the same request is refused the same way however often it is sent
_BAD_REQUEST_FAKES = frozenset({"openai", "anthropic"})


def _no_retry_of_a_bad_request(record: DrillRecord, out: list[Violation]) -> None:
    """A provider call answered 400 (``invalid_request_error``: a prompt over the model's
    window, a parameter it refuses) is not sent to that provider again by the same job (the
    trace id of its ``traceparent``): neither the SDK nor the platform retries it, as neither
    may retry a request that cannot succeed — each retry pays for the prompt again."""
    refused: dict[tuple[str, str], tuple[float, JournalRow]] = {}
    for i, j in enumerate(record.journal):
        fake = str(j.get("fake"))
        trace = trace_id(j.get("traceparent"))
        if fake not in _BAD_REQUEST_FAKES or trace is None:
            continue
        key = (fake, trace)
        started = number(j.get("started"), number(j.get("t"), 0.0))
        first = refused.get(key)
        if first is not None and started > first[0]:
            out.append(
                Violation(
                    started,
                    ("job", "jobs"),
                    f"sent {j.get('route')} to {fake} again after its 400 at "
                    f"{format_offset(record.offset(first[0]))} (an invalid request is not "
                    "retried)",
                    str(j.get("request_id")),
                    evidence("journal.jsonl", i),
                )
            )
            refused.pop(key)
            continue
        if j.get("status") == 400 and first is None:
            refused[key] = (number(j.get("t"), started), j)


def _no_retry_into_a_block(record: DrillRecord, out: list[Violation]) -> None:
    """A request a platform refused for good is not retried: the job sends nothing more under
    its idempotency key. An action block (a spam restriction: X's and LinkedIn's 403,
    Instagram's code 4 / 2207051) is no throttle with a reset to wait out, so every retry into it
    is more of the activity the platform restricted (RB-05); media Instagram could not fetch or
    process (a container ending ERROR) fails the same way with a fresh container; a permission
    the account's owner revoked (RB-04) comes back only when they grant it again. A person
    decides."""
    blocked: dict[str, tuple[float, int, JournalRow, str]] = {}
    for i, j in enumerate(record.journal):
        key = j.get("idempotency_key")
        kind = str(j.get("fault_kind") or "")
        why = _refusal_for_good(kind)
        if key is None or why is None:
            continue
        if kind.endswith(".scope_revoked") and str(j.get("method") or "").upper() not in _ACTING:
            continue  # a read permission withdrawn refuses reads, not the job's own write
        blocked.setdefault(str(key), (number(j.get("t"), 0.0), i, j, why))
    if not blocked:
        return
    after: dict[str, tuple[int, JournalRow]] = {}
    for i, j in enumerate(record.journal):
        key = str(j.get("idempotency_key"))
        if key in blocked and key not in after:
            started = number(j.get("started"), number(j.get("t"), 0.0))
            if started > blocked[key][0] and str(j.get("method") or "").upper() in _ACTING:
                after[key] = (i, j)
    for key, (i, j) in after.items():
        t, _, first, why = blocked[key]
        out.append(
            Violation(
                number(j.get("started"), number(j.get("t"), 0.0)),
                ("job", "jobs"),
                f"sent {j.get('route')} again after {first.get('fake')} {why} at "
                f"{format_offset(record.offset(t))} (a refusal for good is not retried)",
                key,
                evidence("journal.jsonl", i),
            )
        )


#: faults that fail every request they match (a platform, or the path to it, down)
_OUTAGE_FAULTS = frozenset({"http.outage", "http.reset", "http.disconnect"})


def _outage_window_kept(
    record: DrillRecord, window: float, limit: int, out: list[Violation]
) -> None:
    """Judge the outage window the platform states (``outage_window_s``) from both sides.

    After a job's first failure through an outage (a 5xx or no answer), the policy retries it
    for ``window`` seconds without using its attempts; after that every failure counts. So a
    job whose acting requests failed ``limit`` times after its window ran out sends no more
    (one that does retries for ever, posts stale content when the platform is back and pages
    nobody), and may not be dead-lettered while
    a whole outage of its platform (a fault failing every request to it) was all it met and
    its window had not run out (one that does gives up on posts a short outage should spare).
    """
    by_key = _job_requests(record)
    for key, reqs in by_key.items():
        reqs.sort(key=lambda r: (r[0], r[2].get("seq", 0)))
        # the window runs from the runner's first outage failure: the answer's time, not the
        # request's start (a slow failure must not move the window earlier)
        first = next(
            (number(r[2].get("t"), r[0]) for r in reqs if _outage_status(r[2].get("status"))),
            None,
        )
        if first is None:
            continue
        late = [
            r for r in reqs if r[0] > first + window + 1.0 and _worth_retrying(r[2].get("status"))
        ]
        if len(late) < limit:
            continue
        spent = number(late[limit - 1][2].get("t"), late[limit - 1][0])
        after = [r for r in reqs if r[0] > spent]
        if after:
            out.append(
                Violation(
                    after[0][0],
                    ("job", "jobs"),
                    f"sent another request after {limit} failures past its outage window "
                    f"(first outage failure {format_offset(record.offset(first))}, window "
                    f"{format_duration(window)}), each of which the policy counts against its "
                    f"{limit} attempts",
                    key,
                    evidence("journal.jsonl", after[0][1]),
                )
            )
    downs: list[tuple[str, float, float]] = []
    for f in record.fault_history:
        match = f.get("match")
        if (
            f.get("kind") not in _OUTAGE_FAULTS
            or not isinstance(match, dict)
            or set(match) != {"fake"}
            or number(f.get("probability"), 0.0) < 1.0
            or f.get("first_n")
            or f.get("every_nth")
        ):
            continue  # not every request of the fake failed
        start = max(number(f.get("installed_at"), 0.0), number(f.get("start"), 0.0))
        end = min(number(f.get("removed_at"), record.end_t), number(f.get("end"), record.end_t))
        downs.append((str(match["fake"]), start, end))
    if not downs:
        return
    for i, jr in enumerate(record.jobs):
        if jr.get("state") != "dead_letter" or not jr.get("platform"):
            continue
        died = number(jr.get("updated_at"), 0.0)
        began = number(jr.get("created_at"), 0.0)
        for fake, start, end in downs:
            if fake != jr.get("platform") or not start <= died <= end:
                continue
            since = max(began, start)
            if died - since < window - 1.0:
                out.append(
                    Violation(
                        died,
                        ("job", "jobs"),
                        f"was dead-lettered {format_duration(died - since)} into an outage of "
                        f"{fake} (from {format_offset(record.offset(start))}), inside the "
                        f"{format_duration(window)} outage window in which its policy spends no attempts",
                        str(jr.get("id")),
                        f"evidence/jobs.jsonl#L{i + 1}",
                    )
                )
            break


def _outage_status(status: Json) -> bool:
    """A failure of the platform itself, not a throttle: a 5xx or no answer."""
    if status is None:
        return True
    code = int(number(status, 0.0))
    return code == 0 or code >= 500


def _job_requests(record: DrillRecord) -> dict[str, list[tuple[float, int, JournalRow]]]:
    """Each job's requests a retry may repeat, by idempotency key: its acting requests (which
    carry the key), and the lookups of its own trace that failed through an outage — a retry of
    an ambiguous side effect begins by asking "did it land?", and a lookup that failed ended
    its run like a failed post."""
    by_key: dict[str, list[tuple[float, int, JournalRow]]] = {}
    trace_of: dict[str, str] = {}
    for i, j in enumerate(record.journal):
        key = j.get("idempotency_key")
        if key is None or str(j.get("method") or "").upper() not in _ACTING:
            continue
        by_key.setdefault(str(key), []).append(
            (number(j.get("started"), number(j.get("t"), 0.0)), i, j)
        )
        trace = trace_id(j.get("traceparent"))
        if trace is not None:
            trace_of.setdefault(trace, str(key))
    for i, j in enumerate(record.journal):
        if str(j.get("method") or "").upper() in _ACTING or not _outage_status(j.get("status")):
            continue
        trace = trace_id(j.get("traceparent"))
        if trace is not None and trace in trace_of:
            by_key[trace_of[trace]].append(
                (number(j.get("started"), number(j.get("t"), 0.0)), i, j)
            )
    return by_key


def _worth_retrying(status: Json) -> bool:
    """A failure the runner retries: a 5xx, a 429, or no answer at all."""
    if status is None:
        return True
    code = int(number(status, 0.0))
    return code in (0, 429) or code >= 500
