"""Time for the fakes: an injected ``now`` callable, never the wall clock inside a fake.

In-process drills pass the virtual clock of their event loop; served fakes pass
:func:`wall_clock`. Unix seconds as ``float`` everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["ManualClock", "Now", "wall_clock"]

Now = Callable[[], float]

#: 2026-11-27T12:00:00Z, the default epoch of a manual clock: fixed so ids and times replay.
DEFAULT_EPOCH = 1_795_780_800.0


def wall_clock() -> float:
    """Return the wall-clock time; used only when fakes are served for real clients."""
    return time.time()


class ManualClock:
    """A clock that moves only when told to: for unit tests of the fakes."""

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        self._t = start

    def __call__(self) -> float:
        return self._t

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards: advance({seconds!r})")
        self._t += seconds
        return self._t

    def set(self, t: float) -> None:
        """Jump to ``t`` (unix seconds); refuses to go backwards."""
        if t < self._t:
            raise ValueError(f"a clock cannot go backwards: set({t!r}) < now {self._t!r}")
        self._t = t
