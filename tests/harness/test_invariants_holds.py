"""``held_engagement_answered_after_release``: comments a kill switch or a mode held back are
answered once it is released — shown to fail on a hand-built record and to hold on a healthy one."""

from __future__ import annotations

from typing import Any

from _recordkit import T0, led, record

from harness.judge.invariants import evaluate

NAME = "held_engagement_answered_after_release"


def comment(n: int, at: float, text: str = "price? #1", **kw: Any) -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "fake": "x",
        "kind": "comment",
        "account_id": "acme-x",
        "post_id": f"p{n}",
        "author": "@fan1",
        "t": T0 + at,
        "echo": None,
        "text": text,
        **kw,
    }


def change(n: int, at: float, control: str, scope: dict[str, Any], value: Any) -> dict[str, Any]:
    return {
        "seq": n,
        "t": T0 + at,
        "actor": "operator",
        "reason": "drill",
        "control": control,
        "scope": scope,
        "value": value,
    }


SWITCH = [
    change(1, 600, "kill_switch", {"action": "reply"}, True),
    change(2, 1200, "kill_switch", {"action": "reply"}, False),
]


def reply(n: int, at: float, to: str) -> dict[str, Any]:
    return led(n, at, action="reply.created", in_reply_to=to)


def judged(**kw: Any) -> Any:
    return evaluate({"name": NAME}, record(scenario={"id": "s", "workload": {}}, **kw))


def test_comments_held_by_a_kill_switch_and_never_answered_after_its_release_are_a_violation():
    held = [comment(1, 700, post_id="p1"), comment(2, 800, post_id="p1")]
    r = judged(control_changes=SWITCH, inbound=held)
    assert r.verdict == "violated"
    assert (
        "left every item held back on @acme_x in thread p1 unanswered within 15m of the release at "
        "T+20m00s" in r.detail
    )
    assert "2 held: c1, c2" in r.detail
    # one of them answered after the release is enough (a thread cap may skip the other)
    ok = judged(control_changes=SWITCH, inbound=held, ledger=[reply(1, 1300, "c2")])
    assert ok.verdict == "held"
    assert ok.detail.startswith("2 items held back in 1 thread(s)")
    # … but each thread of the hold needs its answer: a held post read on from where it stopped
    # drops the comments of another post
    other = [*held, comment(3, 900, post_id="p2")]
    r = judged(control_changes=SWITCH, inbound=other, ledger=[reply(1, 1300, "c2")])
    assert r.verdict == "violated" and "in thread p2" in r.detail


def test_a_held_x_mention_whose_answer_x_refused_as_a_duplicate_after_the_release_was_answered():
    # the release's wave answers the same person twice with the same template: X refuses the
    # second (403 duplicate) — the platform answered, X would not take it
    held = [comment(1, 700, post_id="p1")]
    refusal = {"seq": 1, "t": T0 + 1290, "fake": "x", "route": "tweets.create", "method": "POST",
               "status": 403, "error": "duplicate", "account_id": "acme-x"}  # fmt: skip
    assert judged(control_changes=SWITCH, inbound=held, journal=[refusal]).verdict == "held"
    # a refusal before the release, or another account's, excuses nothing
    for other in ({**refusal, "t": T0 + 1100}, {**refusal, "account_id": "globex-x"}):
        assert judged(control_changes=SWITCH, inbound=held, journal=[other]).verdict == "violated"


def test_a_mode_that_silences_engagement_holds_comments_too():
    modes = [
        change(1, 600, "mode", {"client_id": "acme"}, "manual_only"),
        change(2, 1200, "mode", {"client_id": "acme"}, "auto"),
    ]
    assert judged(control_changes=modes, inbound=[comment(1, 700)]).verdict == "violated"
    # approval_required does not silence the engine (it submits jobs that wait for approval)
    approval = [{**modes[0], "value": "approval_required"}, modes[1]]
    assert judged(control_changes=approval, inbound=[comment(1, 700)]).verdict == "not_applicable"


