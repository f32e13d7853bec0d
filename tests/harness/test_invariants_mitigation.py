"""The mitigation invariants (controls read back as requested, pacing in force), each shown to
fail on a hand-built record and to hold on a healthy one."""

from __future__ import annotations

import dataclasses
from typing import Any

from _recordkit import T0, record

from harness.judge.invariants import evaluate
from harness.judge.invariants.mitigation import requested, snapshot_fields
from harness.judge.judgement import DEFAULT_INVARIANTS

BUDGET0 = {"episode_tokens": None, "episode_usd": 0.5, "client_usd": 5.0, "client_tokens": 10000}
PACING0 = {"concurrency": 4, "min_interval_s": 0.0, "jitter_s": 0.0, "daily_caps": {}}


def start(**over: Any) -> dict[str, Any]:
    """A ``controls()`` snapshot at rest (x and instagram), with sections overridden."""
    snap: dict[str, Any] = {
        "kill_switches": [],
        "lanes": {"x": "api", "instagram": "api"},
        "read_only_lanes": [],
        "modes": [],
        "paused": [],
        "pacing": {"x": dict(PACING0), "instagram": dict(PACING0)},
        "blueprints": {"bp-acme-x": True},
        "trigger_lock": {"global": False, "clients": []},
        "provider_routing": {"text": ["openai", "anthropic"]},
        "budgets": {"platform": dict(BUDGET0), "clients": {}},
    }
    snap.update(over)
    return snap


def req(n: int, at: float, name: str, change: int | None = None, **arguments: Any) -> dict:
    """A control request the harness sent; ``change`` is the seq the platform answered with."""
    return {
        "seq": n,
        "t": T0 + at,
        "actor": "operator",
        "reason": f"step {n}",
        "name": name,
        "arguments": arguments,
        "change_seq": n if change is None else change,
        "error": None,
    }


def change(n: int, at: float, control: str, value: Any, **scope: Any) -> dict:
    return {
        "seq": n,
        "t": T0 + at,
        "actor": "operator",
        "reason": f"step {n}",
        "control": control,
        "scope": scope,
        "value": value,
    }


def judge(name: str, rec, **spec):
    return evaluate({"name": name, **spec}, rec)


# --- controls_as_requested --------------------------------------------------------------------


def budget_drill(second_value: dict[str, Any], end_client: dict[str, Any]):
    """Two partial budget updates of one client: client_usd, then client_tokens."""
    first = {**BUDGET0, "client_usd": 4.0}
    return record(
        controls_at_start=start(),
        control_requests=[
            req(1, 300, "set_budget", client_id="acme", client_usd=4.0),
            req(2, 600, "set_budget", client_id="acme", client_tokens=9000),
        ],
        control_changes=[
            change(1, 300, "budget", first, client_id="acme"),
            change(2, 600, "budget", second_value, client_id="acme"),
        ],
        controls_at_end=start(budgets={"platform": dict(BUDGET0), "clients": {"acme": end_client}}),
    )


def test_a_partial_budget_update_that_keeps_the_other_fields_holds():
    both = {**BUDGET0, "client_usd": 4.0, "client_tokens": 9000}
    r = judge("controls_as_requested", budget_drill(both, both))
    assert r.verdict == "held", r.detail
    assert r.detail.startswith("2 control requests; every field they set read back as asked")


def test_a_partial_budget_update_that_resets_a_field_the_operator_set_is_a_violation():
    reset = {**BUDGET0, "client_tokens": 9000}  # client_usd back to the platform-wide 5.0
    r = judge("controls_as_requested", budget_drill(reset, reset))
    assert r.verdict == "violated"
    assert r.count == 2  # in the reported change and in the state at the end
    assert r.detail == (
        "budget (client_id=acme) client_usd read back 5.0 in change #2 at T+10m00s, but "
        "operator asked for 4.0 at T+5m00s (request #1); budget (client_id=acme) client_usd "
        "read back 5.0 in the control state at the end, but operator asked for 4.0 at T+5m00s "
        "(request #1)"
    )
    assert r.first_violation is not None
    assert r.first_violation["evidence"] == "evidence/controls.jsonl#L2"


def test_a_client_budget_misreported_at_the_end_only_is_a_violation():
    both = {**BUDGET0, "client_usd": 4.0, "client_tokens": 9000}
    r = judge("controls_as_requested", budget_drill(both, {**both, "client_tokens": None}))
    assert r.verdict == "violated"
    assert "client_tokens read back None in the control state at the end" in r.detail


