"""The platform's own alerts: fired at once by guards, or by rules over recent telemetry.

Immediate alerts (``tenancy_mismatch``, ``egress_refused``) are fired by the code that refuses
the side effect. Windowed rules (error rates, verification failures, rate limits, dead letters,
spend, audit gap, the engagement rate) are evaluated every ``alert_interval_s`` by the
platform, the engagement rate (``engagement_rate_high``) also after every engagement poll. An alert with the
same name and labels is not fired again within ``cooldown_s``, so a storm stays one page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .contract import Alert

__all__ = ["ALERT_NAMES", "AlertRules", "Alerts"]

ALERT_NAMES: tuple[str, ...] = (
    "verification_failed_high",
    "publish_error_rate_high",
    "rate_limited",
    "tenancy_mismatch",
    "egress_refused",
    "auth_failing",
    "dead_letters_rising",
    "spend_high",
    "audit_gap",
    "queue_backlog",
    "engagement_rate_high",
    "inbox_unreadable",
)


@dataclass
class Alerts:
    """Alerts raised so far, deduplicated by (name, labels) within ``cooldown_s``."""

    now: Callable[[], float]
    cooldown_s: float = 600.0
    fired: list[Alert] = field(default_factory=list)
    _last: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    listeners: list[Callable[[Alert], None]] = field(default_factory=list)

    def fire(
        self, name: str, message: str, *, severity: str = "page", **labels: str
    ) -> Alert | None:
        """Raise an alert unless the same one fired within the cooldown; returns it if raised."""
        if name not in ALERT_NAMES:
            raise ValueError(f"{name!r} is not an alert name; valid: {', '.join(ALERT_NAMES)}")
        key = (name, tuple(sorted(labels.items())))
        t = self.now()
        last = self._last.get(key)
        if last is not None and t - last < self.cooldown_s:
            return None
        self._last[key] = t
        a = Alert(
            seq=len(self.fired) + 1,
            t=t,
            name=name,
            severity=severity,
            labels=dict(labels),
            message=message,
        )  # type: ignore[arg-type]
        self.fired.append(a)
        for fn in self.listeners:
            fn(a)
        return a

    def since(self, seq: int = 0) -> list[Alert]:
        """Alerts after ``seq``."""
        return self.fired[seq:]


@dataclass(frozen=True)
class AlertRules:
    """Thresholds of the windowed alert rules."""

    window_s: float = 600.0
    verification_failed_min: int = 3
    error_rate: float = 0.3
    error_min_attempts: int = 5
    rate_limited_min: int = 3
    dead_letters_min: int = 3
    auth_failures_min: int = 3
    spend_fraction: float = 0.8
    backlog_depth: int = 500
    #: replies and DMs sent within ``window_s`` that page the Ops Lead (RB-10)
    engagement_replies_min: int = 60
    #: accounts' inbox reads of one platform that failed within ``window_s`` (engagement there
    #: has stopped, though polls go on: RB-10's silent stop)
    inbox_failures_min: int = 5
