"""The harness's errors: one root, two families that never blur (bad input → 2, broke → 3)."""

from __future__ import annotations

import pytest

from harness.durations import DurationError
from harness.errors import BadInputError, DrillError, RehearsalError, VibedrillError
from harness.judge.invariants import InvariantError
from harness.judge.timeline import TimelineError
from harness.load.options import LoadError, LoadUsageError
from harness.platform_adapter import BrowserMissingError, PlatformServeUsageError
from harness.runbooks import ActionError, RunbookError
from harness.scenario import ScenarioError


@pytest.mark.parametrize(
    "error",
    [
        ScenarioError,
        RunbookError,
        ActionError,
        DurationError,
        InvariantError,
        TimelineError,
        LoadUsageError,
        PlatformServeUsageError,
    ],
)
def test_bad_input_is_one_family_that_exits_2(error: type[Exception]) -> None:
    assert issubclass(error, BadInputError) and issubclass(error, ValueError)
    assert not issubclass(error, RehearsalError)
    assert error.exit_code == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("error", [DrillError, LoadError, BrowserMissingError])
def test_a_broken_rehearsal_is_the_other_family_that_exits_3(error: type[Exception]) -> None:
    assert issubclass(error, RehearsalError) and not issubclass(error, BadInputError)
    assert error.exit_code == 3  # type: ignore[attr-defined]


def test_both_families_share_one_root() -> None:
    assert issubclass(BadInputError, VibedrillError) and issubclass(RehearsalError, VibedrillError)
