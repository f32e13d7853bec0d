"""Realistic one-line slips in the sandbox — not defects of the catalogue, nobody wrote a drill
for them — and the drill that catches each one: its new invariant comes out ``violated``.

Each slip is applied with ``monkeypatch`` for one in-process drill (on virtual time, a few
seconds of wall time each) and undone afterwards; the healthy drills are judged in
``test_drill``. Together with ``test_invariants_controls`` this shows every new invariant failing
on a hand-built record *and* on a real bug.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.drill.run import DrillOptions, run_drill
from harness.scenario import load_scenario
from sandbox import budget, toolgate_client
from sandbox import jobs as jobs_module
from sandbox.audit import AuditLog
from sandbox.budget import Budget
from sandbox.controls import Controls
from sandbox.engagement import EngagementEngine
from sandbox.errors import AuthFailed
from sandbox.lanes.api import ApiLane
from sandbox.lanes.instagram import InstagramLane
from sandbox.lanes.linkedin import LinkedInLane
from sandbox.lanes.x import XLane
from sandbox.pacing import Pacer
from sandbox.runner import Runner

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _drill(scenario: str, tmp_path: Path, *, write: bool) -> dict[str, str]:
    """Every invariant's verdict of one in-process drill of ``scenario``.

    Judged in memory (``write=False``, as ``vibedrill explore`` judges its draws): the same
    verdicts, without rendering a report folder nobody reads. Only ``no_secret_in_artifacts``
    reads the rendered files, so a drill judged on it writes them (``write=True``)."""
    result = run_drill(
        load_scenario(ROOT / "scenarios" / f"{scenario}.yaml"),
        DrillOptions(reports_dir=tmp_path, suffix="-slip", write=write),
    )
    assert result.verdict_json["verdict"] != "error", result.verdict_json.get("error")
    return {i["name"]: i["verdict"] for i in result.verdict_json["invariants"]}


def violated(scenario: str, tmp_path: Path, *, write: bool = False) -> set[str]:
    """The invariants one in-process drill of ``scenario`` violated."""
    return {k for k, v in _drill(scenario, tmp_path, write=write).items() if v == "violated"}


def judged(scenario: str, tmp_path: Path) -> dict[str, str]:
    """Every invariant's verdict of one in-process drill of ``scenario``."""
    return _drill(scenario, tmp_path, write=False)


def wrap(monkeypatch: pytest.MonkeyPatch, cls: type, name: str, make: Callable[[Any], Any]) -> None:
    monkeypatch.setattr(cls, name, make(getattr(cls, name)))


def test_manual_only_read_as_auto_is_caught_by_the_mode_invariant(monkeypatch, tmp_path):
    wrap(
        monkeypatch,
        Controls,
        "mode_for",
        lambda orig: (
            lambda self, c, p: "auto" if orig(self, c, p) == "manual_only" else orig(self, c, p)
        ),
    )
    assert "side_effects_only_as_the_mode_allows" in violated("ctl_modes", tmp_path)


def test_a_release_that_forgets_the_jobs_a_kill_switch_parked_is_caught(monkeypatch, tmp_path):
    def make(orig):
        def requeue(self, job):
            if job.hold_reason != "kill_switch":
                orig(self, job)

        return requeue

    wrap(monkeypatch, Runner, "requeue", make)
    assert "nothing_lost_or_doubled_across_release" in violated("ctl_kill_switch_scopes", tmp_path)


def test_an_instagram_inbox_without_authors_and_an_ignored_trigger_lock_are_caught(
    monkeypatch, tmp_path
):
    def make(orig):
        async def list_inbound(self, cred, scope, **kw):
            items = await orig(self, cred, scope, **kw)
            return [dataclasses.replace(i, author_id="", author_handle=None) for i in items]

        return list_inbound

    wrap(monkeypatch, InstagramLane, "list_inbound", make)
    monkeypatch.setattr(Controls, "triggers_locked", lambda self, client_id: False)
    got = violated("ctl_engagement_controls", tmp_path)
    assert {"engagement_never_answers_itself", "no_reply_while_triggers_off"} <= got


def test_a_daily_cap_off_by_one_is_caught_by_the_rate_invariant(monkeypatch, tmp_path):
    wrap(
        monkeypatch,
        Pacer,
        "used_today",
        lambda orig: lambda self, account, action: orig(self, account, action) - 1,
    )
    assert "rate_within_platform_limits" in violated("ctl_daily_caps", tmp_path)


