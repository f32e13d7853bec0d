"""Holds that end: what a kill switch or a mode held back must come back once it is released."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping

from pydantic import Field

from ...durations import format_duration
from ..record import SOCIAL_FAKES, DrillRecord, KillInterval, scenario_field
from ..rows import InboundRow, Json, json_object, number
from ..timeline import format_offset
from ._base import Findings, NotApplicable, Params, Violation, invariant
from ._facts import post_shown_and_gone, thread_of
from .controls import mode_at, mode_steps

__all__ = [
    "comments_answered",
    "cooldowns_delay_answers_not_drop_them",
    "dms_answered",
    "engagement_put_up_for_approval",
    "engagement_reaches_every_account",
    "held_engagement_answered_after_release",
    "inbox_pages_advance",
]

#: modes under which the engagement engine answers nothing (it skips the item, unseen)
_SILENT_MODES = frozenset({"read_only", "manual_only"})


class _ThreadCapParams(Params):
    """The conversation cap the engagement judges share: a full thread rightly goes quiet."""

    max_replies_per_thread: int = Field(
        3, ge=1, description="replies per account per thread (a full thread skips the rest)"
    )


class HeldEngagementParams(_ThreadCapParams):
    """Parameters of ``held_engagement_answered_after_release``."""

    poll_s: float = Field(
        60.0,
        gt=0,
        description="an item is surely read by a poll within this long of arriving (two polls)",
    )
    settle_s: float = Field(
        900.0,
        gt=0,
        description="a release is judged only if the drill ran this long after it (the answers "
        "may queue behind the work the release let go)",
    )


@invariant(HeldEngagementParams)
def held_engagement_answered_after_release(
    record: DrillRecord, p: HeldEngagementParams
) -> Findings | NotApplicable:
    """Comments a kill switch or a mode held back are answered once it is released.

    An inbound comment carrying the scenario's trigger keyword (not an echo, not the account's own)
    that arrived while a kill switch covering replies of its account, or a ``read_only`` /
    ``manual_only`` mode of its client or platform, held engagement — and was read by a poll
    while the hold lasted — must be answered after the release. Per thread (the post a comment
    hangs off) and release, at least one such item — or a later comment of the thread — must get
    its reply within ``settle_s`` of the release, judged for releases at least that long before the drill's end (a
    conversation cap may legitimately skip the others): a platform that marks held items as
    handled, or reads a held post on from where it stopped, loses the conversations that came in
    during the hold.
    """
    keyword = _trigger_keyword(record.scenario)
    kills = [k for k in record.kill_intervals() if k.end is not None]
    steps = mode_steps(record)
    if not kills and len(steps) == 1:
        return NotApplicable("no kill switch and no mode held engagement during the drill")
    answered = _first_answers(record)
    root = thread_of(record)
    replies = _replies_by_thread(record)
    locks = _trigger_locks(record)
    held: dict[tuple[str, str, float], list[InboundRow]] = {}
    for item in record.inbound:
        release = _held_until(record, item, keyword, kills, steps, p)
        if release is None:
            continue
        account = str(item.get("account_id"))
        client = record.accounts.get(account, {}).get("tenant_id")
        t = float(item.get("t") or 0.0)
        if any(c in (None, client) and a < release and b > t for c, a, b in locks):
            continue  # triggers locked or the blueprint off meanwhile: dropped by design
        before = replies.get((account, root(str(item.get("id")))), [])
        if sum(1 for x in before if x <= release) >= p.max_replies_per_thread:
            continue  # its thread is full: the cap skips it, rightly
        held.setdefault((account, root(str(item.get("id"))), release), []).append(item)
    if not held:
        return NotApplicable(
            "no inbound item with the trigger keyword arrived while engagement was held and "
            "released with time to answer"
        )
    # X refuses a reply whose text the account posted within a day (403 "duplicate"): the
    # release's wave answering the same person twice has answered, X would not take it (as in
    # comments_answered)
    refused: dict[str, list[float]] = {}
    for j in record.journal:
        if (j.get("fake"), j.get("route"), j.get("error")) == ("x", "tweets.create", "duplicate"):
            refused.setdefault(str(j.get("account_id")), []).append(number(j.get("t")))
    out: list[Violation] = []
    for (account, thread, release), items in sorted(held.items(), key=lambda kv: kv[0][2]):
        by = release + p.settle_s  # what the release let go has gone out by then
        if any(release <= answered.get(str(i.get("id")), -1.0) <= by for i in items):
            continue
        if any(release <= r <= by for r in refused.get(account, ())):
            continue
        if any(release <= x <= by for x in replies.get((account, thread), ())):
            continue  # the thread answered after the release (a later comment of it)
        ids = ", ".join(str(i.get("id")) for i in items[:5]) + (
            f" … (+{len(items) - 5} more)" if len(items) > 5 else ""
        )
        out.append(
            Violation(
                record.end_t,
                ("thread", "threads"),
                f"left every item held back on {record.handle(account)} in thread {thread} "
                f"unanswered within {format_duration(p.settle_s)} of the release at "
                f"{format_offset(record.offset(release))}",
                f"{len(items)} held: {ids}",
                "evidence/ledger.jsonl",
            )
        )
    n = sum(len(v) for v in held.values())
    return Findings(
        len(held),
        out,
        f"{n} items held back in {len(held)} thread(s) by a kill switch or mode; each thread "
        "answered after the release",
    )


class CooldownParams(_ThreadCapParams):
    """Parameters of ``cooldowns_delay_answers_not_drop_them``."""

    settle_s: float = Field(
        900.0,
        gt=0,
        description="an item is judged if the drill ran this long after it with no control "
        "changed for its client meanwhile (a cooldown, two polls and the reply queue)",
    )


#: control changes that may rightly keep a reply from going out
_ENGAGEMENT_CONTROLS = frozenset(
    {
        "kill_switch",
        "mode",
        "trigger_lock",
        "blueprint",
        "blueprint_enabled",
        "queue_paused",
        "lane_read_only",
        "lane",
        "pacing",
    }
)


@invariant(CooldownParams)
def cooldowns_delay_answers_not_drop_them(
    record: DrillRecord, p: CooldownParams
) -> Findings | NotApplicable:
    """A thread the platform answers keeps being answered, up to its cap: the cooldown between
    replies delays a second keyword comment, it does not drop it (RB-10's caps bound a loop;
    they must not silence the people who write twice).

    Judged on threads the platform replied in (so it reads them): a comment carrying the
    scenario's trigger keyword from someone other than the account itself, left unanswered,
    while the thread got fewer replies than its cap in the whole drill, is a violation — judged
    for comments that arrived ``settle_s`` before the first change of a control that may stop
    replies for their client (a kill switch, a mode, a trigger lock, a blueprint, a queue pause,
    a lane, a daily cap) or a restart, and before the drill's end, on a post not deleted by then.
    """
    keyword = _trigger_keyword(record.scenario).lower()
    root = thread_of(record)
    answered = _first_answers(record)
    replies = {k: len(v) for k, v in _replies_by_thread(record).items()}
    changes = _engagement_changes(record)
    # a restart starts the engine's memory of its conversations afresh
    changes += [(ev.t, {}) for ev in record.timeline.of_kind("platform.restarted")]
    readable = _readable_posts(record)
    # an account whose token was refused cannot answer (a revoked one not even once the
    # fault's window is over): only such faults excuse a dropped answer here
    faults = _fault_windows(
        record,
        lasting=True,
        besides=frozenset(
            str(r.get("kind"))
            for r in record.fault_rows()
            if not str(r.get("kind")).endswith(
                (".token_revoked", ".scope_revoked", ".token_expired")
            )
        ),
    )
    out: list[Violation] = []
    checked = 0
    told: set[tuple[str, str]] = set()
    for item in record.inbound:
        if not _keyword_comment_from_others(record, item, keyword):
            continue
        t0, fake = float(item.get("t") or 0.0), item.get("fake")
        if any(
            a <= t0 + p.settle_s
            and b >= t0
            and f in (None, fake)
            and acc in (None, item.get("account_id"))
            for a, b, f, acc, _route in faults
        ):
            continue  # its account could not answer
        account = str(item.get("account_id"))
        facts = record.accounts.get(account, {})
        t = float(item.get("t") or 0.0)
        thread = root(str(item.get("id")))
        k = (account, thread)
        if k not in replies or t > record.end_t - p.settle_s:
            continue
        if (
            readable.get(str(item.get("post_id") or thread), (0.0, float("inf")))[1]
            < t + p.settle_s
        ):
            continue  # its post was deleted before the answer was due
        client = facts.get("tenant_id")
        if any(
            at <= t + p.settle_s
            and scope.get("client_id") in (None, client)
            and scope.get("account_id") in (None, account)
            for at, scope in changes
        ):
            continue
        checked += 1
        if str(item.get("id")) in answered or replies[k] >= p.max_replies_per_thread or k in told:
            continue
        told.add(k)
        out.append(
            Violation(
                t,
                ("comment", "comments"),
                f"left unanswered on {record.handle(account)} in thread {thread}, which got "
                f"{replies[k]} of its {p.max_replies_per_thread} replies (a cooldown delays "
                "the next answer, it does not drop it)",
                str(item.get("id")),
                "evidence/ledger.jsonl",
            )
        )
    if checked == 0:
        return NotApplicable(
            "no keyword comment arrived in a thread the platform answered, with time to answer"
        )
    return Findings(
        checked,
        out,
        f"{checked} keyword comments in answered threads: each answered, or its thread full",
    )


def _trigger_keyword(scenario: object) -> str:
    workload = scenario_field(scenario, "workload")
    kw = scenario_field(workload, "trigger_keyword") if workload is not None else None
    return str(kw) if kw else "price?"


def _keyword_comment_from_others(record: DrillRecord, item: InboundRow, keyword: str) -> bool:
    """``item`` is a comment carrying ``keyword`` (lower case), written by someone other than
    its account: not an echo of the platform's own reply, not the account's own comment."""
    if item.get("kind") != "comment" or item.get("echo"):
        return False
    if keyword not in str(item.get("text") or "").lower():
        return False
    handle = str(record.accounts.get(str(item.get("account_id")), {}).get("handle") or "")
    author = str(item.get("author") or "").lstrip("@").lower()
    return author != "<own account>" and not (handle and author == handle.lstrip("@").lower())


def _replies_by_thread(record: DrillRecord) -> dict[tuple[str, str], list[float]]:
    """``(account, thread) → when each of the account's replies in that thread landed``."""
    root = thread_of(record)
    out: dict[tuple[str, str], list[float]] = {}
    for e in record.ledger:
        if e.get("action") == "reply.created" and e.get("in_reply_to"):
            k = (str(e.get("account_id")), root(str(e["in_reply_to"])))
            out.setdefault(k, []).append(float(e["t"]))
    return out


