"""The harness's exceptions: one root and two families that never blur.

- :class:`BadInputError` — the user gave something the harness cannot use (a scenario, a
  runbook, a duration, an option): the CLI exits 2 and the message shows the value, where it
  was, and what would be valid.
- :class:`RehearsalError` — the rehearsal itself broke (a harness or fake error, not a platform
  failure): the CLI exits 3 and the drill is judged ``error``; under pytest it is an *error*.

A platform failure is never an exception: it is a violated invariant in the verdict (exit 1).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["BadInputError", "DrillError", "RehearsalError", "VibedrillError"]


class VibedrillError(Exception):
    """The root of every error the harness raises on purpose."""

    #: the CLI's exit code for this family
    exit_code: ClassVar[int] = 3


class BadInputError(VibedrillError, ValueError):
    """Bad input (scenario, runbook, duration, option): exit 2."""

    exit_code: ClassVar[int] = 2


class RehearsalError(VibedrillError, RuntimeError):
    """The rehearsal broke — harness, fakes or a child process — not the platform: exit 3."""

    exit_code: ClassVar[int] = 3


class DrillError(RehearsalError):
    """A drill could not go on (the fakes refused a fault or traffic, the browser is missing)."""
