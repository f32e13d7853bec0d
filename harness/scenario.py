"""Scenarios: one YAML file per drill, loaded into frozen pydantic models that refuse unknown keys.

A bad file gets exactly one message naming the file, the key path, the value and the valid
choices, e.g. ``scenarios/rb05.yaml: faults[0].kind: 'x.ratelimited' is not a fault kind; did you
mean 'x.rate_limited'?``. Names that live in other catalogues (fault kinds, defects, invariants,
runbooks) are checked against a :class:`Catalogue` handed in as validation context.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fakes.core.clock import DEFAULT_EPOCH
from fakes.core.faults import FAULT_KINDS, FaultKind, did_you_mean
from fakes.core.roster import SOCIAL_PLATFORMS

from .durations import Duration
from .runbooks.model import AlertRule, IncidentType, Severity, VerificationCheck
from .safe_input import UnsafeInput, clip, load_yaml_file, short_repr
from .scenario_errors import ScenarioError, explain

__all__ = [
    "Catalogue",
    "DefectSpec",
    "Detection",
    "Expect",
    "FaultSpec",
    "InvariantSpec",
    "Mutant",
    "OperatorStep",
    "ReachedCheck",
    "Scenario",
    "ScenarioError",
    "Surge",
    "Workload",
    "WorldSpec",
    "default_catalogue",
    "load_scenario",
]

SocialPlatform = Literal["x", "instagram", "linkedin"]
SurgeJob = Literal[
    "publish",
    "misrouted_publish",
    "agency_publish",
    "generate_text",
    "generate_image",
    "generate_video",
    "tool_call",
    "comment",
    "dm",
    "own_comment",
]


@dataclass(frozen=True)
class Catalogue:
    """The names a scenario may use, from the catalogues of the fakes, the sandbox and the judge."""

    fault_kinds: Mapping[str, type[FaultKind]]
    defects: Collection[str]
    invariants: Collection[str]
    runbooks: Collection[str]


def default_catalogue() -> Catalogue:
    """The live catalogues: fault kinds, the platform's defects, the judge's invariants, runbooks."""
    from .catalogue import known_invariants, platform_defects
    from .runbooks import runbooks

    return Catalogue(
        FAULT_KINDS, sorted(platform_defects()), sorted(known_invariants()), sorted(runbooks())
    )


def _cat(info: ValidationInfo) -> Catalogue | None:
    ctx = info.context or {}
    cat = ctx.get("catalogue")
    return cat if isinstance(cat, Catalogue) else None


def _choose(value: str, what: str, choices: Collection[str]) -> str:
    return f"{value!r} is not {what}{did_you_mean(value, choices)}; valid: {', '.join(sorted(choices))}"


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Budgets(_M):
    """Cost budgets in force from the start (None = unlimited)."""

    episode_tokens: int | None = Field(None, ge=0)
    episode_usd: float | None = Field(None, ge=0)
    client_tokens: int | None = Field(None, ge=0)
    client_usd: float | None = Field(None, ge=0)


class Pacing(_M):
    """A platform's pacing as the platform's settings give it at start (per account)."""

    concurrency: int = Field(4, ge=1, le=256)
    min_interval_s: Duration = 0.0
    jitter_s: Duration = 0.0
    #: action type (publish, reply, dm, like) → most side effects per account per UTC day
    daily_caps: dict[Literal["publish", "reply", "dm", "like"], int] = Field(default_factory=dict)

    def as_settings(self) -> dict[str, Any]:
        """The platform settings' form: seconds as numbers (a scenario writes ``30s``)."""
        return {
            "concurrency": self.concurrency,
            "min_interval_s": float(self.min_interval_s),
            "jitter_s": float(self.jitter_s),
            "daily_caps": dict(self.daily_caps),
        }


def _text_model_catalogues() -> dict[str, Collection[str]]:
    """The chat models each text provider's fake knows (dated snapshots of them are served too)."""
    from fakes.anthropic import MODELS
    from fakes.openai.prices import CHAT_MODELS

    return {"openai": CHAT_MODELS, "anthropic": MODELS}


