"""Pacing invariants: platform rate limits honoured, engagement loops bounded, spend within budget."""

from __future__ import annotations

import calendar
import math
import re
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field

from ...durations import format_duration
from ..record import (
    AUDIT_ACTION_OF,
    KILL_ACTION_OF,
    PROVIDER_FAKES,
    SIDE_EFFECT_ACTIONS,
    SOCIAL_FAKES,
    DrillRecord,
)
from ..rows import FaultRow, JournalRow, Json, JsonObject, json_object, number
from ..timeline import format_offset
from ._base import Findings, NotApplicable, Params, Violation, invariant
from ._facts import configured_pacing, evidence, facts, thread_of

__all__ = [
    "budgets_used_in_full",
    "daily_caps_used_in_full",
    "engagement_loops_bounded",
    "engagement_polls_braked",
    "rate_within_platform_limits",
    "side_effects_not_before_due",
    "spend_within_budget",
]


class Limit(BaseModel):
    """A request budget: at most ``requests`` per ``window_s`` per account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: int = Field(ge=1)
    window_s: float = Field(gt=0)


class RateParams(Params):
    """Parameters of ``rate_within_platform_limits``."""

    tolerance_s: float = Field(0.5, ge=0, description="slack on Retry-After for clock granularity")
    per: str = Field(
        "route",
        pattern="^(route|account)$",
        description="a 429 blocks one route or the whole account",
    )
    default_retry_after_s: float = Field(60.0, ge=0, description="when the 429's rule names none")
    unknown_cap_hold_s: float = Field(
        3600.0,
        ge=0,
        description=(
            "how long an X usage cap whose 429 names no reset (``headers: false``) holds the "
            "account at the least: nothing tells the platform it lifted sooner"
        ),
    )
    in_flight_s: float = Field(
        0.0,
        ge=0,
        description="a request reaching the fake this soon after a 429 was already on the wire "
        "(served topology: concurrent requests cannot have seen it)",
    )
    limits: dict[str, Limit] = Field(
        default_factory=dict, description="fake → request budget per account"
    )


def _before_answer(j: JournalRow, cause: JournalRow, t: float, cause_arrival: float) -> bool:
    """Whether request ``j`` (arrived at ``t``) was on its way before the throttled ``cause`` was
    answered: it reached the fake before the 429 was journaled (``after_seq``), or while a slow
    answer was still under way — up to the instant it came back, when a job woken by a timer of
    that very instant may have sent it before the platform had read the answer."""
    after, seq = j.get("after_seq"), cause.get("seq")
    if isinstance(after, int) and isinstance(seq, int) and after < seq:
        return True
    return cause_arrival < t <= number(cause.get("t"), t)


@invariant(RateParams)
def rate_within_platform_limits(record: DrillRecord, p: RateParams) -> Findings | NotApplicable:
    """Requests stay within the platforms' limits, and after a 429 none is sent before Retry-After.

    Read from the fakes' journal. A throttle is a 429 or any answer of a ``*.rate_limited`` fault
    (Instagram throttles with a 400 and error code 4/17/32/613). How long it holds is what the
    platform's wire says: X's Retry-After (the fault rule's ``retry_after_s``), Instagram's
    regain time in whole minutes (``x-business-use-case-usage``), LinkedIn's header-less daily
    429 until the next midnight UTC. A request to the same fake, account (and route, with
    ``per: route``) before it elapsed is a violation, unless it reached the fake within
    ``in_flight_s`` of the throttle (it was sent before the throttle could be seen: served runs
    with concurrent requests). Daily caps set with ``set_pacing`` hold too: no account makes more
    side effects of an action type in a UTC day than the cap in force. An Instagram account whose
    hourly calls a rule limits (``calls_per_hour``: the ``call_count`` of its
    ``x-business-use-case-usage`` counts up to it) must not be run over it: every request the
    fake throttles for it (code 80002) is a violation. So is, on X, every post refused beyond an
    account's 24-hour allowance (``posts_per_day``): the 201 that took the last post said
    ``x-user-limit-24hour-remaining: 0`` and when the window resets.
    """
    rules = {str(r.get("id")): r for r in record.fault_rows()}
    # a rule removed before the end is in the history without its params: the timeline has them
    for ev in record.timeline.of_kind("fault.injected"):
        rid = str(ev.data.get("rule_id"))
        if rid in rules and not rules[rid].get("params"):
            rules[rid] = {**rules[rid], "params": dict(json_object(ev.data.get("params")))}
    # a drill over HTTP in scaled time: requests in flight together really overlap on the wire
    # (in-process, virtual time makes every exchange instant); the record says for how long
    in_flight_s = max(p.in_flight_s, float(record.extra.get("in_flight_s") or 0.0))
    # … grown with how late a busy machine ran the drill's timers — but by no more than a quarter
    # of the hold it excuses requests from: past that the judge could no longer tell a platform
    # that ignores Retry-After from a slow machine (the drill's floor always applies)
    floor_s = max(p.in_flight_s, float(record.extra.get("in_flight_floor_s") or in_flight_s))

    def allowance(hold: tuple[float, float]) -> float:
        return max(floor_s, min(in_flight_s, 0.25 * (hold[1] - hold[0])))

    # … and the platform's clock and the fakes' agree only to tens of real milliseconds, which a
    # time scale of 240 makes seconds of the world's: slack on Retry-After grows with it
    tolerance_s = p.tolerance_s + float(record.extra.get("clock_skew_s") or 0.0)
    blocked: dict[tuple[object, ...], tuple[float, float]] = {}
    #: the request whose throttle set each hold (its journal row)
    cause: dict[tuple[object, ...], JournalRow] = {}
    #: the latest each hold may end at the fake: its reset runs from no later than its answer
    fake_until: dict[tuple[object, ...], float] = {}
    concurrent = _concurrent_with(record)
    windows: dict[tuple[object, ...], deque[float]] = {}
    out: list[Violation] = []
    saw_429 = False
    #: the last request each (fake, account) had answered 2xx: the one that announced the end of
    #: an allowance, which a request sent before it was seen may still run into
    last_ok: dict[tuple[object, ...], JournalRow] = {}

    # by arrival (``started``), not by answer (``t``): the fake decides a throttle and its reset
    # when the request arrives, and a request is early by when it was sent, whatever the time the
    # fake then took to answer (tens of real ms on a busy machine are seconds of a scaled world)
    def arrival(j: JournalRow) -> float:
        return number(j.get("started"), number(j.get("t"), 0.0))

    # ``i`` stays the entry's line in journal.jsonl (the evidence link)
    by_arrival = sorted(
        enumerate(record.journal), key=lambda e: (arrival(e[1]), e[1].get("seq", 0))
    )
    for i, j in by_arrival:
        t = arrival(j)
        fake = str(j.get("fake"))
        # Instagram's business-use-case limit counts every call of the account, whichever
        # endpoint: its throttle holds the whole account (X's and LinkedIn's hold an endpoint)
        by_route = p.per == "route" and fake != "instagram"
        key = (fake, j.get("account_id")) + ((j.get("route"),) if by_route else ())
        noun = ("request", "requests")
        until = blocked.get(key)
        in_flight = until is not None and (
            (in_flight_s > 0 and t <= until[0] + allowance(until))
            or (t == until[0] and key in cause and concurrent(j, cause[key]))
            # sent while the throttled request was still being answered (a slow API: an answer
            # takes a second): the platform could not have read it yet
            or (key in cause and _before_answer(j, cause[key], t, arrival(cause[key])))
        )
        if until is not None and t < until[1] - tolerance_s and not in_flight:
            phrase = (
                f"sent to {fake} {j.get('route') if by_route else ''} for "
                f"{record.handle(j.get('account_id'))} before Retry-After elapsed"
            ).replace("  ", " ")
            ref = f"{j.get('request_id')} at {format_offset(record.offset(t))} (429 at {format_offset(record.offset(until[0]))})"
            out.append(Violation(t, noun, phrase, ref, evidence("journal.jsonl", i)))
        if j.get("status") == 429 or str(j.get("fault_kind") or "").endswith(".rate_limited"):
            saw_429 = True
            rule = rules.get(str(j.get("fault_id")))
            own = json_object((rule or {}).get("params")).get("calls_per_hour")
            per_day = json_object((rule or {}).get("params")).get("posts_per_day")
            told = last_ok.get((fake, j.get("account_id")))
            if per_day is not None:
                # the 201 that took the last post of the 24-hour allowance said so (remaining 0,
                # and the reset): a post sent after it was seen is the platform's own doing
                racing = told is not None and (
                    (in_flight_s > 0 and t <= arrival(told) + in_flight_s)
                    or (t == arrival(told) and concurrent(j, told))
                )
                if not racing:
                    phrase = (
                        f"sent to {fake} for {record.handle(j.get('account_id'))} beyond its "
                        f"24-hour allowance of {number(per_day):g} posts, after "
                        "x-user-limit-24hour-remaining had said 0"
                    )
                    ref = f"{j.get('request_id')} at {format_offset(record.offset(t))}"
                    out.append(Violation(t, noun, phrase, ref, evidence("journal.jsonl", i)))
            elif own is not None:
                # the account's own hourly limit, which the usage headers had counted up to:
                # the platform spent it (each throttled request counts, there is no hold to time)
                # — or, with code 4, the app's: every account's calls together (x-app-usage)
                app = json_object((rule or {}).get("params")).get("code") == 4
                phrase = (
                    f"sent to {fake} for {record.handle(j.get('account_id'))} beyond the app's "
                    f"limit of {number(own):g} calls an hour across every account, which "
                    "x-app-usage counted"
                    if app
                    else f"sent to {fake} for {record.handle(j.get('account_id'))} beyond its "
                    f"own limit of {number(own):g} calls an hour, which the usage headers counted"
                )
                ref = f"{j.get('request_id')} at {format_offset(record.offset(t))}"
                out.append(Violation(t, noun, phrase, ref, evidence("journal.jsonl", i)))
            elif (
                rule is None and until is not None and t <= max(until[1], fake_until.get(key, 0.0))
            ):
                # no rule fired: the fake still holds the earlier throttle (it answers 429 until
                # the reset it announced), so the hold is that one, not a new one of unknown
                # length. Served, the fake timed that hold from when its limiter ran, somewhere
                # between the throttled request's arrival and its answer: a retry on time by
                # the arrival may still meet it (tens of real ms on a busy machine)
                pass
            elif str(j.get("fault_kind") or "").endswith(".usage_capped"):
                # a monthly cap holds until it lifts: the month's end, or its rule's, whichever
                # is first (what x-rate-limit-reset named) — no retry window within it
                lifts = _next_month(t)
                if rule is not None and rule.get("end") is not None:
                    lifts = min(lifts, number(rule.get("end")))
                # a cap that names no reset (``headers: false``) owes at least the platform's
                # own guess of it: a request sent back into it soon after was not told to
                bare = json_object((rule or {}).get("params")).get("headers") is False
                owed = min(lifts, t + p.unknown_cap_hold_s) if bare else lifts
                prev = blocked.get(key, (t, t))
                blocked[key] = (t, max(prev[1], owed))
                fake_until[key] = max(fake_until.get(key, t), lifts)
                cause[key] = j
            else:
                params = json_object((rule or {}).get("params") or {})
                ra = _hold_s(fake, t, number(params.get("retry_after_s"), p.default_retry_after_s))
                # a bare 429 (``headers: false``) says nothing of its end: the platform owes the
                # default wait, while the fake holds the endpoint for the rule's whole hold
                owed = min(ra, p.default_retry_after_s) if params.get("headers") is False else ra
                prev = blocked.get(key, (t, t))
                blocked[key] = (t, max(prev[1], t + owed))
                fake_until[key] = max(fake_until.get(key, t), number(j.get("t"), t) + ra)
                cause[key] = j
        if 200 <= int(number(j.get("status"), 0)) < 300:
            last_ok[(fake, j.get("account_id"))] = j
        limit = p.limits.get(fake)
        if limit is not None:
            wk = (fake, j.get("account_id"))
            q = windows.setdefault(wk, deque())
            q.append(t)
            while q and q[0] <= t - limit.window_s:
                q.popleft()
            if len(q) > limit.requests:
                phrase = (
                    f"sent to {fake} for {record.handle(j.get('account_id'))} beyond "
                    f"{limit.requests} per {limit.window_s:g}s"
                )
                out.append(
                    Violation(
                        t, noun, phrase, str(j.get("request_id")), evidence("journal.jsonl", i)
                    )
                )
    _resumed_in_a_burst(record, rules, arrival, out)
    _account_hold_ended_in_a_burst(record, arrival, out)
    outages = _outage_retry_after(record, rules, arrival, tolerance_s, out)
    capped = _daily_caps(record, out)
    own = [
        phrase
        for key, phrase in (
            ("calls_per_hour", "the accounts' own hourly limits"),
            ("posts_per_day", "their 24-hour post allowances"),
        )
        if any(json_object(r.get("params")).get(key) is not None for r in rules.values())
    ]
    own_limits = bool(own)
    if not saw_429 and not p.limits and not capped and not own_limits and not outages:
        return NotApplicable("no 429 was served and no request limits or daily caps were set")
    return Findings(
        len(record.journal),
        out,
        f"all {len(record.journal)} requests respected Retry-After"
        + (f" (after {outages} outage answers that named one too)" if outages else "")
        + (" and the request limits" if p.limits else "")
        + "".join(f" and {phrase}" for phrase in own)
        + (f"; {capped} side effects stayed within the daily caps" if capped else ""),
    )


DAY = 86_400.0


def _outage_retry_after(
    record: DrillRecord,
    rules: Mapping[str, FaultRow],
    arrival: Callable[[JournalRow], float],
    tolerance_s: float,
    out: list[Violation],
) -> int:
    """A 5xx that says how long the outage lasts (``http.outage`` with ``retry_after_s``: a
    ``Retry-After`` on the 503) holds the request it answered: the same job's request (its
    idempotency key) to the same route is not sent again before it elapsed. Other requests are
    not held — the service named the wait for this one. Returns how many such answers came."""
    holds: dict[tuple[object, ...], tuple[float, JournalRow]] = {}
    seen = 0
    by_arrival = sorted(
        enumerate(record.journal), key=lambda e: (arrival(e[1]), e[1].get("seq", 0))
    )
    for i, j in by_arrival:
        if j.get("idempotency_key") is None:
            continue
        key = (j.get("fake"), j.get("idempotency_key"), j.get("method"), j.get("route"))
        t = arrival(j)
        held = holds.get(key)
        if held is not None and t < held[0] - tolerance_s:
            cause = held[1]
            if not _before_answer(j, cause, t, arrival(cause)):
                phrase = (
                    f"sent to {j.get('fake')} {j.get('route')} for "
                    f"{record.handle(j.get('account_id'))} again before the Retry-After of its "
                    f"{cause.get('status')} elapsed"
                )
                ref = (
                    f"{j.get('request_id')} at {format_offset(record.offset(t))} "
                    f"({cause.get('status')} at {format_offset(record.offset(arrival(cause)))})"
                )
                out.append(
                    Violation(t, ("request", "requests"), phrase, ref, evidence("journal.jsonl", i))
                )
        if int(number(j.get("status"), 0)) < 500 or j.get("fault_kind") != "http.outage":
            continue
        rule = rules.get(str(j.get("fault_id")))
        ra = json_object((rule or {}).get("params")).get("retry_after_s")
        if ra is None:
            continue
        seen += 1
        until = number(j.get("t"), t) + number(ra, 0.0)
        if held is None or until > held[0]:
            holds[key] = (until, j)
    return seen


#: Instagram's throttling error codes (app, user, page, custom, the account's business use case)
_INSTAGRAM_THROTTLE_CODES = frozenset({"4", "17", "32", "613", "80002"})
#: platforms whose throttle holds a whole account (Instagram's business-use-case limit): every
#: kind of request of the account waits for the same hold, and all of them resume when it ends
_ACCOUNT_WIDE_THROTTLES = frozenset({"instagram"})


def _account_hold_ended_in_a_burst(
    record: DrillRecord, arrival: Callable[[JournalRow], float], out: list[Violation]
) -> None:
    """RB-05's "resume slowly" where a throttle holds the whole account: the first request
    after the hold goes alone, the others once it is answered. Judged on the first instant an
    account's requests reach the platform after a throttled answer: when the first of them was
    refused as throttled and more went with it at that instant, refused too, the hold ended for
    every waiting request at once — a burst into a platform still refusing, which keeps
    re-tripping its throttle."""

    def throttled(j: JournalRow) -> bool:
        # a fresh throttle carries its fault; a request the hold still refuses carries only
        # Instagram's throttle code
        status = int(number(j.get("status"), 0))
        return status in (400, 429) and (
            str(j.get("fault_kind") or "").endswith("rate_limited")
            or str(j.get("error") or "").split("/")[0] in _INSTAGRAM_THROTTLE_CODES
        )

    by_account: dict[tuple[str, object], list[tuple[float, int, JournalRow]]] = {}
    for i, j in enumerate(record.journal):
        if j.get("fake") in _ACCOUNT_WIDE_THROTTLES and j.get("account_id") is not None:
            by_account.setdefault((str(j.get("fake")), j.get("account_id")), []).append(
                (arrival(j), i, j)
            )
    for (fake, account), rows in sorted(by_account.items(), key=lambda kv: str(kv[0])):
        rows.sort(key=lambda r: (r[0], r[1]))
        answered_at: float | None = None  # when the last throttled answer came
        k = 0
        while k < len(rows):
            t, i, j = rows[k]
            if answered_at is not None and t > answered_at:
                group = [r for r in rows[k:] if r[0] == t]
                refused = [r for r in group if throttled(r[2])]
                if len(group) >= 2 and throttled(group[0][2]) and len(refused) >= 2:
                    out.append(
                        Violation(
                            t,
                            ("burst", "bursts"),
                            f"of {len(group)} requests sent to {fake} for "
                            f"{record.handle(str(account))} at once as its throttle's hold "
                            f"ended, {len(refused)} refused (resume with one request first)",
                            f"{j.get('request_id')} at {format_offset(record.offset(t))}",
                            evidence("journal.jsonl", i),
                        )
                    )
                answered_at = None
            if throttled(j):
                answered_at = max(answered_at or 0.0, number(j.get("t"), t))
            k += 1


def _resumed_in_a_burst(
    record: DrillRecord,
    rules: Mapping[str, FaultRow],
    arrival: Callable[[JournalRow], float],
    out: list[Violation],
) -> None:
    """RB-05's "resume slowly", at the providers: once a provider has throttled the agency's key,
    the platform tries it again with one call and sends the others once that one is answered. So
    two or more calls sent to it at one instant, all refused by a throttle that refuses every
    call (a fault rule without a probability: a spent quota, a full window), went out together
    into a provider still refusing — the burst a hold that ends for every waiting call at once
    makes. Random refusals (a storm with a probability) and the first throttle are not judged."""
    groups: dict[tuple[str, object, float], list[tuple[int, JournalRow]]] = {}
    for i, j in enumerate(record.journal):
        if j.get("fake") in PROVIDER_FAKES:
            groups.setdefault((str(j.get("fake")), j.get("account_id"), arrival(j)), []).append(
                (i, j)
            )

    def certain(j: JournalRow) -> bool:
        rule = rules.get(str(j.get("fault_id"))) if j.get("fault_id") is not None else None
        return (
            rule is not None
            and (j.get("status") == 429 or str(j.get("fault_kind") or "").endswith("_limited"))
            and number(rule.get("probability"), 1.0) >= 1.0
        )

    throttled_before: set[tuple[str, object]] = set()
    for key in sorted(groups, key=lambda k: k[2]):
        rows = groups[key]
        refused = [(i, j) for i, j in rows if certain(j)]
        who = key[:2]
        if len(refused) >= 2 and len(refused) == len(rows) and who in throttled_before:
            i, j = refused[0]
            out.append(
                Violation(
                    key[2],
                    ("burst", "bursts"),
                    f"of {len(rows)} calls sent to {key[0]} at once after it had throttled "
                    "the agency's key, all refused (resume with one call first)",
                    f"{j.get('request_id')} at {format_offset(record.offset(key[2]))}",
                    evidence("journal.jsonl", i),
                )
            )
        if any(j.get("status") == 429 for _, j in rows):
            throttled_before.add(who)


def _concurrent_with(record: DrillRecord) -> Callable[[JournalRow, JournalRow], bool]:
    """``(request, throttled) → bool``: the platform sent ``request`` before it had seen the
    throttle of ``throttled`` — both its side effects' trails say so.

    In virtual time an exchange takes no time, so two requests of one instant carry the same
    time stamp whether or not the second was sent after the platform read the 429 of the
    first. The platform's audit orders them: the attempt of the second is recorded before the
    outcome of the first (the 429 was not yet known), or after (it was, and the request went
    anyway). A request that is not a side effect (no audited attempt: a read, Instagram's
    container step) of another job than the throttled one cannot be ordered against it and is
    taken as sent together; one of the same job came after its own answer.
    """
    attempts: dict[str, list[tuple[float, int]]] = {}
    outcomes: dict[str, list[tuple[float, int]]] = {}
    for a in record.audit:
        k = a.get("idempotency_key")
        if k is None:
            continue
        into = attempts if a.get("phase") == "attempt" else outcomes
        into.setdefault(str(k), []).append((number(a.get("t")), int(a.get("seq", 0))))

    def check(req: JournalRow, throttled: JournalRow) -> bool:
        t = number(req.get("started"), number(req.get("t"), 0.0))
        mine = [s for at, s in attempts.get(str(req.get("idempotency_key")), ()) if at <= t]
        if not mine:
            key = req.get("idempotency_key")
            return key is not None and key != throttled.get("idempotency_key")
        theirs = [s for at, s in outcomes.get(str(throttled.get("idempotency_key")), ()) if at >= t]
        return bool(mine and theirs) and max(mine) < min(theirs)

    return check


def _next_month(t: float) -> float:
    """The first instant of the UTC month after the one ``t`` is in (when a monthly cap lifts)."""
    g = time.gmtime(int(t))
    year, month = (g.tm_year + 1, 1) if g.tm_mon == 12 else (g.tm_year, g.tm_mon + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0)))


def _hold_s(fake: str, t: float, retry_after_s: float) -> float:
    """How long a throttle holds, as the platform's wire tells it (see the invariant)."""
    if fake == "instagram":
        return math.ceil(retry_after_s / 60) * 60.0
    if fake == "linkedin":
        return (int(t // DAY) + 1) * DAY - t
    return retry_after_s


def _cap_steps(record: DrillRecord) -> list[tuple[float, str, dict[str, int]]]:
    """The daily caps the ``pacing`` control changes set: ``(t, platform, {action type: cap})``
    in the order they were set."""
    # what the drill's settings configured is in force from the start
    steps: list[tuple[float, str, dict[str, int]]] = [
        (
            -math.inf,
            platform,
            {k: int(number(v)) for k, v in json_object(p.get("daily_caps")).items()},
        )
        for platform, p in sorted(configured_pacing(record).items())
        if json_object(p.get("daily_caps"))
    ]
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        value = c.get("value")
        if c.get("control") == "pacing" and isinstance(value, Mapping):
            platform = str((c.get("scope") or {}).get("platform"))
            step_caps = {k: int(number(v)) for k, v in json_object(value.get("daily_caps")).items()}
            steps.append((float(c["t"]), platform, step_caps))
    return steps


def _cap_at(
    steps: list[tuple[float, str, dict[str, int]]], t: float, platform: object, atype: str
) -> int | None:
    """The cap of ``atype`` on ``platform`` in force at ``t`` (None: none)."""
    caps = [cp for s, pf, cp in steps if s <= t and pf == platform]
    return caps[-1].get(atype) if caps else None


def _daily_caps(record: DrillRecord, out: list[Violation]) -> int:
    """Judge the daily caps of the ``pacing`` control changes; return how many side effects
    fell under a cap (0: no cap was ever set)."""
    steps = _cap_steps(record)
    if not any(caps for _, _, caps in steps):
        return 0
    used: dict[tuple[str | None, str, int], int] = {}
    checked = 0
    for i, e in enumerate(record.ledger):
        atype = KILL_ACTION_OF.get(str(e.get("action")))
        if e.get("action") not in SIDE_EFFECT_ACTIONS or atype is None:
            continue
        t = float(e["t"])
        k = (e.get("account_id"), atype, int(t // DAY))
        used[k] = used.get(k, 0) + 1
        cap = _cap_at(steps, t, e.get("fake"), atype)
        if cap is None:
            continue
        checked += 1
        if used[k] > cap:
            phrase = (
                f"made on {record.handle(e.get('account_id'))} beyond its daily cap of "
                f"{cap} {atype}"
            )
            ref = str(e.get("resource_id") or e.get("request_id"))
            out.append(
                Violation(
                    t, ("side effect", "side effects"), phrase, ref, evidence("ledger.jsonl", i)
                )
            )
    return max(checked, 1)


#: job kind → the action type a daily cap counts (``set_pacing``'s ``daily_caps`` keys)
_CAPPED_KIND: dict[str, str] = {"publish": "publish", "reply": "reply", "dm": "dm", "like": "like"}


@invariant()
def daily_caps_used_in_full(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """A daily cap lets through what it allows: work waits for the next day only once it is used.

    Where the platform deferred a job to the next UTC day for a daily cap (its last error says
    ``daily cap``), the account of its client on that platform must have made as many side
    effects of that action type that day as the cap in force then allows (``pacing`` control
    changes). Counted from the fakes' ledger, or from the audited attempts when more went out
    (an attempt a platform refused used its unit too). Fewer means the cap bit early: a unit was
    taken for a side effect that never went out, or counted twice.
    """
    steps = _cap_steps(record)
    if not any(caps for _, _, caps in steps):
        return NotApplicable("no daily cap was set")
    account_of = {
        (str(a.get("tenant_id")), str(a.get("platform"))): acc for acc, a in record.accounts.items()
    }
    landed: dict[tuple[str | None, str, int], int] = {}
    for e in record.ledger:
        atype = KILL_ACTION_OF.get(str(e.get("action")))
        if e.get("action") in SIDE_EFFECT_ACTIONS and atype is not None:
            k = (e.get("account_id"), atype, int(float(e["t"]) // DAY))
            landed[k] = landed.get(k, 0) + 1
    tried: dict[tuple[str | None, str, int], int] = {}
    for a in record.audit:
        ledger_action = next(
            (la for la, aa in AUDIT_ACTION_OF.items() if aa == a.get("action")), None
        )
        atype = KILL_ACTION_OF.get(str(ledger_action))
        if a.get("phase") == "attempt" and ledger_action in SIDE_EFFECT_ACTIONS and atype:
            k = (a.get("account_id"), atype, int(float(a.get("t") or 0.0) // DAY))
            tried[k] = tried.get(k, 0) + 1
    out: list[Violation] = []
    waits: set[tuple[str | None, str, int]] = set()
    for job in record.jobs:
        atype = _CAPPED_KIND.get(str(job.get("kind")))
        if atype is None or "daily cap" not in str(job.get("last_error") or ""):
            continue
        t = float(number(job.get("updated_at")) or record.end_t)
        account = account_of.get((str(job.get("client_id")), str(job.get("platform"))))
        cap = _cap_at(steps, t, job.get("platform"), atype)
        if account is None or cap is None:
            continue
        k = (account, atype, int(t // DAY))
        waits.add(k)
        used = max(landed.get(k, 0), tried.get(k, 0))
        if used < cap:
            out.append(
                Violation(
                    t,
                    (f"{job.get('kind')} job", f"{job.get('kind')} jobs"),
                    f"deferred to the next day on {record.handle(account)} with {used} of its "
                    f"daily cap of {cap} {atype} used",
                    str(job.get("id")),
                )
            )
    if not waits:
        return NotApplicable("no job waited for a daily cap")
    return Findings(
        len(waits),
        out,
        f"every one of {len(waits)} daily caps that made work wait was used in full first",
    )


class CapLiftParams(Params):
    """Parameters of ``usage_caps_lift_with_the_world``."""

    grace_s: float = Field(
        60.0, ge=0, description="an attempt already on its way when the cap lifts may end this late"
    )


@invariant(CapLiftParams)
def usage_caps_lift_with_the_world(
    record: DrillRecord, p: CapLiftParams
) -> Findings | NotApplicable:
    """A monthly usage cap holds until it lifts, and not after: capped work goes on once it has.

    X's monthly cap (``x.usage_capped``) lifts when its fault's window ends or the UTC month
    turns, whichever comes first (X names that moment in ``x-rate-limit-reset``). An X job the
    platform fails as usage-capped more than ``grace_s`` after every cap it met had lifted did
    not meet the cap: the platform kept a cap past its reset (a reset misread, an end
    forgotten) and the account silently stopped while X would have taken its posts.
    """
    seen: dict[str, FaultRow] = {}
    for f in [*record.fault_rules, *record.fault_history]:
        if f.get("kind") == "x.usage_capped" and f.get("first_hit_at") is not None:
            seen.setdefault(str(f.get("id")), f)
    if not seen:
        return NotApplicable("no monthly usage cap was met")
    lifts = []
    for f in seen.values():
        month = _next_month(float(number(f.get("first_hit_at"))))
        end = f.get("end")
        lifts.append(month if end is None else min(float(end), month))
    lifted = max(lifts)
    out: list[Violation] = []
    checked = 0
    for i, job in enumerate(record.jobs):
        if job.get("platform") != "x" or "usage_capped" not in str(job.get("last_error") or ""):
            continue
        checked += 1
        t = float(number(job.get("updated_at"), record.end_t))
        if t > lifted + p.grace_s:
            out.append(
                Violation(
                    t,
                    ("job", "jobs"),
                    f"of kind {job.get('kind')} failed as usage-capped "
                    f"{format_duration(t - lifted)} after X's cap had lifted (at "
                    f"{format_offset(lifted - record.start_t)}): the platform kept the cap past its reset",
                    str(job.get("id")),
                    evidence("jobs.jsonl", i),
                )
            )
    return Findings(
        checked,
        out,
        f"{checked} jobs failed as usage-capped, none after the cap lifted "
        f"(at {format_offset(lifted - record.start_t)})",
    )


class PollBrakeParams(Params):
    """Parameters of ``engagement_polls_braked``."""

    max_replies_per_poll: int = Field(
        200,
        ge=1,
        description="replies (and DMs, likes) one engagement poll may start across every client "
        "and account of the agency: the brake on bursts (the reference platform's)",
    )


#: the job kinds an engagement poll submits
_ENGAGEMENT_KINDS = frozenset({"reply", "dm", "like"})


@invariant(PollBrakeParams)
def engagement_polls_braked(record: DrillRecord, p: PollBrakeParams) -> Findings | NotApplicable:
    """One engagement poll starts at most ``max_replies_per_poll`` replies, across the agency.

    Read from the platform's jobs: each engagement job (a reply, a DM, a like) belongs to the
    poll whose run it was created in — between that ``engagement_poll`` job's creation and the
    next one's, since a poll is submitted only when the last has ended. The brake bounds what a
    flood of keyword comments or DMs, or a duplicate-delivery storm, turns into at once, across
    every tenant together: a brake counted per client lets three clients' floods through as
    three times the burst (RB-10), which paging only notices afterwards.
    """
    polls = sorted(
        number(j.get("created_at")) for j in record.jobs if j.get("kind") == "engagement_poll"
    )
    if not polls:
        return NotApplicable("the platform ran no engagement poll")
    started: dict[int, list[str]] = {}
    for j in record.jobs:
        if j.get("kind") not in _ENGAGEMENT_KINDS or j.get("created_at") is None:
            continue
        i = bisect_right(polls, number(j.get("created_at"))) - 1
        if i >= 0:
            started.setdefault(i, []).append(str(j.get("id")))
    out = [
        Violation(
            polls[i],
            ("poll", "polls"),
            f"started {len(ids)} engagement jobs (brake {p.max_replies_per_poll})",
            f"the poll of {format_offset(record.offset(polls[i]))}",
            None,
        )
        for i, ids in sorted(started.items())
        if len(ids) > p.max_replies_per_poll
    ]
    most = max((len(v) for v in started.values()), default=0)
    return Findings(
        len(polls),
        out,
        f"none of {len(polls)} engagement polls started more than {p.max_replies_per_poll} "
        f"engagement jobs (at most {most})",
    )


class LoopParams(Params):
    """Parameters of ``engagement_loops_bounded``."""

    max_replies_per_thread: int = Field(3, ge=1, description="replies per account per thread")
    allow_reply_to_own: bool = Field(
        False, description="whether replying to one's own reply is fine"
    )
    cooldown_s: float = Field(
        60.0,
        ge=0,
        description="replies of an account in one thread at least this far apart (RB-10's hard "
        "cooldown; 0: not judged)",
    )


@invariant(LoopParams)
def engagement_loops_bounded(record: DrillRecord, p: LoopParams) -> Findings | NotApplicable:
    """Engagement stays bounded: at most a cap of replies per thread, ``cooldown_s`` apart, and no reply to one's own reply.

    A thread is the post a conversation hangs off: a comment on one of our own replies (an echo
    that baits a loop) belongs to the thread of the comment that reply answered. The cooldown is
    what keeps a bot that writes again at once from getting its answers at poll speed: without
    it, only the cap stops a loop.
    """
    ours = {str(e.get("resource_id")) for e in record.ledger if e.get("action") == "reply.created"}
    root = thread_of(record)

    per_thread: dict[tuple[object, str], int] = {}
    last: dict[tuple[object, str], float] = {}
    out: list[Violation] = []
    checked = 0
    for i, e in enumerate(record.ledger):
        if e.get("action") not in ("reply.created", "dm.sent"):
            continue
        checked += 1
        target = str(e.get("in_reply_to"))
        handle = record.handle(e.get("account_id"))
        noun = ("reply", "replies") if e["action"] == "reply.created" else ("DM", "DMs")
        ref = str(e.get("resource_id") or e.get("request_id"))
        if not p.allow_reply_to_own and target in ours:
            out.append(
                Violation(
                    float(e["t"]),
                    noun,
                    f"sent on {handle} in reply to its own reply",
                    ref,
                    evidence("ledger.jsonl", i),
                )
            )
            continue
        # a DM answers no comment: its thread is the conversation with its recipient
        thread = root(target) if e.get("in_reply_to") else f"DM {e.get('detail') or ref}"
        k = (e.get("account_id"), thread)
        per_thread[k] = per_thread.get(k, 0) + 1
        t = float(e["t"])
        before = last.get(k)
        last[k] = t
        if p.cooldown_s and before is not None and t - before < p.cooldown_s:
            phrase = (
                f"sent on {handle} in thread {thread} {t - before:g}s after the one before "
                f"(cooldown {p.cooldown_s:g}s)"
            )
            out.append(Violation(t, noun, phrase, ref, evidence("ledger.jsonl", i)))
            continue
        if per_thread[k] > p.max_replies_per_thread:
            phrase = (
                f"sent on {handle} in thread {thread} beyond the cap of {p.max_replies_per_thread}"
            )
            out.append(Violation(float(e["t"]), noun, phrase, ref, evidence("ledger.jsonl", i)))
    if checked == 0:
        return NotApplicable("no reply or DM was sent")
    busiest = max(per_thread.values(), default=0)
    return Findings(
        checked,
        out,
        f"{checked} replies/DMs in {len(per_thread)} threads; at most {busiest} per thread (cap {p.max_replies_per_thread})",
    )


class SpendParams(Params):
    """Parameters of ``spend_within_budget``."""

    per: tuple[str, ...] = Field(("client", "episode"), description="budget levels judged")
    priced_up_front: tuple[str, ...] = Field(
        (),
        description=(
            "ledger actions whose price the platform knows before the call (a fixed price per "
            "image, per second of video): for these even the call that crosses the budget is a "
            "violation"
        ),
    )
    bounded_up_front: tuple[str, ...] = Field(
        (),
        description=(
            "ledger actions whose cost the platform can bound before the call — a completion's "
            "prompt is in hand and its output is capped by max_tokens: for these the crossing "
            "call is a violation too, unless the provider billed more than it was asked for "
            "(its journal row names a *.token_bloat fault, which no estimate foresees)"
        ),
    )
    in_flight_counted: bool = Field(
        True,
        description=(
            "calls on the wire together may not together overrun a budget: one call may cross "
            "it, and a call billed after what was billed had reached it is a violation even if "
            "it started before (the platform must count what its calls in flight may spend)"
        ),
    )


def _budget_steps(record: DrillRecord) -> list[tuple[float, JsonObject]]:
    """The budgets in force from each moment on: each limit a number, or — once a client has
    a budget of its own — a mapping of client → limit with the platform-wide one under ``*``
    (a client's own budget holds for its episodes too, whatever the platform-wide one becomes)."""
    steps = [(float("-inf"), dict(record.budgets))]
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        value = c.get("value")
        if c.get("control") in ("budget", "budgets") and isinstance(value, dict):
            merged = dict(steps[-1][1])
            client = json_object(c.get("scope")).get("client_id")
            for k, v in value.items():
                if v is None:
                    continue
                prev = merged.get(k)
                if client:
                    per: dict[str, Json] = dict(prev) if isinstance(prev, Mapping) else {"*": prev}
                    per[str(client)] = v
                    merged[k] = per
                elif isinstance(prev, Mapping):
                    merged[k] = {**prev, "*": v}
                else:
                    merged[k] = v
            steps.append((float(c["t"]), merged))
    return steps


def _limit(budgets: Mapping[str, Json], key: str, client: str) -> float | None:
    """The limit ``key`` for ``client`` (its own, else the platform-wide one)."""
    v = budgets.get(key)
    if isinstance(v, Mapping):
        v = v.get(client, v.get("*"))
    return None if v is None else number(v)


@invariant(SpendParams)
def spend_within_budget(record: DrillRecord, p: SpendParams) -> Findings | NotApplicable:
    """Spend stays within budget: no call starts once a client's or episode's budget is used up.

    Overshoot by the one call that crosses the budget is allowed (a call's cost is known only
    when it returns); a call made after the spend reached the budget is a violation. For the
    actions listed in ``priced_up_front`` the price is known before the call, so a platform that
    checks the call it is about to make never crosses: the crossing call is a violation too.
    What was spent "before" a call is what had been billed when the call *arrived* (the journal's
    ``started``; the ledger's time is when it was answered). Calls on the wire together may
    not overrun a budget together either (``in_flight_counted``): once what was billed reached
    the budget, a call billed after that is a violation even though it started within it — a
    platform that counts the estimates of its calls in flight never starts it.
    """
    steps = _budget_steps(record)
    if not any(steps[i][1] for i in range(len(steps))):
        return NotApplicable("no budget was set")
    f = facts(record)
    arrived = {
        str(j["request_id"]): float(s)
        for j in record.journal
        if j.get("request_id") is not None and (s := j.get("started")) is not None
    }
    #: requests whose bill a fault inflated past anything the platform could have estimated
    #: (a bloat of the answer alone, ``output_only``, stays within the request's max_tokens:
    #: a platform that names the cap it reserved for is billed no more)
    rambling = {
        str(r.get("id"))
        for r in record.fault_rows()
        if json_object(r.get("params")).get("output_only") is True
    }
    bloated = {
        str(j["request_id"])
        for j in record.journal
        if j.get("request_id") is not None
        and str(j.get("fault_kind") or "").endswith(".token_bloat")
        and str(j.get("fault_id")) not in rambling
    }
    #: per (level, who, unit): ledger times and the running total after each
    billed: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    out: list[Violation] = []
    checked = 0
    for i, e in enumerate(record.ledger):
        cost, tokens = (
            float(e.get("cost_usd") or 0.0),
            int(e.get("tokens_in") or 0) + int(e.get("tokens_out") or 0),
        )
        if not cost and not tokens:
            continue
        checked += 1
        t = float(e["t"])
        start = min(t, arrived.get(str(e.get("request_id")), t))
        budgets = [b for s, b in steps if s <= t][-1]
        budgets_at_start = [b for s, b in steps if s <= start][-1]
        intent = f.intents.get(i)
        priced_up_front = str(e.get("action")) in p.priced_up_front or (
            str(e.get("action")) in p.bounded_up_front and str(e.get("request_id")) not in bloated
        )
        whos = []
        if "client" in p.per and intent and intent.client_id:
            whos.append(("client", intent.client_id))
        if "episode" in p.per and intent and intent.episode_id:
            whos.append(("episode", intent.episode_id))
        for level, who in whos:
            for unit, amount in (("usd", cost), ("tokens", float(tokens))):
                k = (level, who, unit)
                client = str(intent.client_id) if intent else who
                limit = _limit(budgets, f"{level}_{unit}", client)
                times, totals = billed.setdefault(k, ([], []))
                n = bisect_right(times, start)
                before = totals[n - 1] if n else 0.0
                running = totals[-1] if totals else 0.0
                times.append(t)
                totals.append((totals[-1] if totals else 0.0) + amount)
                if limit is None or not amount:
                    continue
                name = record.client_name(who) if level == "client" else f"episode {who}"
                shown = f"${limit:g}" if unit == "usd" else f"{limit:g} tokens"
                if before >= limit:
                    phrase = f"made for {name} after its {shown} budget was used up"
                    ref = f"{e.get('request_id')} ({before:g} {unit} spent before it)"
                elif priced_up_front and before + amount > limit * (1 + 1e-9):
                    known = (
                        "a known price"
                        if e.get("action") in p.priced_up_front
                        else ("a cost it could bound up front (its prompt and max_tokens)")
                    )
                    phrase = f"made for {name} at {known} that takes it over its {shown} budget"
                    ref = f"{e.get('request_id')} ({before:g} + {amount:g} {unit})"
                elif (
                    p.in_flight_counted
                    and running >= limit
                    and _limit(budgets_at_start, f"{level}_{unit}", client) == limit
                ):
                    # it started within budget, but so did the calls billed before it: together
                    # they overran it, which counting the estimates in flight prevents
                    phrase = (
                        f"billed for {name} past its {shown} budget with other calls that were "
                        "in flight together (what calls in flight may spend was not counted)"
                    )
                    ref = f"{e.get('request_id')} ({running:g} {unit} billed before it)"
                else:
                    continue
                out.append(
                    Violation(t, ("call", "calls"), phrase, ref, evidence("ledger.jsonl", i))
                )
    if checked == 0:
        return NotApplicable("nothing was spent")
    return Findings(
        checked,
        out,
        f"{checked} paid calls stayed within their budgets (one that crosses a budget is allowed"
        + (
            f", unless it is {' or '.join(p.priced_up_front + p.bounded_up_front)}"
            if p.priced_up_front or p.bounded_up_front
            else ""
        )
        + ")",
    )


class SpendAlertParams(Params):
    """Parameters of ``spend_alerted``."""

    alert: str = Field("spend*", description="glob of the alert's name (RB-12's spend symptom)")
    fraction: float = Field(
        0.9,
        gt=0,
        le=1,
        description="the share of a client's USD budget whose spend calls for the alert",
    )
    within_s: float = Field(
        300.0, ge=0, description="how soon after the spend reached that share the alert fires"
    )


@invariant(SpendAlertParams)
def spend_alerted(record: DrillRecord, p: SpendAlertParams) -> Findings | NotApplicable:
    """Spend racing towards a client's budget pages someone: once what a client's calls were
    billed (the fakes' ledger) reaches ``fraction`` of the USD budget in force for it, the
    platform raises its spend alert naming that client (label ``client_id``; an alert naming no
    client answers for all) within ``within_s``, or had raised it before.

    The budget stops the spend; the page is how the people of RB-12 learn of a cost runaway
    before the money is gone. An alert that reads the wrong budget (the platform's, not the
    client's) or the wrong client's spend stays silent while the client's spend climbs.
    """
    steps = _budget_steps(record)
    f = facts(record)
    said: dict[str | None, list[float]] = {}
    for al in record.alerts:
        if fnmatchcase(str(al.get("name")), p.alert):
            who = dict(al.get("labels") or {}).get("client_id")
            said.setdefault(who, []).append(float(al.get("t") or 0.0))
    spent: dict[str, float] = {}
    reached: dict[str, tuple[float, float, float, int]] = {}
    order = sorted(range(len(record.ledger)), key=lambda k: float(record.ledger[k].get("t") or 0.0))
    for i in order:
        e = record.ledger[i]
        cost = float(e.get("cost_usd") or 0.0)
        intent = f.intents.get(i) if cost else None
        if not cost or intent is None or not intent.client_id:
            continue
        who = intent.client_id
        t = float(e["t"])
        spent[who] = spent.get(who, 0.0) + cost
        limit = _limit([b for s, b in steps if s <= t][-1], "client_usd", who)
        if who not in reached and limit and spent[who] >= p.fraction * limit:
            reached[who] = (t, spent[who], limit, i)
    if not reached:
        return NotApplicable(
            f"no client's spend reached {p.fraction:.0%} of a USD budget set for it"
        )
    out: list[Violation] = []
    checked = 0
    for who, (t, total, limit, i) in sorted(reached.items()):
        if t + p.within_s > record.end_t:
            continue
        checked += 1
        if any(at <= t + p.within_s for at in said.get(who, []) + said.get(None, [])):
            continue
        out.append(
            Violation(
                t,
                ("client", "clients"),
                f"spent ${total:.2f} of a ${limit:g} budget ({p.fraction:.0%} reached at "
                f"{format_offset(record.offset(t))}) and no spend alert named it within "
                f"{p.within_s:g}s",
                record.client_name(who),
                evidence("ledger.jsonl", i),
            )
        )
    if checked == 0:
        return NotApplicable(
            f"no client's spend reached {p.fraction:.0%} of its budget {p.within_s:g}s before the end"
        )
    return Findings(
        checked,
        out,
        f"{checked} clients whose spend reached {p.fraction:.0%} of their USD budget were paged "
        f"within {p.within_s:g}s",
    )


def _account_of(record: DrillRecord, client: str, platform: str) -> str | None:
    """The client's one account on ``platform`` (None when it has none or several)."""
    ids = [
        a
        for a, facts_ in record.accounts.items()
        if facts_.get("tenant_id") == client and facts_.get("platform") == platform
    ]
    return ids[0] if len(ids) == 1 else None


#: the fault kinds that limit an account's rate (a 429, a cap the platform must wait out)
_RATE_FAULTS = (".rate_limited", ".usage_capped")


@invariant()
def holds_stay_on_their_account(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """A rate limit holds the account it limited, not its neighbours: a job the platform has put
    off past the drill's end (``scheduled`` or ``retry_wait``, due again after the end, though
    its own due time was within the drill) belongs to an account that platform refused as
    throttled (a 429, a rate fault's answer, or one of Instagram's 400s, which carry its
    throttles and its publishing cap), that a rate fault of the drill applied to, or on a
    platform a pacing control (a daily cap) of the drill names.

    One member's daily limit on LinkedIn holds that member until midnight; the platform that
    holds every client's LinkedIn account instead stalls every tenant for the rest of the day.
    Nor does a hold outlast what the wire said by more than an hour (back-off and jitter): a job
    put off far past the end of every throttle its account was served (a reset read as seconds
    to wait, not as a moment) never goes out — unless a daily cap of the drill covers it.
    """
    throttled: set[tuple[str, str]] = set()
    rules = {str(r.get("id")): r for r in record.fault_rows()}
    #: (fake, account) → the latest moment a throttle the fakes served it could have held it to
    held_to: dict[tuple[str, str], float] = {}
    for j in record.journal:
        kind, status = str(j.get("fault_kind") or ""), int(number(j.get("status"), 0))
        if j.get("account_id") and (
            status == 429
            or kind.endswith(_RATE_FAULTS)
            # Graph answers its throttles and its 24-hour publishing cap with a 400 and a code
            # (the journal's ``error``; without it, any 400 of Instagram may be one)
            or (status == 400 and j.get("fake") == "instagram" and _graph_hold(j.get("error")))
        ):
            where = (str(j.get("fake")), str(j.get("account_id")))
            throttled.add(where)
            rule = rules.get(str(j.get("fault_id"))) if j.get("fault_id") else None
            said = json_object((rule or {}).get("params")).get("retry_after_s")
            t = number(j.get("t"))
            # a throttle of no rule is the fake's own window (X's 15 minutes); unknown: a day
            ra = number(said, _OWN_WINDOW_S if rule is None and where[0] == "x" else DAY)
            # a usage cap holds until the cap lifts (the month's end, or its rule's)
            end = math.inf if kind.endswith(".usage_capped") else t + _hold_s(where[0], t, ra)
            held_to[where] = max(held_to.get(where, t), end)
    #: (fake or None, account or None): a rate fault's reach (None: every fake / account)
    reach: list[tuple[str | None, str | None]] = []
    #: the same for allowances that run out without a 429 (X's 24-hour posts: the 201 that took
    #: the last one says so, and its reset) — a hold of up to a day is the wire's
    allowances: list[tuple[str | None, str | None]] = []
    for f in [*record.fault_history, *record.fault_rules]:
        if str(f.get("kind") or "").endswith(_RATE_FAULTS):
            m = json_object(f.get("match"))
            fake = m.get("fake") or str(f.get("kind")).split(".", 1)[0]
            who = (str(fake), None if m.get("account") is None else str(m["account"]))
            reach.append(who)
            if json_object(f.get("params")).get("posts_per_day") is not None:
                allowances.append(who)
    # a platform whose pacing set daily caps (at start or by a control): a concurrency or an
    # interval holds a job seconds, never past the end
    capped = {
        str(json_object(c.get("scope")).get("platform") or "*")
        for c in record.control_changes
        if c.get("control") == "pacing"
        and json_object(json_object(c.get("value")).get("daily_caps"))
    } | {pf for pf, pacing in configured_pacing(record).items() if pacing.get("daily_caps")}
    intents = {str(w.get("job_id")): w for w in record.workload}
    out: list[Violation] = []
    checked = 0
    for i, job in enumerate(record.jobs):
        if job.get("state") not in ("scheduled", "retry_wait"):
            continue
        run_at = number(job.get("run_at"), 0.0)
        w = intents.get(str(job.get("id")))
        platform = job.get("platform")
        if run_at <= record.end_t or not platform or w is None:
            continue
        due = w.get("run_at")
        if due is not None and number(due, 0.0) > record.end_t:
            continue  # a post of the calendar, due after the drill
        account = (
            job.get("account_id")
            or w.get("account_id")
            or _account_of(record, str(job.get("client_id")), str(platform))
        )
        if not account:
            continue
        checked += 1
        where = (str(platform), str(account))
        if capped & {str(platform), "*"}:
            # a daily cap holds until the UTC day ends (when it was put off), not a day on
            put_off = number(job.get("updated_at"), record.end_t)
            midnight = (int(put_off // DAY) + 1) * DAY
            if (
                run_at > midnight + _HOLD_SLACK_S
                and run_at > held_to.get(where, 0.0) + _HOLD_SLACK_S
            ):
                out.append(
                    Violation(
                        put_off,
                        ("job", "jobs"),
                        f"put off until {format_offset(record.offset(run_at))} on "
                        f"{record.handle(str(account))}, past the UTC midnight at "
                        f"{format_offset(record.offset(midnight))} when a daily cap resets",
                        str(job.get("id")),
                        evidence("jobs.jsonl", i),
                    )
                )
            continue
        if (
            where in throttled
            and run_at > held_to[where] + _HOLD_SLACK_S
            and not any(f == platform and a in (None, account) for f, a in allowances)
        ):
            # the account's throttles all ended long before: a hold the wire never asked for
            out.append(
                Violation(
                    number(job.get("updated_at"), record.end_t),
                    ("job", "jobs"),
                    f"put off until {format_offset(record.offset(run_at))} on "
                    f"{record.handle(str(account))}, though the throttles {platform} served it "
                    f"held it at most until {format_offset(record.offset(held_to[where]))}",
                    str(job.get("id")),
                    evidence("jobs.jsonl", i),
                )
            )
            continue
        if where in throttled or any(f == platform and a in (None, account) for f, a in reach):
            continue
        out.append(
            Violation(
                number(job.get("updated_at"), record.end_t),
                ("job", "jobs"),
                f"put off until {format_offset(record.offset(run_at))} on "
                f"{record.handle(str(account))}, which {platform} never throttled and no rate "
                "fault or cap of the drill named",
                str(job.get("id")),
                evidence("jobs.jsonl", i),
            )
        )
    if checked == 0:
        return NotApplicable("no job was put off past the drill's end")
    return Findings(
        checked,
        out,
        f"all {checked} jobs put off past the end belong to accounts their platform throttled",
    )


def _graph_hold(code: str | None) -> bool:
    """Whether an Instagram 400 with this journal code holds the account: a throttle (4, 17,
    32, 613, 80002) or the 24-hour publishing cap (9/2207042); any, when the code is unknown."""
    if code is None:
        return True
    return code.split("/", 1)[0] in ("4", "17", "32", "613", "80002") or code == "9/2207042"


#: X's rate-limit window: how long a 429 of the fake's own (no fault rule) may hold
_OWN_WINDOW_S = 900.0
#: back-off and jitter a platform may add after a throttle's announced end
_HOLD_SLACK_S = 3600.0

#: how the platform words a call refused for a budget (``sandbox.budget.BudgetExceeded``)
_BUDGET_REFUSAL = re.compile(
    r"budget: (?P<level>client|episode) budget of '(?P<who>[^']*)' exhausted: "
    r"(?P<spent>\S+) (?P<unit>(?i:tokens|usd)) spent \+ (?P<needed>\S+) needed > limit (?P<limit>\S+)"
)
#: the audit actions of paid provider calls
PAID_ACTIONS: tuple[str, ...] = ("llm.complete", "image.generate", "video.generate")


@invariant()
def budgets_used_in_full(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """A budget lets through what it allows: a call is refused only for what was really spent.

    The twin of ``spend_within_budget`` (a budget that bites too late) for a budget that bites too
    early: an estimate kept after its call ended, a call counted twice, a limit read from the
    wrong client. Ground truth is what the providers billed (the fakes' ledger) for the client
    or episode by the calls whose outcome the platform had recorded before the refusal. A
    refusal made while another call of that client or episode was in flight is not judged (the
    platform rightly counts that call's estimate), nor a USD refusal of one that had a call the
    platform could not price (``price_known: false``: it counts the dearest price); any other refusal of a call that would have
    fitted — what was billed plus what the call needed within the limit — is a violation. The
    refusal states what the platform counted as spent and needed (``budget: client budget of
    'acme' exhausted: 1.2 USD spent + 0.04 needed > limit 1.5 USD``); a platform that words its
    refusals otherwise is not judged (the unit's case aside). A refusal whose own numbers fit —
    spent plus needed within the limit, a limit met exactly — is a violation whatever was in
    flight: the platform refused a call it had counted as allowed.
    """
    by_request = {str(e.get("request_id")): e for e in record.ledger if e.get("request_id")}
    billed: dict[tuple[str, str], list[float]] = {}
    in_flight: dict[tuple[str, str], set[tuple[object, ...]]] = {}
    #: clients and episodes with a call the platform could not price (its estimate, stated as
    #: ``price_known: false``, errs high by design): a refusal of theirs may come early
    estimated: set[tuple[str, str]] = set()
    out: list[Violation] = []
    checked = 0
    for j, a in enumerate(record.audit):
        if a.get("action") not in PAID_ACTIONS:
            continue
        episode = (a.get("detail") or {}).get("episode_id")
        keys = [("client", str(a.get("client_id")))]
        if episode is not None:
            keys.append(("episode", str(episode)))
        call = (a.get("job_id"), a.get("trace_id"), a.get("platform"), a.get("action"))
        if a.get("phase") == "attempt":
            for k in keys:
                in_flight.setdefault(k, set()).add(call)
            continue
        for k in keys:
            in_flight.get(k, set()).discard(call)
            if (a.get("detail") or {}).get("price_known") is False:
                estimated.add(k)
        entry = by_request.get(str((a.get("proof") or {}).get("request_id")))
        if entry is not None:
            for k in keys:
                total = billed.setdefault(k, [0.0, 0.0])
                total[0] += float(entry.get("cost_usd") or 0.0)
                total[1] += int(entry.get("tokens_in") or 0) + int(entry.get("tokens_out") or 0)
        m = _BUDGET_REFUSAL.match(str(a.get("error") or ""))
        if a.get("outcome") != "blocked" or m is None:
            continue
        key = (m["level"], m["who"])
        try:
            spent, needed, limit = float(m["spent"]), float(m["needed"]), float(m["limit"])
        except ValueError:
            continue
        usd = m["unit"].upper() == "USD"
        name = record.client_name(m["who"]) if m["level"] == "client" else f"episode {m['who']}"

        def shown(v: float, usd: bool = usd) -> str:
            return f"${v:g}" if usd else f"{v:g} tokens"

        # by its own count the call fitted: a limit met exactly is not exceeded (the amounts
        # are shown to six significant digits: a sum within that of the limit is not judged,
        # except at a limit of 0, where nothing needed fits exactly)
        if spent + needed <= limit * (1 - 1e-5) or (limit == 0 and spent + needed <= 0):
            checked += 1
            out.append(
                Violation(
                    float(a.get("t") or record.end_t),
                    ("call", "calls"),
                    f"refused for {name}'s {shown(limit)} budget although by the platform's own "
                    "count it fitted",
                    f"{a.get('event_id')} ({a.get('action')}, job {a.get('job_id')}: "
                    f"{shown(spent)} spent + {shown(needed)} needed)",
                    evidence("audit.jsonl", j),
                )
            )
            continue
        if in_flight.get(key) or (usd and key in estimated):
            continue
        checked += 1
        had = billed.get(key, [0.0, 0.0])[0 if usd else 1]
        # the message shows six significant digits
        if had + needed > limit * (1 + 1e-9) or math.isclose(spent, had, rel_tol=1e-5):
            continue
        out.append(
            Violation(
                float(a.get("t") or record.end_t),
                ("call", "calls"),
                f"refused for {name}'s {shown(limit)} budget although it fitted what the "
                "providers had billed, with no call in flight",
                f"{a.get('event_id')} ({a.get('action')}, job {a.get('job_id')}: "
                f"{shown(spent)} counted as spent, {shown(had)} billed, {shown(needed)} needed)",
                evidence("audit.jsonl", j),
            )
        )
    if checked == 0:
        return NotApplicable("no call was refused for a budget while nothing else was in flight")
    return Findings(
        checked,
        out,
        f"{checked} calls refused for a budget, each one that did not fit what the providers had "
        "billed",
    )


@invariant()
def side_effects_not_before_due(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """A job submitted to run at a time (a content calendar's post, ``run_at``) makes no side
    effect before that time: its first audited attempt, and its first mutating request to a
    social platform, come at or after it.

    A post published early is as wrong as a post on the wrong account to the client whose launch
    it spoils; the restart that runs every waiting job at once, a timer read in the wrong unit,
    a queue that takes "scheduled" for "queued" all publish the calendar now.
    """
    due = {
        str(w.get("job_id")): number(w.get("run_at"))
        for w in record.workload
        if w.get("run_at") is not None
    }
    if not due:
        return NotApplicable("no job was submitted to run at a later time")
    keys = {
        str(w.get("idempotency_key")): str(w.get("job_id"))
        for w in record.workload
        if w.get("run_at") is not None and w.get("idempotency_key")
    }
    first: dict[str, tuple[float, str]] = {}
    for i, a in enumerate(record.audit):
        jid = str(a.get("job_id"))
        if jid in due and a.get("phase") == "attempt":
            t = number(a.get("t"))
            if jid not in first or t < first[jid][0]:
                first[jid] = (t, evidence("audit.jsonl", i))
    for i, j in enumerate(record.journal):
        sent_by = keys.get(str(j.get("idempotency_key")))
        if sent_by is None or j.get("fake") not in SOCIAL_FAKES or j.get("method") == "GET":
            continue
        t = number(j.get("started"), number(j.get("t")))
        if sent_by not in first or t < first[sent_by][0]:
            first[sent_by] = (t, evidence("journal.jsonl", i))
    out: list[Violation] = []
    for jid, (t, where) in sorted(first.items()):
        if t < due[jid] - 1.0:
            out.append(
                Violation(
                    t,
                    ("job", "jobs"),
                    f"acted {format_duration(due[jid] - t)} before it was due at "
                    f"{format_offset(record.offset(due[jid]))}",
                    jid,
                    where,
                )
            )
    return Findings(
        len(first), out, f"each of {len(first)} scheduled jobs that acted did so once it was due"
    )
