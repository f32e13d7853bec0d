"""The judge room: the drill record, its timeline, the invariants, metrics and the verdict."""

from .judgement import judge, judge_expectations, judge_reached
from .metrics import DrillMetrics, StepAdherence, compute_metrics, runbook_adherence
from .record import DrillRecord, KillInterval
from .timeline import Timeline, TimelineError, TimelineEvent, canonical_json, format_offset
from .verdict import ExpectationResult, ReachedResult, Verdict, VerdictName, exit_code

__all__ = [
    "DrillMetrics",
    "DrillRecord",
    "ExpectationResult",
    "KillInterval",
    "ReachedResult",
    "StepAdherence",
    "Timeline",
    "TimelineError",
    "TimelineEvent",
    "Verdict",
    "VerdictName",
    "canonical_json",
    "compute_metrics",
    "exit_code",
    "format_offset",
    "judge",
    "judge_expectations",
    "judge_reached",
    "runbook_adherence",
]