class WorldSpec(_M):
    """Who exists in the sandbox: clients (tenants), their social platforms and each one's lane."""

    clients: int = Field(3, ge=1, le=8)
    platforms: tuple[SocialPlatform, ...] = ("x",)
    lanes: dict[SocialPlatform, Literal["api", "browser", "hybrid"]] = Field(default_factory=dict)
    budgets: Budgets | None = None
    #: each platform's pacing in the platform's own settings (as a real deployment configures
    #: it): in force from the start, before any operator touches it
    pacing: dict[SocialPlatform, Pacing] = Field(default_factory=dict)
    #: how many jobs the platform's runner works on at once (its settings' default otherwise)
    runner_concurrency: int | None = Field(None, ge=1, le=4096)
    #: the ``Linkedin-Version`` (YYYYMM) pinned in the platform's settings — what an operator
    #: sets when LinkedIn stops serving the version the platform picks by itself
    linkedin_version: str | None = Field(None, pattern=r"^\d{4}(0[1-9]|1[0-2])$")
    #: how long the access tokens the accounts were connected with have left at the drill's
    #: start, per platform (otherwise a fresh token's lifetime: X 2 h, Instagram and LinkedIn
    #: 60 days) — Instagram's and LinkedIn's long-lived tokens run out on the day they do
    tokens_left: dict[SocialPlatform, Duration] = Field(default_factory=dict)
    #: the model the platform asks each text provider for (the platform's default otherwise)
    text_models: dict[Literal["openai", "anthropic"], str] = Field(default_factory=dict)

    @field_validator("text_models")
    @classmethod
    def _models_the_fakes_serve(cls, v: dict[str, str]) -> dict[str, str]:
        for provider, model in v.items():
            known = _text_model_catalogues()[provider]
            if model not in known and not any(model.startswith(f"{m}-") for m in known):
                raise ValueError(
                    f"{provider}: {_choose(model, f'a model of the {provider} fake', known)}"
                )
        return v


class Surge(_M):
    """Extra work in a window: a burst of posts, long generation jobs, misrouted jobs, inbound."""

    job: SurgeJob
    at: Duration
    duration: Duration
    per_hour: float = Field(gt=0, le=100_000)


class Workload(_M):
    """The intent: what the agency schedules and what the outside world sends, per hour."""

    duration: Duration = 7200.0
    steady_state: Duration = 600.0
    posts_per_hour: float = Field(60.0, ge=0, le=100_000)
    inbound_comments_per_hour: float = Field(0.0, ge=0, le=100_000)
    dms_per_hour: float = Field(0.0, ge=0, le=100_000)
    generation_jobs_per_hour: float = Field(0.0, ge=0, le=100_000)
    image_jobs_per_hour: float = Field(0.0, ge=0, le=100_000)
    video_jobs_per_hour: float = Field(0.0, ge=0, le=100_000)
    #: the lengths (seconds) the video jobs ask for, in turn; empty: none named (the render
    #: service sizes the clip from its script)
    clip_lengths_s: tuple[Annotated[float, Field(ge=1, le=600)], ...] = Field((), max_length=20)
    tool_calls_per_hour: float = Field(0.0, ge=0, le=100_000)
    #: the keyword a blueprint answers (inbound comments carry it)
    trigger_keyword: str = "price?"
    #: tools (of the tool gateway) that text generation jobs offer the model (an agent episode)
    text_tools: tuple[str, ...] = ()
    #: the share of posts a reminder follows ``reminder_after`` later on the same account: the
    #: post's own words and more (a campaign's second call), so a lookup by text must tell the
    #: two apart (0: none)
    reminders: float = Field(0.0, ge=0, le=1)
    reminder_after: Duration = 600.0
    #: the share of posts the agency's scheduler submits again, under the same idempotency key,
    #: ``resubmit_after`` later (it lost the first answer, or retries a submit that timed out):
    #: the platform must hand back the first job, whatever became of it (0: none)
    resubmits: float = Field(0.0, ge=0, le=1)
    resubmit_after: Duration = 1800.0
    #: tools of the gateway a client's brief, pasted into each draft's prompt, asks for beside
    #: the draft's own (``text_tools``): a draft may use only the tools it is given, and the
    #: model calls whichever the prompt names among those it is offered
    brief_tools: tuple[str, ...] = ()
    #: what a tool call's result feeds: nothing, or a post made with it (``then`` of the job)
    tool_followup: Literal["none", "publish"] = "none"
    #: the content calendar: each post is submitted this long before it is due (``run_at``), so
    #: the platform holds scheduled jobs; 0 submits every post when it is due
    schedule_ahead: Duration = 0.0
    #: the share of posts that name their account; the others name only the client and the
    #: platform, and the platform picks the client's account there (the contract allows both:
    #: a planner that knows one account per platform leaves it out)
    accounts_named: float = Field(1.0, ge=0.0, le=1.0)
    #: generation jobs per agent episode: each episode is this many generation jobs of one kind
    #: and one client, one after the other, under one ``episode_id`` (a post's drafts), so an
    #: episode's budget is spent across jobs
    episode_jobs: int = Field(1, ge=1, le=20)
    #: the share of inbound comments and DMs that carry ``trigger_keyword`` (a giveaway that
    #: asks fans to DM the keyword draws mostly keyword messages)
    keyword_share: float = Field(0.5, ge=0.0, le=1.0)
    #: how many different people (``@fan1`` …) write inbound comments and DMs to each account:
    #: few fans write again and again (a later message answered stands for a lost earlier
    #: one), many fans each write about once (every lost message is a person unanswered)
    fans: int = Field(499, ge=1, le=1_000_000)
    surges: tuple[Surge, ...] = ()