def test_instagrams_regain_time_read_as_seconds_is_caught_by_the_rate_invariant(
    monkeypatch, tmp_path
):
    def make(orig):
        def usage(self, r):
            pct, regain = orig(self, r)
            return pct, None if regain is None else regain / 60

        return usage

    wrap(monkeypatch, InstagramLane, "_usage", make)
    assert "rate_within_platform_limits" in violated("rb05_rate_limit_storm_instagram", tmp_path)


def test_a_lookup_error_counted_as_visible_is_caught_by_verification(monkeypatch, tmp_path):
    def make(orig):
        def failed(self, r, error):
            return dataclasses.replace(orig(self, r, error), visible=True)

        return failed

    wrap(monkeypatch, ApiLane, "refused_lookup", make)
    assert "no_unverified_publish_reported_live" in violated("rb03_lookup_errors", tmp_path)


def test_a_token_copied_into_an_error_text_is_scrubbed_or_caught_by_the_secret_check(
    monkeypatch, tmp_path
):
    def make(orig):
        def error_for(self, r, *, mutating):
            e = orig(self, r, mutating=mutating)
            e.error = f"{e.error} (sent {r.request.headers.get('authorization')})"
            return e

        return error_for

    wrap(monkeypatch, InstagramLane, "error_for", make)
    # the platform scrubs a job's error as it scrubs the audit log: the slip alone leaks nothing
    assert "no_secret_in_artifacts" not in violated(
        "rb04_token_expiry_instagram", tmp_path / "scrubbed", write=True
    )
    # … so with the job store's scrubbing left out too (a second slip: a store built without its
    # scrubber), the token reaches the jobs the drill records and the report it writes
    real_init = jobs_module.JobStore.__init__

    def unscrubbed(self: Any, now: Any, trace_id: Any, scrub: Any = None) -> None:
        real_init(self, now, trace_id, None)

    monkeypatch.setattr(jobs_module.JobStore, "__init__", unscrubbed)
    assert "no_secret_in_artifacts" in violated(
        "rb04_token_expiry_instagram", tmp_path / "leaked", write=True
    )


def test_a_dead_letter_one_attempt_late_is_caught_by_the_retry_policy_invariant(
    monkeypatch, tmp_path
):
    # the slip of tests/mutation/bugs/09: ``attempts > max_attempts`` instead of ``>=``
    def make(orig):
        def _retry(self, job, error, retry_after, **kw):
            if job.attempts == self.settings.retry.max_attempts:
                job.attempts -= 1  # retried once more instead of dead-lettered
                try:
                    return orig(self, job, error, retry_after, **kw)
                finally:
                    job.attempts += 1
            return orig(self, job, error, retry_after, **kw)

        return _retry

    wrap(monkeypatch, Runner, "_retry", make)
    assert "retries_within_policy" in violated("rb05_rate_limit_storm", tmp_path)


def test_a_dead_letter_one_attempt_early_is_caught_by_the_retry_policy_invariant(
    monkeypatch, tmp_path
):
    def make(orig):
        def _retry(self, job, error, retry_after, **kw):
            if job.attempts == self.settings.retry.max_attempts - 1:
                job.attempts += 1  # ``attempts + 1 >= max_attempts``: gives up one early
                try:
                    return orig(self, job, error, retry_after, **kw)
                finally:
                    job.attempts -= 1
            return orig(self, job, error, retry_after, **kw)

        return _retry

    wrap(monkeypatch, Runner, "_retry", make)
    assert "retries_within_policy" in violated("rb05_rate_limit_storm", tmp_path)


def test_a_routing_control_that_breaks_is_caught_by_runbook_steps_applied(monkeypatch, tmp_path):
    # mutmut's sandbox.controls set_provider_routing__mutmut_32 (an argument dropped): the Ops
    # Lead's failover step raised, the platform failed over on its own and the drill held
    def broken(self, capability, providers, *, actor, reason):
        return self._record({"capability": capability}, list(providers), actor, reason)

    monkeypatch.setattr(Controls, "set_provider_routing", broken)
    assert "runbook_steps_applied" in violated("rb09_provider_outage", tmp_path)