def test_what_is_not_held_is_not_judged():
    # no keyword, an echo, the account's own comment, a DM, one read before the switch, one
    # whose hold ends too close to the end of the drill, one dropped by a trigger lock
    items = [
        comment(1, 700, text="love this"),
        comment(2, 700, echo="r9"),
        comment(3, 700, author="@acme_x"),
        comment(4, 700, kind="dm"),
        comment(5, 590),
    ]
    assert judged(control_changes=SWITCH, inbound=items).verdict == "not_applicable"
    late = [change(1, 600, "kill_switch", {"action": "reply"}, True)]
    late.append(change(2, 3000, "kill_switch", {"action": "reply"}, False))
    assert judged(control_changes=late, inbound=[comment(1, 700)]).verdict == "not_applicable"
    locked = [*SWITCH, change(3, 650, "trigger_lock", {}, True)]
    assert judged(control_changes=locked, inbound=[comment(1, 700)]).verdict == "not_applicable"
    # a switch for another client's account does not hold acme's comments
    other = [{**c, "scope": {"client_id": "northwind"}} for c in SWITCH]
    assert judged(control_changes=other, inbound=[comment(1, 700)]).verdict == "not_applicable"


def test_a_comment_whose_thread_is_already_full_is_skipped_by_the_cap_not_lost():
    full = [reply(i, 100 + i, "c1") for i in range(1, 4)]  # three replies in c1's thread
    r = judged(control_changes=SWITCH, inbound=[comment(1, 700)], ledger=full)
    assert r.verdict == "not_applicable"


# --- cooldowns_delay_answers_not_drop_them ------------------------------------------------------


def test_a_second_keyword_comment_dropped_in_a_thread_below_its_cap_is_a_violation():
    # two fans on post p1, 20 s apart: the platform answers the first; the second waits out the
    # cooldown and must be answered too (the thread has 1 of its 3 replies)
    first, second = comment(1, 600, post_id="p1"), comment(2, 620, post_id="p1", author="@fan2")
    own = comment(3, 630, post_id="p1", author="@acme_x")  # the account's own voice: not judged

    def cooled(*replies: dict[str, Any], changes: list[dict[str, Any]] | None = None) -> Any:
        return evaluate(
            {"name": "cooldowns_delay_answers_not_drop_them"},
            record(
                scenario={"id": "s", "workload": {}},
                inbound=[first, second, own],
                ledger=list(replies),
                control_changes=changes or [],
            ),
        )

    r = cooled(reply(1, 610, "c1"))
    assert r.verdict == "violated" and r.count == 1
    assert r.detail.startswith(
        "1 comment left unanswered on @acme_x in thread p1, which got 1 of its 3 replies"
    ), r.detail
    assert cooled(reply(1, 610, "c1"), reply(2, 700, "c2")).verdict == "held"
    # a trigger lock right after it may drop it by design
    lock = [change(1, 650, "trigger_lock", {}, True)]
    assert cooled(reply(1, 610, "c1"), changes=lock).verdict == "not_applicable"


def test_a_comment_to_an_account_whose_token_was_revoked_is_not_judged_even_after_the_window():
    first, second = comment(1, 600, post_id="p1"), comment(2, 620, post_id="p1", author="@fan2")

    def cooled(*faults: dict[str, Any]) -> str:
        rec = record(
            scenario={"id": "s", "workload": {}},
            inbound=[first, second],
            ledger=[reply(1, 610, "c1")],
            fault_history=list(faults),
        )
        return evaluate({"name": "cooldowns_delay_answers_not_drop_them"}, rec).verdict

    def rule(kind: str, start: float, end: float) -> dict[str, Any]:
        match = {"account": "acme-x"}
        return {"id": "f1", "kind": kind, "start": T0 + start, "end": T0 + end, "match": match}

    # revoked before the second comment, its window over by then: the token stays revoked
    assert cooled(rule("x.token_revoked", 300, 500)) == "not_applicable"
    # an expired token refused while the answer was due excuses it too; a reply echo does not
    assert cooled(rule("x.token_expired", 610, 900)) == "not_applicable"
    assert cooled(rule("x.reply_echo", 300, 900)) == "violated"
    assert cooled(rule("x.token_expired", 100, 200)) == "violated"