def test_pacing_fields_not_named_keep_their_value_and_daily_caps_merge():
    two = {**PACING0, "concurrency": 1}
    three = {**two, "min_interval_s": 20.0, "jitter_s": 30.0}
    capped = {**three, "daily_caps": {"publish": 6, "reply": 4}}
    requests = [
        req(1, 60, "set_pacing", platform="x", concurrency=1),
        req(2, 65, "set_pacing", platform="x", min_interval_s=20, jitter_s=30),
        req(3, 70, "set_pacing", platform="x", daily_caps={"publish": 6}),
        req(4, 75, "set_pacing", platform="x", daily_caps={"reply": 4}),
    ]

    def drill(last: dict[str, Any]):
        return record(
            controls_at_start=start(),
            control_requests=requests,
            control_changes=[
                change(1, 60, "pacing", two, platform="x"),
                change(2, 65, "pacing", three, platform="x"),
                change(3, 70, "pacing", {**three, "daily_caps": {"publish": 6}}, platform="x"),
                change(4, 75, "pacing", last, platform="x"),
            ],
            controls_at_end=start(pacing={"x": last, "instagram": dict(PACING0)}),
        )

    assert judge("controls_as_requested", drill(capped)).verdict == "held"
    # a merge that replaces the caps instead of adding to them drops the publish cap
    dropped = {**three, "daily_caps": {"reply": 4}}
    r = judge("controls_as_requested", drill(dropped))
    assert r.verdict == "violated"
    assert "pacing (platform=x) daily_caps.publish read back None in change #4" in r.detail
    # a merge that rebuilds from the settings loses concurrency and the interval
    rebuilt = {**PACING0, "daily_caps": {"publish": 6, "reply": 4}}
    r = judge("controls_as_requested", drill(rebuilt))
    assert r.verdict == "violated"
    assert "pacing (platform=x) concurrency read back 4 in change #4" in r.detail
    assert "pacing (platform=x) min_interval_s read back 0.0 in change #4" in r.detail


def test_a_control_applied_to_another_scope_is_caught_in_the_state_at_the_end():
    paced = {**PACING0, "min_interval_s": 20.0}
    rec = record(
        controls_at_start=start(),
        control_requests=[req(1, 60, "set_pacing", platform="x", min_interval_s=20)],
        control_changes=[change(1, 60, "pacing", paced, platform="x")],
        # the platform reports x as asked but stored the value under instagram
        controls_at_end=start(pacing={"x": dict(PACING0), "instagram": paced}),
    )
    r = judge("controls_as_requested", rec)
    assert r.verdict == "violated"
    assert (
        "pacing (platform=instagram) min_interval_s read back 20.0 in the control state at the "
        "end, but it was 0.0 when the drill began and no request changed it"
    ) in r.detail
    assert "pacing (platform=x) min_interval_s read back 0.0 in the control state at the end" in (
        r.detail
    )


def test_a_routing_change_that_replaced_the_whole_table_is_caught_at_the_end():
    # text rerouted to Anthropic; the platform stored the new table as {"text": …} alone, so
    # images (and video) have no route any more
    routes = {"text": ["openai", "anthropic"], "image": ["openai"], "video": ["media"]}

    def ended_with(routing: dict[str, Any]) -> Any:
        return judge(
            "controls_as_requested",
            record(
                controls_at_start=start(provider_routing=routes),
                control_requests=[
                    req(1, 60, "set_provider_routing", capability="text", providers=["anthropic"])
                ],
                control_changes=[
                    change(1, 60, "provider_routing", ["anthropic"], capability="text")
                ],
                controls_at_end=start(provider_routing=routing),
            ),
        )

    assert ended_with({**routes, "text": ["anthropic"]}).verdict == "held"
    r = ended_with({"text": ["anthropic"]})
    assert r.verdict == "violated"
    assert (
        "provider_routing (capability=image) providers read back None in the control state at "
        "the end, but it was ['openai'] when the drill began"
    ) in r.detail


