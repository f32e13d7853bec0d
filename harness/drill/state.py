"""What one drill knows while it runs: declared in one place, read by the engine's phases.

:class:`DrillState` is the engine's memory. The engine (:mod:`harness.drill.engine`) writes it;
its collaborators — the watch on the platform (:mod:`harness.drill.watch`), verification
(:mod:`harness.drill.verify`), the browser lane's hooks (:mod:`harness.drill.browser`) and the
finish step (:mod:`harness.drill.finish`) — receive it
and import neither the engine nor each other. Attributes set while the world is arranged are
declared here with their types and filled by :meth:`DrillEngine._arrange`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from fakes.app import FakeWorld
from fakes.core.world import World
from sandbox.contract import Alert, PlatformClient

from ..judge.rows import ControlRequestRow
from ..judge.timeline import Timeline
from ..scenario import Scenario
from .detect import Detection, Detector
from .options import DrillOptions, drill_id_for
from .respond import OpsLead
from .workload import InboundItem
from .world_view import WorldView

__all__ = ["DrillState"]


class DrillState:
    """One drill's state: the scenario and options, the timeline, the world and the platform."""

    # set while the world is arranged (before any phase runs) --------------------------------
    #: the virtual time the drill started at
    t0: float
    #: the fakes' shared state and the fakes built on it
    world: World
    fakes: FakeWorld
    #: the fakes' admin API (``/_fake/``): in-process, or over HTTP for a served world
    admin: httpx.AsyncClient
    #: the outside world's ground truth as this drill reads it (in-process or served)
    view: WorldView
    #: the reference platform and the contract client the drill talks to it through
    platform: Any
    platform_client: PlatformClient
    #: client ids (without the agency) and (client, platform) → account id
    clients: list[str]
    accounts: dict[tuple[str, str], str]
    #: every credential of the roster (scrubbed from reports)
    secrets: list[str]
    initial_budgets: dict[str, Any]
    #: the platform's control state when the drill began, and the control requests sent since
    controls_at_start: dict[str, Any]
    control_requests: list[ControlRequestRow]
    inbound_planned: list[InboundItem]
    detector: Detector
    ops: OpsLead
    #: poll the platform once (alerts, control changes) — bound by the engine
    poll: Callable[[], Awaitable[list[Alert]]]

    def __init__(self, scenario: Scenario, opts: DrillOptions) -> None:
        self.opts = opts
        self.seed = scenario.seed if opts.seed is None else opts.seed
        self.mode = opts.mode or scenario.response
        self.scenario = (
            scenario
            if self.mode == scenario.response
            else scenario.model_copy(update={"response": self.mode})
        )
        self.defects = tuple(dict.fromkeys([d.name for d in scenario.defects] + list(opts.defects)))
        self.timeline = Timeline()
        # a drill with extra defects gets its own folder: it never overwrites the healthy report
        # … and so does a run in another mode than the scenario's: every option that changes the
        # outcome is in the id (the scenario's own mode and defects add nothing, so ids stay stable)
        suffix = opts.suffix or "".join(f"-{d.replace('_', '-')}" for d in opts.defects)
        if self.mode != scenario.response:
            suffix = f"-{self.mode}{suffix}"
        if opts.start is None:
            self.drill_id = drill_id_for(scenario, self.seed, suffix=suffix)
        else:
            self.drill_id = drill_id_for(scenario, self.seed, start=opts.start, suffix=suffix)
        self.workload_rows: list[dict[str, Any]] = []
        #: jobs submitted again under their idempotency key (``workload.resubmits``)
        self.resubmissions: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.verifications: list[dict[str, Any]] = []
        self.detection: Detection | None = None
        #: the operator step waiting for the platform's answer: (since, its task), None if none
        self.operator_call: tuple[float, asyncio.Task[Any]] | None = None
        #: set by the monitor when it gives up on that call (see :mod:`harness.drill.operator`)
        self.operator_gave_up = False
        #: fault index in the scenario → the fakes' rule id, and the indexes healed
        self.fault_ids: dict[int, str] = {}
        self.healed: set[int] = set()
        self.interrupted = False
        #: the signal that interrupted the drill (SIGINT 2, SIGTERM 15), 0 if none
        self.signum = 0
        #: why the harness stopped the drill itself (a stalled browser), None if it did not
        self.aborted: str | None = None
        self.platform = None
        #: the platform's jobs as the drill's phases ended, before the platform stopped (stopping
        #: puts running jobs back in the queue; the judge must see them running, and since when)
        self.jobs_at_end: list[Any] | None = None
        #: the base URLs the platform was given per service (in-process: from its settings,
        #: plus the web UIs a browser lane is given)
        self.given_urls: dict[str, tuple[str, ...]] = {}
        #: "" in-process; a drill of a platform that outlives it tags its keys and texts
        self.run_tag = ""

    def now(self) -> float:
        """The running loop's (virtual) time."""
        return asyncio.get_running_loop().time()

    def ev(
        self,
        kind: str,
        actor: str,
        summary: str,
        data: dict[str, Any] | None = None,
        t: float | None = None,
    ) -> None:
        """Append one event to the drill's timeline (now, unless ``t`` is given)."""
        self.timeline.append(self.now() if t is None else t, kind, actor, summary, data or {})

    def progress(self, phase: str) -> None:
        """Tell the caller's progress callback (if any) which phase the drill is in."""
        if self.opts.progress is not None:
            self.opts.progress(phase, self.now() - self.t0, self.scenario.workload.duration)
