"""The load shapes of ``vibedrill load --shape``: how many Locust users act at each second.

Pure arithmetic, importable without Locust (the parent process validates ``--shape`` and draws
the planned curve in ``load.html``); :mod:`harness.load.locustfile` wraps each plan in a Locust
``LoadTestShape`` subclass whose ``tick()`` returns :meth:`ShapePlan.target` of its run time.

With ``U`` peak users (``--users``) and ``T`` the run time (``--run-time``):

- ``steady``: ``U`` users from the start, started at ``--spawn-rate`` per second.
- ``ramp``: a straight line from 1 user to ``U`` over the first 90 % of the run, then ``U``.
- ``spike``: a baseline of ``U/5`` users, ``U`` in the middle fifth of the run (40 %..60 %),
  then the baseline again; users start and stop within a second (at most 100 a second).
- ``evening_rush``: many clients' posting schedules aligned on the hour. Before the hour
  (the first fifth of the run) a tenth of ``U`` act; at the top of the hour every schedule
  fires at once (``U`` users within a second); then the rush decays exponentially back to the
  baseline with a time constant of ``T/5``: ``users(t) = b + (U - b)·exp(-(t - t₀)/(T/5))``.

Only ``steady`` uses ``--spawn-rate``; the other shapes set their own rates (their slopes are the
shape). A plan's target is ``None`` once the run time is over (Locust then stops the users).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SHAPES", "ShapePlan", "shape_plan"]

#: the shapes ``--shape`` accepts, and what each one is
SHAPES: dict[str, str] = {
    "steady": "every user from the start (at --spawn-rate)",
    "ramp": "from 1 user to --users, linearly over 90 % of the run",
    "spike": "a fifth of --users, all of them in the middle fifth of the run, a fifth again",
    "evening_rush": "clients' schedules aligned on the hour: a surge to --users, then decay",
}

#: where the hour strikes in ``evening_rush`` and where ``spike`` begins and ends (run fractions)
RUSH_AT, SPIKE_FROM, SPIKE_TO = 0.2, 0.4, 0.6
#: where ``ramp`` reaches all the users (a run fraction); it holds them after
RAMP_TO = 0.9
#: the fastest a shape starts or stops users (Locust warns above 100 a second)
MAX_RATE = 100


@dataclass(frozen=True)
class ShapePlan:
    """One shape for ``users`` peak users over ``run_time_s`` seconds."""

    name: str
    users: int
    spawn_rate: float
    run_time_s: float

    def __post_init__(self) -> None:
        if self.name not in SHAPES:
            raise ValueError(f"unknown load shape {self.name!r}; valid: {', '.join(SHAPES)}")
        if self.users < 1 or self.run_time_s <= 0 or self.spawn_rate <= 0:
            raise ValueError(
                f"load shape {self.name}: users {self.users}, run time {self.run_time_s:g}s and "
                f"spawn rate {self.spawn_rate:g} must all be positive"
            )

    @property
    def baseline(self) -> int:
        """The users outside the spike or the rush (``steady`` and ``ramp``: ``users``)."""
        if self.name == "spike":
            return max(1, self.users // 5)
        if self.name == "evening_rush":
            return max(1, self.users // 10)
        return self.users

    @property
    def surge_at_s(self) -> float | None:
        """Seconds into the run when the spike or the rush begins (None for the others)."""
        if self.name == "spike":
            return SPIKE_FROM * self.run_time_s
        if self.name == "evening_rush":
            return RUSH_AT * self.run_time_s
        return None

    def users_at(self, t: float) -> int:
        """The users this shape wants ``t`` seconds into the run (``t`` < run time)."""
        u, T = self.users, self.run_time_s
        if self.name == "steady":
            return u
        if self.name == "ramp":
            return min(u, math.ceil(1 + (u - 1) * min(1.0, t / (RAMP_TO * T))))
        if self.name == "spike":
            return u if SPIKE_FROM * T <= t < SPIKE_TO * T else self.baseline
        # evening_rush
        t0, b = RUSH_AT * T, self.baseline
        if t < t0:
            return b
        return max(b, min(u, round(b + (u - b) * math.exp(-(t - t0) / (T / 5)))))

    def rate(self) -> float:
        """Users started (or stopped) per second on the way to a new target."""
        if self.name == "steady":
            return self.spawn_rate
        if self.name == "ramp":
            # each one-second step reached within the second, whatever the slope
            return max(1.0, math.ceil(self.users / (RAMP_TO * self.run_time_s)))
        # spike and rush: within a second, up to Locust's advised 100 users a second
        return float(min(self.users, MAX_RATE))

    def target(self, t: float) -> tuple[int, float] | None:
        """Locust's ``tick()`` at run time ``t``: (users, spawn rate), or None when over."""
        if t >= self.run_time_s:
            return None
        return self.users_at(t), self.rate()

    def curve(self, step_s: float = 1.0) -> list[tuple[float, int]]:
        """The planned users every ``step_s`` seconds, and at the end (for the report)."""
        n = max(1, math.ceil(self.run_time_s / step_s))
        ts = {i * step_s for i in range(n)}
        for edge in (self.surge_at_s, SPIKE_TO * self.run_time_s if self.name == "spike" else None):
            if edge is not None:  # a step: the value just before it, and at it
                ts |= {max(0.0, edge - 1e-3), edge}
        pts = [(t, self.users_at(t)) for t in sorted(ts) if t < self.run_time_s]
        return [*pts, (self.run_time_s, pts[-1][1])]


def shape_plan(name: str, users: int, spawn_rate: float, run_time_s: float) -> ShapePlan:
    """The plan of shape ``name`` (``ValueError`` naming the valid shapes when unknown)."""
    return ShapePlan(name, users, spawn_rate, run_time_s)
