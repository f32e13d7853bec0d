"""The invariant machinery: scope after containment, the registry, parameter checks and the
catalogue. (The invariants themselves: ``test_invariants_safety``, ``_pacing``, ``_recovery``
and ``_controls``.)"""

from __future__ import annotations

import pytest
from _recordkit import aud, intent, kill, led, record

from harness.judge.invariants import REGISTRY, InvariantError, catalogue, evaluate, invariant


def judge(name: str, rec, **spec):
    return evaluate({"name": name, **spec}, rec)


# --- scope, registry, params -----------------------------------------------------------


def test_after_containment_scope_judges_only_later_violations_against_the_blast_radius():
    rec = record(
        ledger=[
            led(1, 60, account="northwind-x"),
            led(2, 700, account="northwind-x"),
            led(3, 800, account="northwind-x"),
        ],
        audit=[aud(i, 61, job=f"j-{i}", resource=f"r{i}") for i in (1, 2, 3)],
        workload=[intent(f"j-{i}") for i in (1, 2, 3)],
        control_changes=[kill(1, 600, True, platform="instagram")],
    )
    loose = judge(
        "every_side_effect_on_intended_account", rec, scope="after_containment", blast_radius=2
    )
    assert loose.verdict == "held"
    assert loose.detail.startswith(
        "2 violation(s) after containment at T+10m00s within the blast-radius limit of 2"
    )
    tight = judge(
        "every_side_effect_on_intended_account", rec, scope="after_containment", blast_radius=1
    )
    assert tight.verdict == "violated"
    assert tight.detail.endswith("(2 after containment at T+10m00s; blast-radius limit 1)")


def test_an_unknown_invariant_name_suggests_the_closest():
    with pytest.raises(
        InvariantError,
        match="'no_side_effect_while_killed' is not known; did you mean 'no_side_effects_while_killed'",
    ):
        judge("no_side_effect_while_killed", record())


def test_a_misspelt_parameter_names_the_invariant_the_value_and_the_valid_keys():
    with pytest.raises(
        InvariantError,
        match=r"invariant no_side_effects_while_killed: params.grace: .*got 3.*valid params: actions, grace_s; did you mean 'grace_s'",
    ):
        judge("no_side_effects_while_killed", record(), params={"grace": 3})


def test_the_registry_refuses_a_duplicate_and_names_both_definitions():
    with pytest.raises(
        InvariantError,
        match=r"defined twice: harness.judge.invariants.safety.no_side_effects_while_killed and",
    ):

        @invariant()
        def no_side_effects_while_killed(record, p):
            """A duplicate."""


def test_every_invariant_has_a_claim_and_the_catalogue_lists_all_seventy_three():
    names = [c["name"] for c in catalogue()]
    assert len(names) == 75
    assert all(c["claim"] for c in catalogue())
    assert set(names) == set(REGISTRY)