def test_kill_switches_modes_and_pauses_read_back_as_requested():
    requests = [
        req(1, 60, "set_kill_switch", scope={"platform": "x"}, engaged=True),
        req(2, 61, "set_mode", mode="manual_only", client_id="acme"),
        req(3, 62, "set_queue_paused", job_class="engagement", paused=True),
        req(4, 90, "set_kill_switch", scope={"platform": "x"}, engaged=False),
    ]
    changes = [
        change(1, 60, "kill_switch", True, platform="x"),
        change(2, 61, "mode", "manual_only", client_id="acme"),
        change(3, 62, "queue_paused", True, job_class="engagement"),
        change(4, 90, "kill_switch", False, platform="x"),
    ]
    at_rest = start(modes=[{"client_id": "acme", "mode": "manual_only"}], paused=["engagement"])
    ok = record(
        controls_at_start=start(),
        control_requests=requests,
        control_changes=changes,
        controls_at_end=at_rest,
    )
    assert judge("controls_as_requested", ok).verdict == "held"
    # the release reported, but the switch still engaged and the mode gone
    stuck = record(
        controls_at_start=start(),
        control_requests=requests,
        control_changes=changes,
        controls_at_end=start(kill_switches=[{"platform": "x"}], paused=["engagement"]),
    )
    r = judge("controls_as_requested", stuck)
    assert r.verdict == "violated"
    assert "kill_switch (platform=x) engaged read back True in the control state at the end" in (
        r.detail
    )
    assert "mode (client_id=acme) mode read back 'auto' in the control state at the end" in (
        r.detail
    )


def test_a_scope_set_back_to_auto_must_not_stay_listed_as_an_auto_override():
    requests = [
        req(1, 60, "set_mode", mode="manual_only", client_id="acme"),
        req(2, 90, "set_mode", mode="auto", client_id="acme"),
    ]
    changes = [
        change(1, 60, "mode", "manual_only", client_id="acme"),
        change(2, 90, "mode", "auto", client_id="acme"),
    ]
    rec = {"controls_at_start": start(), "control_requests": requests, "control_changes": changes}
    assert judge("controls_as_requested", record(**rec, controls_at_end=start())).verdict == "held"
    # auto kept as an override: the console reads the client as pinned against a wider mode
    pinned = start(modes=[{"client_id": "acme", "mode": "auto"}])
    r = judge("controls_as_requested", record(**rec, controls_at_end=pinned))
    assert r.verdict == "violated"
    assert (
        "mode (client_id=acme) is listed as an auto override in the control state at the end: "
        "setting a scope to auto removes its override"
    ) in r.detail


def test_the_state_read_right_after_a_request_must_show_it_too():
    # an account's switch engaged and released: the changes and the end state say so, but the
    # console's read right after the engage showed the switch without its account — a stop of
    # the whole platform that nobody engaged, and the account's own switch missing
    scope = {"platform": "x", "account_id": "acme-x"}
    engaged = start(kill_switches=[scope])
    requests = [
        {**req(1, 60, "set_kill_switch", scope=scope, engaged=True), "state_after": engaged},
        {**req(2, 900, "set_kill_switch", scope=scope, engaged=False), "state_after": start()},
    ]
    changes = [
        change(1, 60, "kill_switch", True, **scope),
        change(2, 900, "kill_switch", False, **scope),
    ]

    def drill(after_engage: dict[str, Any] | None) -> Any:
        rows = [{**requests[0], "state_after": after_engage}, requests[1]]
        return record(
            controls_at_start=start(), control_requests=rows, control_changes=changes,
            controls_at_end=start(),
        )  # fmt: skip

    got = judge("controls_as_requested", drill(engaged))
    assert got.verdict == "held" and "the state read after 2 requests" in got.detail
    r = judge("controls_as_requested", drill(start(kill_switches=[{"platform": "x"}])))
    assert r.verdict == "violated" and r.count == 2
    assert (
        "kill_switch (account_id=acme-x, platform=x) engaged read back False in the control state "
        "read right after request #1 at T+1m00s"
    ) in r.detail
    assert "kill_switch (platform=x) engaged read back True" in r.detail
    # not read back (another request was in flight): judged on the changes and the end alone
    assert judge("controls_as_requested", drill(None)).verdict == "held"


def test_a_refused_request_changes_nothing_and_no_request_is_not_applicable():
    refused = dict(req(1, 60, "set_budget", client_id="acme", client_usd=1.0), change_seq=None)
    refused["error"] = "ControlError: client_usd: -1 must be a number ≥ 0"
    rec = record(controls_at_start=start(), control_requests=[refused], controls_at_end=start())
    r = judge("controls_as_requested", rec)
    assert r.verdict == "not_applicable"
    assert r.detail == "no control request was answered during the drill"