def _first_answers(record: DrillRecord) -> dict[str, float]:
    """``inbound item id → when its first reply landed``."""
    out: dict[str, float] = {}
    for e in record.ledger:
        if e.get("action") == "reply.created" and e.get("in_reply_to"):
            out.setdefault(str(e["in_reply_to"]), float(e["t"]))
    return out


class ApprovalAskedParams(Params):
    """Parameters of ``engagement_put_up_for_approval``."""

    poll_s: float = Field(
        120.0,
        gt=0,
        description="an item is surely read by a poll within this long of arriving (and its "
        "reply submitted for approval)",
    )


@invariant(ApprovalAskedParams)
def engagement_put_up_for_approval(
    record: DrillRecord, p: ApprovalAskedParams
) -> Findings | NotApplicable:
    """Under ``approval_required`` engagement waits for a person's approval, not for the mode.

    A keyword comment from someone other than the account that arrives while its client's (or
    platform's) mode is ``approval_required``, and is read by a poll before the mode changes,
    with no other control that may stop replies changed for that client meanwhile, must be
    answered by a reply put up for approval: a reply job of that client and platform submitted
    while the mode holds. A platform that holds such items back unseen, as it does under
    ``manual_only``, never asks anyone: engagement silently stops for the client, and when the
    mode goes back to auto the whole backlog is answered at once, reviewed by nobody.
    """
    steps = mode_steps(record)
    if len(steps) == 1:
        return NotApplicable("no mode was set during the drill")
    keyword = _trigger_keyword(record.scenario).lower()
    # a mode change is what bounds a window: the others may stop replies within it
    others = [
        (float(c["t"]), json_object(c.get("scope")))
        for c in record.control_changes
        if c.get("control") in _ENGAGEMENT_CONTROLS and c.get("control") != "mode"
    ]
    kills = record.kill_intervals()
    windows: dict[tuple[str, str, float], list[InboundRow]] = {}
    for item in record.inbound:
        if not _keyword_comment_from_others(record, item, keyword):
            continue
        account = str(item.get("account_id"))
        client = str(record.accounts.get(account, {}).get("tenant_id"))
        platform, t = str(item.get("fake")), float(item.get("t") or 0.0)
        mode, since = mode_at(steps, t, client, platform)
        if mode != "approval_required":
            continue
        read = t + p.poll_s
        if read > record.end_t or mode_at(steps, read, client, platform) != (mode, since):
            continue  # the mode changed before a poll surely read it
        if any(
            since <= at <= read and scope.get("client_id") in (None, client) for at, scope in others
        ):
            continue
        if any(
            k.covers(t, client_id=client, platform=platform, action="reply", account_id=account)
            or k.covers(
                read, client_id=client, platform=platform, action="reply", account_id=account
            )
            for k in kills
        ):
            continue
        windows.setdefault((client, platform, since), []).append(item)
    if not windows:
        return NotApplicable(
            "no keyword comment arrived under approval_required with a poll to read it"
        )
    submitted: dict[tuple[str, str], list[float]] = {}
    for j in record.jobs:
        if j.get("kind") == "reply" and j.get("created_at") is not None:
            key = (str(j.get("client_id")), str(j.get("platform")))
            submitted.setdefault(key, []).append(number(j.get("created_at")))
    out: list[Violation] = []
    for (client, platform, since), items in sorted(windows.items(), key=lambda kv: kv[0][2]):
        first = min(float(i.get("t") or 0.0) for i in items)
        nxt = next((s for s, _m in steps if s > since), float("inf"))
        if any(first <= at < nxt for at in submitted.get((client, platform), ())):
            continue
        out.append(
            Violation(
                first,
                ("client", "clients"),
                f"put none of {len(items)} keyword comments on {platform} up for approval under "
                f"approval_required from {format_offset(record.offset(since))} (engagement held "
                "back unseen, as if no reply could be approved)",
                record.client_name(client),
                "evidence/jobs.jsonl",
            )
        )
    return Findings(
        len(windows),
        out,
        f"under approval_required every client's keyword comments were put up for approval "
        f"({len(windows)} windows)",
    )


