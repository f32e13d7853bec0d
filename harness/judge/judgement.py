"""The judge: turn a drill record into a :class:`~harness.judge.verdict.Verdict`, purely.

Order of precedence: ``error`` (the rehearsal broke: a bad invariant spec, a crash) over
``violated`` (an invariant broke or an expectation was missed) over ``vacuous`` (a reached check
never hit: the fault never fired) over ``held``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .invariants import InvariantError, InvariantResult, InvariantSpec, evaluate
from .metrics import DrillMetrics, compute_metrics
from .record import DrillRecord, scenario_field, scenario_items
from .rows import Json, number
from .timeline import format_offset
from .verdict import ExpectationResult, ReachedResult, Verdict, VerdictName

__all__ = ["STEADY_STATE", "judge", "judge_expectations", "judge_reached"]

#: the reached check every drill with a steady-state phase carries
STEADY_STATE = "steady state: side effects succeeded before the incident"

_TIME_KEYS = ("time_to_detect", "time_to_contain", "time_to_mitigate", "time_to_recover")
_COUNT_KEYS = ("side_effects_after_containment", "side_effects_in_fault_window")


def _seconds(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    from ..durations import parse_duration

    return parse_duration(value)


def _reached_specs(
    record: DrillRecord,
) -> list[tuple[str, str | None, str | None, str | None, int]]:
    """(name, fault kind, fault rule id, probe, min hits) of every reached check."""
    sc = record.scenario
    checks: tuple[object, ...]
    derived = getattr(sc, "reached_checks", None)  # a Scenario's, derived from its faults
    if isinstance(derived, tuple):
        checks = derived
    else:
        # as written, and one per fault kind none of them names (a fault that never fired
        # tested nothing); :meth:`harness.scenario.Scenario.reached_checks` says the same
        written = scenario_items(sc, "reached")
        named = {_text_or_none(c, "fault") for c in written if not isinstance(c, str)}
        named |= {c.partition(" ")[0] for c in written if isinstance(c, str)}
        kinds = dict.fromkeys(
            k
            for f in scenario_items(sc, "faults")
            if (k := str(scenario_field(f, "kind"))) not in named
        )
        checks = (*written, *({"fault": k} for k in kinds))
    out: list[tuple[str, str | None, str | None, str | None, int]] = []
    for c in checks:
        if isinstance(c, str):
            target, _, verb = c.partition(" ")
            fault, probe = (target, None) if verb in ("", "served", "fired") else (None, target)
            out.append((c, fault, None, probe, 1))
            continue
        fault, probe = _text_or_none(c, "fault"), _text_or_none(c, "probe")
        rule = _text_or_none(c, "rule")
        name = scenario_field(c, "name") or (f"{fault} served" if fault else f"{probe} observed")
        need = scenario_field(c, "min_hits", 1)
        need = 1 if need is None else need
        if not isinstance(need, int | str):
            raise TypeError(f"reached check {name}: min_hits {need!r} is not a number")
        out.append((str(name), fault, rule, probe, int(need)))
    return out


def _text_or_none(check: object, key: str) -> str | None:
    value = scenario_field(check, key)
    return None if value is None else str(value)


def judge_reached(record: DrillRecord) -> list[ReachedResult]:
    """Did each fault fire (hits from the fault rules) or each probe show up (timeline, metrics)?

    A check may name one fault ``rule`` (its id) to count only that rule's hits.
    """
    rows = record.fault_rows()
    out = []
    for name, fault, rule, probe, need in _reached_specs(record):
        if fault is not None:
            count = sum(
                int(r.get("hits") or 0)
                for r in rows
                if r.get("kind") == fault and (rule is None or str(r.get("id")) == rule)
            )
        else:
            count = sum(
                1 for e in record.timeline if e.kind == probe or e.data.get("probe") == probe
            )
            if count == 0 and record.metrics_samples:
                last = record.metrics_samples[-1][1].get(str(probe))
                count = int(last or 0)
        out.append(ReachedResult(name=name, hit=count >= need, count=count, min=need))
    # Chaos engineering's first rule: no steady state, no experiment. A platform whose work did
    # not land before the incident began proves nothing about containing it (a dead platform
    # "holds" every invariant), so a failed steady state makes the drill vacuous.
    steady = [e for e in record.timeline if e.kind.startswith("steady_state.")]
    if steady:
        ok = steady[-1].kind == "steady_state.verified"
        out.append(
            ReachedResult(
                name=STEADY_STATE, hit=ok, count=int(number(steady[-1].data.get("succeeded")))
            )
        )
    return out


def _bound(expect: object, key: str) -> int | float | str | None:
    """An expectation's limit: a number or a duration, written bare or as ``{max: …}``."""
    b = scenario_field(expect, key)
    if b is not None and not isinstance(b, int | float | str):
        b = scenario_field(b, "max")
    if b is None or isinstance(b, int | float | str):
        return b
    raise TypeError(f"expect.{key}: {b!r} is no number or duration")


