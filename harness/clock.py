"""Virtual time: an asyncio event loop whose clock jumps to the next timer when nothing is ready.

In-process drills run the sandbox and the fakes on this loop. ``asyncio.sleep(3600)`` returns
at once with ``loop.time()`` an hour later, so a two-hour drill takes seconds of wall time and
every timestamp is a pure function of the scenario and seed. Real file descriptors (the loop's
self-pipe, threads finishing ``to_thread`` work) are still polled, without blocking, on every
turn; only when no timer is scheduled at all does the loop wait for real I/O.

Real I/O that takes real time (a Chromium driven by the browser lane, a served socket it talks
to) runs under :meth:`VirtualTimeLoop.hold_virtual_time`: while at least one hold is open the
clock does not jump; the selector really waits (at most :data:`HOLD_SLICE_S` per turn) and
virtual time advances by the real time that passed. Drills that hold time this way are not
hash-deterministic (their timing follows the machine), everything else stays so.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from fakes.core.clock import DEFAULT_EPOCH

__all__ = [
    "BLOCKED_REAL_S",
    "BLOCK_REAL_S",
    "DEFAULT_EPOCH",
    "HOLD_SLICE_S",
    "STALL_REAL_S",
    "STALL_TURNS",
    "LagProbe",
    "ScaledTimeLoop",
    "TimeHold",
    "VirtualTimeLoop",
    "run_scaled",
    "run_virtual",
    "scaled_now",
]

T = TypeVar("T")
#: the longest real wait of one loop turn while virtual time is held
HOLD_SLICE_S = 0.05
#: loop turns with work ready and the clock standing still after which the real time spent so
#: is looked at, and the real seconds that make it a stall (a livelock: something is scheduled
#: again and again at the same instant; a healthy drill of hours takes seconds in all)
STALL_TURNS = 200_000
STALL_REAL_S = 20.0
#: the real seconds one loop turn's callbacks may run before the turn counts as blocking the
#: loop (a synchronous wait in async code: a lock's busy wait, ``time.sleep``, a blocking call),
#: and the blocked real seconds in all after which the loop says so (:attr:`on_blocked`)
BLOCK_REAL_S = 1.0
BLOCKED_REAL_S = 20.0


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        assert loop is not None
        if loop.on_blocked is not None:
            loop._turn_ran(time.perf_counter())
        try:
            return self._select(loop, timeout)
        finally:
            loop._turn_started = time.perf_counter()

    def _select(
        self, loop: VirtualTimeLoop, timeout: float | None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        if loop.holds:
            wait = HOLD_SLICE_S if timeout is None else min(max(timeout, 0.0), HOLD_SLICE_S)
            events = super().select(wait)
            loop._follow_real_time()
            return events
        events = super().select(0)
        if timeout == 0:
            loop._busy_turn()
        if events or timeout == 0:
            return events
        if timeout is None:
            return super().select(None)
        loop._advance(timeout)
        return events


class TimeHold:
    """One hold of virtual time (see :meth:`VirtualTimeLoop.hold_virtual_time`); re-entrant
    across tasks (a counter), usable with ``with`` and ``async with``."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self.loop = loop

    def __enter__(self) -> TimeHold:
        self.loop._hold(+1)
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.loop._hold(-1)

    async def __aenter__(self) -> TimeHold:
        return self.__enter__()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(et, e, tb)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time, starting at ``start`` (unix seconds)."""

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        sel = _VirtualSelector()
        self._vt = float(start)
        super().__init__(sel)
        sel.loop = self
        self.advanced = 0.0
        #: open holds of virtual time (real I/O in flight)
        self.holds = 0
        #: virtual seconds that followed real time under a hold
        self.held = 0.0
        self._wall = 0.0
        # Timers are due when ``when < time() + resolution``. At unix-epoch magnitudes a float's
        # step is ~2.4e-7 s, so the monotonic clock's 1e-9 resolution would never make them due.
        self._clock_resolution = 1e-6
        #: called once (virtual time, loop turns, real seconds) when the clock has stood still
        #: with work ready for :data:`STALL_TURNS` turns and :data:`STALL_REAL_S` real seconds
        self.on_stall: Callable[[float, int, float], None] | None = None
        self._still_turns = 0
        self._still_since = 0.0
        self._stall_told = False
        #: called once (virtual time, worst turn, blocked real seconds, blocking turns) when
        #: turns whose callbacks each ran :data:`BLOCK_REAL_S` real seconds or more add up to
        #: :data:`BLOCKED_REAL_S`; watched only while it is set
        self.on_blocked: Callable[[float, float, float, int], None] | None = None
        self._turn_started = time.perf_counter()
        self.blocked_s = 0.0
        self.blocked_turns = 0
        self.worst_turn_s = 0.0
        self._blocked_told = False
        #: virtual time the drill must never need to reach, and what to call (once, with the
        #: time the clock was about to jump to) when the next timer lies beyond it: a task
        #: awaiting something decades ahead would otherwise walk the clock there turn by turn
        #: through every periodic timer on the way
        self.horizon: float | None = None
        self.on_horizon: Callable[[float], None] | None = None
        self._horizon_told = False

    def time(self) -> float:
        return self._vt

    def _advance(self, seconds: float) -> None:
        if (
            self.horizon is not None
            and self._vt + seconds > self.horizon
            and not self._horizon_told
            and self.on_horizon is not None
        ):
            self._horizon_told = True
            self.on_horizon(self._vt + seconds)
        if seconds > 0:
            self._vt += seconds
            self.advanced += seconds
            self._still_turns = 0

    def _busy_turn(self) -> None:
        """One turn with work ready and the clock not moving: a watch for livelocks."""
        self._still_turns += 1
        n = self._still_turns
        if n == 1:
            self._still_since = time.perf_counter()
        elif n % 4096 == 0 and n >= STALL_TURNS and not self.holds and not self._stall_told:
            real = time.perf_counter() - self._still_since
            if real >= STALL_REAL_S and self.on_stall is not None:
                self._stall_told = True
                self.on_stall(self._vt, n, real)

    def _turn_ran(self, now: float) -> None:
        """The callbacks of the turn that just ended ran from :attr:`_turn_started` to ``now``."""
        ran = now - self._turn_started
        if ran < BLOCK_REAL_S or self.holds:
            return
        self.blocked_s += ran
        self.blocked_turns += 1
        self.worst_turn_s = max(self.worst_turn_s, ran)
        if self.blocked_s >= BLOCKED_REAL_S and not self._blocked_told and self.on_blocked:
            self._blocked_told = True
            self.on_blocked(self._vt, self.worst_turn_s, self.blocked_s, self.blocked_turns)

    def hold_virtual_time(self) -> TimeHold:
        """A context (``with`` or ``async with``) under which the clock follows real time
        instead of jumping: for real I/O in flight (a browser, a socket) that virtual time
        must not outrun."""
        return TimeHold(self)

    def _hold(self, delta: int) -> None:
        if delta > 0 and self.holds == 0:
            self._wall = time.perf_counter()
        elif delta < 0 and self.holds == 1:
            self._follow_real_time()
        self.holds = max(0, self.holds + delta)

    def _follow_real_time(self) -> None:
        now = time.perf_counter()
        elapsed, self._wall = now - self._wall, now
        if elapsed > 0:
            self._vt += elapsed
            self.advanced += elapsed
            self.held += elapsed


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


# --- scaled wall-clock time -------------------------------------------------------------------
# Served drills, game days and the served fakes/platform of a drill over HTTP run in real time,
# compressed by a time scale K: scenario time = anchor + (unix time - anchor) · K. Every process
# that shares the anchor and K (written in the fakes' ready file) agrees on the time, so a
# Retry-After of 60 s told by a fake lasts one real second at K = 60 for a platform on the same
# clock, and a one-hour scenario takes a minute.


def scaled_now(scale: float, anchor: float) -> float:
    """Scenario time now on the clock ``(scale, anchor)`` (unix seconds)."""
    return anchor + (time.time() - anchor) * scale


class _ScaledSelector(selectors.DefaultSelector):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.paused = False

    #: the longest real wait of one loop turn while the clock is paused
    PAUSED_SLICE_S = 0.25

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # the loop computes timeouts in scenario seconds; the kernel waits real ones
        if self.paused and timeout is not None and timeout > 0:
            # no timer falls due while the clock is frozen: wait for I/O (a resume arrives so)
            return super().select(self.PAUSED_SLICE_S)
        return super().select(None if timeout is None else max(timeout, 0.0) / self.scale)


class ScaledTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock runs ``scale`` times faster than real time.

    ``time()`` is scenario time in unix seconds: ``anchor + (unix now - anchor) · scale``, read
    from the monotonic clock after one reading of the wall clock, so it never goes backwards.
    ``asyncio.sleep(60)`` lasts ``60 / scale`` real seconds. ``scale`` 1 with any anchor is
    real time.

    A game day (:mod:`harness.gameday`) may :meth:`pause` the clock (it freezes: no timer falls
    due, I/O is still served), :meth:`resume` it, and :meth:`set_scale` (fast-forward the rest).
    Time stays continuous and monotonic through each; a loop that did any of them no longer
    agrees with other processes on the ``(scale, anchor)`` clock, so these are for drills whose
    fakes and platform share this one loop.
    """

    def __init__(self, scale: float = 1.0, anchor: float | None = None) -> None:
        if not scale > 0:
            raise ValueError(f"a time scale must be > 0, not {scale!r}")
        self._selector_ = _ScaledSelector(scale)
        super().__init__(self._selector_)
        self.scale = float(scale)
        unix = time.time()
        self.anchor = unix if anchor is None else float(anchor)
        self._unix0 = unix
        self._mono0 = time.monotonic()
        #: scenario time at the monotonic reading ``_mono_base`` (moved by pause/resume/scale)
        self._t_base = self.anchor + (unix - self.anchor) * self.scale
        self._mono_base = self._mono0
        self._clock_resolution = 1e-6

    @property
    def paused(self) -> bool:
        """Whether the clock is frozen."""
        return self._selector_.paused

    def time(self) -> float:
        if self._selector_.paused:
            return self._t_base
        return self._t_base + (time.monotonic() - self._mono_base) * self.scale

    def pause(self) -> None:
        """Freeze the clock: timers stop falling due; sockets are still served."""
        if not self._selector_.paused:
            self._t_base = self.time()
            self._selector_.paused = True

    def resume(self) -> None:
        """Let the clock run again from where it was frozen."""
        if self._selector_.paused:
            self._mono_base = time.monotonic()
            self._selector_.paused = False

    def set_scale(self, scale: float) -> None:
        """Run ``scale`` times faster than real time from now on (time stays continuous)."""
        if not scale > 0:
            raise ValueError(f"a time scale must be > 0, not {scale!r}")
        self._t_base = self.time()
        self._mono_base = time.monotonic()
        self.scale = float(scale)
        self._selector_.scale = float(scale)


class LagProbe:
    """How late this loop's timers fire, in the loop's own (scenario) seconds.

    A drill over HTTP in scaled time judges requests that overlap on the wire: how long one may
    have been under way depends on how busy the machine is (two cores under a test suite delay a
    process by a tenth of a second; a time scale of 120 makes that 12 s of the world's). The probe
    sleeps ``period_s`` again and again and keeps the worst lateness it saw; it reads only the
    loop's clock, so it is deterministic in virtual time (where it reads 0).
    """

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        #: the latest a timer fired, in the loop's seconds
        self.worst_s = 0.0
        self.samples = 0

    async def run(self) -> None:
        """Sample until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period_s
            await asyncio.sleep(self.period_s)
            self.worst_s = max(self.worst_s, loop.time() - due)
            self.samples += 1


def run_scaled(
    main: Callable[[], Awaitable[T]], scale: float = 1.0, anchor: float | None = None
) -> T:
    """Run ``main()`` to completion on a fresh :class:`ScaledTimeLoop` and close it."""
    loop = ScaledTimeLoop(scale, anchor)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main())  # type: ignore[arg-type]
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
