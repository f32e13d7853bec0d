"""The drill room: run a scenario in-process on virtual time — arrange, inject, detect, respond, verify, finish."""

from .run import (
    DrillError,
    DrillOptions,
    DrillResult,
    drill_id_for,
    known_invariants,
    platform_defects,
    run_drill,
    run_for_pytest,
)

__all__ = [
    "DrillError",
    "DrillOptions",
    "DrillResult",
    "drill_id_for",
    "known_invariants",
    "platform_defects",
    "run_drill",
    "run_for_pytest",
]
