"""The drill room: run a scenario in-process on virtual time — arrange, inject, detect, respond, verify, finish."""

from .run import (
    DrillError,
    DrillOptions,
    DrillResult,
    commit_of,
    drill_id_for,
    run_drill,
    run_for_pytest,
)

__all__ = [
    "DrillError",
    "DrillOptions",
    "DrillResult",
    "commit_of",
    "drill_id_for",
    "run_drill",
    "run_for_pytest",
]
