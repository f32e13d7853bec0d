"""The live signals a game day's consoles show: the platform's audit feed, rates over a window
of its metrics, and its engaged controls, read through the platform contract only."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.contract import PlatformClient

__all__ = ["FEED_LEN", "SIGNAL_WINDOW_S", "LiveSignals", "controls_view"]

#: the window of the live signals' rates (scenario seconds)
SIGNAL_WINDOW_S = 300.0
FEED_LEN = 40


def _families(snapshot: dict[str, float]) -> dict[str, dict[str, float]]:
    """``name{a="x"}`` samples → family → label text → value (``""`` for the unlabelled total)."""
    out: dict[str, dict[str, float]] = {}
    for key, v in snapshot.items():
        name, _, rest = key.partition("{")
        name = name.removesuffix("_total")  # a Prometheus counter's samples
        labels = rest.rstrip("}")
        out.setdefault(name, {})[labels] = float(v)
    return out


def _label(labels: str, key: str) -> str | None:
    m = re.search(rf'{key}="([^"]*)"', labels)
    return m.group(1) if m else None


def _per(fam: dict[str, float], key: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for labels, v in fam.items():
        lab = _label(labels, key)
        if lab is not None:
            out[lab] = out.get(lab, 0.0) + v
    return out


@dataclass
class _Sample:
    t: float
    fams: dict[str, dict[str, float]]


@dataclass
class LiveSignals:
    """What the consoles have read of the platform so far: the outcome feed (newest first), the
    outcomes and metric samples inside :data:`SIGNAL_WINDOW_S`, and the audit cursor."""

    feed: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=FEED_LEN))
    _samples: list[_Sample] = field(default_factory=list)
    _recent: deque[dict[str, Any]] = field(default_factory=deque)
    _audit_cursor: int = 0

    async def read(
        self,
        pc: PlatformClient,
        now: float,
        offset: Callable[[float], str],
        platforms: list[str],
    ) -> dict[str, Any]:
        """Read the platform's telemetry once (audit feed, metrics, controls); the signals."""
        while True:
            page = await pc.audit(self._audit_cursor, 500)
            for ev in page.events:
                if ev.phase == "outcome" or ev.error:
                    row = {
                        "t": ev.t,
                        "offset": offset(ev.t),
                        "client": ev.client_id,
                        "platform": ev.platform,
                        "action": ev.action,
                        "outcome": ev.outcome or ev.phase,
                        "error": ev.error,
                        "lane": ev.lane,
                    }
                    self.feed.appendleft(row)
                    self._recent.append(row)
            moved = page.next_cursor != self._audit_cursor
            self._audit_cursor = page.next_cursor
            if not page.events or not moved:
                break
        while self._recent and self._recent[0]["t"] < now - SIGNAL_WINDOW_S:
            self._recent.popleft()
        fams = _families(dict(await pc.metrics()))
        self._samples.append(_Sample(now, fams))
        while len(self._samples) > 2 and self._samples[1].t <= now - SIGNAL_WINDOW_S:
            self._samples.pop(0)
        controls = await pc.controls()
        return self._signals(now, offset, platforms, fams, controls)

    def _signals(
        self,
        now: float,
        offset: Callable[[float], str],
        plats: list[str],
        fams: dict[str, dict[str, float]],
        controls: dict[str, Any],
    ) -> dict[str, Any]:
        old = self._samples[0].fams if self._samples else fams

        def delta(name: str, key: str) -> dict[str, float]:
            cur, was = _per(fams.get(name, {}), key), _per(old.get(name, {}), key)
            return {k: round(v - was.get(k, 0.0), 3) for k, v in cur.items()}

        outcomes: dict[str, dict[str, int]] = {p: {} for p in plats}
        for row in self._recent:
            d = outcomes.setdefault(str(row["platform"]), {})
            d[str(row["outcome"])] = d.get(str(row["outcome"]), 0) + 1
        r429 = delta("rate_limit_hits", "platform")
        att, ok = delta("publish_attempts", "platform"), delta("publish_success", "platform")
        fail = delta("publish_failures", "platform")
        per_platform = []
        for p in sorted(set(plats) | set(att) | set(fail)):
            o = outcomes.get(p, {})
            per_platform.append(
                {
                    "platform": p,
                    "publish_attempts": att.get(p, 0.0),
                    "publish_success": ok.get(p, 0.0),
                    "publish_failures": fail.get(p, 0.0),
                    "rate_limited_429": r429.get(p, 0.0),
                    "outcomes": o,
                }
            )
        depth = _per(fams.get("queue_depth", {}), "job_class")
        age = _per(fams.get("queue_oldest_age_s", {}), "job_class")
        spend = sum(v for k, v in fams.get("spend_usd", {}).items() if k)
        spend_5m = sum(delta("spend_usd", "client_id").values())
        return {
            "t": now,
            "offset": offset(now),
            "window_s": SIGNAL_WINDOW_S,
            "platforms": per_platform,
            "queues": [
                {"job_class": c, "depth": depth.get(c, 0.0), "oldest_age_s": age.get(c, 0.0)}
                for c in sorted(set(depth) | set(age))
            ],
            "spend_usd": round(spend, 4),
            "spend_usd_window": round(spend_5m, 4),
            "blocked": {
                k: v for k, v in _per(fams.get("side_effects_blocked", {}), "reason").items() if v
            },
            "controls": controls_view(controls),
        }


def controls_view(controls: dict[str, Any]) -> dict[str, Any]:
    """The platform's controls as shown on the console: kill switches, modes, paused queues,
    lanes, trigger lock (what a person has to see to know what is engaged)."""
    tl = controls.get("trigger_lock") or {}
    return {
        "kill_switches": [
            ", ".join(f"{k}={v}" for k, v in sorted(ks.items())) or "global"
            for ks in controls.get("kill_switches") or []
        ],
        "modes": [
            f"{m.get('mode')} ({', '.join(f'{k}={v}' for k, v in sorted(m.items()) if k != 'mode') or 'all'})"
            for m in controls.get("modes") or []
        ],
        "paused_queues": list(controls.get("paused") or []),
        "lanes": dict(controls.get("lanes") or {}),
        "read_only_lanes": [
            f"{x.get('platform')}/{x.get('lane')}" for x in controls.get("read_only_lanes") or []
        ],
        "trigger_lock": bool(tl.get("global")) or list(tl.get("clients") or []),
    }