def test_requests_and_snapshots_name_the_same_fields():
    assert requested("set_budget", {"client_id": "acme", "client_usd": 4.0}) == (
        ("budget", (("client_id", "acme"),)),
        {"client_usd": 4.0},
    )
    assert requested("set_pacing", {"platform": "x", "daily_caps": {"reply": 2}}) == (
        ("pacing", (("platform", "x"),)),
        {"daily_caps.reply": 2},
    )
    assert requested("set_lane_read_only", {"platform": "x", "read_only": True}) == (
        ("lane_read_only", (("lane", "browser"), ("platform", "x"))),
        {"read_only": True},
    )
    assert requested("no_such_call", {}) is None
    snap = start(trigger_lock={"global": False, "clients": ["acme"]})
    assert snapshot_fields(snap, ("trigger_lock", (("client_id", "acme"),))) == {"locked": True}
    assert snapshot_fields(snap, ("trigger_lock", ())) == {"locked": False}
    # a snapshot without the contract's field does not say the global lock is off
    unsaid = start(trigger_lock={"clients": []})
    assert snapshot_fields(unsaid, ("trigger_lock", ())) == {"locked": None}
    assert snapshot_fields(snap, ("budget", (("client_id", "acme"),))) is None
    assert snapshot_fields({}, ("pacing", (("platform", "x"),))) is None


# --- pacing_in_force --------------------------------------------------------------------------


def attempt(n: int, at: float, key: str, *, account: str = "acme-x", platform: str = "x") -> dict:
    return {
        "seq": n,
        "t": T0 + at,
        "event_id": f"ae-{n}",
        "client_id": "acme",
        "platform": platform,
        "account_id": account,
        "action": "post.create",
        "phase": "attempt",
        "outcome": None,
        "job_id": f"j-{key}",
        "idempotency_key": key,
        "lane": "api",
        "proof": {},
        "error": None,
        "detail": {},
    }


def sent(
    n: int,
    at: float,
    key: str | None,
    *,
    account: str = "acme-x",
    fake: str = "x",
    route: str = "tweets.create",
    method: str = "POST",
    took: float = 0.0,
    status: int = 201,
) -> dict:
    return {
        "seq": n,
        "t": T0 + at + took,
        "started": T0 + at,
        "fake": fake,
        "method": method,
        "path": "/",
        "route": route,
        "status": status,
        "account_id": account,
        "request_id": f"q{n}",
        "idempotency_key": key,
    }


def paced(min_interval_s: float = 20.0, concurrency: int = 4, at: float = 0.0) -> dict:
    value = {**PACING0, "min_interval_s": min_interval_s, "concurrency": concurrency}
    return change(1, at, "pacing", value, platform="x")


def pacing_drill(journal: list[dict], audit: list[dict], **kw: Any):
    return record(
        controls_at_start=start(),
        control_changes=kw.pop("control_changes", [paced()]),
        journal=journal,
        audit=audit,
        **kw,
    )


def test_pacing_the_settings_configured_must_read_back_at_start_and_is_what_is_judged():
    # the scenario's world.pacing is the platform's settings: a platform that started on its
    # defaults instead reads back otherwise, and its side effects are judged by the settings
    world = {"pacing": {"x": {"concurrency": 4, "min_interval_s": 20.0, "jitter_s": 0.0,
                              "daily_caps": {"publish": 5}}}}  # fmt: skip
    scenario = {"id": "s", "invariants": [], "world": world}
    journal = [sent(1, 100, "k1"), sent(2, 103, "k2")]
    audit = [attempt(1, 100, "k1"), attempt(2, 103, "k2")]
    rec = pacing_drill(journal, audit, control_changes=[], scenario=scenario)
    r = judge("pacing_in_force", rec)
    assert r.verdict == "violated"
    assert (
        "1 setting of x's pacing read daily_caps={} at the start, though the platform's settings "
        'gave {"publish": 5}: ids x.daily_caps' in r.detail
    )
    assert "x.min_interval_s" in r.detail
    assert (
        "ids q2 on @acme_x 3.0s after q1 was let through (min_interval_s 20 in force since the drill began)"
        in r.detail
    )
    # read back as configured and spaced as configured: held
    configured = start(pacing={"x": {**PACING0, "min_interval_s": 20.0, "daily_caps": {"publish": 5}},
                               "instagram": dict(PACING0)})  # fmt: skip
    ok = record(
        controls_at_start=configured,
        control_changes=[],
        journal=[sent(1, 100, "k1"), sent(2, 125, "k2")],
        audit=[attempt(1, 100, "k1"), attempt(2, 125, "k2")],
        scenario=scenario,
    )
    assert judge("pacing_in_force", ok).verdict == "held", judge("pacing_in_force", ok).detail


