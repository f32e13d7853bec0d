"""Installing the browser lanes on a platform: one Chromium shared by the x and instagram lanes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..alerts import Alerts
from ..audit import Scrubber
from ..defects import Defects
from ..settings import Settings
from ..telemetry import Telemetry
from .browser import BrowserLane
from .browser_evidence import EvidenceStore
from .browser_runtime import BrowserRuntime
from .browser_settings import BrowserDeps, BrowserSettings, RealIO

if TYPE_CHECKING:
    from ..platform import Platform

__all__ = ["BrowserComponent", "build_lanes", "install"]


class BrowserComponent:
    """The browser lanes of one platform and the Chromium they share (stopped with the platform)."""

    def __init__(
        self,
        lanes: dict[str, BrowserLane],
        runtime: BrowserRuntime,
        evidence: EvidenceStore,
        real_io: RealIO | None = None,
    ) -> None:
        self.lanes = lanes
        self.runtime = runtime
        self.evidence = evidence
        self.real_io = real_io

    async def stop(self) -> None:
        """Close the browser."""
        async with self.real_io() if self.real_io is not None else contextlib.nullcontext():
            await self.runtime.stop()


def build_lanes(
    settings: Settings,
    browser: BrowserSettings,
    *,
    telemetry: Telemetry,
    alerts: Alerts,
    defects: Defects,
    scrubber: Scrubber,
    now: Callable[[], float],
    platforms: tuple[str, ...] = ("x", "instagram"),
    real_io: RealIO | None = None,
) -> BrowserComponent:
    """Browser lanes for ``platforms`` sharing one (lazily launched) Chromium.

    ``real_io`` is entered around every stretch of real browser I/O (a drill on virtual time
    holds its clock there); the web UI is at ``browser.web_base_urls`` where given.
    """
    hosts = {
        urlsplit(browser.web_base_urls.get(p) or settings.base_urls.of(p)).hostname or ""
        for p in platforms
    }
    runtime = BrowserRuntime(
        hosts,
        chromium=browser.chromium,
        headless=browser.headless,
        timeout_s=browser.navigation_timeout_s,
    )
    evidence = EvidenceStore(browser.artifacts_dir, scrubber)
    deps = BrowserDeps(
        settings, browser, runtime, evidence, telemetry, alerts, defects, now, real_io
    )
    return BrowserComponent(
        {p: BrowserLane(p, deps) for p in platforms}, runtime, evidence, real_io
    )


def install(
    platform: Platform, browser: BrowserSettings | None = None, *, real_io: RealIO | None = None
) -> BrowserComponent:
    """Give ``platform`` browser lanes for x and instagram (Chromium starts on first use).

    The lanes go to ``platform.browser_lanes`` (used when the control plane routes a platform to
    the browser); the component is stopped with the platform; outcome AuditEvents of the browser
    lane get the evidence of their side effect (screenshot, DOM snapshot, URL) in ``proof``; the
    control ``lane_read_only`` (lane ``browser``) sets a lane's read-only mode. ``real_io`` is
    entered around real browser I/O (see :func:`build_lanes`).
    """
    comp = build_lanes(
        platform.settings, browser or BrowserSettings(), telemetry=platform.telemetry, alerts=platform.alerts,
        defects=platform.defects, scrubber=platform.scrubber, now=platform.now, real_io=real_io,
    )  # fmt: skip
    platform.browser_lanes.update(comp.lanes)

    def on_control(ch: Any) -> None:
        if ch.control == "lane_read_only" and ch.scope.get("lane") == "browser":
            lane = comp.lanes.get(str(ch.scope.get("platform")))
            if lane is not None:
                lane.set_read_only(bool(ch.value))

    platform.controls.listeners.append(on_control)
    platform.components["sandbox.lanes.browser"] = comp
    record = platform.audit.record
    evidence = comp.evidence

    def record_with_evidence(**kw: Any) -> Any:
        if kw.get("lane") == "browser" and kw.get("phase") == "outcome":
            proof = dict(kw.get("proof") or {})
            ev = evidence.for_proof(
                kw.get("platform", ""), proof.get("resource_id"), kw.get("job_id")
            )
            if ev is not None:
                proof["evidence"] = ev
                kw["proof"] = proof
        return record(**kw)

    platform.audit.record = record_with_evidence  # type: ignore[method-assign]
    return comp
