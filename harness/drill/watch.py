"""Watching the platform while a drill runs: its alerts and control changes go on the timeline,
and the scenario's detection rules are evaluated on every poll until one fires.

Like the engine's other collaborators, :class:`Watch` receives the drill's
:class:`~harness.drill.state.DrillState` and imports neither the engine nor its siblings; the
engine (:mod:`harness.drill.engine`) starts :meth:`Watch.monitor` as a task and hands its
runbook steps and the verification :meth:`Watch.poll_once` and :meth:`Watch.sync_controls`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from sandbox.contract import Alert

from ..judge.rows import Json
from .detect import Detection
from .operator import give_up_on_a_hanging_call
from .state import DrillState

__all__ = ["Watch"]

#: polls of a platform over HTTP that may fail in a row before the drill counts as broken
POLL_FAILURES_TOLERATED = 5


class Watch:
    """The platform's alerts and control changes onto one drill's timeline, and detection."""

    def __init__(self, state: DrillState) -> None:
        self.state = state
        #: the last control change put on the timeline (the platform's ``seq``)
        self._cc_seen = 0
        self._cc_lock = asyncio.Lock()

    async def sync_controls(self) -> None:
        """Put the platform's control changes since the last call on the timeline."""
        # one reader at a time: over HTTP the monitor and a runbook step may ask together, and
        # both would put the same change on the timeline
        async with self._cc_lock:
            await self._sync_controls_once()

    async def _sync_controls_once(self) -> None:
        s = self.state
        after = self._cc_seen
        for c in await s.platform_client.control_changes(after):
            if c.seq <= after:
                # the feed answered a change at or before the cursor it was read after: a reader
                # resuming from the last seq it saw would apply it again (the judge says so)
                s.ev(
                    "control.feed_reread",
                    "drill",
                    f"the platform's control changes after #{after} included #{c.seq} again",
                    {"after": after, "control_seq": c.seq},
                )
                continue
            self._cc_seen = max(self._cc_seen, c.seq)
            scope = {k: v for k, v in dict(c.scope).items() if v is not None}
            data = {
                "control": c.control,
                "scope": scope,
                "value": _jsonable(c.value),
                "control_seq": c.seq,
                "reason": c.reason,
            }
            s.ev(
                "control.changed",
                c.actor,
                f"{c.control} → {_jsonable(c.value)} ({c.reason})",
                data,
                t=c.t,
            )
            if c.control == "kill_switch":
                engaged = c.value.get("engaged") if isinstance(c.value, dict) else bool(c.value)
                label = ", ".join(f"{k}={v}" for k, v in sorted(scope.items())) or "global"
                s.ev(
                    "kill_switch.engaged" if engaged else "kill_switch.released",
                    c.actor,
                    f"kill switch ({label}) {'engaged' if engaged else 'released'}",
                    {"scope": scope, "control_seq": c.seq},
                    t=c.t,
                )

    async def poll_once(self) -> list[Alert]:
        """Poll the platform once: its new alerts and control changes onto the timeline."""
        s = self.state
        alerts, _ = await s.detector.poll(s.now())
        for a in alerts:
            s.ev(
                "alert.fired",
                "platform",
                f"platform alert {a.name}: {a.message}",
                {
                    "name": a.name,
                    "severity": a.severity,
                    "alert_seq": a.seq,
                    "labels": dict(a.labels),
                },
                t=a.t,
            )
        await self.sync_controls()
        return alerts

    async def monitor(self, start: float, on_detected: Callable[[Detection], None]) -> None:
        """Poll every ``detection.poll`` seconds until cancelled; the first rule that fires on
        evidence newer than ``start`` is the detection: it goes on the timeline and to
        ``on_detected`` (the engine starts the response)."""
        s = self.state
        poll = s.scenario.detection.poll
        failures = 0
        while True:
            await asyncio.sleep(poll)
            try:
                alerts = await self.poll_once()
                failures = 0
            except (httpx.HTTPError, OSError) as e:
                # a platform over HTTP may miss a poll; one that stops answering breaks the drill
                failures += 1
                if failures >= POLL_FAILURES_TOLERATED or not s.opts.served:
                    raise
                s.ev("platform.poll_failed", "drill", f"polling the platform failed: {e!r}")
                continue
            give_up_on_a_hanging_call(s)
            if s.detection is None and s.now() >= start:
                det = s.detector.evaluate(s.now(), start, alerts)
                if det is not None:
                    s.detection = det
                    s.ev(
                        "alert.fired",
                        "monitoring",
                        f"{det.rule}: {det.message}",
                        {
                            "name": det.rule,
                            "severity": "page",
                            "source": det.source,
                            "alert_seq": None,
                        },
                    )
                    s.ev(
                        "incident.detected",
                        "monitoring",
                        f"incident detected by {det.rule} ({det.source})",
                        {
                            "signal": det.rule,
                            "source": det.source,
                            "platforms": list(det.platforms),
                            "clients": list(det.clients),
                        },
                    )
                    s.progress(f"detected by {det.rule}")
                    on_detected(det)


def _jsonable(v: object) -> Json:
    """A control's value as JSON: containers kept, anything else as its text."""
    if v is None or isinstance(v, str | int | float | bool):
        return v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return str(v)