def test_side_effects_spaced_by_min_interval_hold():
    rec = pacing_drill(
        [sent(1, 100, "k1"), sent(2, 125, "k2"), sent(3, 125, None, method="GET")],
        [attempt(1, 100, "k1"), attempt(2, 125, "k2")],
    )
    r = judge("pacing_in_force", rec)
    assert r.verdict == "held", r.detail
    assert r.checked == 2


def test_an_account_posting_back_to_back_under_a_min_interval_is_a_violation():
    rec = pacing_drill(
        [sent(1, 100, "k1"), sent(2, 103, "k2"), sent(3, 103, "k3", account="northwind-x")],
        [
            attempt(1, 100, "k1"),
            attempt(2, 103, "k2"),
            attempt(3, 103, "k3", account="northwind-x"),
        ],
    )
    r = judge("pacing_in_force", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "1 side effect sent sooner after the one before on its account than x's min_interval_s: "
        "ids q2 on @acme_x 3.0s after q1 was let through (min_interval_s 20 in force since T+0s)"
    )
    assert r.first_violation is not None
    assert r.first_violation["evidence"] == "evidence/journal.jsonl#L2"


def test_one_side_effect_of_several_requests_is_counted_once():
    # Instagram's container create and publish, and an X resend after a 401 and a token refresh
    journal = [
        sent(1, 100, "k1", account="acme-instagram", fake="instagram", route="media.create"),
        sent(2, 101, "k1", account="acme-instagram", fake="instagram", route="media.publish"),
        sent(3, 100, "k2", status=401),
        sent(4, 100.2, None, route="oauth2.token"),
        sent(5, 100.4, "k2"),
        sent(6, 121, "k3", account="acme-instagram", fake="instagram", route="media.create"),
        sent(7, 121, "k3", account="acme-instagram", fake="instagram", route="media.publish"),
    ]
    audit = [
        attempt(1, 100, "k1", account="acme-instagram", platform="instagram"),
        attempt(2, 100, "k2"),
        attempt(3, 121, "k3", account="acme-instagram", platform="instagram"),
    ]
    steps = [
        paced(),
        change(2, 0, "pacing", {**PACING0, "min_interval_s": 20.0}, platform="instagram"),
    ]
    r = judge("pacing_in_force", pacing_drill(journal, audit, control_changes=steps))
    assert r.verdict == "held", r.detail
    assert r.checked == 3


def test_a_retry_of_the_same_job_is_a_side_effect_of_its_own():
    # two attempts of one job (one key): the retry is paced like any other side effect
    rec = pacing_drill(
        [sent(1, 100, "k1", status=429), sent(2, 105, "k1")],
        [attempt(1, 100, "k1"), attempt(2, 105, "k1")],
    )
    r = judge("pacing_in_force", rec)
    assert r.verdict == "violated"
    assert "q2 on @acme_x 5.0s after q1 was let through" in r.detail


def test_the_interval_in_force_when_the_first_side_effect_started_applies():
    # 20 s when the first one started; lowered to 5 s two seconds later: 10 s later is early
    steps = [
        paced(20.0),
        change(2, 102, "pacing", {**PACING0, "min_interval_s": 5.0}, platform="x"),
    ]
    journal = [sent(1, 100, "k1"), sent(2, 110, "k2"), sent(3, 116, "k3")]
    audit = [attempt(1, 100, "k1"), attempt(2, 110, "k2"), attempt(3, 116, "k3")]
    r = judge("pacing_in_force", pacing_drill(journal, audit, control_changes=steps))
    assert r.verdict == "violated"
    assert r.count == 1
    assert (
        "q2 on @acme_x 10.0s after q1 was let through (min_interval_s 20 in force since T+0s)"
        in r.detail
    )