def _engagement_changes(record: DrillRecord) -> list[tuple[float, dict[str, Json]]]:
    """``(when, scope)`` of each change of a control that may stop replies. A blueprint's is
    scoped to its client (``bp-<client>-<platform>``); a campaign's blueprint
    (``bp-<client>-<platform>-<name>``) answers other words than the drill's trigger and stops
    none of its replies."""
    out: list[tuple[float, dict[str, Json]]] = []
    for c in record.control_changes:
        if c.get("control") not in _ENGAGEMENT_CONTROLS:
            continue
        scope = dict(json_object(c.get("scope")))
        bp = str(scope.get("blueprint_id") or "")
        if bp.startswith("bp-"):
            client, _, platform = bp[3:].rpartition("-")
            if platform not in SOCIAL_FAKES:
                continue
            scope = {"client_id": client, "platform": platform}
        out.append((float(c["t"]), scope))
    return out


def _held_until(
    record: DrillRecord,
    item: InboundRow,
    keyword: str,
    kills: list[KillInterval],
    steps: list[tuple[float, dict[tuple[Json, Json], str]]],
    p: HeldEngagementParams,
) -> float | None:
    """When the hold on ``item`` ended, if a hold kept it back (None otherwise)."""
    # a DM's answer names its recipient's id, never the DM: not matched here
    if not _keyword_comment_from_others(record, item, keyword.lower()):
        return None
    account = str(item.get("account_id"))
    facts = record.accounts.get(account, {})
    client, platform = facts.get("tenant_id"), str(item.get("fake"))
    action = "reply"
    t = float(item.get("t") or 0.0)
    read = t + p.poll_s  # read by a poll by then
    ends: list[float] = []
    for k in kills:
        hit = k.covers(t, client_id=client, platform=platform, action=action, account_id=account)
        if hit and k.end is not None and k.end > read:
            ends.append(float(k.end))
    silent_then = mode_at(steps, t, client, platform)[0] in _SILENT_MODES
    if silent_then and mode_at(steps, read, client, platform)[0] in _SILENT_MODES:
        lifted = next(
            (
                s
                for s, _modes in steps
                if s > read and mode_at(steps, s, client, platform)[0] not in _SILENT_MODES
            ),
            None,
        )
        if lifted is None:
            return None  # never lifted: nothing to answer after
        ends.append(float(lifted))
    if not ends:
        return None
    release = max(ends)
    return release if release + p.settle_s <= record.end_t else None


def _trigger_locks(record: DrillRecord) -> list[tuple[str | None, float, float]]:
    """``(client or None for all, start, end)`` of trigger locks and disabled blueprints: items
    read meanwhile are dropped by design, not held."""
    out: list[tuple[str | None, float, float]] = []
    since: dict[tuple[str, str | None], float] = {}
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        control, scope = c.get("control"), dict(c.get("scope") or {})
        if control == "trigger_lock":
            key, off = ("lock", _text(scope.get("client_id"))), bool(c.get("value"))
        elif control == "blueprint_enabled":
            bp = str(scope.get("blueprint_id") or "")
            # bp-<client>-<platform>: the drill's blueprints answering its trigger keyword (a
            # campaign's, bp-<client>-<platform>-<name>, answers other words: it drops none)
            if bp.startswith("bp-") and bp.rsplit("-", 1)[-1] not in SOCIAL_FAKES:
                continue
            client = bp[3:].rsplit("-", 1)[0] if bp.startswith("bp-") else None
            key, off = ("bp:" + bp, client), not c.get("value")
        else:
            continue
        if off:
            since.setdefault(key, float(c["t"]))
        elif key in since:
            out.append((key[1], since.pop(key), float(c["t"])))
    out += [(k[1], t, float("inf")) for k, t in since.items()]
    return out


