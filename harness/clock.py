"""Virtual time: an asyncio event loop whose clock jumps to the next timer when nothing is ready.

In-process drills run the sandbox and the fakes on this loop. ``asyncio.sleep(3600)`` returns
at once with ``loop.time()`` an hour later, so a two-hour drill takes seconds of wall time and
every timestamp is a pure function of the scenario and seed. Real file descriptors (the loop's
self-pipe, threads finishing ``to_thread`` work) are still polled, without blocking, on every
turn; only when no timer is scheduled at all does the loop wait for real I/O.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fakes.core.clock import DEFAULT_EPOCH

__all__ = ["DEFAULT_EPOCH", "VirtualTimeLoop", "run_virtual"]

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:
            return super().select(None)
        assert self.loop is not None
        self.loop._advance(timeout)
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time, starting at ``start`` (unix seconds)."""

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        sel = _VirtualSelector()
        self._vt = float(start)
        super().__init__(sel)
        sel.loop = self
        self.advanced = 0.0
        # Timers are due when ``when < time() + resolution``. At unix-epoch magnitudes a float's
        # step is ~2.4e-7 s, so the monotonic clock's 1e-9 resolution would never make them due.
        self._clock_resolution = 1e-6

    def time(self) -> float:
        return self._vt

    def _advance(self, seconds: float) -> None:
        if seconds > 0:
            self._vt += seconds
            self.advanced += seconds


def run_virtual(main: Callable[[], Awaitable[T]], start: float = DEFAULT_EPOCH, **_: Any) -> T:
    """Run ``main()`` to completion on a fresh :class:`VirtualTimeLoop` and close it."""
    loop = VirtualTimeLoop(start)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main())  # type: ignore[arg-type]
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
