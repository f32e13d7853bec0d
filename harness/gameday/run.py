"""Run a game day: the in-process drill on scaled wall-clock time, people responding through a
web console served from the same loop, then the graded postmortem.

1. The automated Ops Lead runs the same scenario and seed in-process on virtual time first (no
   report folder): its numbers are the baseline the people are graded against.
2. The drill engine runs the scenario in response mode ``observe`` (the automated Ops Lead does
   not respond) on :class:`harness.clock.ScaledTimeLoop` (one scenario hour takes ``60/K``
   minutes), and the console (:mod:`harness.gameday.app`) is served on ``127.0.0.1:<port>``
   from the same loop. Every button goes through the drill's ``PlatformClient``.
3. Until the facilitator presses Start the clock is frozen (the lobby), unless ``--autopilot``.
   The facilitator may pause, resume, and end (the rest of the scenario is fast-forwarded, so the
   drill is judged as a whole).
4. The report folder is the drill's, with a "Rehearsal" section in the postmortem.

The engine is reused as is: :class:`GamedayEngine` only spares the console's own request tasks
when the drill cancels what it started, acts for a named person (heal, snapshot), and amends the
record with the grades through the lane's ``amend`` hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..clock import ScaledTimeLoop, run_scaled, run_virtual
from ..drill.browser import LaneHooks
from ..drill.engine import DRAIN_S, DrillEngine
from ..drill.options import DrillOptions, DrillResult, drill_id_for
from ..drill.run import served_options
from ..drill.served_world import serve_app
from ..files import atomic_write
from ..judge.judgement import judge
from ..judge.record import DrillRecord
from ..report.lock import ReportLock
from ..scenario import Scenario
from .grading import compare, measures, people_of
from .participants import GamedayRefused
from .state import GameDay
from .steps import active_steps, step_name

__all__ = [
    "DEFAULT_SCALE",
    "GamedayEngine",
    "GamedayOptions",
    "GamedayResult",
    "Urls",
    "run_baseline",
    "run_gameday",
]

#: a one-hour scenario takes 15 minutes
DEFAULT_SCALE = 4.0
#: how many real seconds the rest of the scenario takes when the facilitator ends the game day
FAST_FORWARD_REAL_S = 6.0


@dataclass(frozen=True)
class GamedayOptions:
    """How to run one game day (the CLI's options)."""

    scale: float = DEFAULT_SCALE
    port: int = 8090
    seed: int | None = None
    defects: tuple[str, ...] = ()
    autopilot: bool = False
    reports_dir: Path = Path("reports")
    #: wait (clock frozen) until the facilitator presses Start; default: unless autopilot
    lobby: bool | None = None
    #: keep the console up this many real seconds after the report (0: exit at once)
    linger_s: float = 0.0
    #: write the URLs here as JSON once the console listens (for scripts and tests)
    ready_file: Path | None = None
    #: a platform over HTTP (``--platform-url``/``--world``), passed on to the drill
    platform_url: str | None = None
    world: Path | None = None
    commit: str | None = None
    #: run the automated Ops Lead first for the comparison
    baseline: bool = True


@dataclass(frozen=True)
class Urls:
    """Where the console listens."""

    join: str
    facilitator: str


@dataclass
class GamedayResult:
    """The drill's result and the grades."""

    drill: DrillResult
    rehearsal: dict[str, Any]
    urls: Urls | None


class _RehearsalLane(LaneHooks):
    """The scenario's lane hooks, with the record amended by ``amend`` after the lane's own."""

    def __init__(
        self,
        inner: LaneHooks,
        amend: Callable[[DrillRecord], DrillRecord],
        files: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.inner = inner
        self._amend = amend
        #: extra files for the report folder (name → text)
        self.files = files
        self.topology = inner.topology

    def serve(self) -> Any:
        return self.inner.serve()

    def install(self, platform: Any) -> None:
        self.inner.install(platform)

    def amend(self, record: DrillRecord) -> DrillRecord:
        return self._amend(self.inner.amend(record))

    def write_files(self, out_dir: Path) -> None:
        self.inner.write_files(out_dir)
        if self.files is not None:
            for name, text in self.files().items():
                atomic_write(out_dir / name, text)

    def __getattr__(self, name: str) -> Any:  # the browser lane's extras (served, comp, …)
        return getattr(self.inner, name)


def run_baseline(scenario: Scenario, seed: int | None, defects: tuple[str, ...]) -> dict[str, Any]:
    """The automated Ops Lead on the same scenario and seed, in-process on virtual time, judged
    in memory: its :func:`~harness.gameday.grading.measures`."""
    engine = DrillEngine(
        scenario, DrillOptions(seed=seed, defects=defects, mode="auto", write=False)
    )
    got: dict[str, Any] = {}

    def keep(record: DrillRecord) -> DrillRecord:
        got.update(measures(record, judge(record), "auto"))
        return record

    engine.lane = _RehearsalLane(engine.lane, keep)
    result = run_virtual(engine.run, start=scenario.start_t)
    got["drill_verdict"] = result.verdict
    return got


class GamedayEngine(DrillEngine):
    """The drill engine with people responding (see the module doc)."""

    def __init__(
        self,
        scenario: Scenario,
        opts: DrillOptions,
        gd: GameDay,
        spared: weakref.WeakSet[asyncio.Task[Any]],
    ) -> None:
        super().__init__(scenario, opts)
        self.gd = gd
        self.spared = spared
        self.rehearsal: dict[str, Any] = {}
        self._secrets: tuple[str, ...] = ()
        self.lane = _RehearsalLane(self.lane, self._grade, self._files)
        # the folder is named for the real day it ran: game days are not replays of one another
        self.drill_id = drill_id_for(scenario, self.seed, start=time.time(), suffix="-gameday")

    async def _cancel_tasks(self) -> None:
        """Cancel every task this drill started, except the console's requests in flight."""
        me = asyncio.current_task()
        others = [
            t for t in asyncio.all_tasks() if t is not me and not t.done() and t not in self.spared
        ]
        for t in others:
            t.cancel()
        if others:
            await asyncio.gather(*others, return_exceptions=True)

    async def heal_as(self, kind: str | None, actor: str) -> int:
        """The runbook's fix step heals the outside world, done by ``actor``."""
        return await self._heal(kind, actor=actor)

    async def snapshot_as(self, items: list[str], why: str, actor: str) -> None:
        """Capture evidence into the drill's bundle, on the timeline as ``actor``'s."""
        await self.watch.poll_once()
        snap = {
            "t": self.now(),
            "items": items,
            "why": why,
            "audit_events": len(self.detector.audit),
            "ledger_entries": await self.view.ledger_seq(),
            "alerts": len(self.detector.platform_alerts),
        }
        self.snapshots.append(snap)
        self.ev(
            "evidence.captured",
            actor,
            f"evidence snapshot by {actor}: {', '.join(items)}",
            {"items": items, "why": why, "index": len(self.snapshots), "participant": actor},
        )

    async def sync(self) -> None:
        """Bring the platform's control changes onto the timeline now."""
        await self.watch.sync_controls()

    def _files(self) -> dict[str, str]:
        """``rehearsal.json``: the grades, people, notes and drafts, next to ``verdict.json``."""
        from ..report.evidence import scrub

        text = json.dumps(self.rehearsal, indent=2, sort_keys=True) + "\n"
        return {"rehearsal.json": scrub(text, self._secrets)}

    def _grade(self, record: DrillRecord) -> DrillRecord:
        """Steps never done become ``missed``; the grades go into ``extra["rehearsal"]``."""
        self._secrets = record.secrets
        rb = self.gd.runbook
        det = record.timeline.first("incident.detected")
        if det is not None:
            done = {
                str(e.data.get("step")) for e in record.timeline.of_kind("runbook_step.completed")
            }
            from ..drill.respond import postcondition_of

            for index, (phase, i, st) in enumerate(active_steps(self.gd.scenario, rb), 1):
                name = step_name(rb, phase, i)
                if name in done:
                    continue
                record.timeline.append(
                    record.end_t,
                    "runbook_step.missed",
                    "drill",
                    f"{name} {st.action} was not done during the game day",
                    {
                        "step": name,
                        "id": st.id,
                        "index": index,
                        "phase": phase,
                        "action": st.action,
                        "deadline_s": st.deadline,
                        "postcondition": postcondition_of(st),
                        "postcondition_met": False,
                        "reason": "not done during the game day",
                        # nobody tried it: a grade of the rehearsal, not a refused control
                        "attempted": False,
                    },
                )
        people = measures(record, judge(record), "people")
        tl = record.timeline
        self.rehearsal = {
            "time_scale": self.gd.scale,
            "people": people_of(record),
            "measures": people,
            "baseline": self.gd.baseline,
            **compare(people, self.gd.baseline),
            "notes": _texts(tl, "note.added"),
            "drafts": _texts(tl, "comms.drafted"),
            "hints": _texts(tl, "hint.sent"),
            "timeline": [
                {
                    "offset": _offset(record, e.t),
                    "event": e.summary,
                    "owner": e.actor,
                }
                for e in tl.ordered()
                if e.data.get("participant") or e.actor == "facilitator"
            ],
        }
        return dataclasses.replace(record, extra={**record.extra, "rehearsal": self.rehearsal})


def _offset(record: DrillRecord, t: float) -> str:
    from ..judge.timeline import format_offset

    return format_offset(record.offset(t))


def _texts(tl: Any, kind: str) -> list[dict[str, str]]:
    return [
        {"t": f"{e.t:.3f}", "by": e.actor, "text": str(e.data.get("text") or "")}
        for e in tl.of_kind(kind)
    ]


async def _sampler(gd: GameDay, loop: ScaledTimeLoop) -> None:
    """Read the platform's signals about twice a real second (scenario seconds ≥ 5)."""
    failed = ""
    while True:
        await asyncio.sleep(max(5.0, 0.5 * loop.scale))
        try:
            await gd.sample()
        except Exception as e:  # a half-built or stopping platform: try again next turn
            why = f"{type(e).__name__}: {e}"
            if why != failed:  # say each new failure once
                failed = why
                gd.signals = {**gd.signals, "error": why}
                gd.bump()


async def _main(
    engine: GamedayEngine,
    gd: GameDay,
    g: GamedayOptions,
    announce: Callable[[Urls], None],
    spared: weakref.WeakSet[asyncio.Task[Any]],
    urls_out: list[Urls],
) -> DrillResult:
    from .app import build_app
    from .autopilot import autopilot

    loop = asyncio.get_running_loop()
    assert isinstance(loop, ScaledTimeLoop)
    scenario = engine.scenario

    def fast_forward() -> None:
        t0 = getattr(engine, "t0", loop.time())
        remaining = max(60.0, t0 + scenario.workload.duration + DRAIN_S - loop.time())
        loop.set_scale(max(loop.scale, remaining / FAST_FORWARD_REAL_S))
        gd.scale = loop.scale

    def shared_clock(_what: str) -> Callable[[], None]:
        def refuse() -> None:
            raise GamedayRefused(
                "not while drilling a platform over HTTP: the world's clock is shared with the "
                "served fakes and platform, so it cannot be paused or fast-forwarded here",
                409,
            )

        return refuse

    if engine.opts.served:  # one clock for every process: nothing here may bend it
        gd.clock = {
            "pause": shared_clock("pause"),
            "resume": lambda: None,
            "end": lambda: engine.interrupt(2),
        }
    else:
        gd.clock = {"pause": loop.pause, "resume": loop.resume, "end": fast_forward}
    gd.engine = engine
    app = build_app(gd, spared)
    lobby = (not g.autopilot) if g.lobby is None else g.lobby
    if engine.opts.served:
        lobby = False
    async with serve_app(app, port=g.port) as served:
        urls = Urls(f"{served.base}/", f"{served.base}/facilitator?token={gd.token}")
        urls_out.append(urls)
        if g.ready_file is not None:
            atomic_write(
                g.ready_file,
                json.dumps({"join": urls.join, "facilitator": urls.facilitator, "pid": _pid()})
                + "\n",
            )
        announce(urls)
        installed: list[signal.Signals] = []
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, engine.interrupt, int(sig))
                installed.append(sig)
        if lobby:
            loop.pause()
            gd.status = "lobby"
        else:
            gd.status = "running"
        tasks = [asyncio.ensure_future(_sampler(gd, loop))]
        if g.autopilot:
            tasks.append(asyncio.ensure_future(_guarded(autopilot(urls.join, gd), gd)))
        try:
            if not lobby:
                gd.event("gameday.started", "facilitator", "the game day started (no lobby)")
            result = await engine.run()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
                handler = previous.get(sig)
                if handler is not None:
                    signal.signal(sig, handler)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        loop.resume()
        gd.status = "done"
        gd.outcome = {
            "verdict": result.verdict,
            "report_dir": str(result.report_dir) if result.report_dir else None,
            "grade": engine.rehearsal.get("grade"),
            "rows": engine.rehearsal.get("rows", []),
        }
        gd.bump()
        if g.linger_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gd.closed.wait(), timeout=g.linger_s * loop.scale)
        gd.closing = True  # the live streams send the last state and end before the server stops
        gd.bump()
        await asyncio.sleep(0.5 * loop.scale)
    return result