# --- engagement_reaches_every_account ----------------------------------------------------------


def reach(**kw: Any) -> Any:
    return evaluate(
        {"name": "engagement_reaches_every_account"},
        record(scenario={"id": "s", "workload": {}}, **kw),
    )


def test_an_account_whose_keyword_comments_all_go_unanswered_is_a_violation():
    # acme's three comments of the first half hour are answered; northwind's are not, with
    # nothing holding its engagement: the engine stopped reading that inbox
    acme = [comment(n, 300 + 60 * n) for n in range(1, 4)]
    northwind = [
        comment(n, 300 + 60 * n, account_id="northwind-x", post_id=f"q{n}") for n in range(4, 7)
    ]
    answers = [reply(n, 400 + 60 * n, f"c{n}") for n in range(1, 4)]
    r = reach(inbound=acme + northwind, ledger=answers)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 account left all 3 keyword comments from T+9m00s on @northwind_x unanswered, with "
        "nothing holding its engagement: ids c4, c5, c6"
    )
    # one answer in the stretch is enough (the engine reads the account)
    some = reach(inbound=acme + northwind, ledger=[*answers, reply(9, 900, "c5")])
    assert some.verdict == "held"


def test_comments_a_control_a_fault_or_a_full_thread_may_hold_are_not_judged():
    quiet = [comment(n, 300 + 60 * n, post_id="p1") for n in range(1, 4)]
    switched = reach(inbound=quiet, control_changes=SWITCH)
    assert switched.verdict == "not_applicable"
    revoked = {
        "id": "f1",
        "kind": "x.token_revoked",
        "match": {"account": "acme-x"},
        "start": T0 + 200,
        "end": T0 + 3000,
    }
    assert reach(inbound=quiet, fault_history=[revoked]).verdict == "not_applicable"
    # another account's fault leaves this one judged
    other = {**revoked, "match": {"account": "northwind-x"}}
    assert reach(inbound=quiet, fault_history=[other]).verdict == "violated"
    # a thread already full: the cap skips the rest, rightly
    full = [reply(n, 100 + n, "c0") for n in range(1, 4)]
    root = comment(0, 50, post_id="p1")
    r = reach(inbound=[root, *quiet], ledger=full)
    assert r.verdict == "not_applicable"
    assert reach(inbound=[root, *quiet]).verdict == "violated"  # the same, thread not full


# --- dms_answered ---------------------------------------------------------------------------


def _dm(n: int, at: float, author: str, text: str = "price? please") -> dict[str, Any]:
    return {**comment(n, at, text), "id": f"d{n}", "kind": "dm", "post_id": None, "author": author}


def _sent(n: int, at: float, inbound_id: str) -> dict[str, Any]:
    return {
        "seq": n,
        "t": T0 + at,
        "event_id": f"ae-{n:06d}",
        "client_id": "acme",
        "platform": "x",
        "account_id": "acme-x",
        "action": "dm.send",
        "phase": "outcome",
        "outcome": "success",
        "job_id": f"j-{n}",
        "detail": {"inbound_id": inbound_id},
        "proof": {},
    }