def test_more_side_effects_in_flight_than_the_concurrency_is_a_violation():
    steps = [paced(0.0, concurrency=1)]
    audit = [attempt(1, 100, "k1"), attempt(2, 105, "k2", account="northwind-x")]
    overlapping = [sent(1, 100, "k1", took=10.0), sent(2, 105, "k2", account="northwind-x")]
    r = judge("pacing_in_force", pacing_drill(overlapping, audit, control_changes=steps))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 side effect started on x while its concurrency was already in flight: ids q2 with 1 "
        "in flight (concurrency 1 in force since T+0s)"
    )
    after = [sent(1, 100, "k1", took=5.0), sent(2, 105, "k2", account="northwind-x")]
    assert judge("pacing_in_force", pacing_drill(after, audit, control_changes=steps)).verdict == (
        "held"
    )


def test_pacing_never_changed_and_no_interval_is_not_applicable():
    rec = record(
        controls_at_start=start(),
        journal=[sent(1, 100, "k1"), sent(2, 101, "k2")],
        audit=[attempt(1, 100, "k1"), attempt(2, 101, "k2")],
    )
    r = judge("pacing_in_force", rec)
    assert r.verdict == "not_applicable"
    assert "pacing was not changed during the drill" in r.detail
    # an interval set from the start is judged without any change
    spaced = start(pacing={"x": {**PACING0, "min_interval_s": 20.0}})
    r = judge("pacing_in_force", record(**{**_fields(rec), "controls_at_start": spaced}))
    assert r.verdict == "violated"


def _fields(rec) -> dict[str, Any]:
    return {"journal": rec.journal, "audit": rec.audit}


def test_both_are_judged_in_every_drill():
    assert {"controls_as_requested", "pacing_in_force"} <= set(DEFAULT_INVARIANTS)


def test_a_mode_the_platform_keeps_under_another_scope_is_a_violation():
    # the change reported as asked, the state at the end holding the mode under a swapped scope
    rec = record(
        controls_at_start=start(),
        control_requests=[req(1, 60, "set_mode", mode="manual_only", client_id="acme")],
        control_changes=[change(1, 60, "mode", "manual_only", client_id="acme")],
        controls_at_end=start(modes=[{"platform": "acme", "mode": "manual_only"}]),
    )
    r = judge("controls_as_requested", rec)
    assert r.verdict == "violated"
    assert "mode (client_id=acme) mode read back 'auto' in the control state at the end" in (
        r.detail
    )
    assert (
        "mode (platform=acme) mode read back 'manual_only' in the control state at the end, but "
        "it was 'auto' when the drill began and no request changed it"
    ) in r.detail


def test_a_change_reported_for_a_scope_nobody_asked_to_change_is_a_violation():
    rec = record(
        controls_at_start=start(),
        control_requests=[req(1, 60, "set_queue_paused", job_class="engagement", paused=True)],
        control_changes=[
            change(1, 60, "queue_paused", True, job_class="engagement"),
            change(2, 60, "queue_paused", True, job_class="publish"),
        ],
        controls_at_end=start(paused=["engagement"]),
    )
    r = judge("controls_as_requested", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "queue_paused (job_class=publish) paused read back True in change #2 at T+1m00s, but it "
        "was False when the drill began and no request changed it"
    )


def test_browser_side_effects_are_the_form_posts_between_an_attempt_and_its_outcome():
    def browser(n: int, at: float, key: str) -> dict:
        return {**attempt(n, at, key), "lane": "browser"}

    def closed(n: int, at: float, key: str) -> dict:
        return {**attempt(n, at, key), "phase": "outcome", "outcome": "success", "lane": "browser"}

    def form(n: int, at: float, route: str = "web.compose") -> dict:
        return sent(n, at, None, route=route, status=303)

    audit = [
        browser(1, 100, "k1"),
        closed(2, 104, "k1"),
        browser(3, 120, "k2"),
        closed(4, 121, "k2"),
    ]
    # the first form reached the fake 3 s after the pacer let it go, the second at once: 20.2 s
    # after the first was admitted (17.2 s between arrivals); the log-in before is no side effect
    journal = [form(1, 50, "web.login"), form(2, 103), form(3, 120.2), form(4, 130, "web.login")]
    r = judge("pacing_in_force", pacing_drill(journal, audit))
    assert r.verdict == "held", r.detail
    assert r.checked == 2
    early = [
        browser(1, 100, "k1"),
        closed(2, 104, "k1"),
        browser(3, 110, "k2"),
        closed(4, 111, "k2"),
    ]
    r = judge("pacing_in_force", pacing_drill([form(2, 103), form(3, 110.5)], early))
    assert r.verdict == "violated"
    assert (
        "q3 on @acme_x 10.5s after q2 was let through (min_interval_s 20 in force since T+0s)"
        in r.detail
    )


