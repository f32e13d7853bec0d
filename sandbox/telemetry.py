"""Telemetry: Prometheus metrics in a per-platform registry, plus short windows for alert rules.

Each platform instance owns a :class:`prometheus_client.CollectorRegistry` (never the global
one), so two platforms in one process — two drills, or a test suite — never mix their numbers.
``snapshot()`` flattens it into ``{"name{label=\"v\"}": value}`` for ``metrics()``, and adds
a label-free total per metric family (the maximum, for the gauges in :data:`MAX_TOTAL`).
Gauges that are computed from state rather than counted (queue age) are refreshed by the
``collectors`` hooks just before every ``snapshot()`` and ``exposition()``.

Each metric is a :class:`Family` around its Prometheus metric: ``labels(...)`` gives a
:class:`Child` whose ``inc``/``set`` update the Prometheus child (the exposition) and a plain
value kept beside it, from which ``snapshot()`` is built — the samples ``registry.collect()``
would give, in its order, without building them (the drill's monitor asks for a snapshot on
every poll, and collecting was a twentieth of an in-process drill's CPU time).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["MAX_TOTAL", "Child", "Family", "Telemetry"]

#: gauge families whose label-free total is the largest sample, not the sum (an age adds up to nothing)
MAX_TOTAL = frozenset({"queue_oldest_age_s"})


class Child:
    """One labelled sample: its Prometheus child and its value, kept in step."""

    __slots__ = ("_metric", "key", "value")

    def __init__(self, metric: Counter | Gauge, key: str) -> None:
        self._metric = metric
        #: ``name{label="v",…}`` as :meth:`Telemetry.snapshot` shows it (labels sorted)
        self.key = key
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (a counter refuses a negative one, as Prometheus does)."""
        self._metric.inc(amount)
        self.value += float(amount)

    def set(self, value: float) -> None:
        """Set a gauge."""
        self._metric.set(value)  # type: ignore[union-attr]
        self.value = float(value)

    def get(self) -> float:
        """The current value."""
        return self.value


class Family:
    """A labelled Prometheus counter or gauge, with its children's values at hand."""

    def __init__(
        self,
        kind: type[Counter] | type[Gauge],
        name: str,
        doc: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
    ) -> None:
        self.metric: Counter | Gauge = kind(name, doc, labelnames, registry=registry)
        #: the sample name: a counter's samples are ``<name>_total``
        self.sample = f"{name}_total" if kind is Counter else name
        self.labelnames = tuple(labelnames)
        #: children in the order they were first asked for (the order Prometheus keeps)
        self.children: dict[tuple[str, ...], Child] = {}

    def labels(self, *values: object) -> Child:
        """The child for these label values (made on first use, as ``Metric.labels``)."""
        key = tuple(str(v) for v in values)
        child = self.children.get(key)
        if child is None:
            metric = self.metric.labels(*values)  # validates the number of values
            lab = ",".join(f'{k}="{v}"' for k, v in sorted(zip(self.labelnames, key, strict=True)))
            child = self.children[key] = Child(metric, f"{self.sample}{{{lab}}}")
        return child


class Telemetry:
    """The platform's metrics (names as in DESIGN.md) and sliding windows of recent signals."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.publish_attempts = Family(
            Counter, "publish_attempts", "Publish side effects attempted", ["platform"], r
        )
        self.publish_success = Family(
            Counter, "publish_success", "Publishes verified visible", ["platform"], r
        )
        self.publish_failures = Family(
            Counter, "publish_failures", "Publish attempts that failed", ["platform", "error"], r
        )
        self.verification_failed = Family(
            Counter,
            "verification_failed",
            "Publishes not visible within the verification policy",
            ["platform"],
            r,
        )
        self.queue_depth = Family(
            Gauge,
            "queue_depth",
            "Jobs waiting (queued, scheduled, retry_wait) per job class",
            ["job_class"],
            r,
        )
        self.queue_oldest_age_s = Family(
            Gauge,
            "queue_oldest_age_s",
            "Seconds the oldest due, waiting job of each job class has waited (0 when none)",
            ["job_class"],
            r,
        )
        self.dead_letters = Family(
            Counter, "dead_letters", "Jobs moved to dead letter", ["job_class"], r
        )
        self.actions = Family(
            Counter,
            "actions",
            "Side effects sent per account and action",
            ["account_id", "action"],
            r,
        )
        self.actions_per_minute = Family(
            Gauge,
            "actions_per_minute",
            "Side effects in the last 60 s per account",
            ["account_id"],
            r,
        )
        self.tokens = Family(Counter, "tokens", "LLM tokens used", ["provider", "direction"], r)
        self.spend_usd = Family(
            Counter, "spend_usd", "Estimated provider spend in USD", ["client_id"], r
        )
        self.rate_limit_hits = Family(
            Counter, "rate_limit_hits", "429 / throttling responses", ["platform"], r
        )
        self.kill_switch_state = Family(
            Gauge, "kill_switch_state", "1 while a kill switch is engaged", ["scope"], r
        )
        self.blocked = Family(
            Counter, "side_effects_blocked", "Side effects refused before sending", ["reason"], r
        )
        self.auth_failures = Family(
            Counter, "auth_failures", "Authentication or token refresh failures", ["platform"], r
        )
        self.jobs_finished = Family(
            Counter, "jobs_finished", "Jobs reaching a final or parked state", ["state"], r
        )
        #: every metric, in the order the registry collects them
        self.families = [v for v in vars(self).values() if isinstance(v, Family)]
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

    def mark_at(self, signal: str, t: float) -> None:
        """Remember that ``signal`` happened at ``t`` (a restart counting again, in time order,
        what the process before it counted)."""
        d = self._windows.get(signal)
        if d is None:
            d = self._windows[signal] = deque(maxlen=100_000)
        d.append(t)

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
        for fam in self.families:
            total = fam.sample
            for child in fam.children.values():
                v = child.value
                out[child.key] = v
                if total in MAX_TOTAL:
                    out[total] = max(out.get(total, 0.0), v)
                else:
                    out[total] = out.get(total, 0.0) + v
        return out