def test_a_fan_whose_keyword_dm_never_gets_one_back_is_a_violation() -> None:
    # @ann asked and got an answer; @bob asked twice and his second DM was answered (a fan
    # answered); @cat asked and nobody answered; @dan wrote no keyword; @late asked too late
    inbound = [
        _dm(1, 60, "@ann"),
        _dm(2, 90, "@bob"),
        _dm(3, 400, "@bob"),
        _dm(4, 120, "@cat"),
        _dm(5, 130, "@dan", "love it"),
        _dm(6, 3500, "@late"),
    ]
    audit = [_sent(1, 70, "d1"), _sent(2, 420, "d3")]
    r = evaluate({"name": "dms_answered"}, record(inbound=inbound, audit=audit))
    assert r.verdict == "violated" and r.count == 1
    assert [v.ref for v in r.violations] == ["@cat: d4"]
    assert r.violations[0].phrase.startswith("sent @acme_x a keyword DM at T+2m00s")
    # a control that may stop replies, changed meanwhile, holds it: not judged
    kill = [change(1, 300, "kill_switch", {"action": "dm"}, True)]
    held = evaluate(
        {"name": "dms_answered"}, record(inbound=inbound, audit=audit, control_changes=kill)
    )
    assert held.verdict == "not_applicable"
    # the fan's DM arrived while fetching messages failed: once the failure is over the message
    # is still there to read — no excuse; a failure on sending is one
    for route, verdict in (("node.get", "violated"), ("messages.send", "not_applicable")):
        fault = {
            "kind": "http.outage",
            "match": {"fake": "x", "route": route},
            "start": T0 + 100,
            "end": T0 + 200,
        }
        rec = record(inbound=inbound, audit=audit, fault_rules=[fault])
        assert evaluate({"name": "dms_answered"}, rec).verdict == verdict, route


def test_a_keyword_dm_a_dm_kill_switch_held_is_answered_within_the_settle_of_its_release() -> None:
    # @cat's DM arrives while DMs are stopped (T+1m..T+10m); after the release at T+10m it must
    # be answered within fifteen minutes
    inbound = [_dm(4, 120, "@cat")]
    kill = [
        change(1, 60, "kill_switch", {"action": "dm"}, True),
        change(2, 600, "kill_switch", {"action": "dm"}, False),
    ]
    for answered_at, verdict in ((630, "held"), (2000, "violated"), (None, "violated")):
        audit = [] if answered_at is None else [_sent(1, answered_at, "d4")]
        rec = record(inbound=inbound, audit=audit, control_changes=kill)
        r = evaluate({"name": "dms_answered"}, rec)
        assert r.verdict == verdict, (answered_at, r.detail)
    assert "while a kill switch held its DMs, and got none back within 15m of the release" in (
        r.detail
    )


# --- comments_answered ----------------------------------------------------------------------


def _ig(
    n: int, at: float, post: str, author: str = "@fan1", text: str = "price? x"
) -> dict[str, Any]:
    return {**comment(n, at, text), "fake": "instagram", "account_id": "acme-instagram",
            "post_id": post, "author": author}  # fmt: skip


def _ig_post(n: int, at: float, post: str, detail: str | None = None) -> dict[str, Any]:
    return {**led(n, at, account="acme-instagram", resource=post), "detail": detail}


def _ig_reply(n: int, at: float, to: str) -> dict[str, Any]:
    return led(n, at, action="reply.created", account="acme-instagram", in_reply_to=to)