class DefectSpec(_M):
    """A platform defect switched on for the drill (from the start, or from ``at``)."""

    name: str
    at: Duration = 0.0

    @field_validator("name")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        cat = _cat(info)
        if cat is not None and v not in cat.defects:
            raise ValueError(_choose(v, "a defect", cat.defects))
        return v


def _name_or_mapping(v: Any) -> Any:
    return {"name": v} if isinstance(v, str) else v


class MatchSpec(_M):
    """Which requests a fault applies to (see the fakes' fault rules)."""

    fake: str | None = None
    route: str | None = None
    account: str | None = None


class FaultSpec(_M):
    """A fault rule of the fakes' catalogue, installed at ``at`` for ``duration`` (or to the end)."""

    kind: str
    at: Duration = 0.0
    duration: Duration | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    match: MatchSpec = Field(default_factory=MatchSpec)
    probability: float = Field(1.0, ge=0.0, le=1.0)
    first_n: int | None = Field(None, ge=1)
    every_nth: int | None = Field(None, ge=1)

    @field_validator("kind")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        kinds = (_cat(info) or Catalogue(FAULT_KINDS, (), (), ())).fault_kinds
        if v not in kinds:
            raise ValueError(
                f"{v!r} is not a fault kind{did_you_mean(v, kinds)}; see `vibedrill faults`"
            )
        return v

    @model_validator(mode="after")
    def _params_fit_the_kind(self) -> FaultSpec:
        kind = FAULT_KINDS.get(self.kind)
        if kind is None:
            return self
        fields = list(kind.Params.model_fields)
        for key in self.params:
            if key not in fields:
                valid = ", ".join(fields) or "none"
                raise ValueError(
                    f"params: {self.kind} takes no parameter {key!r}{did_you_mean(key, fields)}; valid: {valid}"
                )
        try:
            kind.Params.model_validate(self.params)
        except ValidationError as e:
            errs = e.errors()
            loc = ".".join(str(p) for p in errs[0]["loc"])
            raise ValueError(
                f"params.{loc}: {errs[0]['msg']} (got {errs[0].get('input')!r}) for {self.kind}"
            ) from None
        if self.match.fake is not None and self.match.fake not in kind.fakes:
            raise ValueError(
                f"match.fake: {self.kind} does not apply to {self.match.fake!r}; valid: {', '.join(kind.fakes)}"
            )
        return self

    def target(self) -> str:
        """The fake the fault lives on (``x`` for ``x.rate_limited``)."""
        return (
            self.match.fake or FAULT_KINDS[self.kind].fakes[0]
            if self.kind in FAULT_KINDS
            else self.kind.split(".")[0]
        )


class Detection(_M):
    """How the incident is detected: alert rules (default: the runbook's symptoms) and a deadline."""

    rules: tuple[AlertRule, ...] = ()
    deadline: Duration | None = None
    poll: Duration = 15.0


class RunbookOverrides(_M):
    """Changes to the runbook for this drill: steps to skip, deadlines, parameters."""

    skip: tuple[str, ...] = ()
    deadlines: dict[str, Duration] = Field(default_factory=dict)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)


