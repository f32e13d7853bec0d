"""Detection: alert rules over the platform's telemetry — audit feed, metrics, its own alerts.

The detector never reads the fakes' ledger: it sees what an on-call engineer would see on the
platform's dashboards. It polls every ``poll`` seconds of virtual time, keeps the audit outcomes
and metric samples of the last window, and reports the first rule that fires after the incident
started (with the platforms and clients it saw, which become the incident's scope).
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sandbox.contract import Alert, AuditEvent, PlatformClient

from ..runbooks.model import AlertRule

__all__ = ["Detection", "Detector"]


@dataclass(frozen=True)
class Detection:
    """A rule that fired: when, why, and what it saw (the incident's scope)."""

    t: float
    rule: str
    source: str
    message: str
    platforms: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()


def _metric_total(snapshot: dict[str, float], name: str) -> float | None:
    for key in (name, f"{name}_total"):
        if key in snapshot:
            return snapshot[key]
    return None


@dataclass
class Detector:
    """Evaluates alert rules over the platform's telemetry as the drill's time passes."""

    platform: PlatformClient
    rules: tuple[AlertRule, ...]
    #: platform names substituted for ``{platform}`` in error globs
    platforms: tuple[str, ...] = ()
    audit_cursor: int = 0
    alert_cursor: int = 0
    #: every alert the platform raised, in order (the drill records them on the timeline)
    platform_alerts: list[Alert] = field(default_factory=list)
    #: every audit event seen, in order (kept for the record)
    audit: list[AuditEvent] = field(default_factory=list)
    metrics_samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    _recent: deque[AuditEvent] = field(default_factory=deque)
    _max_window: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self._max_window = max((r.window for r in self.rules), default=300.0)

    async def poll(self, now: float) -> tuple[list[Alert], list[AuditEvent]]:
        """Fetch new audit events, alerts and a metrics sample; return the new alerts and events.

        One poll at a time: over HTTP two callers (the monitor and a runbook step's snapshot)
        would otherwise read the same cursor and record the same events twice.
        """
        async with self._lock:
            return await self._poll(now)

    async def _poll(self, now: float) -> tuple[list[Alert], list[AuditEvent]]:
        new_events: list[AuditEvent] = []
        while True:
            page = await self.platform.audit(self.audit_cursor, 1000)
            new_events.extend(page.events)
            moved = page.next_cursor != self.audit_cursor
            self.audit_cursor = page.next_cursor
            if not page.events or not moved:
                break
        self.audit.extend(new_events)
        self._recent.extend(e for e in new_events if e.phase == "outcome" or e.error)
        while self._recent and self._recent[0].t < now - self._max_window:
            self._recent.popleft()
        alerts = await self.platform.alerts(self.alert_cursor)
        if alerts:
            self.alert_cursor = max(a.seq for a in alerts)
            self.platform_alerts.extend(alerts)
        self.metrics_samples.append((now, dict(await self.platform.metrics())))
        return list(alerts), new_events

    def evaluate(self, now: float, since: float, new_alerts: list[Alert]) -> Detection | None:
        """The first rule that fires at ``now`` on evidence newer than ``since``, if any."""
        for rule in self.rules:
            hit = self._check(rule, now, since, new_alerts)
            if hit is not None:
                return hit
        return None

    def _check(
        self, rule: AlertRule, now: float, since: float, new_alerts: list[Alert]
    ) -> Detection | None:
        if rule.source == "alert":
            pattern = rule.alert or "*"
            for a in new_alerts:
                if a.t >= since and fnmatch.fnmatchcase(a.name, pattern):
                    plats = tuple(v for k, v in sorted(a.labels.items()) if k == "platform")
                    clients = tuple(v for k, v in sorted(a.labels.items()) if k == "client_id")
                    return Detection(
                        now,
                        rule.name,
                        "alert",
                        f"platform alert {a.name}: {a.message}",
                        plats,
                        clients,
                    )
            return None
        if rule.source == "audit":
            lo = max(since, now - rule.window)
            globs = (
                [rule.error.replace("{platform}", p) for p in self.platforms]
                if rule.error and "{platform}" in rule.error
                else [rule.error]
            )
            matched = [
                e
                for e in self._recent
                if e.t >= lo
                and (rule.action is None or e.action == rule.action)
                and (rule.outcome is None or e.outcome == rule.outcome)
                and (
                    rule.error is None
                    or (
                        e.error is not None
                        and any(fnmatch.fnmatchcase(e.error, g or "*") for g in globs)
                    )
                )
            ]
            if len(matched) >= rule.threshold:
                plats = tuple(sorted({e.platform for e in matched}))
                clients = tuple(sorted({e.client_id for e in matched}))
                what = " ".join(x for x in (rule.action, rule.outcome, rule.error) if x) or "events"
                return Detection(
                    now,
                    rule.name,
                    "audit",
                    f"{len(matched)} audit outcomes ({what}) in {rule.window:g}s",
                    plats,
                    clients,
                )
            return None
        assert rule.metric is not None
        current = (
            _metric_total(self.metrics_samples[-1][1], rule.metric)
            if self.metrics_samples
            else None
        )
        if current is None:
            return None
        lo = max(since, now - rule.window)
        base = None
        for t, snap in self.metrics_samples:
            if t >= lo:
                base = _metric_total(snap, rule.metric)
                break
        if base is not None and current - base >= rule.threshold:
            return Detection(
                now,
                rule.name,
                "metric",
                f"{rule.metric} rose by {current - base:g} within {rule.window:g}s",
            )
        return None

    def describe(self) -> list[dict[str, Any]]:
        """The rules as shown in reports."""
        return [r.model_dump(mode="json") for r in self.rules]
