"""Runbooks as data: the seed's shape — symptoms, scope, immediate actions, diagnosis, fix,
verification, follow-ups — as frozen pydantic models loaded from ``data/rb*.yaml``.

A runbook step names a registered action (``<subject>.<imperative>``) with keyword parameters;
``{platform}`` and ``{client_id}`` in a parameter are filled from the incident's scope, and a
step whose parameters use them runs once per affected platform or client.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..durations import Duration

__all__ = [
    "CHECK_KINDS",
    "INCIDENT_TYPES",
    "SEVERITIES",
    "AlertRule",
    "FollowUp",
    "Runbook",
    "Step",
    "VerificationCheck",
]

INCIDENT_TYPES: tuple[str, ...] = (
    "SAFETY",
    "PUBLISH",
    "ENGAGE",
    "AUTH",
    "RATE",
    "BROWSER",
    "QUEUE",
    "TOOLGATE",
    "PROVIDER",
    "COST",
    "DATA",
    "OBS",
)
SEVERITIES: tuple[str, ...] = ("P0", "P1", "P2", "P3")
IncidentType = Literal[
    "SAFETY",
    "PUBLISH",
    "ENGAGE",
    "AUTH",
    "RATE",
    "BROWSER",
    "QUEUE",
    "TOOLGATE",
    "PROVIDER",
    "COST",
    "DATA",
    "OBS",
]
Severity = Literal["P0", "P1", "P2", "P3"]

#: the verification checks the drill knows how to run
CHECK_KINDS: tuple[str, ...] = (
    "canary",
    "posts_verified",
    "auth_check",
    "tool_health",
    "asset_end_to_end",
    "thread_replay",
    "queue_freshness",
    "audit_complete",
    "cost_burn_normal",
    "no_new_blocks",
    "accounts_correct",
)


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AlertRule(_M):
    """A symptom as an alert rule over the platform's telemetry (never the fakes' ground truth).

    ``source``:
    - ``audit``: at least ``threshold`` audit outcomes in ``window`` matching ``action``,
      ``outcome`` and the ``error`` glob (``{platform}`` allowed);
    - ``metric``: the metric ``metric`` (summed over labelled series whose name starts with it)
      rose by at least ``threshold`` within ``window``;
    - ``alert``: the platform raised an alert whose name matches the ``alert`` glob.
    """

    name: str
    source: Literal["audit", "metric", "alert"]
    action: str | None = None
    outcome: (
        Literal["success", "failed", "blocked", "needs_human_confirm", "dead_letter"] | None
    ) = None
    error: str | None = None
    metric: str | None = None
    alert: str | None = None
    threshold: float = Field(1.0, gt=0)
    window: Duration = 300.0
    description: str = ""

    @model_validator(mode="after")
    def _needs_its_field(self) -> AlertRule:
        need = {"metric": "metric", "alert": "alert"}.get(self.source)
        if need and getattr(self, need) is None:
            raise ValueError(f"an alert rule with source {self.source!r} needs {need!r}")
        return self


class Step(_M):
    """One runbook step: a registered action, its parameters and its deadline after detection."""

    id: str
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    deadline: Duration | None = None
    #: the seed's wording of the step (shown in postmortems)
    text: str = ""
    #: a step that only applies when the condition holds: 'lane:browser', 'widespread'
    when: str | None = None


class VerificationCheck(_M):
    """A check run after recovery; the drill records it as passed or failed."""

    check: str
    params: dict[str, Any] = Field(default_factory=dict)
    text: str = ""

    @model_validator(mode="after")
    def _known(self) -> VerificationCheck:
        if self.check not in CHECK_KINDS:
            raise ValueError(
                f"{self.check!r} is not a verification check; valid: {', '.join(CHECK_KINDS)}"
            )
        return self


class FollowUp(_M):
    """A follow-up that becomes a postmortem corrective action."""

    title: str
    type: Literal["mitigate", "prevent", "detect"]
    owner: str = "platform team"


class Runbook(_M):
    """One runbook of ``incident-runbooks-v1.md``, executable by the automated Ops Lead."""

    id: str = Field(pattern=r"^RB-\d\d$")
    title: str
    severity: Severity
    types: tuple[IncidentType, ...]
    symptoms: tuple[AlertRule, ...]
    scope: tuple[
        Literal["clients", "platforms", "lane", "action_types", "providers", "tools"], ...
    ] = (
        "clients",
        "platforms",
        "lane",
        "action_types",
    )
    immediate: tuple[Step, ...]
    diagnosis: tuple[Step, ...] = ()
    fix: tuple[Step, ...] = ()
    verification: tuple[VerificationCheck, ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()
    #: the lane the runbook is written for (browser runbooks run in browser drills)
    lane: Literal["api", "browser", "any"] = "any"

    def step(self, step_id: str) -> Step:
        """The step with this id among immediate, diagnosis and fix steps."""
        for s in (*self.immediate, *self.diagnosis, *self.fix):
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def step_ids(self) -> list[str]:
        """Every step id, in order."""
        return [s.id for s in (*self.immediate, *self.diagnosis, *self.fix)]
