"""The platform's controls, each declared once: name, HTTP path, request model and summary.

From :data:`CONTROLS` the HTTP routes (:mod:`sandbox.app`), the OpenAPI document
(:mod:`sandbox.openapi`), the HTTP client and the in-process client (:mod:`sandbox.client`) are
built. A control's behaviour lives in :class:`sandbox.controls.Controls` under the same name, and
its typed Python signature in :class:`sandbox.contract.PlatformControls`;
``tests/sandbox/test_control_table.py`` checks that the three agree.

Adding a control: one :class:`ControlSpec` here (with its request model) and one method of
``Controls`` (plus its one-line signature in the contract, so type checkers see it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .contract import KillScope, Lane, Mode

__all__ = [
    "CONTROLS",
    "CONTROLS_BY_NAME",
    "BlueprintRequest",
    "BudgetRequest",
    "ChangeRequest",
    "ControlSpec",
    "KillSwitchRequest",
    "LaneReadOnlyRequest",
    "LaneRequest",
    "ModeRequest",
    "PacingRequest",
    "ProviderRoutingRequest",
    "QueueRequest",
    "TriggerLockRequest",
    "request_body",
]

JobClass = Literal["publish", "engagement", "generation", "maintenance"]
Capability = Literal["text", "image", "video"]
Provider = Literal["openai", "anthropic", "media"]
SocialPlatform = Literal["x", "instagram", "linkedin"]


class ChangeRequest(BaseModel):
    """Who makes a change and why: every control change (and approval) carries both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str = Field(min_length=1, max_length=200, description="who makes the change")
    reason: str = Field(min_length=1, max_length=2000, description="why")


class KillSwitchRequest(ChangeRequest):
    """Engage or release a kill switch."""

    scope: KillScope = Field(default_factory=KillScope)
    engaged: bool


class LaneRequest(ChangeRequest):
    """Route a platform's side effects through a lane."""

    platform: SocialPlatform
    lane: Lane


class LaneReadOnlyRequest(ChangeRequest):
    """Hold one lane of a platform read-only (ingest only), or let it act again."""

    platform: SocialPlatform
    read_only: bool
    lane: Lane = "browser"


class ModeRequest(ChangeRequest):
    """Set the mode of a scope (auto removes the override)."""

    mode: Mode
    client_id: str | None = None
    platform: SocialPlatform | None = None


class QueueRequest(ChangeRequest):
    """Pause or resume the consumers of a job class."""

    job_class: JobClass
    paused: bool


class PacingRequest(ChangeRequest):
    """Change a platform's pacing; fields left out keep their value."""

    platform: SocialPlatform
    concurrency: int | None = Field(None, ge=1, le=256)
    min_interval_s: float | None = Field(None, ge=0, le=86_400)
    jitter_s: float | None = Field(None, ge=0, le=86_400)
    daily_caps: (
        dict[Literal["publish", "reply", "dm", "like", "generate"], Annotated[int, Field(ge=0)]]
        | None
    ) = None


class BlueprintRequest(ChangeRequest):
    """Enable or disable an engagement blueprint."""

    blueprint_id: str
    enabled: bool


class TriggerLockRequest(ChangeRequest):
    """Lock or unlock keyword triggers, globally or for one client."""

    locked: bool
    client_id: str | None = None


class ProviderRoutingRequest(ChangeRequest):
    """Route a capability to providers, in failover order."""

    capability: Capability
    providers: list[Provider] = Field(min_length=1, max_length=3)


class BudgetRequest(ChangeRequest):
    """Set cost budgets, platform-wide or for one client; fields left out keep their value."""

    client_id: str | None = None
    episode_tokens: int | None = Field(None, ge=0)
    episode_usd: float | None = Field(None, ge=0)
    client_tokens: int | None = Field(None, ge=0)
    client_usd: float | None = Field(None, ge=0)


@dataclass(frozen=True)
class ControlSpec:
    """One control of the contract: how it is called over HTTP and in Python."""

    #: the method name on :class:`~sandbox.contract.PlatformControls` and ``Controls``
    name: str
    #: the HTTP path (always ``POST``)
    path: str
    #: the request body; its fields are the method's parameters (``actor``, ``reason`` included)
    request: type[ChangeRequest]
    #: one line for the OpenAPI document
    summary: str
    method: str = "POST"


_C = "/controls"
CONTROLS: tuple[ControlSpec, ...] = (
    ControlSpec(
        "set_kill_switch",
        f"{_C}/kill-switch",
        KillSwitchRequest,
        "Engage or release a kill switch.",
    ),
    ControlSpec("set_lane", f"{_C}/lane", LaneRequest, "Route a platform through a lane."),
    ControlSpec(
        "set_lane_read_only",
        f"{_C}/lane-read-only",
        LaneReadOnlyRequest,
        "Hold a platform's lane read-only (ingest only), or let it act again.",
    ),
    ControlSpec("set_mode", f"{_C}/mode", ModeRequest, "Set the mode of a scope."),
    ControlSpec("set_queue_paused", f"{_C}/queue", QueueRequest, "Pause or resume a job class."),
    ControlSpec("set_pacing", f"{_C}/pacing", PacingRequest, "Change a platform's pacing."),
    ControlSpec(
        "set_blueprint_enabled",
        f"{_C}/blueprint",
        BlueprintRequest,
        "Enable or disable a blueprint.",
    ),
    ControlSpec(
        "set_trigger_lock",
        f"{_C}/trigger-lock",
        TriggerLockRequest,
        "Lock or unlock keyword triggers.",
    ),
    ControlSpec(
        "set_provider_routing",
        f"{_C}/provider-routing",
        ProviderRoutingRequest,
        "Route a capability to providers.",
    ),
    ControlSpec("set_budget", f"{_C}/budget", BudgetRequest, "Set cost budgets."),
)

#: name → spec
CONTROLS_BY_NAME: Mapping[str, ControlSpec] = {c.name: c for c in CONTROLS}


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def request_body(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a control call: its arguments, ``None`` (= keep the value) left out."""
    return {k: _jsonable(v) for k, v in arguments.items() if v is not None}