def test_a_posts_first_keyword_comment_left_unanswered_is_a_violation() -> None:
    # m1's first keyword comment answered; m2's passed over for its second (an inbox read
    # newest first); m3's never; m4's keyword comment came too late to judge; a comment without
    # the keyword on m5
    posts = [_ig_post(1, 0, "m1"), _ig_post(2, 0, "m2"), _ig_post(3, 0, "m3"), _ig_post(4, 0, "m4")]
    inbound = [
        _ig(1, 60, "m1"),
        _ig(2, 90, "m2"),
        _ig(3, 300, "m2", "@fan2"),
        _ig(4, 120, "m3"),
        _ig(5, 3000, "m4"),
        _ig(6, 130, "m5", text="love it"),
    ]
    ledger = [*posts, _ig_reply(10, 100, "c1"), _ig_reply(11, 320, "c3")]
    r = evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=ledger))
    assert r.verdict == "violated" and r.count == 2
    assert sorted(v.ref for v in r.violations) == ["c2", "c4"]
    by = {v.ref: v.phrase for v in r.violations}
    assert "post m3 at T+2m00s, the thread's first, and got no answer" in by["c4"]
    assert (
        "post m2 at T+1m30s, the thread's first, and was passed over: a later comment" in by["c2"]
    )
    # two that became readable at once (a post made after them) may be answered either way
    tie = [_ig(2, 90, "m2"), _ig(3, 90, "m2", "@fan2")]
    got = evaluate({"name": "comments_answered"}, record(inbound=tie, ledger=[*posts, _ig_reply(11, 120, "c3")]))  # fmt: skip
    assert got.verdict == "held", got.detail
    # the account's own comment is not judged
    own = [_ig(4, 120, "m3", "@acme_instagram")]
    quiet = evaluate({"name": "comments_answered"}, record(inbound=own, ledger=posts))
    assert quiet.verdict == "not_applicable"


def _x_mention(n: int, at: float, post: str = "p1") -> dict[str, Any]:
    return comment(n, at, "price? x", post_id=post)


def test_an_x_mention_unanswered_is_a_violation_unless_x_refused_the_answer_as_a_duplicate():
    post = [led(1, 0, resource="p1")]
    inbound = [_x_mention(1, 120)]
    r = evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=post))
    assert r.verdict == "violated" and [v.ref for v in r.violations] == ["c1"]
    assert "@acme_x's post p1 at T+2m00s, the thread's first, and got no answer" in (
        r.violations[0].phrase
    )
    answered = [*post, reply(2, 150, "c1")]
    assert evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=answered)).verdict == "held"  # fmt: skip
    # the template repeats itself for a person who asks twice: X refuses the answer (403
    # duplicate) after the mention came — the platform answered; a refusal before it excuses nothing
    refusal = {"seq": 1, "t": T0 + 150, "fake": "x", "route": "tweets.create", "method": "POST",
               "status": 403, "error": "duplicate", "account_id": "acme-x"}  # fmt: skip
    got = evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=post, journal=[refusal]))  # fmt: skip
    assert got.verdict == "not_applicable"
    early = {**refusal, "t": T0 + 60}
    got = evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=post, journal=[early]))  # fmt: skip
    assert got.verdict == "violated"


def test_a_comment_answered_long_after_it_could_be_read_is_a_violation_unless_its_read_failed():
    post = [_ig_post(1, 0, "m1")]
    inbound = [_ig(1, 120, "m1")]
    late = [*post, _ig_reply(2, 120 + 1200, "c1")]
    r = evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=late))
    assert r.verdict == "violated"
    assert "got its answer only at T+22m00s, 20m after it could be read" in r.violations[0].phrase

    # the comments' read failed until T+10m: it waited for the read, no longer — 15 minutes from
    # then; an outage of the DM inbox beside it excuses no wait
    def outage(route: str) -> dict[str, Any]:
        return {"kind": "http.outage", "match": {"fake": "instagram", "route": route},
                "start": T0 + 100, "end": T0 + 600}  # fmt: skip

    for route, verdict in (("comments.list", "held"), ("conversations.list", "violated")):
        rec = record(inbound=inbound, ledger=late, fault_rules=[outage(route)])
        assert evaluate({"name": "comments_answered"}, rec).verdict == verdict, route
    # a flood's backlog (200 replies and DMs submitted meanwhile) excuses the wait, not silence
    jobs = [{"id": f"j{n}", "kind": "dm", "state": "succeeded", "created_at": T0 + 200 + n}
            for n in range(200)]  # fmt: skip
    busy = record(inbound=inbound, ledger=late, jobs=jobs)
    assert evaluate({"name": "comments_answered"}, busy).verdict == "held"
    assert evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=post, jobs=jobs)).verdict == "violated"  # fmt: skip
    # a comment the world set on a post the platform made only later is judged from the post
    made_late = [_ig_post(1, 1000, "m1"), _ig_reply(2, 1000 + 300, "c1")]
    assert evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=made_late)).verdict == "held"  # fmt: skip


