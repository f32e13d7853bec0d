"""The drill record: everything a drill saw, as plain data, so judging is a pure function of it.

The drill loop fills a :class:`DrillRecord` at the end of a run: the scenario, the timeline, the
fakes' ground truth (ledger, journal, fault rules with their hit counts), the platform's claims
(audit, control changes, alerts, final job states, metrics samples) and the drill's intent (the
workload it submitted) plus a few *world facts* (who owns which account and credential, which
posts the fakes never made visible, which inbound comments exist). Invariants, metrics, the
verdict and the postmortem read nothing else.

Rows are plain dicts of JSON atoms: ``LedgerEntry``/``JournalEntry`` named tuples and pydantic
models (``AuditEvent``, ``ControlChange``, ``Alert``, ``Job``) are converted on construction.
``secrets`` holds the credential strings the drill knows, only so that ``no_secret_in_artifacts``
can look for them; it is never written out (:meth:`DrillRecord.to_json` leaves it out).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from fakes.core.roster import SOCIAL_PLATFORMS

from .rows import (
    AccountFacts,
    AlertRow,
    AuditRow,
    ControlChangeRow,
    ControlRequestRow,
    CredentialFacts,
    FaultRow,
    InboundRow,
    JobRow,
    JournalRow,
    Json,
    JsonObject,
    LedgerRow,
    WorkloadRow,
    as_row,
    rows_of,
)
from .timeline import Timeline

__all__ = [
    "AUDIT_ACTION_OF",
    "KILL_ACTION_OF",
    "PAID_LEDGER_ACTIONS",
    "PROVIDER_FAKES",
    "SIDE_EFFECT_ACTIONS",
    "SOCIAL_AUDIT_ACTIONS",
    "SOCIAL_FAKES",
    "DrillRecord",
    "KillInterval",
    "as_row",
    "scenario_field",
    "scenario_items",
]

#: the social platforms (one list for the whole project: ``fakes.core.roster``)
SOCIAL_FAKES: tuple[str, ...] = SOCIAL_PLATFORMS
PROVIDER_FAKES: tuple[str, ...] = ("openai", "anthropic", "media", "toolgate")
#: ledger action → the audit action that claims it
AUDIT_ACTION_OF: dict[str, str] = {
    "post.created": "post.create",
    "post.deleted": "post.delete",
    "reply.created": "reply.create",
    "dm.sent": "dm.send",
    "like.created": "like.create",
    "llm.completion": "llm.complete",
    "image.generated": "image.generate",
    "video.generated": "video.generate",
    "tool.called": "tool.call",
}
#: ledger action → the kill-switch action type that covers it (None: only global/client switches)
KILL_ACTION_OF: dict[str, str | None] = {
    "post.created": "publish",
    "post.deleted": "publish",
    "reply.created": "reply",
    "dm.sent": "dm",
    "like.created": "like",
    "llm.completion": "generate",
    "image.generated": "generate",
    "video.generated": "generate",
    "tool.called": None,
}
#: the side effects on social accounts (what a kill switch exists to stop)
SIDE_EFFECT_ACTIONS: tuple[str, ...] = ("post.created", "reply.created", "dm.sent", "like.created")
#: the providers' paid calls (spend: what a ``generate`` kill switch stops)
PAID_LEDGER_ACTIONS: tuple[str, ...] = ("llm.completion", "image.generated", "video.generated")
#: the audit actions of the social side effects: one attempt of them per run of their job
SOCIAL_AUDIT_ACTIONS: frozenset[str] = frozenset(
    {"post.create", "post.delete", "reply.create", "dm.send", "like.create"}
)


def scenario_field(scenario: object, name: str, default: object = None) -> object:
    """Read ``name`` from a Scenario model or a plain dict, with a default."""
    if scenario is None:
        return default
    if isinstance(scenario, Mapping):
        return scenario.get(name, default)
    return getattr(scenario, name, default)


def scenario_items(scenario: object, name: str) -> tuple[object, ...]:
    """The list ``name`` of a Scenario model or a plain dict (``()`` when absent or empty);
    ``TypeError`` naming the field when it is not a list."""
    value = scenario_field(scenario, name)
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise TypeError(f"scenario {name}: {value!r} is not a list")
    return tuple(value)


class RecordExtra(TypedDict, total=False):
    """What a drill adds to its record besides the rows: kept in the verdict and the report."""

    #: the verification checks after healing, and the evidence snapshots the Ops Lead took
    verification: list[JsonObject]
    snapshots: list[JsonObject]
    #: the first detection (t, rule, source, message, platforms, clients), and the rules
    detection: JsonObject | None
    detection_rules: list[JsonObject]
    #: the runbook steps the Ops Lead completed
    runbook_steps: list[JsonObject]
    interrupted: bool
    error: str | None
    simulated_s: float
    #: served drills: how long a request may be on the wire (world seconds), and the scale
    in_flight_s: float
    #: served drills: how far the platform's and the fakes' clocks may disagree (world seconds)
    clock_skew_s: float
    #: served drills: the worst lateness of the harness's own timers (world seconds; the
    #: in-flight allowance is at least twice it)
    loop_lag_s: float
    #: served drills: the in-flight allowance before the measured lag grew it (world seconds)
    in_flight_floor_s: float
    time_scale: float
    #: a game day's grades, people, notes and drafts
    rehearsal: JsonObject
    #: browser drills: screenshots and DOM snapshots, and where the web UI was served
    browser_evidence: list[JsonObject]
    served_at: str | None


@dataclass(frozen=True, slots=True)
class KillInterval:
    """A kill switch engaged over ``[start, end)`` for ``scope`` (end None: still engaged)."""

    start: float
    end: float | None
    scope: Mapping[str, Json]
    control_seq: int | None = None
    actor: str = ""
    reason: str = ""

    def covers(
        self,
        t: float,
        *,
        client_id: str | None,
        platform: str | None,
        action: str | None,
        account_id: str | None = None,
    ) -> bool:
        """Whether a side effect at ``t`` with these attributes falls under this switch."""
        if t < self.start or (self.end is not None and t >= self.end):
            return False
        for key, value in (
            ("client_id", client_id),
            ("platform", platform),
            ("action", action),
            ("account_id", account_id),
        ):
            want = self.scope.get(key)
            if want is not None and want != value:
                return False
        return True

    def label(self) -> str:
        """'global' or e.g. 'client_id=acme, platform=x'."""
        parts = [f"{k}={v}" for k, v in sorted(self.scope.items()) if v is not None]
        return ", ".join(parts) if parts else "global"


@dataclass(frozen=True)
class DrillRecord:
    """Everything one drill saw; see the module docstring for what each field holds."""

    #: the scenario: a :class:`harness.scenario.Scenario` or a plain dict with its fields
    scenario: object
    drill_id: str
    seed: int
    start_t: float
    end_t: float
    timeline: Timeline = field(default_factory=Timeline)
    commit: str | None = None
    topology: str = "in-process"
    mode: str = "auto"
    defects: tuple[str, ...] = ()
    #: fakes' ledger rows (``LedgerEntry._asdict()``), in ledger order
    ledger: list[LedgerRow] = field(default_factory=list)
    #: fakes' journal rows (``JournalEntry._asdict()``)
    journal: list[JournalRow] = field(default_factory=list)
    #: platform AuditEvents (attempts and outcomes)
    audit: list[AuditRow] = field(default_factory=list)
    control_changes: list[ControlChangeRow] = field(default_factory=list)
    #: the control requests the harness sent (operator steps, the Ops Lead, a game day's people)
    control_requests: list[ControlRequestRow] = field(default_factory=list)
    #: the platform's whole control state (``controls()``) when the drill began and ended
    controls_at_start: JsonObject = field(default_factory=dict)
    controls_at_end: JsonObject = field(default_factory=dict)
    alerts: list[AlertRow] = field(default_factory=list)
    #: ``GET /_fake/faults`` rows: id, kind, params, match, start, end, hits, first_hit_at, …
    fault_rules: list[FaultRow] = field(default_factory=list)
    #: ``GET /_fake/faults`` history: id, kind, installed_at, removed_at, hits, first_hit_at
    fault_history: list[FaultRow] = field(default_factory=list)
    #: the drill's intent: job_id, kind, client_id, platform, account_id, submitted_at,
    #: idempotency_key, content_hash, episode_id, blueprint_id
    workload: list[WorkloadRow] = field(default_factory=list)
    #: the platform's jobs at the end: id, state, kind, client_id, platform, run_at, updated_at
    jobs: list[JobRow] = field(default_factory=list)
    #: metric samples in time order: (t, {metric: value})
    metrics_samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    #: budgets in force: client_usd / client_tokens (per client id or one number),
    #: episode_usd / episode_tokens
    budgets: JsonObject = field(default_factory=dict)
    #: the retry policy the platform states in ``controls()["retry"]`` (``max_attempts``,
    #: ``base_delay_s``, ``max_delay_s``, ``jitter``); empty when the platform does not state one
    retry_policy: JsonObject = field(default_factory=dict)
    #: world facts — account id → {tenant_id, platform, handle}
    accounts: dict[str, AccountFacts] = field(default_factory=dict)
    #: world facts — client id → display name
    clients: dict[str, str] = field(default_factory=dict)
    #: world facts — credential fingerprint → {account_id, tenant_id}
    credentials: dict[str, CredentialFacts] = field(default_factory=dict)
    #: world facts — "platform:resource_id" of posts the fakes never made visible
    invisible_resources: frozenset[str] = frozenset()
    #: world facts — inbound comments/DMs: id, fake, account_id, post_id, author, t, echo
    inbound: list[InboundRow] = field(default_factory=list)
    #: the base URLs the platform was given for each service (fake name → its API's and web
    #: UI's; empty when the drill does not know the platform's settings, e.g. served elsewhere)
    given_urls: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: jobs the drill submitted again under their idempotency key: the key, the job id the
    #: platform handed back and when (``workload.resubmits``)
    resubmissions: list[JsonObject] = field(default_factory=list)
    #: the engagement blueprints the drill's settings ship (id, client_id, platform, keywords,
    #: enabled): what the judge holds the platform's answers against, whatever the platform says
    blueprints: tuple[JsonObject, ...] = ()
    #: provider status during the drill (fake → status text), for the evidence bundle
    provider_status: dict[str, str] = field(default_factory=dict)
    #: first containment action; derived from the timeline when None
    containment_t: float | None = None
    #: (start, end) of the fault window; derived from the timeline when None
    fault_window: tuple[float, float] | None = None
    #: report files rendered before judging (relative path → text), scanned for secrets
    artifacts: dict[str, str] = field(default_factory=dict)
    #: credential strings known to the drill; never written out
    secrets: tuple[str, ...] = field(default=(), repr=False)
    #: what the drill loop adds for the report and the verdict
    extra: RecordExtra = field(default_factory=lambda: RecordExtra())

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        tl = self.timeline
        if not isinstance(tl, Timeline):
            set_(self, "timeline", Timeline(tl))
        set_(self, "ledger", rows_of(LedgerRow, self.ledger))
        set_(self, "journal", rows_of(JournalRow, self.journal))
        set_(self, "audit", rows_of(AuditRow, self.audit))
        set_(self, "control_changes", rows_of(ControlChangeRow, self.control_changes))
        set_(self, "control_requests", rows_of(ControlRequestRow, self.control_requests))
        set_(self, "alerts", rows_of(AlertRow, self.alerts))
        set_(self, "fault_rules", rows_of(FaultRow, self.fault_rules))
        set_(self, "fault_history", rows_of(FaultRow, self.fault_history))
        set_(self, "workload", rows_of(WorkloadRow, self.workload))
        set_(self, "jobs", rows_of(JobRow, self.jobs))
        set_(self, "inbound", rows_of(InboundRow, self.inbound))
        samples = self.metrics_samples
        if isinstance(samples, Mapping):
            samples = sorted(samples.items())
        set_(self, "metrics_samples", [(float(t), dict(v)) for t, v in samples])
        set_(self, "defects", tuple(self.defects))
        set_(self, "secrets", tuple(s for s in self.secrets if s))
        set_(self, "invisible_resources", frozenset(self.invisible_resources))
        if self.fault_window is not None:
            set_(self, "fault_window", (float(self.fault_window[0]), float(self.fault_window[1])))

    # --- scenario ---------------------------------------------------------------------------

    @property
    def scenario_id(self) -> str:
        """The scenario's id."""
        return str(scenario_field(self.scenario, "id", "") or "")

    @property
    def title(self) -> str:
        """The scenario's title."""
        return str(scenario_field(self.scenario, "title", "") or self.scenario_id)

    @property
    def runbook(self) -> str:
        """The runbook id, e.g. ``RB-05``."""
        return str(scenario_field(self.scenario, "runbook", "") or "")

    @property
    def severity(self) -> str:
        """The severity, e.g. ``P2``."""
        return str(scenario_field(self.scenario, "severity", "") or "")

    @property
    def incident_types(self) -> tuple[str, ...]:
        """The incident types, e.g. ``('RATE',)``."""
        return tuple(str(x) for x in scenario_items(self.scenario, "incident_types"))

    # --- derived facts ----------------------------------------------------------------------

    def offset(self, t: float | None) -> float | None:
        """Seconds since the drill's start."""
        return None if t is None else t - self.start_t

    def handle(self, account_id: str | None) -> str:
        """The account's handle (``@acme_x``) when known, else its id."""
        if account_id is None:
            return "an unknown account"
        return str(self.accounts.get(account_id, {}).get("handle") or account_id)

    def client_name(self, client_id: str | None) -> str:
        """The client's display name when known, else its id."""
        if client_id is None:
            return "an unknown client"
        return self.clients.get(client_id, client_id)

    def kill_intervals(self) -> list[KillInterval]:
        """Kill-switch intervals from the control changes (control ``kill_switch``)."""
        open_: dict[str, tuple[JsonObject, float, int | None, str, str]] = {}
        out: list[KillInterval] = []
        for c in sorted(self.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
            if c.get("control") != "kill_switch":
                continue
            scope: JsonObject = {
                k: v for k, v in dict(c.get("scope") or {}).items() if v is not None
            }
            key = repr(sorted(scope.items()))
            value = c.get("value")
            engaged = value.get("engaged") if isinstance(value, Mapping) else bool(value)
            if engaged and key not in open_:
                open_[key] = (
                    scope,
                    float(c["t"]),
                    c.get("seq"),
                    str(c.get("actor", "")),
                    str(c.get("reason", "")),
                )
            elif not engaged and key in open_:
                scope_, start, seq, actor, reason = open_.pop(key)
                out.append(KillInterval(start, float(c["t"]), scope_, seq, actor, reason))
        for scope_, start, seq, actor, reason in open_.values():
            out.append(KillInterval(start, None, scope_, seq, actor, reason))
        return sorted(out, key=lambda k: k.start)

    def first_containment_t(self) -> float | None:
        """When the first containment action happened: explicit, else the earliest kill switch
        engaged or control change made by someone other than the drill/platform, once the
        fault window has begun (a control set before anything went wrong is set-up, not
        containment)."""
        if self.containment_t is not None:
            return self.containment_t
        cands = [e.t for e in self.timeline.of_kind("kill_switch.engaged")]
        cands += [k.start for k in self.kill_intervals() if k.actor != "drill"]
        cands += [
            e.t
            for e in self.timeline.of_kind("control.changed")
            if e.actor not in ("drill", "platform", "fake")
        ]
        w = self.window()
        if w is not None:
            cands = [t for t in cands if t >= w[0]]
        return min(cands) if cands else None

    def window(self) -> tuple[float, float] | None:
        """The fault window: explicit, else first fault.injected/defect.activated → last heal."""
        if self.fault_window is not None:
            return self.fault_window
        starts = [e.t for e in self.timeline.of_kind("fault.injected", "defect.activated")]
        if not starts:
            return None
        ends = [e.t for e in self.timeline.of_kind("fault.healed", "defect.deactivated")]
        end = max(ends) if ends and max(ends) >= min(starts) else self.end_t
        return (min(starts), end)

    #: the row lists :meth:`dumped` serialises
    DUMPED = ("ledger", "journal", "audit", "control_changes", "alerts", "jobs")

    def dumped(self, name: str) -> tuple[str, ...]:
        """Each row of the list ``name`` (one of :data:`DUMPED`) as the JSON line the report's
        evidence holds (sorted keys, ``default=str``, not ASCII-escaped), made once per record:
        the secret scan and the evidence writer both read them, and the rows do not change."""
        if name not in self.DUMPED:
            raise ValueError(f"{name!r} is not a dumped row list; valid: {', '.join(self.DUMPED)}")
        memo: dict[str, tuple[str, ...]] = self.__dict__.setdefault("_dumped", {})
        got = memo.get(name)
        if got is None:
            rows: list[Mapping[str, object]] = getattr(self, name)
            got = memo[name] = tuple(
                json.dumps(r, sort_keys=True, default=str, ensure_ascii=False) for r in rows
            )
        return got

    def with_artifacts(self, artifacts: Mapping[str, str]) -> DrillRecord:
        """This record with ``artifacts`` (a report's drafts) instead of its own; the rows are the
        same, and so are their :meth:`dumped` lines (shared, not made again)."""
        new = dataclasses.replace(self, artifacts=dict(artifacts))
        new.__dict__["_dumped"] = self.__dict__.setdefault("_dumped", {})
        return new

    def fault_rows(self) -> list[FaultRow]:
        """Every fault rule ever installed, merged from ``fault_rules`` and ``fault_history``."""
        by_id: dict[str, FaultRow] = {}
        for h in self.fault_history:
            by_id[str(h.get("id"))] = FaultRow(**h)
        for r in self.fault_rules:
            by_id.setdefault(str(r.get("id")), FaultRow()).update(r)
        return list(by_id.values())

    def job_intent(self) -> dict[str, WorkloadRow]:
        """Workload rows by job id."""
        return {str(w["job_id"]): w for w in self.workload if w.get("job_id") is not None}

    def to_json(self) -> JsonObject:
        """The record as JSON, without the secrets (for debugging and replay)."""
        window = self.window()
        return {
            "drill_id": self.drill_id,
            "scenario": self.scenario_id,
            "seed": self.seed,
            "commit": self.commit,
            "topology": self.topology,
            "mode": self.mode,
            "defects": list(self.defects),
            "start_t": self.start_t,
            "end_t": self.end_t,
            "containment_t": self.first_containment_t(),
            "fault_window": None if window is None else [window[0], window[1]],
            "counts": {
                "timeline": len(self.timeline),
                "ledger": len(self.ledger),
                "journal": len(self.journal),
                "audit": len(self.audit),
                "control_changes": len(self.control_changes),
                "control_requests": len(self.control_requests),
                "alerts": len(self.alerts),
                "workload": len(self.workload),
                "jobs": len(self.jobs),
            },
        }
