"""How the browser lane runs (:class:`BrowserSettings`) and what it needs (:class:`BrowserDeps`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..alerts import Alerts
from ..defects import Defects
from ..settings import Settings
from ..telemetry import Telemetry
from .browser_evidence import EvidenceStore
from .browser_runtime import BrowserRuntime
from .selectors import SELECTOR_MAP_VERSION

__all__ = ["BrowserDeps", "BrowserSettings", "RealIO", "web_base"]


class BrowserSettings(BaseModel):
    """How the browser lane runs: where profiles and evidence go, which Chromium, timeouts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    artifacts_dir: Path = Path("reports/artifacts/browser")
    profiles_dir: Path = Path(".vibedrill/browser-profiles")
    #: a Chromium path or command; None = $VIBEDRILL_CHROMIUM, Playwright's own, the system's
    chromium: str | None = None
    headless: bool = True
    #: how long the first control of a page may take to appear (slow renders)
    render_timeout_s: float = Field(4.0, gt=0)
    #: how long each further control may take once the page is there
    step_timeout_s: float = Field(0.75, gt=0)
    navigation_timeout_s: float = Field(15.0, gt=0)
    #: ingest only: verify and inbound work, every side effect is refused
    read_only: bool = False
    #: seconds a job waits after an action-blocked banner before it is retried
    action_blocked_backoff_s: float = Field(900.0, ge=0)
    selector_version: str = SELECTOR_MAP_VERSION
    #: where each platform's web UI is, when not beside its API base URL (e.g. the fakes served
    #: on a loopback socket for Chromium while the platform's API calls stay in-process)
    web_base_urls: dict[str, str] = Field(default_factory=dict)


#: a context around real browser I/O (e.g. holding a virtual clock so it follows real time)
RealIO = Callable[[], AbstractAsyncContextManager[Any]]


@dataclass
class BrowserDeps:
    """What a browser lane needs from the platform."""

    settings: Settings
    browser: BrowserSettings
    runtime: BrowserRuntime
    evidence: EvidenceStore
    telemetry: Telemetry
    alerts: Alerts
    defects: Defects
    now: Callable[[], float]
    #: entered around every stretch of real browser I/O (None: nothing to enter)
    real_io: RealIO | None = None

    def io(self) -> AbstractAsyncContextManager[Any]:
        """The context around one stretch of real browser I/O."""
        return self.real_io() if self.real_io is not None else contextlib.nullcontext()


def web_base(api_base: str) -> str:
    """The web UI's base URL for a fake's API base URL (``…/instagram/v21.0`` → ``…/instagram/web``)."""
    return re.sub(r"/v\d+(\.\d+)?$", "", api_base.rstrip("/")) + "/web"
