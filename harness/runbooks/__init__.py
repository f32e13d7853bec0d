"""Runbooks RB-01…RB-12 as data, and the registry of actions their steps call."""

from .actions import (
    ACTIONS,
    ANSWER_WITHIN_S,
    ActionContext,
    ActionError,
    action,
    check_step,
    run_action,
)
from .library import DATA_DIR, RunbookError, load_runbook, runbooks
from .model import (
    CHECK_KINDS,
    INCIDENT_TYPES,
    SEVERITIES,
    AlertRule,
    FollowUp,
    Runbook,
    Step,
    VerificationCheck,
)

__all__ = [
    "ACTIONS",
    "ANSWER_WITHIN_S",
    "CHECK_KINDS",
    "DATA_DIR",
    "INCIDENT_TYPES",
    "SEVERITIES",
    "ActionContext",
    "ActionError",
    "AlertRule",
    "FollowUp",
    "Runbook",
    "RunbookError",
    "Step",
    "VerificationCheck",
    "action",
    "check_step",
    "load_runbook",
    "run_action",
    "runbooks",
]
