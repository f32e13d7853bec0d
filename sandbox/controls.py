"""The control plane: every item of the runbooks' mitigation toolbox, each change recorded.

Pure state and queries, no I/O. The runner and the lanes ask it immediately before every side
effect (``is_killed``, ``mode_for``); a change is a :class:`~sandbox.contract.ControlChange`
with actor, reason and time, and listeners (the runner, telemetry) are told at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .contract import ACTION_TYPES, ControlChange, KillScope
from .defects import did_you_mean
from .settings import SOCIAL_PLATFORMS, BudgetSettings, PacingSettings, Settings

__all__ = [
    "JOB_CLASSES",
    "LANES",
    "MODES",
    "MODE_RANK",
    "ControlError",
    "Controls",
    "Now",
]

Now = Callable[[], float]

JOB_CLASSES: tuple[str, ...] = ("publish", "engagement", "generation", "maintenance")
LANES: tuple[str, ...] = ("api", "browser", "hybrid")
MODES: tuple[str, ...] = ("auto", "approval_required", "manual_only", "read_only")
#: how restrictive a mode is; where several scopes apply the most restrictive wins (fail closed)
MODE_RANK: dict[str, int] = {m: i for i, m in enumerate(MODES)}
CAPABILITIES: tuple[str, ...] = ("text", "image", "video")
PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "media")


class ControlError(ValueError):
    """Bad control input: names the field, the value and the valid choices (HTTP 422)."""

    def __init__(self, field: str, value: Any, message: str, valid: Iterable[str] = ()) -> None:
        self.field, self.value, self.valid = field, value, sorted(str(v) for v in valid)
        hint = did_you_mean(str(value), self.valid) if self.valid else ""
        tail = f"; valid: {', '.join(self.valid)}" if self.valid else ""
        super().__init__(f"{field}: {value!r} {message}{hint}{tail}")

    def to_json(self) -> dict[str, Any]:
        """The error as the HTTP API returns it."""
        return {
            "error": {
                "message": str(self),
                "path": self.field,
                "value": self.value,
                "valid": self.valid,
            }
        }


def _choice(field: str, value: Any, valid: Iterable[str], what: str) -> None:
    valid = tuple(valid)
    if value not in valid:
        raise ControlError(field, value, f"is not {what}", valid)


@dataclass
class Controls:
    """Control-plane state of one platform instance."""

    settings: Settings
    now: Now
    changes: list[ControlChange] = field(default_factory=list)
    kill_switches: set[tuple[str | None, str | None, str | None, str | None]] = field(
        default_factory=set
    )
    lanes: dict[str, str] = field(default_factory=dict)
    modes: dict[tuple[str | None, str | None], str] = field(default_factory=dict)
    #: (platform, lane) pairs held read-only: ingest only, every side effect through them refused
    read_only_lanes: set[tuple[str, str]] = field(default_factory=set)
    paused: set[str] = field(default_factory=set)
    pacing: dict[str, PacingSettings] = field(default_factory=dict)
    blueprints: dict[str, bool] = field(default_factory=dict)
    trigger_lock_global: bool = False
    trigger_lock_clients: set[str] = field(default_factory=set)
    provider_routing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    client_budgets: dict[str, BudgetSettings] = field(default_factory=dict)
    listeners: list[Callable[[ControlChange], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        self.lanes = {p: "api" for p in SOCIAL_PLATFORMS}
        self.pacing = {p: s.pacing_for(p) for p in SOCIAL_PLATFORMS}
        self.blueprints = {b.id: b.enabled for b in s.blueprints}
        self.provider_routing = dict(s.provider_routing)
        self.budget = s.budgets
        self._clients = {c.client_id for c in s.clients}

    # recording ------------------------------------------------------------------------------
    @staticmethod
    def check_attribution(actor: str, reason: str) -> None:
        """Refuse a control change that does not say who makes it and why (before it applies)."""
        for name, value in (("actor", actor), ("reason", reason)):
            if not value.strip():
                raise ControlError(name, value, "must be a non-empty string")

    def _record(
        self, control: str, scope: dict[str, Any], value: Any, actor: str, reason: str
    ) -> ControlChange:
        if not actor or not reason:
            raise ControlError(
                "actor" if not actor else "reason",
                actor if not actor else reason,
                "must be a non-empty string",
            )
        ch = ControlChange(
            seq=len(self.changes) + 1,
            t=self.now(),
            actor=actor,
            reason=reason,
            control=control,
            scope=scope,
            value=value,
        )
        self.changes.append(ch)
        for fn in self.listeners:
            fn(ch)
        return ch

    def since(self, seq: int = 0) -> list[ControlChange]:
        """Control changes after ``seq``."""
        return self.changes[seq:]

    def _client(self, client_id: str | None, field_name: str = "client_id") -> None:
        if client_id is not None and client_id not in self._clients:
            raise ControlError(field_name, client_id, "is not a client", self._clients)

    def _platform(self, platform: str | None) -> None:
        if platform is not None:
            _choice("platform", platform, SOCIAL_PLATFORMS, "a platform")

    # kill switches --------------------------------------------------------------------------
    def set_kill_switch(
        self, scope: KillScope, engaged: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """Engage or release the kill switch for ``scope`` (empty scope = global)."""
        self._client(scope.client_id, "scope.client_id")
        if scope.platform is not None:
            _choice("scope.platform", scope.platform, SOCIAL_PLATFORMS, "a platform")
        key = (scope.client_id, scope.platform, scope.action, scope.account_id)
        if engaged:
            self.kill_switches.add(key)
        else:
            self.kill_switches.discard(key)
        return self._record(
            "kill_switch", scope.model_dump(exclude_none=True), engaged, actor, reason
        )

    def is_killed(
        self,
        client_id: str | None,
        platform: str | None,
        action: str | None,
        account_id: str | None = None,
    ) -> KillScope | None:
        """The engaged kill switch covering this side effect, or None.

        A switch covers a side effect when each field it names matches; a switch naming an
        action type does not cover side effects of no action type (e.g. tool calls).
        """
        for c, p, a, acc in self.kill_switches:
            if (
                (c is None or c == client_id)
                and (p is None or p == platform)
                and (a is None or a == action)
                and (acc is None or acc == account_id)
            ):
                return KillScope(client_id=c, platform=p, action=a, account_id=acc)  # type: ignore[arg-type]
        return None

    # lanes and modes ------------------------------------------------------------------------
    def set_lane(self, platform: str, lane: str, *, actor: str, reason: str) -> ControlChange:
        """Route ``platform``'s side effects through ``lane``."""
        _choice("platform", platform, SOCIAL_PLATFORMS, "a platform")
        _choice("lane", lane, LANES, "a lane")
        self.lanes[platform] = lane
        return self._record("lane", {"platform": platform}, lane, actor, reason)

    def set_lane_read_only(
        self, platform: str, read_only: bool, *, lane: str = "browser", actor: str, reason: str
    ) -> ControlChange:
        """Hold one lane of ``platform`` read-only (ingest only) or let it act again (RB-06)."""
        _choice("platform", platform, SOCIAL_PLATFORMS, "a platform")
        _choice("lane", lane, LANES, "a lane")
        if read_only:
            self.read_only_lanes.add((platform, lane))
        else:
            self.read_only_lanes.discard((platform, lane))
        return self._record(
            "lane_read_only", {"platform": platform, "lane": lane}, read_only, actor, reason
        )

    def lane_read_only(self, platform: str | None, lane: str) -> bool:
        """Whether side effects through ``lane`` on ``platform`` are refused (read-only lane)."""
        return (platform or "", lane) in self.read_only_lanes

    def set_mode(
        self,
        mode: str,
        *,
        client_id: str | None = None,
        platform: str | None = None,
        actor: str,
        reason: str,
    ) -> ControlChange:
        """Set the mode for a scope; ``auto`` removes the scope's override."""
        _choice("mode", mode, MODES, "a mode")
        self._client(client_id)
        self._platform(platform)
        if mode == "auto":
            self.modes.pop((client_id, platform), None)
        else:
            self.modes[(client_id, platform)] = mode
        scope = {
            k: v for k, v in (("client_id", client_id), ("platform", platform)) if v is not None
        }
        return self._record("mode", scope, mode, actor, reason)

    def mode_for(self, client_id: str | None, platform: str | None) -> str:
        """The mode in force for a side effect: the most restrictive of every applicable scope."""
        best = "auto"
        for (c, p), m in self.modes.items():
            if (
                (c is None or c == client_id)
                and (p is None or p == platform)
                and MODE_RANK[m] > MODE_RANK[best]
            ):
                best = m
        return best

    # queues, pacing -------------------------------------------------------------------------
    def set_queue_paused(
        self, job_class: str, paused: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """Pause or resume the consumers of a job class."""
        _choice("job_class", job_class, JOB_CLASSES, "a job class")
        if paused:
            self.paused.add(job_class)
        else:
            self.paused.discard(job_class)
        return self._record("queue_paused", {"job_class": job_class}, paused, actor, reason)

    def set_pacing(
        self,
        platform: str,
        *,
        actor: str,
        reason: str,
        concurrency: int | None = None,
        min_interval_s: float | None = None,
        jitter_s: float | None = None,
        daily_caps: dict[str, int] | None = None,
    ) -> ControlChange:
        """Change pacing of a platform; fields left None keep their value."""
        _choice("platform", platform, SOCIAL_PLATFORMS, "a platform")
        if concurrency is not None and not 1 <= concurrency <= 256:
            raise ControlError("concurrency", concurrency, "must be between 1 and 256")
        for name, v in (("min_interval_s", min_interval_s), ("jitter_s", jitter_s)):
            if v is not None and not v >= 0:
                raise ControlError(name, v, "must be a number ≥ 0")
        for k, v in (daily_caps or {}).items():
            _choice(f"daily_caps.{k}", k, ACTION_TYPES, "an action type")
            if not isinstance(v, int) or v < 0:
                raise ControlError(f"daily_caps.{k}", v, "must be an integer ≥ 0")
        cur = self.pacing[platform]
        upd: dict[str, Any] = {}
        if concurrency is not None:
            upd["concurrency"] = concurrency
        if min_interval_s is not None:
            upd["min_interval_s"] = float(min_interval_s)
        if jitter_s is not None:
            upd["jitter_s"] = float(jitter_s)
        if daily_caps is not None:
            upd["daily_caps"] = {**cur.daily_caps, **daily_caps}
        self.pacing[platform] = cur.model_copy(update=upd)
        return self._record(
            "pacing", {"platform": platform}, self.pacing[platform].model_dump(), actor, reason
        )

    # engagement -----------------------------------------------------------------------------
    def set_blueprint_enabled(
        self, blueprint_id: str, enabled: bool, *, actor: str, reason: str
    ) -> ControlChange:
        """Enable or disable an engagement blueprint."""
        _choice("blueprint_id", blueprint_id, self.blueprints, "a blueprint")
        self.blueprints[blueprint_id] = enabled
        return self._record(
            "blueprint_enabled", {"blueprint_id": blueprint_id}, enabled, actor, reason
        )

    def blueprint_enabled(self, blueprint_id: str) -> bool:
        """Whether a blueprint may trigger (unknown blueprints may not)."""
        return self.blueprints.get(blueprint_id, False)

    def set_trigger_lock(
        self, locked: bool, *, client_id: str | None = None, actor: str, reason: str
    ) -> ControlChange:
        """Lock (or unlock) keyword triggers, globally or for one client."""
        self._client(client_id)
        if client_id is None:
            self.trigger_lock_global = locked
        elif locked:
            self.trigger_lock_clients.add(client_id)
        else:
            self.trigger_lock_clients.discard(client_id)
        return self._record(
            "trigger_lock", {"client_id": client_id} if client_id else {}, locked, actor, reason
        )

    def triggers_locked(self, client_id: str) -> bool:
        """Whether keyword triggers of ``client_id`` are locked."""
        return self.trigger_lock_global or client_id in self.trigger_lock_clients

    # providers and budgets ------------------------------------------------------------------
    def set_provider_routing(
        self, capability: str, providers: list[str], *, actor: str, reason: str
    ) -> ControlChange:
        """Route a capability to ``providers`` in failover order."""
        _choice("capability", capability, CAPABILITIES, "a capability")
        if not providers:
            raise ControlError("providers", providers, "must name at least one provider", PROVIDERS)
        for i, p in enumerate(providers):
            _choice(f"providers[{i}]", p, PROVIDERS, "a provider")
        self.provider_routing[capability] = tuple(providers)
        return self._record(
            "provider_routing", {"capability": capability}, list(providers), actor, reason
        )

    def set_budget(
        self,
        *,
        actor: str,
        reason: str,
        client_id: str | None = None,
        episode_tokens: int | None = None,
        episode_usd: float | None = None,
        client_usd: float | None = None,
        client_tokens: int | None = None,
    ) -> ControlChange:
        """Set cost budgets, platform-wide or for one client; fields left None keep their value."""
        self._client(client_id)
        vals = {
            "episode_tokens": episode_tokens,
            "episode_usd": episode_usd,
            "client_usd": client_usd,
            "client_tokens": client_tokens,
        }
        for k, v in vals.items():
            if v is not None and not v >= 0:
                raise ControlError(k, v, "must be a number ≥ 0")
        upd = {k: v for k, v in vals.items() if v is not None}
        if client_id is None:
            self.budget = self.budget.model_copy(update=upd)
            value = self.budget.model_dump()
        else:
            cur = self.client_budgets.get(client_id, self.budget)
            self.client_budgets[client_id] = cur.model_copy(update=upd)
            value = self.client_budgets[client_id].model_dump()
        return self._record(
            "budget", {"client_id": client_id} if client_id else {}, value, actor, reason
        )

    def budget_for(self, client_id: str | None) -> BudgetSettings:
        """The budgets in force for a client (its own, else the platform-wide ones)."""
        if client_id is not None and client_id in self.client_budgets:
            return self.client_budgets[client_id]
        return self.budget

    # persistence ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything a restart must keep, as JSON: the change log and every control's state
        (:meth:`restore` puts it back; ``sandbox.storage`` writes it after every change)."""
        return {
            "changes": [c.model_dump(mode="json") for c in self.changes],
            "kill_switches": [list(k) for k in self.kill_switches],
            "lanes": dict(self.lanes),
            "modes": [[c, p, m] for (c, p), m in self.modes.items()],
            "read_only_lanes": [list(x) for x in self.read_only_lanes],
            "paused": sorted(self.paused),
            "pacing": {p: v.model_dump(mode="json") for p, v in self.pacing.items()},
            "blueprints": dict(self.blueprints),
            "trigger_lock_global": self.trigger_lock_global,
            "trigger_lock_clients": sorted(self.trigger_lock_clients),
            "provider_routing": {k: list(v) for k, v in self.provider_routing.items()},
            "budget": self.budget.model_dump(mode="json"),
            "client_budgets": {
                k: v.model_dump(mode="json") for k, v in self.client_budgets.items()
            },
        }

    def restore(self, doc: dict[str, Any]) -> None:
        """Put back a :meth:`state` (a platform restarted on its storage). Listeners are not
        told: nothing changed, the platform only remembers."""
        self.changes = [ControlChange.model_validate(c) for c in doc["changes"]]
        self.kill_switches = {(k[0], k[1], k[2], k[3]) for k in doc["kill_switches"]}
        self.lanes = dict(doc["lanes"])
        self.modes = {(c, p): m for c, p, m in doc["modes"]}
        self.read_only_lanes = {(p, lane) for p, lane in doc["read_only_lanes"]}
        self.paused = set(doc["paused"])
        self.pacing = {p: PacingSettings.model_validate(v) for p, v in doc["pacing"].items()}
        self.blueprints = dict(doc["blueprints"])
        self.trigger_lock_global = bool(doc["trigger_lock_global"])
        self.trigger_lock_clients = set(doc["trigger_lock_clients"])
        self.provider_routing = {k: tuple(v) for k, v in doc["provider_routing"].items()}
        self.budget = BudgetSettings.model_validate(doc["budget"])
        self.client_budgets = {
            k: BudgetSettings.model_validate(v) for k, v in doc["client_budgets"].items()
        }

    # snapshot -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The whole control state as JSON (``controls()`` on the platform contract)."""
        return {
            "kill_switches": [
                {
                    k: v
                    for k, v in (
                        ("client_id", c),
                        ("platform", p),
                        ("action", a),
                        ("account_id", acc),
                    )
                    if v is not None
                }
                for c, p, a, acc in sorted(
                    self.kill_switches, key=lambda t: tuple(x or "" for x in t)
                )
            ],
            "lanes": dict(self.lanes),
            "read_only_lanes": [
                {"platform": p, "lane": lane} for p, lane in sorted(self.read_only_lanes)
            ],
            "modes": [
                {**({"client_id": c} if c else {}), **({"platform": p} if p else {}), "mode": m}
                for (c, p), m in sorted(
                    self.modes.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")
                )
            ],
            "paused": sorted(self.paused),
            "pacing": {p: s.model_dump() for p, s in self.pacing.items()},
            "blueprints": dict(self.blueprints),
            "trigger_lock": {
                "global": self.trigger_lock_global,
                "clients": sorted(self.trigger_lock_clients),
            },
            "provider_routing": {k: list(v) for k, v in self.provider_routing.items()},
            "budgets": {
                "platform": self.budget.model_dump(),
                "clients": {k: v.model_dump() for k, v in self.client_budgets.items()},
            },
            # read-only (settings): how often a job may run before it is dead-lettered, so a
            # judge can check the runner against the policy the platform itself states
            "retry": self.settings.retry.model_dump(),
        }