class InvariantSpec(_M):
    """An invariant to judge, with parameters and a scope (``after_containment``: blast radius)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    scope: Literal["always", "after_containment"] = "always"
    blast_radius: int | None = Field(None, ge=0)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        cat = _cat(info)
        if cat is not None and cat.invariants and v not in cat.invariants:
            raise ValueError(
                _choose(v, "an invariant", cat.invariants) + "; see `vibedrill invariants`"
            )
        return v


class ReachedCheck(_M):
    """Proof the drill bit: a fault kind served at least ``min_hits`` times (or a named probe)."""

    fault: str | None = None
    probe: str | None = None
    #: 0 only for a fault a safe platform never meets (a version it must not send, a trap it
    #: must not walk into): the fault is in force, and the scenario's other checks must prove
    #: the drill bit — a scenario whose every reached check asks for 0 is refused
    min_hits: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _one_target(self) -> ReachedCheck:
        if (self.fault is None) == (self.probe is None):
            raise ValueError("a reached check names exactly one of 'fault' or 'probe'")
        if self.fault is not None and self.fault not in FAULT_KINDS:
            raise ValueError(
                f"fault: {self.fault!r} is not a fault kind{did_you_mean(self.fault, FAULT_KINDS)}"
            )
        return self

    @property
    def name(self) -> str:
        """How the check reads in verdict.json: ``x.rate_limited served``."""
        return f"{self.fault} served" if self.fault else f"{self.probe} observed"


class TimeBound(_M):
    """A deadline: at most ``max``."""

    max: Duration


class CountBound(_M):
    """A count limit: at most ``max``."""

    max: int = Field(ge=0)


class Expect(_M):
    """What the drill must show beyond the invariants: deadlines and blast-radius limits."""

    time_to_detect: TimeBound | None = None
    time_to_contain: TimeBound | None = None
    time_to_mitigate: TimeBound | None = None
    time_to_recover: TimeBound | None = None
    side_effects_after_containment: CountBound | None = None
    side_effects_in_fault_window: CountBound | None = None


class OperatorStep(_M):
    """A control change a person makes at ``at`` (a runbook action), whatever the drill shows.

    ``params`` may name ``{client:N}`` (the N-th client) or ``{account:N:platform}`` (its
    account on a platform); see :mod:`harness.operator`.
    """

    at: Duration
    do: str
    params: dict[str, Any] = Field(default_factory=dict)
    #: why the operator pulls the lever (recorded with the change); None: "scenario operator
    #: step N". An empty reason is sent as it is, and only by a step the platform must refuse
    #: (``refused: true``): a control change nobody can account for must not be taken
    reason: str | None = None
    #: how soon the platform must answer the call (a canary run to confirm a mitigation is no
    #: use an hour later); None: only the drill's own limit on an unanswered call
    within: Duration | None = None
    #: the platform must refuse this call (a misspelt platform, a scope that names nothing): an
    #: operator who mistypes in an incident must be told, not handed a switch that stops nothing
    #: (``operator_calls_answered`` judges it); a refusal of any other step breaks the drill
    refused: bool = False

    @model_validator(mode="after")
    def _runs(self) -> OperatorStep:
        from .runbooks.actions import check_step

        why = check_step(self.do, self.params)
        if why is not None:
            raise ValueError(why)
        if self.reason is not None and not self.reason.strip() and not self.refused:
            raise ValueError(
                f"reason: {self.reason!r} is empty; give the operator's reason, leave it out "
                "(the drill names the step), or say refused: true (the platform must refuse a "
                "change without a reason)"
            )
        return self


class Mutant(_M):
    """A row of the mutation matrix: run with ``defect``, ``invariant`` must come out violated."""

    defect: str
    invariant: str

    @field_validator("defect")
    @classmethod
    def _known_defect(cls, v: str, info: ValidationInfo) -> str:
        cat = _cat(info)
        if cat is not None and v not in cat.defects:
            raise ValueError(_choose(v, "a defect", cat.defects))
        return v

    @field_validator("invariant")
    @classmethod
    def _known_invariant(cls, v: str, info: ValidationInfo) -> str:
        cat = _cat(info)
        if cat is not None and cat.invariants and v not in cat.invariants:
            raise ValueError(_choose(v, "an invariant", cat.invariants))
        return v


class Scenario(_M):
    """One drill: the world, the workload, what goes wrong, how it is found and fixed, and judged."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    runbook: str = Field(pattern=r"^RB-\d\d$")
    severity: Severity
    incident_types: tuple[IncidentType, ...] = Field(min_length=1)
    seed: int = 0
    #: when the drill starts (virtual time, in-process drills; a served world keeps its own
    #: clock): None is the common start, 2026-11-27T12:00:00Z. Written with its zone (``Z``).
    start: datetime | None = None
    lane: Literal["api", "browser"] = "api"
    description: str = ""
    world: WorldSpec = Field(default_factory=WorldSpec)
    workload: Workload = Field(default_factory=Workload)
    defects: tuple[DefectSpec, ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    detection: Detection = Field(default_factory=Detection)
    response: Literal["auto", "observe"] = "auto"
    runbook_overrides: RunbookOverrides = Field(default_factory=RunbookOverrides)
    operator: tuple[OperatorStep, ...] = ()
    invariants: tuple[InvariantSpec, ...] = Field(min_length=1)
    reached: tuple[ReachedCheck, ...] | None = None
    verification: tuple[VerificationCheck, ...] | None = None
    expect: Expect = Field(default_factory=Expect)
    mutants: tuple[Mutant, ...] = ()

    _coerce_defects = field_validator("defects", mode="before")(
        lambda v: [_name_or_mapping(x) for x in v] if isinstance(v, list) else v
    )
    _coerce_invariants = field_validator("invariants", mode="before")(
        lambda v: [_name_or_mapping(x) for x in v] if isinstance(v, list) else v
    )

    @field_validator("start")
    @classmethod
    def _zoned(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.utcoffset() is None:
            raise ValueError(
                f"{v.isoformat()} has no time zone; write the UTC time with a Z, e.g. "
                "2026-12-31T23:30:00Z"
            )
        return v

    @property
    def start_t(self) -> float:
        """The drill's virtual start as unix seconds (``start``, else the common start)."""
        return DEFAULT_EPOCH if self.start is None else self.start.timestamp()

    @field_validator("runbook")
    @classmethod
    def _known_runbook(cls, v: str, info: ValidationInfo) -> str:
        cat = _cat(info)
        if cat is not None and cat.runbooks and v not in cat.runbooks:
            raise ValueError(_choose(v, "a runbook", cat.runbooks))
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        for i, f in enumerate(self.faults):
            if f.at >= self.workload.duration:
                raise ValueError(
                    f"faults[{i}].at: {f.at:g}s is after the drill ends (workload.duration {self.workload.duration:g}s)"
                )
            fake = f.match.fake or FAULT_KINDS[f.kind].fakes[0]
            if fake in SOCIAL_PLATFORMS and fake not in self.world.platforms:
                raise ValueError(
                    f"faults[{i}].kind: {f.kind} targets {fake!r}, which is not in world.platforms ({', '.join(self.world.platforms)})"
                )
        for i, o in enumerate(self.operator):
            if o.at >= self.workload.duration:
                raise ValueError(f"operator[{i}].at: {o.at:g}s is after the drill ends")
        for i, s in enumerate(self.workload.surges):
            if s.at >= self.workload.duration:
                raise ValueError(f"workload.surges[{i}].at: {s.at:g}s is after the drill ends")
        if self.reached and all(c.min_hits == 0 for c in self.reached):
            raise ValueError(
                "reached: every check asks for min_hits 0; a drill needs one that proves it bit "
                "(a fault served, or a probe observed, at least once)"
            )
        return self

    @property
    def reached_checks(self) -> tuple[ReachedCheck, ...]:
        """The reached checks: as written, and one per distinct fault kind that none of those
        names (a fault that never fired tested nothing, whatever else the scenario checks)."""
        written = self.reached or ()
        named = {c.fault for c in written if c.fault is not None}
        kinds = dict.fromkeys(f.kind for f in self.faults if f.kind not in named)
        return (*written, *(ReachedCheck(fault=k) for k in kinds))

    def fault_window(self) -> tuple[float, float] | None:
        """Offsets (seconds) of the incident: the first fault or surge's start to the last one's end.

        A surge (misrouted jobs, a flood of renders, a burst of inbound) is as much the incident
        as a fault rule is; with neither, there is no window.
        """
        end = self.workload.duration
        spans = [
            (f.at, min(end, f.at + (f.duration if f.duration is not None else end)))
            for f in self.faults
        ]
        spans += [(s.at, min(end, s.at + s.duration)) for s in self.workload.surges]
        if not spans:
            return None
        return min(a for a, _ in spans), max(b for _, b in spans)


def load_scenario(
    path: str | Path, catalogue: Catalogue | None = None, *, display: str | None = None
) -> Scenario:
    """Load and validate one scenario file; ScenarioError with one clear message otherwise."""
    path = Path(path)
    shown = display or _display(path)
    try:
        raw = load_yaml_file(path, shown)
    except UnsafeInput as e:
        raise ScenarioError(str(e)) from None
    if not isinstance(raw, dict):
        raise ScenarioError(
            f"{shown}: a scenario must be a mapping of keys (id, title, runbook, …), got {type(raw).__name__}"
        )
    if raw.get("id") != path.stem:
        raise ScenarioError(
            f"{shown}: id: {short_repr(raw.get('id'))} must equal the file name's stem {path.stem!r}"
        )
    cat = catalogue if catalogue is not None else default_catalogue()
    try:
        return Scenario.model_validate(raw, context={"catalogue": cat})
    except Exception as e:
        msg = explain(e, Scenario, raw)
        if msg is None:
            raise
        raise ScenarioError(clip(f"{shown}: {msg}")) from None


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