# --- provider_routing_in_force ----------------------------------------------------------------


def llm(n: int, at: float, provider: str, job: str, phase: str, outcome: str | None = None) -> dict:
    """An audited ``llm.complete`` attempt or outcome of ``job`` on ``provider``."""
    return {
        "seq": n,
        "t": T0 + at,
        "event_id": f"ae-{n:06d}",
        "client_id": "acme",
        "platform": provider,
        "account_id": f"agency-{provider}",
        "action": "llm.complete",
        "phase": phase,
        "outcome": outcome,
        "job_id": job,
        "idempotency_key": None,
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "error": None,
        "proof": {},
        "detail": {},
    }


def routed(audit: list[dict]) -> Any:
    """Text routed to Anthropic alone at T+10m."""
    return record(
        controls_at_start=start(),
        control_changes=[change(1, 600, "provider_routing", ["anthropic"], capability="text")],
        audit=audit,
    )


def test_a_call_to_a_provider_the_routing_dropped_is_a_violation():
    audit = [
        llm(1, 100, "openai", "j1", "attempt"),
        llm(2, 101, "openai", "j1", "outcome", "success"),
        llm(3, 700, "openai", "j2", "attempt"),  # begun after the change: still OpenAI
        llm(4, 701, "openai", "j2", "outcome", "success"),
        llm(5, 800, "anthropic", "j3", "attempt"),
    ]
    r = judge("provider_routing_in_force", routed(audit))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 call made to openai for text while the routing named only anthropic "
        "(since T+10m00s): ids j2 at T+11m40s"
    )


def test_a_routed_request_begun_before_the_change_may_finish_on_its_old_list():
    audit = [
        llm(1, 590, "anthropic", "j1", "attempt"),
        llm(2, 605, "anthropic", "j1", "outcome", "failed"),
        # the list it began with was [anthropic, openai]: failing over after the change is fine
        llm(3, 606, "openai", "j1", "attempt"),
        llm(4, 607, "openai", "j1", "outcome", "success"),
        llm(5, 900, "anthropic", "j1", "attempt"),  # its next request follows the new routing
    ]
    r = judge("provider_routing_in_force", routed(audit))
    assert r.verdict == "held", r.detail
    assert r.detail == "all 3 provider calls went to a provider their capability's routing named"


def test_a_routed_request_that_goes_first_to_another_than_the_first_routed_is_a_violation():
    # Anthropic first, OpenAI its failover, from T+10m: each routed request goes to Anthropic
    # first, unless Anthropic throttled the agency (a provider held after a 429 is skipped)
    def first_anthropic(audit: list[dict], journal: list[dict] | None = None) -> Any:
        return record(
            controls_at_start=start(),
            control_changes=[
                change(1, 600, "provider_routing", ["anthropic", "openai"], capability="text")
            ],
            audit=audit,
            journal=journal or [],
        )

    audit = [
        llm(1, 700, "anthropic", "j1", "attempt"),
        llm(2, 701, "anthropic", "j1", "outcome", "failed"),
        llm(3, 702, "openai", "j1", "attempt"),  # its failover: fine
        llm(4, 703, "openai", "j1", "outcome", "success"),
        llm(5, 800, "openai", "j2", "attempt"),  # a fresh request straight to the failover
    ]
    r = judge("provider_routing_in_force", first_anthropic(audit))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 call made first to openai for text while the routing put anthropic first "
        "(anthropic, openai since T+10m00s): ids j2 at T+13m20s"
    )
    # Anthropic answered the agency a 429 a minute before: held, rightly skipped
    throttle = {"seq": 1, "t": T0 + 740, "fake": "anthropic", "status": 429, "route": "messages"}
    r = judge("provider_routing_in_force", first_anthropic(audit, [throttle]))
    assert r.verdict == "held", r.detail
    # a 429 whose fault rule said Retry-After 30 s holds Anthropic for that long, not an hour:
    # skipped 60 s after it, Anthropic was passed over with its hold long ended
    said = {**throttle, "fault_id": "f1", "fault_kind": "anthropic.rate_limited"}

    def retry_after(s: float) -> Any:
        rule = {"id": "f1", "kind": "anthropic.rate_limited", "params": {"retry_after_s": s}}
        rec = dataclasses.replace(first_anthropic(audit, [said]), fault_rules=[rule])
        return judge("provider_routing_in_force", rec).verdict

    assert retry_after(30) == "violated"
    assert retry_after(300) == "held"