def _text(v: object) -> str | None:
    return None if v is None else str(v)


class ReachParams(_ThreadCapParams):
    """Parameters of ``engagement_reaches_every_account``."""

    window_s: float = Field(
        1800.0, gt=0, description="the stretches of an account's inbox judged one by one"
    )
    min_items: int = Field(
        3, ge=1, description="keyword comments a stretch needs before its silence is judged"
    )
    settle_s: float = Field(
        900.0,
        gt=0,
        description="a comment is judged if the drill ran this long after it with no control "
        "changed for its client and no fault on its platform meanwhile",
    )


@invariant(ReachParams)
def engagement_reaches_every_account(
    record: DrillRecord, p: ReachParams
) -> Findings | NotApplicable:
    """Engagement keeps reading every account: in each ``window_s`` stretch of an account's
    inbox with at least ``min_items`` keyword comments the platform was free to answer, it
    answers at least one.

    A comment is judged when it carries the scenario's trigger keyword, is from someone else
    than the account (not an echo of the platform's own reply), its thread is not full, the
    drill ran ``settle_s`` after it, and neither a control that may stop replies for its client
    (a kill switch, a mode, a trigger lock, a blueprint, a queue pause, a lane, a daily cap)
    changed from before it until ``settle_s`` after, and no fault other than latency acted on its
    platform then (a restart is none of these: the platform comes back on its storage). A stretch where all of them went unanswered is an account the
    engine stopped reading: one dead inbox that ends every poll before the accounts after it,
    the newest posts left out of what a lane reads, a cursor that stopped moving.
    """
    keyword = _trigger_keyword(record.scenario).lower()
    root = thread_of(record)
    answered = _first_answers(record)
    replies = _replies_by_thread(record)
    changes = _engagement_changes(record)
    # a restart is no reason to leave a comment unanswered: the platform comes back on its
    # storage and reads on
    faults = [(a, b, f, acc) for a, b, f, acc, _route in _fault_windows(record)]
    stretches: dict[tuple[str, int], list[InboundRow]] = {}
    for item in record.inbound:
        if not _keyword_comment_from_others(record, item, keyword):
            continue
        account = str(item.get("account_id"))
        facts = record.accounts.get(account, {})
        t = float(item.get("t") or 0.0)
        if t > record.end_t - p.settle_s:
            continue
        client = facts.get("tenant_id")
        if any(
            at <= t + p.settle_s
            and scope.get("client_id") in (None, client)
            and scope.get("account_id") in (None, account)
            for at, scope in changes
        ):
            continue
        fake = str(item.get("fake"))
        if any(
            a < t + p.settle_s and b > t and f in (None, fake) and acc in (None, account)
            for a, b, f, acc in faults
        ):
            continue
        before = replies.get((account, root(str(item.get("id")))), [])
        if sum(1 for x in before if x <= t) >= p.max_replies_per_thread:
            continue  # its thread is full: the cap skips it, rightly
        n = int((t - record.start_t) // p.window_s)
        stretches.setdefault((account, n), []).append(item)
    judged = {k: v for k, v in stretches.items() if len(v) >= p.min_items}
    if not judged:
        return NotApplicable(
            f"no account had {p.min_items} keyword comments within "
            f"{format_duration(p.window_s)} it was free to answer"
        )
    out: list[Violation] = []
    for (account, _n), items in sorted(judged.items()):
        if any(str(i.get("id")) in answered for i in items):
            continue
        first = float(items[0].get("t") or 0.0)
        ids = ", ".join(str(i.get("id")) for i in items[:5]) + (
            f" … (+{len(items) - 5} more)" if len(items) > 5 else ""
        )
        out.append(
            Violation(
                first,
                ("account", "accounts"),
                f"left all {len(items)} keyword comments from {format_offset(record.offset(first))} "
                f"on {record.handle(account)} unanswered, with nothing holding its engagement",
                ids,
                "evidence/ledger.jsonl",
            )
        )
    return Findings(
        len(judged),
        out,
        f"every one of {len(judged)} stretches of an account's inbox with keyword comments "
        "got an answer",
    )


def _fault_windows(
    record: DrillRecord, *, besides: frozenset[str] = frozenset(), lasting: bool = False
) -> list[tuple[float, float, str | None, str | None, str | None]]:
    """``(start, end, fake or None for all, account or None, route glob or None)`` of every
    fault other than latency (which delays, never drops), a duplicate delivery and the kinds
    ``besides``. ``lasting``: a revoked token or scope stays revoked once its fault's window is
    over (nobody re-authorised the account), so its window runs to the drill's end."""
    out: list[tuple[float, float, str | None, str | None, str | None]] = []
    for r in record.fault_rows():
        kind = str(r.get("kind"))
        # latency delays, never drops; a duplicate delivery brings more to answer, not less
        if kind == "http.latency" or kind.endswith(".duplicate_inbound") or kind in besides:
            continue
        match = json_object(r.get("match"))
        fake = match.get("fake")
        kind = str(r.get("kind"))
        fake = fake if fake is not None else (kind.split(".", 1)[0] if "." in kind else None)
        if fake in ("http", None):
            fake = None
        start = r.get("start")
        end = r.get("end")
        if lasting and kind.endswith((".token_revoked", ".scope_revoked")):
            end = None
        route = match.get("route")
        out.append(
            (
                float(start) if start is not None else record.start_t,
                float(end) if end is not None else record.end_t,
                str(fake) if fake is not None else None,
                _matched_account(match),
                str(route) if route is not None else None,
            )
        )
    # a token the accounts were connected with that ran out in the drill (``world.tokens_left``)
    # is refused from then on, as a revoked one is: nobody reconnected the accounts
    world = scenario_field(record.scenario, "world")
    left = scenario_field(world, "tokens_left") if world is not None else None
    for platform, seconds in left.items() if isinstance(left, Mapping) else ():
        out.append((record.start_t + float(seconds), record.end_t, str(platform), None, None))
    return out


#: the routes an inbox is read through: a fault on them delays reading, it excuses no answer
#: once it is over (the messages are still there to read)
_INBOX_READS = frozenset(
    {
        "users.mentions",
        "dm_events.list",
        "media.list",
        "comments.list",
        "conversations.list",
        "node.get",
        "socialMetadata.batch_get",
    }
)


#: the routes of those through which only DMs are read: a fault there delays no comment
_DM_READS = frozenset({"dm_events.list", "conversations.list"})

#: ``(start, end, fake, account, route)`` of a fault window (:func:`_fault_windows`)
_Window = tuple[float, float, str | None, str | None, str | None]


def _engagement_held_at(
    record: DrillRecord,
    t: float,
    client: str | None,
    platform: str,
    account: str,
    action: str = "reply",
) -> bool:
    """Whether a control in force at ``t`` (changed longer ago than a settle) holds the replies
    (or, ``action="dm"``, the DMs) of ``account``: a kill switch covering them, a mode other than
    auto, the engagement queue paused, the platform's API lane read-only, its triggers locked,
    its blueprint off or its daily cap reached."""
    made_by = "dm.sent" if action == "dm" else "reply.created"
    if any(
        k.covers(t, client_id=client, platform=platform, action=action, account_id=account)
        for k in record.kill_intervals()
    ):
        return True
    if mode_at(mode_steps(record), t, client, platform)[0] != "auto":
        return True
    if any(c in (None, client) and a <= t < b for c, a, b in _trigger_locks(record)):
        return True
    paused = read_only = False
    start = json_object(json_object(record.controls_at_start.get("pacing")).get(platform))
    cap = json_object(start.get("daily_caps")).get(action)
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        if float(c.get("t") or 0.0) > t:
            break
        scope = json_object(c.get("scope"))
        if c.get("control") == "queue_paused" and scope.get("job_class") == "engagement":
            paused = bool(c.get("value"))
        elif c.get("control") == "lane_read_only" and scope.get("platform") == platform:
            value = c.get("value")
            read_only = bool(value.get("read_only") if isinstance(value, dict) else value)
        elif c.get("control") == "pacing" and scope.get("platform") == platform:
            cap = json_object(json_object(c.get("value")).get("daily_caps")).get(action)
    if cap is not None:
        # the account's replies of the UTC day reach its daily cap: the rest wait for midnight
        day = t - t % 86_400
        made = sum(
            1
            for e in record.ledger
            if e.get("action") == made_by
            and e.get("account_id") == account
            and day <= number(e.get("t")) < day + 86_400
        )
        if made >= number(cap):
            return True
    return paused or read_only


def _held_meanwhile(
    record: DrillRecord,
    changes: list[tuple[float, dict[str, Json]]],
    windows: list[_Window],
    account: str,
    fake: str,
    t: float,
    until: float,
    settle_s: float,
    action: str = "reply",
) -> bool:
    """Whether something may rightly have kept an answer to ``account`` (on ``fake``) from going
    out between ``t`` and ``until``: a control that may stop replies changed for its client
    within a settle before ``t`` or by ``until``, or one in force at ``t`` however long ago it was
    set, or a fault other than latency on its platform meanwhile — but a fault on *reading* the
    inbox excuses nothing once it has been over for ``settle_s`` (the message is still there)."""
    client = record.accounts.get(account, {}).get("tenant_id")
    if any(
        t - settle_s <= at <= until
        and scope.get("client_id") in (None, client)
        and scope.get("account_id") in (None, account)
        and scope.get("platform") in (None, fake)
        for at, scope in changes
    ):
        return True
    if _engagement_held_at(record, t, client, fake, account, action):
        return True
    return any(
        a < until
        and b > t
        and f in (None, fake)
        and acc in (None, account)
        and not (route in _INBOX_READS and b + settle_s <= record.end_t)
        for a, b, f, acc, route in windows
    )


#: the platforms whose DMs an API reads (X's DM events, Instagram's Messaging API)
_DM_INBOXES = frozenset({"x", "instagram"})


class DmParams(Params):
    """Parameters of ``dms_answered``."""

    settle_s: float = Field(
        900.0,
        gt=0,
        description="a DM is judged if the drill ran this long after it (and after any fault on "
        "reading the inbox) with no control changed for its client meanwhile",
    )


@invariant(DmParams)
def dms_answered(record: DrillRecord, p: DmParams) -> Findings | NotApplicable:
    """Every fan who sends a keyword DM gets a DM back: the first keyword DM of each person to
    an account, with nothing holding that account's engagement, is answered.

    Judged on each person's first keyword DM to an account (their conversation has had no
    answer yet, so no cap or cooldown stands in the way) that is not the account's own and
    arrived ``settle_s`` before the drill's end, with no control that may stop replies for its
    client changed from its arrival until ``settle_s`` after, and no fault other than latency
    on its platform meanwhile — but a fault on *reading* the inbox (the message fetch, the
    conversation list) excuses nothing once it has been over for ``settle_s``: the message is
    still there to read. Answered: a DM the platform sent is audited as answering it or a later
    DM of the same person (``detail.inbound_id``). A DM lost in the inbox — one that could not be
    fetched and was cached as read, a thread read past an unreadable message — is a person
    nobody answers. A first keyword DM that a kill switch covering the account's DMs held is
    answered within ``settle_s`` of the switch's release (when nothing else holds it from then on).
    """
    from .safety import _names_item

    keyword = _trigger_keyword(record.scenario).lower()
    changes = _engagement_changes(record)
    windows = _fault_windows(record)
    sent = [
        (str((a.get("detail") or {}).get("inbound_id") or ""), float(a.get("t") or 0.0))
        for a in record.audit
        if a.get("action") == "dm.send"
        and a.get("phase") == "outcome"
        and a.get("outcome") == "success"
    ]
    by_person: dict[tuple[str, str], list[InboundRow]] = {}
    for item in record.inbound:
        # LinkedIn's messaging API is closed to such apps: its fake keeps DMs nobody can read
        if item.get("kind") == "dm" and not item.get("echo") and item.get("fake") in _DM_INBOXES:
            by_person.setdefault(
                (str(item.get("account_id")), str(item.get("author") or "")), []
            ).append(item)
    checked = 0
    out: list[Violation] = []
    for (account, author), items in sorted(by_person.items()):
        items.sort(key=lambda i: float(i.get("t") or 0.0))
        facts = record.accounts.get(account, {})
        handle = str(facts.get("handle") or "").lstrip("@").lower()
        who = author.lstrip("@").lower()
        if who == "<own account>" or (handle and who == handle):
            continue
        first = next((i for i in items if keyword in str(i.get("text") or "").lower()), None)
        if first is None:
            continue
        t = float(first.get("t") or 0.0)
        until = t + p.settle_s
        if until > record.end_t:
            continue
        fake = str(first.get("fake"))
        later = [str(i.get("id")) for i in items if float(i.get("t") or 0.0) >= t]
        if _held_meanwhile(record, changes, windows, account, fake, t, until, p.settle_s, "dm"):
            # held by a kill switch on its DMs: answered once the switch is released
            release = _dm_switch_released(record, changes, windows, account, fake, t, p)
            if release is None:
                continue
            checked += 1
            by = release + p.settle_s
            if any(
                release <= at <= by and any(_names_item(iid, x) for x in later) for iid, at in sent
            ):
                continue
            out.append(
                Violation(
                    t,
                    ("person", "people"),
                    f"sent {record.handle(account)} a keyword DM at {format_offset(record.offset(t))} "
                    "while a kill switch held its DMs, and got none back within "
                    f"{format_duration(p.settle_s)} of the release at "
                    f"{format_offset(record.offset(release))}",
                    f"{author}: {first.get('id')}",
                    "evidence/audit.jsonl",
                )
            )
            continue
        checked += 1
        if any(at >= t and any(_names_item(iid, x) for x in later) for iid, at in sent):
            continue
        out.append(
            Violation(
                t,
                ("person", "people"),
                f"sent {record.handle(account)} a keyword DM at {format_offset(record.offset(t))} "
                "and never got one back, with nothing holding its engagement",
                f"{author}: {first.get('id')}",
                "evidence/audit.jsonl",
            )
        )
    if checked == 0:
        return NotApplicable("no keyword DM arrived with time to answer and nothing holding it")
    return Findings(checked, out, f"each of {checked} people who sent a keyword DM got a DM back")


def _dm_switch_released(
    record: DrillRecord,
    changes: list[tuple[float, dict[str, Json]]],
    windows: list[_Window],
    account: str,
    fake: str,
    t: float,
    p: DmParams,
) -> float | None:
    """When the kill switch that held a DM to ``account`` arriving at ``t`` was released, if
    one covering its DMs was engaged then and released later, with ``settle_s`` of the drill
    left after and nothing else that may hold the answer from the release on (None otherwise)."""
    client = record.accounts.get(account, {}).get("tenant_id")
    ends = [
        float(k.end)
        for k in record.kill_intervals()
        if k.end is not None
        and k.covers(t, client_id=client, platform=fake, action="dm", account_id=account)
    ]
    if not ends:
        return None
    release = max(ends)
    if release <= t or release + p.settle_s > record.end_t:
        return None
    rest = [(at, scope) for at, scope in changes if at > release]
    after = release + 1e-3
    if _held_meanwhile(
        record, rest, windows, account, fake, after, release + p.settle_s, 0.0, "dm"
    ):
        return None
    return release


def _matched_account(match: dict[str, Json]) -> str | None:
    """The account a fault rule's ``match`` names (``account`` or ``account_id``), if any."""
    got = match.get("account", match.get("account_id"))
    return str(got) if got is not None else None


class CommentParams(_ThreadCapParams):
    """Parameters of ``comments_answered``."""

    recent_posts_read: int = Field(
        10,
        ge=1,
        description="a platform reads the comments of each account's newest this many posts: a "
        "comment on an older post is out of its reach by design",
    )

    settle_s: float = Field(
        900.0,
        gt=0,
        description="a comment is judged if the drill ran this long after it (and after any "
        "fault on reading the inbox) with no control changed for its client meanwhile",
    )

    busy_jobs: int = Field(
        200,
        ge=1,
        description="a late answer is excused when the agency's engagement work (replies, DMs, "
        "likes) submitted over its settle_s numbered this many: a flood's backlog, paced",
    )


#: platforms whose comments are judged: Instagram's and LinkedIn's (the platform's conversation
#: is the post) and X's mentions (threaded here by the post they answer, so a thread's first
#: mention has had no reply yet whatever conversation X groups it in)
_POST_THREADED = frozenset({"instagram", "linkedin", "x"})


def _readable_posts(record: DrillRecord) -> dict[str, tuple[float, float]]:
    """``post id → (readable from, gone from)`` for the posts whose comments could not be read
    for a time: kept from view by a fault, or deleted by its member (the notes the fake writes on
    the post it created, :func:`post_shown_and_gone`) or through the API (``post.deleted``)."""
    out: dict[str, tuple[float, float]] = {}
    inf = float("inf")
    for e in record.ledger:
        rid = str(e.get("resource_id") or "")
        if e.get("action") == "post.deleted":
            a, b = out.get(rid, (0.0, inf))
            out[rid] = (a, min(b, float(e.get("t") or 0.0)))
        elif e.get("action") == "post.created" and e.get("detail"):
            a, b = out.get(rid, (0.0, inf))
            shown, gone = post_shown_and_gone(e)
            out[rid] = (max(a, shown), min(b, gone))
    return out


@invariant(CommentParams)
def comments_answered(record: DrillRecord, p: CommentParams) -> Findings | NotApplicable:
    """Every post's first keyword comment gets an answer (Instagram, LinkedIn, X): a comment the
    platform never reads — a post it forgot, an inbox read that stopped at one unreadable post
    — is a person nobody answers, though the account's other threads look busy.

    Judged on the first keyword comment in each thread (the post it hangs off, followed back
    through the platform's own replies) from someone other than the account, on Instagram and
    LinkedIn where the platform's conversation is the post, and X's mentions: the thread has had
    no reply yet, so no cap or cooldown stands in the way (on X a reply X refused as a duplicate
    of the account's own earlier text excuses the mentions that came before it: the platform
    answered, X would not take it). It must be answered — the thread answered only for a later
    comment passes over its first asker (an inbox handed to the engine newest first), unless they
    became readable at the same instant — if it arrived ``settle_s`` before the drill's end, with no control that may stop
    replies for its client changed from its arrival until ``settle_s`` after, no fault other
    than latency on its platform meanwhile (a fault on *reading* the inbox excuses nothing once
    it has been over for ``settle_s``), its post not deleted by then and still among the
    account's ``recent_posts_read`` newest; on a post that could not be read for a time (still
    processing, invisible) from when it could. A restart excuses nothing: the posts it published
    are the platform's to remember.
    """
    keyword = _trigger_keyword(record.scenario).lower()
    root = thread_of(record)
    changes = _engagement_changes(record)
    # a post's own invisibility or deletion is judged per post, below, not as a fault window
    windows = [
        w
        for w in _fault_windows(
            record,
            besides=frozenset(
                {
                    "linkedin.post_deleted",
                    "linkedin.post_invisible",
                    "instagram.post_deleted",
                    "instagram.post_invisible",
                }
            ),
        )
        # the DM inbox failing keeps no comment from being read, nor LinkedIn's comment counts
        # (each post's comments can be read without them)
        if w[4] not in _DM_READS and w[4] != "socialMetadata.batch_get"
    ]
    readable = _readable_posts(record)
    answered: dict[tuple[str, str], list[float]] = {}
    for e in record.ledger:
        if e.get("action") == "reply.created" and e.get("in_reply_to"):
            k = (str(e.get("account_id")), root(str(e["in_reply_to"])))
            answered.setdefault(k, []).append(float(e.get("t") or 0.0))
    #: the items each thread's replies answered, and when each item arrived: the thread's first
    #: comment passed over for a later one (an inbox read newest first) is no answer to it
    answered_ids: dict[tuple[str, str], set[str]] = {}
    for e in record.ledger:
        if e.get("action") == "reply.created" and e.get("in_reply_to"):
            k = (str(e.get("account_id")), root(str(e["in_reply_to"])))
            answered_ids.setdefault(k, set()).add(str(e["in_reply_to"]))
    arrivals = {str(i.get("id")): float(i.get("t") or 0.0) for i in record.inbound}
    #: each account's posts, in the order they were created
    posts: dict[str, list[tuple[float, str]]] = {}
    for e in record.ledger:
        if e.get("action") == "post.created":
            posts.setdefault(str(e.get("account_id")), []).append(
                (float(e.get("t") or 0.0), str(e.get("resource_id") or ""))
            )
    made = {rid: at for at_rid in posts.values() for at, rid in at_rid}
    #: when the platform submitted each reply, DM and like: a flood's backlog excuses a wait
    engaged = sorted(
        number(j.get("created_at"))
        for j in record.jobs
        if j.get("kind") in ("reply", "dm", "like") and j.get("created_at") is not None
    )
    first: dict[tuple[str, str], InboundRow] = {}
    for item in sorted(record.inbound, key=lambda i: float(i.get("t") or 0.0)):
        if item.get("fake") in _POST_THREADED and _keyword_comment_from_others(
            record, item, keyword
        ):
            first.setdefault((str(item.get("account_id")), root(str(item.get("id")))), item)
    #: X refuses a tweet whose text the account posted within a day (403 "duplicate"): a reply
    #: template that names only the author repeats itself when the same person asks twice, and
    #: then the platform did answer, X would not take it
    refused_twice: dict[str, list[float]] = {}
    for j in record.journal:
        if (j.get("fake"), j.get("route"), j.get("error")) == ("x", "tweets.create", "duplicate"):
            refused_twice.setdefault(str(j.get("account_id")), []).append(number(j.get("t")))
    checked = 0
    out: list[Violation] = []
    for (account, thread), item in sorted(first.items()):
        arrived = float(item.get("t") or 0.0)
        if any(arrived <= r for r in refused_twice.get(account, ())):
            continue
        shown, gone = readable.get(str(item.get("post_id") or thread), (0.0, float("inf")))
        # judged from when it could be read: a comment on a post still processing waits for it,
        # one the world set on a post the platform had not made yet waits for the post (and one
        # on a post it never made, on Instagram or LinkedIn, is no comment of its inbox)
        post_id = str(item.get("post_id") or thread)
        if item.get("fake") != "x" and post_id not in made:
            continue
        t = max(arrived, shown, made.get(post_id, 0.0))
        until = t + p.settle_s
        if until > record.end_t or gone < until:
            continue
        post = str(item.get("post_id") or thread)
        mine = [rid for at, rid in posts.get(account, ()) if at <= until]
        if post in mine and len(mine) - mine.index(post) > p.recent_posts_read:
            continue  # pushed out of the newest posts the platform reads
        fake = str(item.get("fake"))
        if _held_meanwhile(record, changes, windows, account, fake, t, until, p.settle_s):
            continue
        # answered within settle_s of when it could be read, or of the end of a fault on
        # reading its inbox (the comment waited for the read to work again, no longer)
        deadline = max(
            [until]
            + [
                b + p.settle_s
                for a, b, f, acc, route in windows
                if route in _INBOX_READS and a < until and b > t
                and f in (None, fake) and acc in (None, account)
            ]
        )  # fmt: skip
        checked += 1
        got = [at for at in answered.get((account, thread), ()) if at >= arrived]
        if got and (
            min(got) <= deadline
            or bisect_right(engaged, deadline) - bisect_left(engaged, t) >= p.busy_jobs
        ):
            later = [
                a
                for i in answered_ids.get((account, thread), ())
                if (a := arrivals.get(i)) is not None and a > arrived
            ]
            if str(item.get("id")) not in answered_ids.get((account, thread), ()) and later:
                out.append(
                    Violation(
                        arrived,
                        ("comment", "comments"),
                        f"commented the keyword on {record.handle(account)}'s post {thread} at "
                        f"{format_offset(record.offset(arrived))}, the thread's first, and was "
                        "passed over: a later comment of the thread got the answer",
                        str(item.get("id")),
                        "evidence/ledger.jsonl",
                    )
                )
            continue
        late = (
            f"got its answer only at {format_offset(record.offset(min(got)))}, "
            f"{format_duration(min(got) - t)} after it could be read"
            if got
            else "got no answer"
        )
        out.append(
            Violation(
                arrived,
                ("comment", "comments"),
                f"commented the keyword on {record.handle(account)}'s post {thread} at "
                f"{format_offset(record.offset(arrived))}, the thread's first, and {late}, "
                "with nothing holding its engagement",
                str(item.get("id")),
                "evidence/ledger.jsonl",
            )
        )
    if checked == 0:
        return NotApplicable(
            "no thread's first keyword comment (Instagram, LinkedIn, X) arrived with time to "
            "answer and nothing holding it"
        )
    return Findings(
        checked, out, f"each of {checked} threads' first keyword comments got an answer"
    )


#: the paged reads of an account's inbox: (fake, route)
_PAGED_INBOX_READS = frozenset(
    {
        ("x", "users.mentions"),
        ("x", "dm_events.list"),
        ("instagram", "comments.list"),
        ("instagram", "conversations.list"),
        ("linkedin", "comments.list"),
    }
)


@invariant()
def inbox_pages_advance(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """A run of a job reads each page of an inbox once: the platform does not ask for the page
    it was just given (the same account, path and paging parameter — X's ``pagination_token``,
    Graph's ``after``, LinkedIn's ``start`` — both answered 200 in one trace, with no failed
    request of that trace between them, which would start a retry); and a page that failed twice
    in a row is not asked for again in the same run before the retry policy's back-off (the next
    poll, or the run's own retry, reads it; one resend at once is the lane's own).

    A page loop whose cursor never advances reads the first page again and again: later
    messages are never seen, the post is never read whole and is read again at every poll, and
    the platform's own reads burn the API's daily limits (RB-05) until the account is held.
    """
    seen: dict[tuple[str, str, str, str, str | None], int] = {}
    told: set[tuple[str, str, str, str, str | None]] = set()
    #: a paged read that failed → (its journal line, when it was answered, failures in a row)
    failed: dict[tuple[str, str, str, str, str | None], tuple[int, float, int]] = {}
    # a retry of the job's run waits the policy's back-off first (jitter only adds)
    backoff = number(record.retry_policy.get("base_delay_s"), 0.0)
    out: list[Violation] = []
    checked = 0
    for i, j in enumerate(record.journal):
        # the job's trace and the span id's top 40 bits: the job and the platform process that
        # ran it (a restarted platform counts spans from a range of its own, and runs what was
        # running again, reading afresh)
        parent = str(j.get("traceparent") or "")
        trace = parent[3:35] + parent[36:46]
        if not trace:
            continue
        status = int(j.get("status") or 0)
        route = (str(j.get("fake")), str(j.get("route")))
        if route in _PAGED_INBOX_READS:
            key = (trace, route[0], str(j.get("account_id")), str(j.get("path")), j.get("page"))
            before = failed.get(key)
            sent = number(j.get("started"), number(j.get("t")))
            quick = before is not None and sent - before[1] < backoff
            if before is not None and quick and before[2] >= 2 and key not in told:
                # a page that failed twice in a row asked for again at once, within the run: a
                # loop on a failing page (one resend — after a token refresh, a dropped answer —
                # is the lane's own; the next poll, or the run's retry after its back-off, reads
                # it after that)
                told.add(key)
                out.append(
                    Violation(
                        number(j.get("t")),
                        ("read", "reads"),
                        f"of {route[0]} {route[1]} on {record.handle(key[2])} asked for a page "
                        f"that had failed {before[2]} times in a row again "
                        f"{sent - before[1]:.1f}s later, in one run (last failed at journal "
                        f"line {before[0] + 1})",
                        str(j.get("request_id")),
                        f"evidence/journal.jsonl#L{i + 1}",
                    )
                )
            if status >= 400 or status == 0:
                n = before[2] + 1 if before is not None and quick else 1
                failed[key] = (i, number(j.get("t")), n)
            else:
                failed.pop(key, None)
        if status >= 400 or j.get("fault_kind") not in (None, "http.latency"):
            # a failed request may end the run: what follows is a retry, read afresh
            for k in [k for k in seen if k[0] == trace]:
                del seen[k]
            continue
        if route not in _PAGED_INBOX_READS or status != 200:
            continue
        checked += 1
        account = j.get("account_id")
        key = (trace, route[0], str(account), str(j.get("path")), j.get("page"))
        if key in seen and key not in told:
            told.add(key)
            page = "its first page" if key[4] is None else f"page {key[4]!r}"
            out.append(
                Violation(
                    number(j.get("t")),
                    ("read", "reads"),
                    f"of {route[0]} {route[1]} on "
                    f"{record.handle(None if account is None else str(account))} asked for "
                    f"{page} again in one run (first at journal line {seen[key] + 1})",
                    str(j.get("request_id")),
                    f"evidence/journal.jsonl#L{i + 1}",
                )
            )
        seen.setdefault(key, i)
    if checked == 0:
        return NotApplicable("the platform read no inbox")
    return Findings(
        checked, out, f"all {checked} inbox reads asked for a page not read before in their run"
    )