def test_an_audit_event_outside_the_contract_is_caught_by_the_audit_invariant(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.toolgate_client ToolGate.call__mutmut_34: phase "XXattemptXX"
    def make(orig):
        def record(self, **kw):
            if kw.get("action") == "tool.call" and kw.get("phase") == "attempt":
                kw["phase"] = "XXattemptXX"
            return orig(self, **kw)

        return record

    wrap(monkeypatch, AuditLog, "record", make)
    assert "every_side_effect_audited" in violated("rb08_tool_error", tmp_path)


def test_a_5xx_read_as_an_expired_token_is_caught_by_the_transient_outage_check(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.lanes.api ApiLane.error_for__mutmut_4 (``s != 401``): every 503 of the
    # outage became an authentication failure, and six publishes were lost instead of retried
    def make(orig):
        def error_for(self, r, *, mutating):
            if r.status_code >= 500:
                return AuthFailed(f"{self.platform}.unauthorized: 401")
            return orig(self, r, mutating=mutating)

        return error_for

    wrap(monkeypatch, ApiLane, "error_for", make)
    assert "every_job_terminal_after_healing" in violated("rb02_publish_outage", tmp_path)


def test_a_failed_tool_call_left_unaudited_is_caught_as_an_attempt_without_outcome(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.toolgate_client ToolGate.call__mutmut_55: ``phase="outcome"`` dropped
    # from the failure's audit call, which then raised TypeError: no outcome, the job retried
    def make(orig):
        def record(self, **kw):
            if kw.get("action") == "tool.call" and kw.get("outcome") == "failed":
                raise TypeError("record() missing 1 required keyword-only argument: 'phase'")
            return orig(self, **kw)

        return record

    wrap(monkeypatch, AuditLog, "record", make)
    assert "every_side_effect_audited" in violated("rb08_tool_error", tmp_path)


def test_a_linkedin_post_not_yet_published_read_as_live_is_caught_by_verification(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.lanes.linkedin LinkedInLane.verify__mutmut_29: the lookup reads another
    # key than ``lifecycleState``, so every post the lookup returns counts as PUBLISHED — one
    # LinkedIn still processes (PUBLISH_REQUESTED) or failed to publish (PUBLISH_FAILED) too
    def make(orig):
        async def verify(self, cred, resource_id, scope):
            look = await orig(self, cred, resource_id, scope)
            # a 200 with another lifecycleState is the only ``Lookup(False)`` with a permalink
            if look.visible is False and look.permalink is not None:
                return dataclasses.replace(look, visible=True)
            return look

        return verify

    wrap(monkeypatch, LinkedInLane, "verify", make)
    assert "no_unverified_publish_reported_live" in violated(
        "rb03_post_invisible_linkedin", tmp_path
    )


def test_a_linkedin_post_created_in_another_lifecycle_state_is_caught(monkeypatch, tmp_path):
    # mutmut's sandbox.lanes.linkedin LinkedInLane.publish__mutmut_27: the create body says
    # ``"lifecycleState": "XXPUBLISHEDXX"``; LinkedIn refuses a value outside its enum (422)
    def make(orig):
        async def send(self, method, path, cred, scope, **kw):
            body = kw.get("json")
            if method == "POST" and path == "/rest/posts" and isinstance(body, dict):
                kw["json"] = {**body, "lifecycleState": "XXPUBLISHEDXX"}
            return await orig(self, method, path, cred, scope, **kw)

        return send

    wrap(monkeypatch, LinkedInLane, "send", make)
    assert "every_job_terminal_after_healing" in violated("rb02_publish_outage", tmp_path)


def test_an_x_dm_whose_sender_is_lost_is_caught_as_a_lost_dm(monkeypatch, tmp_path):
    # mutmut's sandbox.lanes.x XLane.list_inbound__mutmut_178: ``str(e.get("sender_id"))`` →
    # ``str(None)``: every inbound DM's author is "None", so the engine answers nobody (X refuses
    # the participant id "None") and the own-message guard cannot recognise the account's own DMs
    def make(orig):
        async def list_inbound(self, cred, scope, **kw):
            items = await orig(self, cred, scope, **kw)
            return [
                dataclasses.replace(i, author_id="None") if i.kind == "dm" else i for i in items
            ]

        return list_inbound

    wrap(monkeypatch, XLane, "list_inbound", make)
    assert "every_job_terminal_after_healing" in violated("rb10_engagement_freeze", tmp_path)


def test_an_engagement_mode_skip_that_raises_is_caught_as_a_failed_poll(monkeypatch, tmp_path):
    # mutmut's sandbox.engagement EngagementEngine._consider__mutmut_107: ``self._skip(item,
    # f"mode {mode}")`` (an argument dropped) raises TypeError on every item a mode holds back:
    # the poll fails, and the items after it in the poll are never considered
    def make(orig):
        def _skip(self, item, account, reason):
            if reason.startswith("mode "):
                raise TypeError("_skip() missing 1 required positional argument: 'reason'")
            return orig(self, item, account, reason)

        return _skip

    wrap(monkeypatch, EngagementEngine, "_skip", make)
    assert "every_job_terminal_after_healing" in violated("ctl_modes", tmp_path)


def test_client_token_holds_of_calls_in_flight_left_uncounted_are_caught(monkeypatch, tmp_path):
    # mutmut's sandbox.budget Budget.check__mutmut_41: ``cl.tokens - hct``: the token estimates
    # of a client's calls in flight are subtracted from its spend instead of added, so the more
    # completions are on the wire, the more the client may start after its budget is used up
    assert judged("rb12_spend_in_flight", tmp_path / "healthy")["spend_within_budget"] == "held"

    def make(orig):
        def check(self, client_id, episode_id, *, tokens=0, usd=0.0):
            key = ("client", client_id)
            held = self.held.get(key)
            if held is not None:
                self.held[key] = (-held[0], held[1])
            try:
                return orig(self, client_id, episode_id, tokens=tokens, usd=usd)
            finally:
                if held is not None:
                    self.held[key] = held

        return check

    wrap(monkeypatch, Budget, "check", make)
    assert "spend_within_budget" in violated("rb12_spend_in_flight", tmp_path / "slip")


class _LookupLost(dict[str, tuple[float, float]]):
    """The price table with its lookup broken: every ``get`` answers the fallback."""

    def get(self, key, default=None):  # type: ignore[override]
        return default


def test_every_model_priced_at_the_fallback_is_caught_on_a_known_model(monkeypatch, tmp_path):
    # mutmut's sandbox.budget price__mutmut_8: ``PRICES_PER_MTOK.get(None, UNKNOWN_MODEL_PRICE)``:
    # every model is priced as one the table does not know, at its dearest ($15 / $75 per million
    # tokens). On gpt-4o ($2.50 / $10) the platform counts six times what OpenAI bills, says so in
    # the audit as if it were the bill, and refuses calls the budget still had room for (the judge
    # reads the fakes' bill, never the platform's price). Before the fallback was the dearest
    # price, the same slip priced everything at $1 / $4 and overspent: that was caught too.
    assert (
        judged("rb12_premium_model_budget", tmp_path / "healthy")["budgets_used_in_full"] == "held"
    )
    monkeypatch.setattr(budget, "PRICES_PER_MTOK", _LookupLost(budget.PRICES_PER_MTOK))
    assert budget.price("gpt-4o", 1_000_000, 0) == 15.0  # the slip is in place
    got = violated("rb12_premium_model_budget", tmp_path / "slip")
    assert {"budgets_used_in_full", "audit_proofs_match_the_fakes"} <= set(got), got


def test_an_instagram_call_count_left_unread_is_caught_by_the_accounts_own_limit(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.lanes.instagram InstagramLane._usage__mutmut_34: ``"call_count"`` read
    # under another key: of x-business-use-case-usage only total_cputime and total_time count.
    # An account whose calls, not their cost, near its limit is not slowed down, and its own
    # throttle (code 80002) answers the campaign burst
    got = judged("rb05_instagram_call_budget", tmp_path / "healthy")
    assert got["rate_within_platform_limits"] == "held"

    def make(orig):
        def _usage(self, r):
            raw = r.headers.get("x-business-use-case-usage")
            if raw:
                usage = json.loads(raw)
                for entries in usage.values():
                    for e in entries:
                        e.pop("call_count", None)
                headers = httpx.Headers(r.headers)
                headers["x-business-use-case-usage"] = json.dumps(usage)
                r = httpx.Response(r.status_code, headers=headers)
            return orig(self, r)

        return _usage

    wrap(monkeypatch, InstagramLane, "_usage", make)
    assert "rate_within_platform_limits" in violated(
        "rb05_instagram_call_budget", tmp_path / "slip"
    )


def test_a_mode_reset_that_fails_on_a_scope_never_changed_breaks_the_drill(monkeypatch, tmp_path):
    # `self.modes.pop(key)` without a default: "make sure client 3 is on auto" raises, and the
    # operator's runbook step fails; the drill is an error (exit 3), not `held`
    def make(orig):
        def set_mode(self, mode, *, client_id=None, platform=None, actor, reason):
            if mode == "auto" and (client_id, platform) not in self.modes:
                raise KeyError((client_id, platform))
            return orig(
                self, mode, client_id=client_id, platform=platform, actor=actor, reason=reason
            )

        return set_mode

    wrap(monkeypatch, Controls, "set_mode", make)
    result = run_drill(
        load_scenario(ROOT / "scenarios" / "ctl_modes.yaml"),
        DrillOptions(reports_dir=tmp_path, suffix="-slip"),
    )
    assert result.verdict_json["verdict"] == "error"
    assert "mode.set" in str(result.verdict_json.get("error")), result.verdict_json.get("error")


def test_a_lane_release_the_runner_does_not_listen_to_is_caught(monkeypatch, tmp_path):
    # the runner re-queues parked jobs on the control changes it listens to; a developer adds the
    # lane read-only control and forgets to add it there: what the read-only lane refused stays
    # blocked after the lane is released (ctl_kill_switch_scopes masks it: a later kill switch
    # change re-queues them anyway; ctl_modes releases the lane last)
    def make(orig):
        def on_control(self, ch):
            if ch.control != "lane_read_only":
                orig(self, ch)

        return on_control

    wrap(monkeypatch, Runner, "_on_control", make)
    assert "every_job_terminal_after_healing" in violated("ctl_modes", tmp_path)


def test_a_client_budget_rebuilt_from_the_platform_wide_one_is_caught(monkeypatch, tmp_path):
    # set_budget builds a client's budget from the platform-wide defaults on every change instead
    # of from the client's own: setting client_tokens silently drops the client_usd cap an
    # operator set five minutes earlier (the platform reports its own mistake as the budget)
    assert judged("rb12_cost_runaway", tmp_path / "healthy")["controls_as_requested"] == "held"

    def make(orig):
        def set_budget(self, *, client_id=None, **kw):
            if client_id is not None:
                self.client_budgets.pop(client_id, None)
            return orig(self, client_id=client_id, **kw)

        return set_budget

    wrap(monkeypatch, Controls, "set_budget", make)
    assert "controls_as_requested" in violated("rb12_cost_runaway", tmp_path / "slip")


def test_a_mode_stored_under_a_swapped_scope_is_caught_by_controls_as_requested(
    monkeypatch, tmp_path
):
    # the mode of (client, platform) stored as (platform, client): the change the platform
    # reports says what was asked, its control state (and what it enforces) does not
    def make(orig):
        def set_mode(self, mode, *, client_id=None, platform=None, actor, reason):
            change = orig(
                self, mode, client_id=client_id, platform=platform, actor=actor, reason=reason
            )
            if (client_id, platform) in self.modes and client_id != platform:
                self.modes[(platform, client_id)] = self.modes.pop((client_id, platform))
            return change

        return set_mode

    wrap(monkeypatch, Controls, "set_mode", make)
    assert "controls_as_requested" in violated("ctl_modes", tmp_path)


def test_a_min_interval_kept_per_platform_but_read_per_account_is_caught(monkeypatch, tmp_path):
    # the pacer stores the next allowed time under the platform and reads it by account: the
    # Ops Lead's min_interval_s and jitter never apply, an account posts back to back
    assert (
        judged("rb05_rate_limit_storm_instagram", tmp_path / "healthy")["pacing_in_force"] == "held"
    )

    def make(orig):
        async def acquire(self, platform, account_id, action):
            await orig(self, platform, account_id, action)
            if account_id in self._next_ok:
                self._next_ok[platform] = self._next_ok.pop(account_id)

        return acquire

    wrap(monkeypatch, Pacer, "acquire", make)
    assert "pacing_in_force" in violated("rb05_rate_limit_storm_instagram", tmp_path / "slip")


# --- audit proofs against the fakes' ledger and journal (docs/mutation.md, gaps3) -------------


def test_an_x_permalink_written_with_the_at_sign_is_caught_by_the_audit_proofs(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.lanes.x XLane.verify (``handle.lstrip('@')`` → ``rstrip``) and
    # find_published (the permalink): the proof of every verified X post links
    # ``https://x.com/@acme_x/status/…``, a page x.com does not have; no judge read permalinks
    healthy = judged("rb04_token_expiry", tmp_path / "healthy")
    assert healthy["audit_proofs_match_the_fakes"] == "held"

    def make(orig):
        async def verify(self, cred, resource_id, scope):
            look = await orig(self, cred, resource_id, scope)
            if look.permalink:
                handle = cred.account.handle.lstrip("@")
                wrong = look.permalink.replace(f"/{handle}/", f"/@{handle}/")
                return dataclasses.replace(look, permalink=wrong)
            return look

        return verify

    wrap(monkeypatch, XLane, "verify", make)
    assert "audit_proofs_match_the_fakes" in violated("rb04_token_expiry", tmp_path / "slip")


def test_an_instagram_lookup_without_the_permalink_field_is_caught_by_the_audit_proofs(
    monkeypatch, tmp_path
):
    # ``fields=id,caption,timestamp``: the lookup no longer asks for ``permalink``, so every post
    # is claimed live with ``permalink: null`` — the operator has nothing to click
    healthy = judged("rb04_token_expiry_instagram", tmp_path / "healthy")
    assert healthy["audit_proofs_match_the_fakes"] == "held"

    def make(orig):
        async def send(self, method, path, cred, scope, **kw):
            params = kw.get("params")
            if isinstance(params, dict) and "permalink" in str(params.get("fields", "")):
                fields = [f for f in str(params["fields"]).split(",") if f != "permalink"]
                kw["params"] = {**params, "fields": ",".join(fields)}
            return await orig(self, method, path, cred, scope, **kw)

        return send

    wrap(monkeypatch, InstagramLane, "send", make)
    got = violated("rb04_token_expiry_instagram", tmp_path / "slip")
    assert "audit_proofs_match_the_fakes" in got


def test_a_linkedin_request_id_of_another_request_is_caught_by_the_audit_proofs(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.lanes.linkedin LinkedInLane.publish/reply (the request id of the proof):
    # the lane keeps the last ``x-li-uuid`` it saw on itself and a concurrent request overwrites
    # it, so a proof names another request than the one that made the post (the support ticket
    # for a lost post then asks LinkedIn about the wrong request)
    healthy = judged("rb05_rate_limit_storm_linkedin", tmp_path / "healthy")
    assert healthy["audit_proofs_match_the_fakes"] == "held"
    seen: list[str] = []

    def make(orig):
        async def publish(self, cred, text, scope, *, media_url=None):
            res = await orig(self, cred, text, scope, media_url=media_url)
            previous = seen[-1] if seen else res.request_id
            if res.request_id:
                seen.append(res.request_id)
            return dataclasses.replace(res, request_id=previous)

        return publish

    wrap(monkeypatch, LinkedInLane, "publish", make)
    got = violated("rb05_rate_limit_storm_linkedin", tmp_path / "slip")
    assert "audit_proofs_match_the_fakes" in got


def test_a_retry_without_retry_after_that_raises_is_caught_by_a_slow_instagram_container(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.runner Runner._retry__mutmut_54: ``retry_after is not None or not
    # defects.on(...)`` — a failure that is no outage and carries no Retry-After reaches
    # ``max(delay, None)`` and the runner's retry path raises TypeError: the job is left
    # ``running`` forever. No drill retried such a failure; rb02_publish_outage now has Instagram
    # containers that stay IN_PROGRESS longer than one attempt polls them
    got = judged("rb02_publish_outage", tmp_path / "healthy")
    assert got["every_job_terminal_after_healing"] == "held"

    def make(orig):
        def _retry(self, job, error, retry_after, *, outage=False):
            policy = self.settings.retry
            since = job.outage_since
            in_window = (
                outage
                and policy.outage_window_s > 0
                and (since is None or self.now() - since < policy.outage_window_s)
            )
            if not in_window and job.attempts < policy.max_attempts and retry_after is None:
                raise TypeError("'>' not supported between instances of 'NoneType' and 'float'")
            return orig(self, job, error, retry_after, outage=outage)

        return _retry

    wrap(monkeypatch, Runner, "_retry", make)
    assert "every_job_terminal_after_healing" in violated("rb02_publish_outage", tmp_path / "slip")


def test_a_refused_side_effects_cap_unit_taken_twice_is_caught_by_cap_liveness(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.pacing Pacer.uncount__mutmut_7: ``self._daily[key] += 1``: a side effect
    # the gate refuses after pacing let it through (a kill switch engaged while it waited) takes
    # a second daily-cap unit instead of giving its unit back, so the cap bites early and posts
    # wait for midnight that the cap allowed today
    got = judged("ctl_daily_caps", tmp_path / "healthy")
    assert got["daily_caps_used_in_full"] == "held"

    def uncount(self, account_id, action):
        if action is not None:
            key = (account_id, action, int(self.now() // 86_400.0))
            if self._daily.get(key):
                self._daily[key] += 1

    monkeypatch.setattr(Pacer, "uncount", uncount)
    assert "daily_caps_used_in_full" in violated("ctl_daily_caps", tmp_path / "slip")


def test_a_scheduled_job_spelled_outside_the_contract_is_caught(monkeypatch, tmp_path):
    # mutmut's sandbox.jobs JobStore.submit__mutmut_42 (``"scheduled"`` spelled otherwise): a job
    # submitted ahead of its run_at is in a state the runner does not know, so it never runs.
    # No drill submitted a job ahead of time; rb02_publish_outage's lunch schedule is now a
    # content calendar (posts submitted ten minutes before they are due)
    got = judged("rb02_publish_outage", tmp_path / "healthy")
    assert got["jobs_within_the_contract"] == "held"
    real = jobs_module.JobRecord

    def misspelled(**kw):
        if kw.get("state") == "scheduled":
            kw["state"] = "SCHEDULED"
        return real(**kw)

    monkeypatch.setattr(jobs_module, "JobRecord", misspelled)
    got_slip = violated("rb02_publish_outage", tmp_path / "slip")
    assert {"jobs_within_the_contract", "every_job_terminal_after_healing"} <= got_slip


def test_a_malformed_body_on_a_read_that_raises_is_caught_as_a_lost_publish(monkeypatch, tmp_path):
    # mutmut's sandbox.lanes.api ApiLane.json_of__mutmut_4 (``_outage(mutating)``: an argument
    # dropped): a body that does not parse raises TypeError instead of a transient outage, so it
    # is retried as an internal error that uses up attempts; Instagram's container polls that get
    # cut-short bodies for 15 minutes in rb03_lookup_errors dead-letter their publishes
    got = judged("rb03_lookup_errors", tmp_path / "healthy")
    assert got["every_job_terminal_after_healing"] == "held"

    def make(orig):
        def json_of(self, r, *, mutating):
            try:
                r.json()
            except ValueError:
                raise TypeError("_outage() missing 1 required positional argument") from None
            return orig(self, r, mutating=mutating)

        return json_of

    wrap(monkeypatch, ApiLane, "json_of", make)
    got_slip = violated("rb03_lookup_errors", tmp_path / "slip")
    assert "every_job_terminal_after_healing" in got_slip


def test_a_tool_calls_request_id_header_left_unread_is_caught_with_a_gateway_without_meta(
    monkeypatch, tmp_path
):
    # mutmut's sandbox.toolgate_client _EgressBridge.handle_async_request__mutmut_29 (the
    # ``b'"tools/call"'`` test never matches) and its kin (_call_47, _find_6): the x-request-id
    # of the tools/call answer is never kept, and the proof falls back to the result's
    # ``_meta.request_id`` — which our gateway filled, so nothing showed. rb08_kb_schema_drift's
    # upgraded gateway no longer fills it: tool calls claimed without the request that made them
    got = judged("rb08_kb_schema_drift", tmp_path / "healthy")
    assert got["every_side_effect_audited"] == "held"

    def make(orig):
        async def handle_async_request(self, request):
            resp = await orig(self, request)
            self.last_call_request_id = None
            return resp

        return handle_async_request

    wrap(monkeypatch, toolgate_client._EgressBridge, "handle_async_request", make)
    assert "every_side_effect_audited" in violated("rb08_kb_schema_drift", tmp_path / "slip")


def test_a_dead_lettering_that_raises_is_caught_as_work_left_behind(monkeypatch, tmp_path):
    # the dead-letter path raises before the job's state is written (a metric label misspelt,
    # a hook's signature changed): the job stays "running" forever, nothing says it failed —
    # caught by the invariant judged in every drill, in a scenario that does not list
    # every_job_terminal_after_healing
    def make(orig):
        def _finish(self, job, state, error):
            if state == "dead_letter":
                raise KeyError("dead_letters")
            return orig(self, job, state, error)

        return _finish

    wrap(monkeypatch, Runner, "_finish", make)
    verdicts = judged("combo_rate_limit_token_expiry", tmp_path)
    assert "every_job_terminal_after_healing" not in verdicts
    assert verdicts["no_job_left_behind"] == "violated"


def test_a_crash_restart_that_requeues_only_first_tries_is_caught_as_work_left_behind(
    monkeypatch, tmp_path
):
    # bug 220's slip: a restart requeues only the running jobs that never failed before, and a
    # crash (platform.restart with crash: true) stores its running jobs as running — the video
    # generation caught on its retry stays "running" for ever
    from sandbox import storage

    def make(orig):
        def load(self, jobs, audit, controls=None):
            stranded = [r for r in self.jobs() if r.state == "running" and r.attempts]
            out = orig(self, jobs, audit, controls)
            for rec in stranded:
                jobs.get(rec.id).state = "running"
            return out

        return load

    wrap(monkeypatch, storage.SqliteStore, "load", make)
    assert "every_job_terminal_after_healing" in violated("rb02_deploy_during_outage", tmp_path)


def test_a_failed_render_replayed_under_its_key_is_caught_as_a_video_lost(monkeypatch, tmp_path):
    # the platform submits every render of a video job under one Idempotency-Key: after a render
    # ended "failed", the retry gets the same failed render back and burns its attempts
    from sandbox import media_client

    def make(orig):
        async def render(self, prompt, **kw):
            # "<episode>:<job>", without the ":<n>" a retry after a failed render adds
            kw["idempotency_key"] = ":".join(str(kw["idempotency_key"]).split(":")[:2])
            return await orig(self, prompt, **kw)

        return render

    wrap(monkeypatch, media_client.MediaClient, "render", make)
    assert "every_job_terminal_after_healing" in violated("rb02_deploy_during_outage", tmp_path)


def test_a_post_that_spends_an_attempt_on_a_hold_it_never_sent_into_is_caught_as_lost(
    monkeypatch, tmp_path
):
    # the lane's own throttle hold begins while a post's container is polled (another job's
    # answer crossed a usage tier): counted as a failed attempt instead of deferred, a squeeze
    # of short holds dead-letters posts — what the platform did before this was judged
    async def publish(self, cred, text, scope, *, media_url=None):
        held = self._held_for(cred)
        if held > 0:
            raise self._deferred(cred, held)
        return await self._publish(cred, text, scope, media_url)

    monkeypatch.setattr(InstagramLane, "publish", publish)
    assert "every_job_terminal_after_healing" in violated("rb05_instagram_call_budget", tmp_path)


def test_a_token_hold_read_from_an_absolute_reset_is_caught_and_the_drill_still_ends(
    monkeypatch, tmp_path
):
    # X's 429 without Retry-After names the window's end as a unix time; read as a wait, the
    # account's token and identity holds land decades ahead. The platform then never answers
    # the canary: the drill must not walk its clock there (it did, for hours of wall time) —
    # the check fails with that reason and the operator's canary is judged unanswered
    from sandbox.keyring import Keyring

    def make(orig):
        def retry_after(self, r):
            reset = r.headers.get("x-rate-limit-reset", "")
            if r.headers.get("retry-after") is None and reset.isdigit():
                return max(1.0, float(reset))
            return orig(self, r)

        return retry_after

    wrap(monkeypatch, Keyring, "_retry_after", make)
    result = run_drill(
        load_scenario(ROOT / "scenarios" / "rb01_x_wrong_user_after_refresh.yaml"),
        DrillOptions(reports_dir=tmp_path, suffix="-slip"),
    )
    v = result.verdict_json
    assert v["verdict"] == "violated", v.get("error")
    assert "operator_calls_answered" in {
        i["name"] for i in v["invariants"] if i["verdict"] == "violated"
    }
    assert result.report_dir is not None
    timeline = (result.report_dir / "evidence" / "timeline.jsonl").read_text()
    assert "canary: the platform gave no answer within 1h" in timeline
    assert result.simulated_s < 6 * 3600  # the clock stopped near the drill, not decades on