def test_routing_never_changed_is_not_applicable():
    rec = record(controls_at_start=start(), audit=[llm(1, 100, "openai", "j1", "attempt")])
    assert judge("provider_routing_in_force", rec).verdict == "not_applicable"


# --- runner_concurrency_kept ----------------------------------------------------------------------


def test_more_jobs_on_the_wire_than_the_runner_concurrency_is_a_violation():
    def req(n: int, trace: str, at: float, took: float) -> dict:
        return {
            **sent(n, at, None, took=took),
            "traceparent": f"00-{trace * 32}-00000001{n:08x}-01",
        }

    scenario = {"id": "s", "invariants": [], "world": {"runner_concurrency": 2}}
    # three jobs' requests overlap from T+12s; a fourth starts as the first is answered
    journal = [req(1, "a", 10, 5), req(2, "b", 11, 5), req(3, "c", 12, 5), req(4, "d", 15, 1)]
    r = judge("runner_concurrency_kept", record(journal=journal, scenario=scenario))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 moment with 3 jobs' requests on the wire at once at T+12s (runner_concurrency 2): ids q3"
    )
    # two at a time (one answered at the instant the next arrives) hold; no setting: not judged
    paced = [req(1, "a", 10, 5), req(2, "b", 11, 4), req(3, "c", 15, 5)]
    assert (
        judge("runner_concurrency_kept", record(journal=paced, scenario=scenario)).verdict == "held"
    )
    plain = {"id": "s", "invariants": []}
    assert (
        judge("runner_concurrency_kept", record(journal=journal, scenario=plain)).verdict
        == "not_applicable"
    )


# --- marked_jobs_left_alone -----------------------------------------------------------------------


def test_a_job_that_attempts_after_a_person_marked_it_is_a_violation_unless_approved_since():
    marked = {"id": "j-k1", "state": "succeeded", "kind": "publish", "marked_at": T0 + 600}
    late = [attempt(1, 60, "k1"), attempt(2, 700, "k1")]
    r = judge("marked_jobs_left_alone", record(jobs=[marked], audit=late))
    assert r.verdict == "violated"
    assert r.detail == (
        "1 job attempted its side effect at T+11m40s after a person marked it "
        "needs_human_confirm at T+10m00s: ids j-k1"
    )
    approved = {**marked, "approved_at": T0 + 650}
    assert judge("marked_jobs_left_alone", record(jobs=[approved], audit=late)).verdict == "held"
    assert judge("marked_jobs_left_alone", record(jobs=[marked], audit=late[:1])).verdict == "held"
    plain = {**marked, "marked_at": None}
    assert (
        judge("marked_jobs_left_alone", record(jobs=[plain], audit=late)).verdict
        == "not_applicable"
    )


def test_side_effects_of_an_account_with_no_jitter_between_them_under_jitter_s_are_a_violation():
    jittered = change(1, 0, "pacing", {**PACING0, "jitter_s": 20.0}, platform="x")
    keys = [f"k{n}" for n in range(1, 5)]
    # three answers of one poll in the same instant: two gaps with no draw of up to 20 s
    burst = pacing_drill(
        [sent(n, 100 + (n == 4) * 7, k) for n, k in enumerate(keys, start=1)],
        [attempt(n, 100 + (n == 4) * 7, k) for n, k in enumerate(keys, start=1)],
        control_changes=[jittered],
    )
    r = judge("pacing_in_force", burst)
    assert r.verdict == "violated"
    assert r.detail.startswith(
        "1 account sent side effects with no jitter between them though x's jitter_s was in "
        "force: ids @acme_x: 2 side effects within 0.02s past min_interval_s"
    )
    # one such gap may be a draw close to nothing; spread apart they hold
    once = pacing_drill(
        [sent(1, 100, "k1"), sent(2, 100, "k2"), sent(3, 111, "k3")],
        [attempt(1, 100, "k1"), attempt(2, 100, "k2"), attempt(3, 111, "k3")],
        control_changes=[jittered],
    )
    assert judge("pacing_in_force", once).verdict == "held"