def judge_expectations(record: DrillRecord, metrics: DrillMetrics) -> list[ExpectationResult]:
    """Deadlines (``time_to_*``) and blast-radius limits from the scenario's ``expect``."""
    expect = scenario_field(record.scenario, "expect") or {}
    out = []
    for key in _TIME_KEYS:
        limit = _bound(expect, key)
        if limit is None:
            continue
        lim = _seconds(limit)
        actual = metrics.value(key)
        what = key.replace("_", " ")
        if actual is None:
            out.append(
                ExpectationResult(
                    key,
                    False,
                    None,
                    lim,
                    f"{what} never happened (deadline {format_offset(lim)[2:]})",
                )
            )
        else:
            met = actual <= lim
            verdict = "within" if met else "missed"
            out.append(
                ExpectationResult(
                    key, met, actual, lim, f"{what} {actual:g}s, {verdict} the deadline of {lim:g}s"
                )
            )
    for key in _COUNT_KEYS:
        limit = _bound(expect, key)
        if limit is None:
            continue
        lim_i = int(limit)
        actual_n = metrics.value(key)
        what = key.replace("_", " ")
        if actual_n is None:
            out.append(
                ExpectationResult(
                    key, False, None, lim_i, f"{what}: no containment action was taken"
                )
            )
        else:
            out.append(
                ExpectationResult(
                    key, actual_n <= lim_i, actual_n, lim_i, f"{what}: {actual_n} (limit {lim_i})"
                )
            )
    return out


#: judged in every drill, listed or not (a scenario lists one to give it parameters)
DEFAULT_INVARIANTS: tuple[str, ...] = (
    "action_rate_gauge_truthful",
    "alerts_deduplicated",
    "approvals_let_work_go",
    "audit_proofs_match_the_fakes",
    "auth_failures_alerted",
    "auth_failures_on_the_wire",
    "budgets_used_in_full",
    "controls_as_requested",
    "comments_answered",
    "controls_survive_restart",
    "cooldowns_delay_answers_not_drop_them",
    "dms_answered",
    "engagement_bursts_alerted",
    "engagement_polls_braked",
    "engagement_put_up_for_approval",
    "engagement_reaches_every_account",
    "every_side_effect_audited",
    "guard_refusals_alerted",
    "guard_refusals_stay_refused",
    "held_engagement_answered_after_release",
    "inbox_failures_alerted",
    "inbox_pages_advance",
    "holds_stay_on_their_account",
    "jobs_within_the_contract",
    "kill_switch_gauge_truthful",
    "marked_jobs_left_alone",
    "no_job_left_behind",
    "no_needless_token_refresh",
    "no_placeholder_published",
    "no_reply_while_triggers_off",
    "no_secret_in_artifacts",
    "no_side_effects_while_paused",
    "no_unexpected_errors",
    "no_web_side_effects_after_a_challenge",
    "nothing_reaches_a_host_it_was_not_given",
    "operator_calls_answered",
    "pacing_in_force",
    "pause_holds_only_its_class",
    "publish_failures_alerted",
    "queue_backlog_alerted",
    "queue_metrics_truthful",
    "rate_limits_alerted",
    "refusals_only_while_a_control_holds",
    "refused_tokens_not_resent",
    "requests_traced_to_their_jobs",
    "requests_well_formed",
    "retries_within_policy",
    "runner_concurrency_kept",
    "runbook_steps_applied",
    "side_effects_not_before_due",
    "side_effects_through_the_routed_lane",
    "spend_alerted",
    "tokens_refreshed_before_expiry",
    "usage_caps_lift_with_the_world",
    "tool_followups_submitted",
    "tools_as_the_job_allows",
    "verification_failures_alerted",
)


