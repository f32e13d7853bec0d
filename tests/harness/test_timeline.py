"""The timeline: append-only, validated kinds and data, a hash stable under rebuild."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from _recordkit import T0, record
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.judge.invariants import REGISTRY, evaluate
from harness.judge.timeline import Timeline, TimelineError, format_offset

atoms = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
events = st.lists(
    st.tuples(
        st.floats(0, 10**5),
        st.sampled_from(
            ["fault.injected", "alert.fired", "kill_switch.engaged", "runbook_step.completed"]
        ),
        st.sampled_from(["drill", "platform", "ops-lead (auto)"]),
        st.text(max_size=20),
        st.dictionaries(st.text(min_size=1, max_size=5), atoms, max_size=3),
    ),
    max_size=20,
)


def build(items) -> Timeline:
    tl = Timeline()
    for t, kind, actor, summary, data in items:
        tl.append(T0 + t, kind, actor, summary, data)
    return tl


@pytest.mark.slow
@given(events)
@settings(max_examples=60, deadline=None)
def test_the_timeline_hash_is_stable_under_rebuild_and_a_jsonl_round_trip(items):
    a, b = build(items), build(items)
    assert a.sha256() == b.sha256()
    assert Timeline.from_jsonl(a.to_jsonl()).sha256() == a.sha256()


def test_any_change_to_an_event_changes_the_hash():
    a = build([(1.0, "alert.fired", "monitoring", "x", {"n": 1})])
    b = build([(1.0, "alert.fired", "monitoring", "x", {"n": 2})])
    assert a.sha256() != b.sha256()


def test_a_kind_that_is_not_subject_dot_participle_is_refused_with_the_value():
    with pytest.raises(
        TimelineError, match=r"kind 'KillSwitch' is not '<subject>.<past participle>'"
    ):
        Timeline().append(T0, "KillSwitch", "drill", "x")


def test_data_that_is_not_json_atoms_is_refused_with_the_path():
    with pytest.raises(TimelineError, match=r"data\.when: .*is not a JSON atom"):
        Timeline().append(T0, "drill.started", "drill", "x", {"when": object()})


_LINE = '{"seq":1,"t":1.5,"kind":"drill.started","actor":"drill","summary":"x"'


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"seq":"1","t":1.5,"kind":"drill.started","actor":"drill"}',
            r"event seq '1' is not an integer",
        ),
        (
            '{"seq":1,"t":"soon","kind":"drill.started","actor":"drill"}',
            r"t 'soon' of event 1 is not a unix time",
        ),
        (_LINE + ',"data":[1,2]}', r"data \[1, 2\] of event 1 is not a JSON object"),
        (_LINE + ',"evidence":7}', r"evidence 7 of event 1 is not a string"),
        ('{"seq":1,"t":1.5,"actor":"drill"}', r"kind 'None' is not '<subject>.<past participle>'"),
    ],
)
def test_a_jsonl_line_with_a_field_of_the_wrong_type_is_refused_with_the_value(
    line: str, message: str
) -> None:
    assert Timeline.from_jsonl(_LINE + "}\n").sha256()  # the well-formed line loads
    with pytest.raises(TimelineError, match=message):
        Timeline.from_jsonl(line + "\n")


def test_tuples_and_mappings_in_data_are_stored_as_plain_json_and_hash_alike():
    a = build(
        [
            (
                1.0,
                "fault.injected",
                "drill",
                "x",
                {"match": ("a", "b"), "params": MappingProxyType({"n": 1})},
            )
        ]
    )
    b = build([(1.0, "fault.injected", "drill", "x", {"match": ["a", "b"], "params": {"n": 1}})])
    assert a[0].data == {"match": ["a", "b"], "params": {"n": 1}}
    assert type(a[0].data["params"]) is dict
    assert a.sha256() == b.sha256()


def test_offsets_render_as_t_plus():
    assert [format_offset(s) for s in (41, 1205, 3725, None)] == [
        "T+41s",
        "T+20m05s",
        "T+1h02m05s",
        "T+?",
    ]


rows = st.fixed_dictionaries(
    {
        "seq": st.integers(1, 50),
        "t": st.floats(T0, T0 + 3600),
        "fake": st.sampled_from(["x", "instagram", "openai"]),
        "action": st.sampled_from(["post.created", "reply.created", "llm.completion", "dm.sent"]),
        "account_id": st.sampled_from(["acme-x", "northwind-x", None]),
        "tenant_id": st.sampled_from(["acme", None]),
        "credential_fp": st.sampled_from(["fp_acme", "fp_north", None]),
        "request_id": st.text(max_size=4),
        "resource_id": st.sampled_from(["r1", "r2", None]),
        "content_hash": st.sampled_from(["h", None]),
        "in_reply_to": st.sampled_from(["c1", "r1", None]),
        "cost_usd": st.floats(0, 5),
        "tokens_in": st.integers(0, 99),
    }
)
audits = st.fixed_dictionaries(
    {
        "seq": st.integers(1, 50),
        "t": st.floats(T0, T0 + 3600),
        "event_id": st.text(max_size=4),
        "client_id": st.sampled_from(["acme", "northwind"]),
        "platform": st.sampled_from(["x", "openai"]),
        "account_id": st.sampled_from(["acme-x", None]),
        "action": st.sampled_from(["post.create", "llm.complete"]),
        "phase": st.sampled_from(["attempt", "outcome"]),
        "outcome": st.sampled_from(["success", "failed", None]),
        "job_id": st.sampled_from(["j1", "j2", None]),
        "trace_id": st.just("0" * 32),
        "proof": st.fixed_dictionaries(
            {"resource_id": st.sampled_from(["r1", None]), "verified": st.booleans()}
        ),
    }
)


@pytest.mark.slow
@given(st.lists(rows, max_size=8), st.lists(audits, max_size=8), st.booleans())
@settings(max_examples=80, deadline=None)
def test_no_invariant_raises_on_an_arbitrary_well_typed_record(ledger, audit, killed):
    controls = [
        {
            "seq": 1,
            "t": T0 + 100,
            "actor": "ops",
            "reason": "r",
            "control": "kill_switch",
            "scope": {},
            "value": True,
        }
    ]
    rec = record(
        ledger=ledger,
        audit=audit,
        control_changes=controls if killed else [],
        budgets={"client_usd": 1.0},
        secrets=("s3cr3t",),
        jobs=[{"id": "j1", "state": "running"}],
        fault_rules=[{"id": "f1", "kind": "toolgate.unavailable", "hits": 1}],
        metrics_samples=[(T0 + 10, {"queue_oldest_age_s": 5.0})],
        fault_window=(T0, T0 + 5),
    )
    for name in REGISTRY:
        result = evaluate(name, rec)
        assert result.verdict in ("held", "violated", "not_applicable")
        assert "s3cr3t" not in result.detail
