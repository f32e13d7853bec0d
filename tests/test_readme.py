"""README.md stays true: every scenario, fault kind, defect and invariant the code has is in it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _missing(names: list[str]) -> list[str]:
    return [n for n in names if f"`{n}`" not in README]


def test_every_scenario_is_in_the_readme() -> None:
    ids = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    assert ids, "no scenarios found"
    assert not _missing(ids), f"README.md lacks scenarios: {_missing(ids)}"


def test_every_fault_kind_is_in_the_readme() -> None:
    from fakes.core.faults import FAULT_KINDS

    assert not _missing(sorted(FAULT_KINDS)), (
        f"README.md lacks fault kinds: {_missing(sorted(FAULT_KINDS))}"
    )


def test_every_defect_is_in_the_readme() -> None:
    import sandbox.platform  # noqa: F401  (registers the component defects)
    from sandbox.defects import DEFECTS

    for mod in (
        "sandbox.generation",
        "sandbox.engagement",
        "sandbox.toolgate_client",
        "sandbox.lanes.browser",
    ):
        __import__(mod)
    assert not _missing(sorted(DEFECTS)), f"README.md lacks defects: {_missing(sorted(DEFECTS))}"


def test_every_invariant_is_in_the_readme() -> None:
    from harness.judge.invariants import INVARIANTS

    assert not _missing(sorted(INVARIANTS)), (
        f"README.md lacks invariants: {_missing(sorted(INVARIANTS))}"
    )


@pytest.mark.parametrize("code", ["| 0 |", "| 1 |", "| 2 |", "| 3 |"])
def test_the_exit_codes_are_documented(code: str) -> None:
    assert code in README