def test_a_comment_on_a_post_deleted_or_not_yet_shown_is_judged_by_the_post() -> None:
    inbound = [_ig(1, 120, "m1")]
    # the member deleted the post a minute later: nothing to read, nothing to answer
    gone = [_ig_post(1, 0, "m1", "deleted_by_member_after=180s")]
    assert evaluate(
        {"name": "comments_answered"}, record(inbound=inbound, ledger=gone)
    ).verdict == ("not_applicable")
    # deleted through the API long after the answer was due: still judged
    late = [
        _ig_post(1, 0, "m1"),
        led(2, 2000, action="post.deleted", account="acme-instagram", resource="m1"),
    ]
    assert evaluate(
        {"name": "comments_answered"}, record(inbound=inbound, ledger=late)
    ).verdict == ("violated")
    # shown only 50 minutes on: judged from then, so too late to judge in an hour's drill;
    # shown after 20 minutes: judged, and an answer before it could be read still counts
    for shown, verdict in ((3000, "not_applicable"), (1200, "violated")):
        slow = [_ig_post(1, 0, "m1", f"media_id=m1 invisible_for={shown}s")]
        got = evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=slow))
        assert got.verdict == verdict, shown
    answered = [_ig_post(1, 0, "m1", "invisible_for=1200s"), _ig_reply(2, 1300, "c1")]
    assert evaluate(
        {"name": "comments_answered"}, record(inbound=inbound, ledger=answered)
    ).verdict == ("held")


def test_a_comment_on_a_post_pushed_out_of_the_newest_or_held_by_a_control_is_not_judged() -> None:
    inbound = [_ig(1, 120, "m1")]
    # ten newer posts by the time the answer was due: out of the platform's reach by design
    crowd = [_ig_post(1, 0, "m1"), *(_ig_post(n, 200 + n, f"n{n}") for n in range(2, 12))]
    assert evaluate(
        {"name": "comments_answered"}, record(inbound=inbound, ledger=crowd)
    ).verdict == ("not_applicable")
    nine = crowd[:10]
    assert evaluate(
        {"name": "comments_answered"}, record(inbound=inbound, ledger=nine)
    ).verdict == ("violated")
    lock = [change(1, 300, "trigger_lock", {"client_id": "acme"}, True)]
    held = record(inbound=inbound, ledger=nine, control_changes=lock)
    assert evaluate({"name": "comments_answered"}, held).verdict == "not_applicable"
    # a restart excuses nothing; an outage of the comment reads excuses nothing once over
    outage = {"kind": "http.outage", "match": {"fake": "instagram", "route": "comments.list"},
              "start": T0 + 100, "end": T0 + 400}  # fmt: skip
    rec = record(inbound=inbound, ledger=nine, fault_rules=[outage])
    assert evaluate({"name": "comments_answered"}, rec).verdict == "violated"


def test_only_a_control_that_stops_this_comments_answer_excuses_it() -> None:
    inbound = [_ig(1, 120, "m1")]
    nine = [_ig_post(1, 0, "m1")]

    def judged(changes: list[dict[str, Any]], faults: list[dict[str, Any]] = ()) -> str:  # type: ignore[assignment]
        rec = record(
            inbound=inbound, ledger=nine, control_changes=changes, fault_rules=list(faults)
        )
        return evaluate({"name": "comments_answered"}, rec).verdict

    # the client's blueprint on this platform switched off: held by design
    assert judged([change(1, 300, "blueprint_enabled", {"blueprint_id": "bp-acme-instagram"}, False)]) == "not_applicable"  # fmt: skip
    # the same client's blueprint on another platform, a campaign's blueprint (other words), or
    # another client's: none of them kept this comment from its answer
    for bp in ("bp-acme-x", "bp-acme-instagram-giveaway", "bp-globex-instagram"):
        assert judged([change(1, 300, "blueprint_enabled", {"blueprint_id": bp}, False)]) == "violated", bp  # fmt: skip
    # a duplicate delivery brings more to answer, not less: it excuses nothing
    dup = {"kind": "instagram.duplicate_inbound", "match": {"fake": "instagram"},
           "start": T0 + 60, "end": T0 + 900}  # fmt: skip
    assert judged([], [dup]) == "violated"


