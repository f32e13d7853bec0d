"""Telemetry.snapshot(): the samples Prometheus collects, read from the values kept beside them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from sandbox.telemetry import MAX_TOTAL, Telemetry

NAMES = ["publish_attempts", "queue_depth", "queue_oldest_age_s", "tokens", "spend_usd", "blocked"]
LABELS = ["x", "instagram", 'li nked"in', "acme\\1", "ü"]


def _from_exposition(tm: Telemetry) -> dict[str, float]:
    """What a Prometheus scrape of ``GET /metrics`` says, flattened as ``snapshot()`` promises."""
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(tm.exposition().decode()):
        for s in fam.samples:
            if s.name.endswith("_created"):
                continue
            lab = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{lab}}}"] = float(s.value)
            total = s.name
            if total in MAX_TOTAL:
                out[total] = max(out.get(total, 0.0), float(s.value))
            else:
                out[total] = out.get(total, 0.0) + float(s.value)
    return out


ops = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.sampled_from(LABELS),
        st.sampled_from(LABELS),
        st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    ops=ops, actions=st.lists(st.tuples(st.sampled_from(LABELS), st.integers(0, 200)), max_size=10)
)
def test_a_snapshot_says_what_a_scrape_of_the_exposition_says(ops, actions) -> None:
    t = [1000.0]
    tm = Telemetry(lambda: t[0])
    for name, a, b, value in ops:
        fam = getattr(tm, name)
        child = fam.labels(a, b) if len(fam.labelnames) == 2 else fam.labels(a)
        if name.startswith("queue"):
            child.set(value)
        else:
            child.inc(value)
        assert child.get() == pytest.approx(child.value)
    for account, dt in actions:
        t[0] += dt
        tm.action(account, "post")
    snap = tm.snapshot()
    assert snap == pytest.approx(_from_exposition(tm))
    assert set(snap) == set(_from_exposition(tm))


def test_a_counter_refuses_a_negative_step_and_keeps_its_value() -> None:
    tm = Telemetry(lambda: 0.0)
    c = tm.publish_attempts.labels("x")
    c.inc(2)
    with pytest.raises(ValueError):
        c.inc(-1)
    assert tm.snapshot()["publish_attempts_total"] == 2.0
    with pytest.raises(ValueError):
        tm.tokens.labels("openai")  # two label names, one value
