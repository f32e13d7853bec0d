"""Telemetry: Prometheus metrics in a per-platform registry, plus short windows for alert rules.

Each platform instance owns a :class:`prometheus_client.CollectorRegistry` (never the global
one), so two platforms in one process — two drills, or a test suite — never mix their numbers.
``snapshot()`` flattens it into ``{"name{label=\"v\"}": value}`` for ``metrics()``, and adds
a label-free total per metric family (the maximum, for the gauges in :data:`MAX_TOTAL`).
Gauges that are computed from state rather than counted (queue age) are refreshed by the
``collectors`` hooks just before every ``snapshot()`` and ``exposition()``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["MAX_TOTAL", "Telemetry"]

#: gauge families whose label-free total is the largest sample, not the sum (an age adds up to nothing)
MAX_TOTAL = frozenset({"queue_oldest_age_s"})


class Telemetry:
    """The platform's metrics (names as in DESIGN.md) and sliding windows of recent signals."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.publish_attempts = Counter(
            "publish_attempts", "Publish side effects attempted", ["platform"], registry=r
        )
        self.publish_success = Counter(
            "publish_success", "Publishes verified visible", ["platform"], registry=r
        )
        self.publish_failures = Counter(
            "publish_failures", "Publish attempts that failed", ["platform", "error"], registry=r
        )
        self.verification_failed = Counter(
            "verification_failed",
            "Publishes not visible within the verification policy",
            ["platform"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "queue_depth",
            "Jobs waiting (queued, scheduled, retry_wait) per job class",
            ["job_class"],
            registry=r,
        )
        self.queue_oldest_age_s = Gauge(
            "queue_oldest_age_s",
            "Seconds the oldest due, waiting job of each job class has waited (0 when none)",
            ["job_class"],
            registry=r,
        )
        self.dead_letters = Counter(
            "dead_letters", "Jobs moved to dead letter", ["job_class"], registry=r
        )
        self.actions = Counter(
            "actions",
            "Side effects sent per account and action",
            ["account_id", "action"],
            registry=r,
        )
        self.actions_per_minute = Gauge(
            "actions_per_minute",
            "Side effects in the last 60 s per account",
            ["account_id"],
            registry=r,
        )
        self.tokens = Counter("tokens", "LLM tokens used", ["provider", "direction"], registry=r)
        self.spend_usd = Counter(
            "spend_usd", "Estimated provider spend in USD", ["client_id"], registry=r
        )
        self.rate_limit_hits = Counter(
            "rate_limit_hits", "429 / throttling responses", ["platform"], registry=r
        )
        self.kill_switch_state = Gauge(
            "kill_switch_state", "1 while a kill switch is engaged", ["scope"], registry=r
        )
        self.blocked = Counter(
            "side_effects_blocked", "Side effects refused before sending", ["reason"], registry=r
        )
        self.auth_failures = Counter(
            "auth_failures", "Authentication or token refresh failures", ["platform"], registry=r
        )
        self.jobs_finished = Counter(
            "jobs_finished", "Jobs reaching a final or parked state", ["state"], registry=r
        )
        #: called before every export, to refresh gauges computed from state (queue age)
        self.collectors: list[Callable[[], None]] = []
        self._windows: dict[str, deque[float]] = {}
        self._per_account: dict[str, deque[float]] = {}

    # windows --------------------------------------------------------------------------------
    def mark(self, signal: str) -> None:
        """Remember that ``signal`` happened now (for windowed alert rules)."""
        d = self._windows.get(signal)
        if d is None:
            d = self._windows[signal] = deque(maxlen=100_000)
        d.append(self.now())

    def window(self, signal: str, seconds: float) -> int:
        """How many times ``signal`` happened in the last ``seconds``."""
        d = self._windows.get(signal)
        if not d:
            return 0
        cutoff = self.now() - seconds
        while d and d[0] < cutoff - 3600:
            d.popleft()
        n = 0
        for t in reversed(d):
            if t < cutoff:
                break
            n += 1
        return n

    def action(self, account_id: str, action: str) -> None:
        """Count one side effect sent for ``account_id`` and update its per-minute rate."""
        self.actions.labels(account_id, action).inc()
        d = self._per_account.get(account_id)
        if d is None:
            d = self._per_account[account_id] = deque()
        t = self.now()
        d.append(t)
        while d and d[0] <= t - 60:
            d.popleft()
        self.actions_per_minute.labels(account_id).set(len(d))

    # export ---------------------------------------------------------------------------------
    def exposition(self) -> bytes:
        """The Prometheus text exposition (``GET /metrics``)."""
        for fn in self.collectors:
            fn()
        return generate_latest(self.registry)

    def snapshot(self) -> dict[str, float]:
        """Every sample as ``name{labels}`` → value, plus a label-free total per family."""
        for fn in self.collectors:
            fn()
        t = self.now()
        for acc, d in self._per_account.items():
            while d and d[0] <= t - 60:
                d.popleft()
            self.actions_per_minute.labels(acc).set(len(d))
        out: dict[str, float] = {}
        for fam in self.registry.collect():
            for s in fam.samples:
                if s.name.endswith("_created"):
                    continue
                if s.labels:
                    lab = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                    out[f"{s.name}{{{lab}}}"] = float(s.value)
                if s.name in MAX_TOTAL:
                    out[s.name] = max(out.get(s.name, 0.0), float(s.value))
                else:
                    out[s.name] = out.get(s.name, 0.0) + float(s.value)
        return out
