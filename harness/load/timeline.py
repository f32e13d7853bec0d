"""The load test over time: the platform's queue depth sampled while it runs, and the per-second
series ``load.html`` charts (throughput, 429 rate, latency percentiles, queue depth, users).

Wall-clock time is deliberate here (a load test drives real servers); the sampler is a plain
thread in the parent process, which never imports Locust.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from fakes import admin_headers

from ..judge.record import SIDE_EFFECT_ACTIONS
from ..judge.rows import JournalRow, LedgerRow

__all__ = ["QueueSampler", "load_timeline"]


class QueueSampler:
    """Samples the platform's ``queue_depth`` (``GET /metrics.json``: jobs queued, scheduled or
    waiting to retry, every job class) every ``interval_s`` seconds in a thread."""

    def __init__(self, platform: str, token: str | None, interval_s: float = 1.0) -> None:
        self.url = platform.rstrip("/") + "/metrics.json"
        self.headers = admin_headers(token)
        self.interval_s = interval_s
        self.samples: list[dict[str, float]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-sampler", daemon=True)

    def start(self) -> QueueSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(timeout=5.0, headers=self.headers) as http:
            while True:
                t = time.time()
                try:
                    r = http.get(self.url)
                    if r.status_code == 200:
                        depth = float(r.json().get("queue_depth", 0.0))
                        self.samples.append({"t": round(t, 3), "depth": depth})
                    else:
                        self.errors += 1
                except (httpx.HTTPError, ValueError):
                    self.errors += 1
                if self._stop.wait(max(0.0, self.interval_s - (time.time() - t))):
                    return

    def stop(self) -> list[dict[str, float]]:
        """Stop sampling (idempotent); the samples so far."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10.0)
        return list(self.samples)


def _per_second(times: Sequence[float], t0: float, n: int) -> list[int]:
    counts: Counter[int] = Counter(int(t - t0) for t in times if t >= t0)
    return [counts.get(i, 0) for i in range(n)]


def load_timeline(
    *,
    t_start: float,
    t_heal: float,
    t_end: float,
    samples: Sequence[Mapping[str, Any]],
    queue: Sequence[Mapping[str, Any]],
    journal: Sequence[JournalRow],
    ledger: Sequence[LedgerRow],
    fault_ids: set[str],
    planned: Sequence[tuple[float, int]] = (),
    surge_at_s: float | None = None,
    locust_start: float | None = None,
) -> dict[str, Any]:
    """The series of ``load.html``, every ``t`` in seconds since the storm was installed.

    - ``locust``: per Locust sample, requests per second since the previous one (to the
      platform), failures per second, active users, and the p50/p95/p99 of that interval;
    - ``fakes``: per second, requests the fakes answered, the 429s among them (the storm's and
      any other), and side effects on social accounts;
    - ``queue``: the platform's queue depth as sampled;
    - ``planned``: the users the load shape asked for, ``surge_at``: when its spike or rush
      began (None for ``steady`` and ``ramp``);
    - ``storm``: [0, heal] (the storm's window), ``end``: the end of the drain.
    """
    seconds = max(1, math.ceil(t_end - t_start))
    loc: list[dict[str, Any]] = []
    for prev, cur in itertools.pairwise(samples):
        dt = float(cur["t"]) - float(prev["t"])
        if dt <= 0:
            continue
        loc.append(
            {
                "t": round(float(cur["t"]) - t_start, 3),
                "rps": round((int(cur["requests"]) - int(prev["requests"])) / dt, 3),
                "fail_ps": round((int(cur["failures"]) - int(prev["failures"])) / dt, 3),
                "intake_ps": round((int(cur["intake"]) - int(prev["intake"])) / dt, 3),
                "users": int(cur["users"]),
                **{k: cur.get(k) for k in ("p50_ms", "p95_ms", "p99_ms")},
            }
        )
    if samples:
        first = samples[0]
        loc.insert(
            0,
            {
                "t": round(float(first["t"]) - t_start, 3),
                "rps": 0.0,
                "fail_ps": 0.0,
                "intake_ps": 0.0,
                "users": int(first["users"]),
                "p50_ms": None,
                "p95_ms": None,
                "p99_ms": None,
            },
        )
    answered = _per_second([float(j["t"]) for j in journal], t_start, seconds)
    limited = _per_second(
        [float(j["t"]) for j in journal if j.get("status") == 429], t_start, seconds
    )
    storm = _per_second(
        [
            float(j["t"])
            for j in journal
            if j.get("status") == 429 and j.get("fault_id") in fault_ids
        ],
        t_start,
        seconds,
    )
    effects = _per_second(
        [float(e["t"]) for e in ledger if e.get("action") in SIDE_EFFECT_ACTIONS], t_start, seconds
    )
    offset = (locust_start - t_start) if locust_start is not None else 0.0
    return {
        "storm": [0.0, round(t_heal - t_start, 3)],
        "end": round(t_end - t_start, 3),
        "locust": loc,
        "fakes": [
            {
                "t": i + 0.5,
                "requests": answered[i],
                "served_429": limited[i],
                "storm_429": storm[i],
                "side_effects": effects[i],
            }
            for i in range(seconds)
        ],
        "queue": [
            {"t": round(float(q["t"]) - t_start, 3), "depth": float(q["depth"])} for q in queue
        ],
        "planned": [{"t": round(t + offset, 3), "users": u} for t, u in planned],
        "surge_at": None if surge_at_s is None else round(surge_at_s + offset, 3),
    }
