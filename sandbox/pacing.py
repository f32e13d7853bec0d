"""Pacing of side effects: per-platform concurrency, per-account interval and jitter, daily caps,
and adaptive back-off when a platform signals throttling.

Limits are read from the control plane at every acquisition, so ``set_pacing`` takes effect on
the next side effect. Daily caps count per account, action type and UTC day; a job over its cap
is deferred to the next UTC midnight without using an attempt.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from .controls import Controls
from .defects import Defects
from .errors import Deferred

__all__ = ["Pacer"]

DAY = 86400.0


#: a wait for a throttle longer than this gives the runner's slot back (the job is deferred)
LONG_HOLD_S = 300.0


class Pacer:
    """Admission control in front of every side effect."""

    def __init__(
        self, controls: Controls, now: Callable[[], float], rng: random.Random, defects: Defects
    ) -> None:
        self.controls = controls
        self.now = now
        self.rng = rng
        self.defects = defects
        self._inflight: dict[str, int] = {}
        self._cond: dict[str, asyncio.Condition] = {}
        self._next_ok: dict[str, float] = {}
        self._penalty: dict[str, float] = {}
        #: told after every new hold (the platform's storage keeps them across a restart)
        self.on_hold: list[Callable[[], None]] = []
        self._daily: dict[tuple[str, str, int], int] = {}

    def used_today(self, account_id: str, action: str) -> int:
        """Side effects of ``action`` counted for ``account_id`` today (UTC)."""
        return self._daily.get((account_id, action, int(self.now() // DAY)), 0)

    async def acquire(self, platform: str, account_id: str, action: str | None) -> None:
        """Wait until one more side effect may start; raise ``Deferred`` if a daily cap is reached
        or a throttle holds the account or platform longer than ``LONG_HOLD_S``."""
        cond = self._cond.get(platform)
        if cond is None:
            cond = self._cond[platform] = asyncio.Condition()
        while True:
            p = self.controls.pacing.get(platform)
            t = self.now()
            if p is not None and action is not None:
                cap = p.daily_caps.get(action)
                if cap is not None and self.used_today(account_id, action) >= cap:
                    nxt = (int(t // DAY) + 1) * DAY
                    raise Deferred(
                        f"pacing: daily cap of {cap} {action} reached for {account_id}", run_at=nxt
                    )
            ready = max(
                self._next_ok.get(account_id, 0.0),
                self._penalty.get(account_id, 0.0),
                self._penalty.get(platform, 0.0),
            )
            if ready > t + LONG_HOLD_S:
                # a platform's long hold (LinkedIn's daily 429 lasts until midnight UTC): give the
                # worker back and come back then, or the held jobs fill every slot of the runner
                # and starve the work of every other platform, client, tool and poll
                raise Deferred(
                    f"pacing: {platform} holds {account_id} until a throttle lifts", run_at=ready
                )
            if ready > t:
                await asyncio.sleep(ready - t)
                continue
            limit = p.concurrency if p is not None else 1_000_000
            if self._inflight.get(platform, 0) >= limit:
                async with cond:
                    await cond.wait()
                continue
            break
        self._inflight[platform] = self._inflight.get(platform, 0) + 1
        if p is not None:
            gap = p.min_interval_s + (self.rng.uniform(0, p.jitter_s) if p.jitter_s else 0.0)
            if gap:
                self._next_ok[account_id] = t + gap
        if action is not None:
            key = (account_id, action, int(t // DAY))
            self._daily[key] = self._daily.get(key, 0) + 1

    async def release(self, platform: str) -> None:
        """End one side effect on ``platform``."""
        self._inflight[platform] = max(0, self._inflight.get(platform, 0) - 1)
        cond = self._cond.get(platform)
        if cond is not None:
            async with cond:
                cond.notify_all()

    def uncount(self, account_id: str, action: str | None) -> None:
        """Give back a daily-cap unit for a side effect the gate refused after admission."""
        if action is not None:
            key = (account_id, action, int(self.now() // DAY))
            if self._daily.get(key):
                self._daily[key] -= 1

    def penalise(self, key: str, until: float) -> None:
        """Hold side effects of an account or platform (``key``) until ``until`` (adaptive pacing).

        With the ``retry_after_ignored`` defect the platform's throttling signals are not heeded.
        """
        if self.defects.on("retry_after_ignored"):
            return
        if until > self._penalty.get(key, 0.0):
            self._penalty[key] = until
            for fn in self.on_hold:
                fn()

    def holds(self) -> dict[str, float]:
        """Every adaptive hold (account or platform → until when)."""
        return dict(self._penalty)

    def restore_holds(self, holds: dict[str, float]) -> None:
        """Put back holds a platform kept across a restart (the later of two wins)."""
        for key, until in holds.items():
            if until > self._penalty.get(key, 0.0):
                self._penalty[key] = float(until)

    def penalty_until(self, key: str) -> float:
        """When the adaptive hold on ``key`` ends (0 when none)."""
        return self._penalty.get(key, 0.0)