def _specs(record: DrillRecord, defaults: Sequence[str]) -> list[InvariantSpec]:
    specs = [InvariantSpec.parse(s) for s in scenario_items(record.scenario, "invariants")]
    named = {s.name for s in specs}
    return specs + [InvariantSpec(name=n) for n in defaults if n not in named]


#: the invariants that read ``DrillRecord.artifacts`` (the only field a report's drafts change)
READS_ARTIFACTS = frozenset({"no_secret_in_artifacts"})


def _reusable(
    reuse: Verdict | None, record: DrillRecord, specs: Sequence[InvariantSpec]
) -> list[InvariantResult | None]:
    """For each of ``specs``, its result in ``reuse`` when it stands unchanged, else None.

    Only when ``reuse`` is a verdict of this drill (its id and timeline hash) and judged the
    same specs (one result per spec, same names and scopes, in order) — a spec that failed to
    parse or evaluate there has no result, and then nothing is reused."""
    none: list[InvariantResult | None] = [None] * len(specs)
    if reuse is None or len(reuse.invariants) != len(specs):
        return none
    if reuse.drill_id != record.drill_id or reuse.timeline_sha256 != record.timeline.sha256():
        return none
    same = [(r.name, r.scope, r.max) for r in reuse.invariants]
    if same != [(s.name, s.scope, s.max) for s in specs]:
        return none
    return [None if r.name in READS_ARTIFACTS else r for r in reuse.invariants]


def judge(
    record: DrillRecord,
    *,
    error: str | None = None,
    extra: Mapping[str, Json] | None = None,
    defaults: Sequence[str] = DEFAULT_INVARIANTS,
    reuse: Verdict | None = None,
) -> Verdict:
    """Judge a drill record: invariants, reached checks, expectations, metrics, verdict.

    ``error`` marks a drill that broke as a rehearsal (the verdict is then ``error`` whatever
    else was found). Never raises for a bad invariant spec: that becomes an ``error`` verdict too.
    ``defaults`` are judged besides the scenario's own invariants (a load test, which judges
    only the invariants it names, passes none).

    ``reuse`` is the verdict of this same record before its ``artifacts`` (the report drafts)
    were added: every invariant that does not read artifacts (all but :data:`READS_ARTIFACTS`)
    keeps its result from there instead of being judged again.
    """
    results: list[InvariantResult] = []
    problems = [error] if error else []
    try:
        specs = _specs(record, defaults)
    except InvariantError as e:
        specs, problems = [], [*problems, str(e)]
    for spec, old in zip(specs, _reusable(reuse, record, specs), strict=True):
        if old is not None:
            results.append(old)
            continue
        try:
            results.append(evaluate(spec, record))
        except InvariantError as e:
            problems.append(str(e))
        except Exception as e:  # a crashing checker is a harness error, not a platform failure
            problems.append(f"invariant {spec.name} crashed: {type(e).__name__}: {e}")
    metrics = compute_metrics(record, results)
    reached = judge_reached(record)
    try:
        expectations = judge_expectations(record, metrics)
    except ValueError as e:
        expectations, problems = [], [*problems, f"expect: {e}"]
    verdict: VerdictName = "held"
    if problems:
        verdict = "error"
    elif any(r.verdict == "violated" for r in results) or any(not e.met for e in expectations):
        verdict = "violated"
    elif any(not r.hit for r in reached):
        verdict = "vacuous"
    return Verdict(
        drill_id=record.drill_id,
        scenario=record.scenario_id,
        runbook=record.runbook,
        severity=record.severity,
        seed=record.seed,
        commit=record.commit,
        topology=record.topology,
        mode=record.mode,
        defects=tuple(record.defects),
        verdict=verdict,
        invariants=tuple(results),
        reached=tuple(reached),
        expectations=tuple(expectations),
        metrics=metrics,
        timeline_sha256=record.timeline.sha256(),
        title=record.title,
        incident_types=record.incident_types,
        error="; ".join(problems) or None,
        extra={**_timing(record), **dict(extra or {})},
    )


#: what a drill in scaled time judged by (its verdict says so: a reader weighs "held" with it)
_TIMING_KEYS = ("time_scale", "in_flight_s", "in_flight_floor_s", "clock_skew_s", "loop_lag_s")


def _timing(record: DrillRecord) -> dict[str, Json]:
    """A served or scaled drill's clock and the allowances its judge used (none in virtual time)."""
    got = {k: record.extra.get(k) for k in _TIMING_KEYS}
    return {k: v for k, v in got.items() if isinstance(v, int | float)}