async def _guarded(work: Awaitable[None], gd: GameDay) -> None:
    """Run the autopilot; a failure of it goes on the timeline (and stderr), not unnoticed."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception as e:
        import sys
        import traceback

        traceback.print_exc(file=sys.stderr)
        gd.event(
            "autopilot.failed",
            "facilitator",
            f"the autopilot stopped: {type(e).__name__}: {e}",
            {"error": f"{type(e).__name__}: {e}"},
        )


def _pid() -> int:
    import os

    return os.getpid()


def run_gameday(
    scenario: Scenario, g: GamedayOptions, announce: Callable[[Urls], None] = lambda u: None
) -> GamedayResult:
    """Run one game day (see the module doc); the report folder is under ``g.reports_dir``."""
    if not g.scale > 0:
        raise ValueError(f"time scale must be > 0, not {g.scale!r}")
    baseline = run_baseline(scenario, g.seed, g.defects) if g.baseline else None
    gd = GameDay(scenario, scale=g.scale, baseline=baseline)
    dopts = DrillOptions(
        seed=g.seed,
        defects=g.defects,
        mode="observe",
        reports_dir=g.reports_dir,
        commit=g.commit,
        platform_url=g.platform_url,
        world=g.world,
        time_scale=g.scale,
    )
    clock: tuple[float, float | None] = (g.scale, None)
    if dopts.served:  # the world's clock (and its scale) rule: the ready file says which
        dopts, world_clock = served_options(scenario, dopts)
        clock = world_clock
        gd.scale = world_clock[0]
    spared: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
    engine = GamedayEngine(scenario, dopts, gd, spared)
    urls: list[Urls] = []
    with ReportLock(g.reports_dir, engine.drill_id):
        result = run_scaled(
            lambda: _main(engine, gd, g, announce, spared, urls), scale=clock[0], anchor=clock[1]
        )
    result.signum = engine.signum
    return GamedayResult(result, engine.rehearsal, urls[0] if urls else None)