# --- inbox_pages_advance -------------------------------------------------------------------------


def _read(n: int, page: str | None, *, run: str = "0000000100000001", status: int = 200,
          route: str = "comments.list", fake: str = "linkedin") -> dict[str, Any]:  # fmt: skip
    return {"seq": n, "t": T0 + n, "fake": fake, "method": "GET", "route": route,
            "path": "/rest/socialActions/urn%3Ali%3Ashare%3A1/comments", "status": status,
            "account_id": "acme-linkedin", "request_id": f"q{n}", "page": page,
            "traceparent": f"00-{'ab' * 16}-{run}-01"}  # fmt: skip


def judge(name: str, rec: Any) -> Any:
    return evaluate({"name": name}, rec)


def test_a_failing_page_asked_for_again_and_again_in_one_run_is_a_violation() -> None:
    # one resend at once is the lane's own (a refreshed token, a dropped answer); a third ask of
    # a page that failed twice in a row, inside the back-off, is a loop on it
    policy = {"base_delay_s": 2.0}
    once = [_read(1, "0", status=500), _read(2, "0")]
    assert judge("inbox_pages_advance", record(journal=once, retry_policy=policy)).verdict == "held"
    loop = [_read(1, "0", status=500), _read(2, "0", status=500), _read(3, "0")]
    r = judge("inbox_pages_advance", record(journal=loop, retry_policy=policy))
    assert r.verdict == "violated"
    assert "asked for a page that had failed 2 times in a row again 1.0s later" in r.detail
    # the run's retry after its back-off reads it afresh
    later = [*loop[:2], {**loop[2], "t": T0 + 9}]
    assert (
        judge("inbox_pages_advance", record(journal=later, retry_policy=policy)).verdict == "held"
    )


def test_a_page_read_again_in_one_run_is_a_violation_naming_the_page_and_the_first_read():
    # a page loop whose cursor never advances asks for start=0 again and again
    rec = record(journal=[_read(1, "0"), _read(2, "0"), _read(3, "0")])
    r = judge("inbox_pages_advance", rec)
    assert r.verdict == "violated" and r.count == 1
    assert r.detail == (
        "1 read of linkedin comments.list on acme-linkedin asked for page '0' again in one run "
        "(first at journal line 1): ids q2"
    )
    assert r.first_violation["evidence"] == "evidence/journal.jsonl#L2"


def test_pages_that_advance_a_retry_after_a_failure_and_another_run_hold():
    advancing = [_read(1, "0"), _read(2, "100"), _read(3, "200")]
    assert judge("inbox_pages_advance", record(journal=advancing)).verdict == "held"
    # a failed read ends the run: the retry reads the first page afresh
    retried = [_read(1, "0"), _read(2, "100", status=500), _read(3, "0")]
    assert judge("inbox_pages_advance", record(journal=retried)).verdict == "held"
    # a restarted platform runs the job again in a span range of its own
    restarted = [_read(1, "0"), _read(2, "0", run="0000000103000001")]
    assert judge("inbox_pages_advance", record(journal=restarted)).verdict == "held"
    assert judge("inbox_pages_advance", record(journal=[])).verdict == "not_applicable"


# --- engagement_put_up_for_approval -----------------------------------------------------------


