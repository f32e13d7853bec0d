"""The ``--shape`` plans of :mod:`harness.load.shapes` as Locust ``LoadTestShape`` subclasses.

Imported only in the Locust child processes (importing Locust monkey-patches the standard
library with gevent). Locust's runner calls ``tick()`` about once a second from
``Runner.start_shape()``; in distributed mode only the master's shape runs and the master spreads
the users over its workers.
"""

from __future__ import annotations

from typing import ClassVar

from locust import LoadTestShape

from .shapes import SHAPES, ShapePlan

__all__ = [
    "SHAPE_CLASSES",
    "EveningRushShape",
    "PlannedShape",
    "RampShape",
    "SpikeShape",
    "SteadyShape",
    "make_shape",
]


class PlannedShape(LoadTestShape):
    """A Locust load shape that follows a :class:`~harness.load.shapes.ShapePlan`."""

    abstract: ClassVar[bool] = True
    shape_name: ClassVar[str] = ""

    def __init__(self, users: int, spawn_rate: float, run_time_s: float) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.plan = ShapePlan(self.shape_name, users, spawn_rate, run_time_s)

    def tick(self) -> tuple[int, float] | None:
        """(users, spawn rate) for now, or None when the run time is over (Locust stops)."""
        return self.plan.target(float(self.get_run_time()))  # type: ignore[no-untyped-call]


class SteadyShape(PlannedShape):
    """Every user from the start."""

    abstract = False
    shape_name = "steady"


class RampShape(PlannedShape):
    """From one user to all of them, linearly over the run."""

    abstract = False
    shape_name = "ramp"


class SpikeShape(PlannedShape):
    """A fifth of the users, all of them in the middle fifth of the run, a fifth again."""

    abstract = False
    shape_name = "spike"


class EveningRushShape(PlannedShape):
    """Clients' schedules aligned on the hour: a surge at the top of the hour, then decay."""

    abstract = False
    shape_name = "evening_rush"


SHAPE_CLASSES: dict[str, type[PlannedShape]] = {
    c.shape_name: c for c in (SteadyShape, RampShape, SpikeShape, EveningRushShape)
}
assert set(SHAPE_CLASSES) == set(SHAPES)


def make_shape(name: str, users: int, spawn_rate: float, run_time_s: float) -> PlannedShape:
    """The Locust shape ``name`` for this run (``ValueError`` naming the valid ones)."""
    cls = SHAPE_CLASSES.get(name)
    if cls is None:
        raise ValueError(f"unknown load shape {name!r}; valid: {', '.join(SHAPE_CLASSES)}")
    return cls(users, spawn_rate, run_time_s)