def test_comments_under_approval_required_must_be_put_up_for_approval_not_held_unseen() -> None:
    name = "engagement_put_up_for_approval"
    modes = [
        change(1, 600, "mode", {"client_id": "acme"}, "approval_required"),
        change(2, 1800, "mode", {"client_id": "acme"}, "auto"),
    ]
    inbound = [comment(1, 700), comment(2, 900, author="@fan2")]
    asked = [{"id": "j-9", "kind": "reply", "client_id": "acme", "platform": "x",
              "state": "succeeded", "created_at": T0 + 760, "approved_at": T0 + 1200}]  # fmt: skip
    ok = record(inbound=inbound, control_changes=modes, jobs=asked)
    assert evaluate({"name": name}, ok).verdict == "held"
    # held back unseen until the mode went back to auto: the replies come only after it
    late = [{**asked[0], "created_at": T0 + 1830, "approved_at": None}]
    r = evaluate({"name": name}, record(inbound=inbound, control_changes=modes, jobs=late))
    assert r.verdict == "violated"
    assert "put none of 2 keyword comments on x up for approval under approval_required from T+10m00s" in r.detail  # fmt: skip
    # a comment the mode change overtook before any poll read it, or one a kill switch held,
    # asks nothing; manual_only is no approval mode (its items wait unseen by design)
    quick = [comment(1, 1750)]
    assert evaluate({"name": name}, record(inbound=quick, control_changes=modes, jobs=late)).verdict == "not_applicable"  # fmt: skip
    killed = [*modes, change(3, 650, "kill_switch", {"client_id": "acme"}, True)]
    assert evaluate({"name": name}, record(inbound=inbound, control_changes=killed, jobs=late)).verdict == "not_applicable"  # fmt: skip
    manual = [change(1, 600, "mode", {"client_id": "acme"}, "manual_only"), modes[1]]
    assert evaluate({"name": name}, record(inbound=inbound, control_changes=manual, jobs=late)).verdict == "not_applicable"  # fmt: skip


def test_a_control_changed_long_before_a_comment_excuses_it_only_while_it_still_holds() -> None:
    # a queue paused and resumed an hour before the comment excuses nothing; a kill switch still
    # engaged, or a daily reply cap the account has reached, does
    post = [_ig_post(1, 0, "m1")]
    inbound = [_ig(1, 1500, "m1")]
    resumed = [
        change(1, 100, "queue_paused", {"job_class": "engagement"}, True),
        change(2, 500, "queue_paused", {"job_class": "engagement"}, False),
    ]
    got = evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=post, control_changes=resumed))  # fmt: skip
    assert got.verdict == "violated"
    killed = [change(1, 100, "kill_switch", {"client_id": "acme"}, True)]
    got = evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=post, control_changes=killed))  # fmt: skip
    assert got.verdict == "not_applicable"
    capped = [change(1, 100, "pacing", {"platform": "instagram"}, {"daily_caps": {"reply": 1}})]
    replied = [*post, _ig_post(2, 10, "m0"), _ig_reply(3, 200, "c0")]
    got = evaluate({"name": "comments_answered"}, record(inbound=inbound, ledger=replied, control_changes=capped))  # fmt: skip
    assert got.verdict == "not_applicable"


def test_a_comment_on_a_post_the_platform_never_made_is_no_comment_of_its_inbox() -> None:
    # Instagram and LinkedIn read the comments of the posts the platform made; one the world set
    # on another post is not the platform's to answer (X's mentions reach it whatever the post)
    made = [_ig_post(1, 0, "m1")]
    stray = [_ig(1, 120, "m9")]
    assert evaluate({"name": "comments_answered"}, record(inbound=stray, ledger=made)).verdict == "not_applicable"  # fmt: skip
    assert evaluate({"name": "comments_answered"}, record(inbound=[_ig(1, 120, "m1")], ledger=made)).verdict == "violated"  # fmt: skip
