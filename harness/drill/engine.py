"""One drill's run on the event loop: the phases of :mod:`harness.drill`, step by step.

Kept apart from :mod:`harness.drill.run` (the public entry point) so each stays readable. Time is the
running loop's clock; every random draw comes from seeded RNGs in the world, the platform and the
workload; the engine itself draws nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx

from fakes.app import FakeWorld
from fakes.core.ledger import content_hash
from fakes.core.roster import Roster
from fakes.core.world import World
from sandbox.client import HttpPlatformClient

from ..clock import BLOCK_REAL_S, LagProbe, VirtualTimeLoop
from ..durations import format_duration
from ..errors import DrillError
from ..judge.timeline import format_offset
from ..platform_adapter import crash_copy, make_platform, memory_store, platform_settings
from ..runbooks import ActionContext, runbooks
from ..runbooks.model import VerificationCheck
from ..scenario import Scenario
from .browser import hooks_for, is_browser_scenario
from .control_requests import RecordingPlatformClient
from .detect import Detection, Detector
from .finish import finish, flat_budgets, skipped
from .operator import bite, operate
from .options import DrillOptions, DrillResult
from .respond import ACTOR, OpsLead
from .served_platform import (
    DrillSkipped,
    ScopedPlatformClient,
    preflight,
    restore_controls,
    served_clients,
)
from .settings import scenario_settings
from .state import DrillState
from .verify import CHECK_ANSWER_WITHIN_S, run_checks
from .watch import Watch
from .workload import OWN_AUTHOR, WorkItem, plan_workload, run_jobs
from .world_view import InProcessWorld, ServedWorld

__all__ = ["DrillEngine"]

#: how long after the workload ends the platform gets to drain before verification
DRAIN_S = 900.0
#: virtual time past the longest a drill's phases can take after which its clock stops it
HORIZON_SLACK_S = 3600.0
#: submissions open at once against a platform over HTTP (see :func:`run_jobs`)
SERVED_SUBMISSIONS_IN_FLIGHT = 16


class _Levers:
    """The engine's heal, snapshot and control-sync levers, for the operator's steps."""

    def __init__(self, engine: DrillEngine) -> None:
        self.heal = engine._heal
        self.snapshot = engine._snapshot
        self.sync_controls = engine.watch.sync_controls
        self.restart = engine._restart


class DrillEngine(DrillState):
    """Runs one scenario; :meth:`run` returns a :class:`~harness.drill.DrillResult`."""

    def __init__(self, scenario: Scenario, opts: DrillOptions) -> None:
        super().__init__(scenario, opts)
        self._main: asyncio.Task[Any] | None = None
        self._responder: asyncio.Future[Any] | None = None
        self._expiries: list[asyncio.Future[None]] = []
        #: the platform's alerts and control changes onto the timeline, and detection
        self.watch = Watch(self)
        self.poll = self.watch.poll_once
        #: what the scenario's lane adds (browser drills: a served world, the Playwright lane)
        self.lane = hooks_for(self)
        #: what was put back on a served platform after the drill (see ``restore_controls``)
        self.restored: list[str] = []
        self.controls_at_rest: dict[str, Any] = {}
        #: the in-process platform's settings and secrets, its storage and how often it restarted
        self._made: tuple[Any, Any] = (None, None)
        self._store: Any = None
        self._restarts = 0
        #: drills on a wall clock (served, game days): how late this loop's timers fire (sampled every 10 real ms)
        self.lag = LagProbe(0.01 * opts.time_scale)
        self._lag_task: asyncio.Future[None] | None = None

    def interrupt(self, signum: int = 2) -> None:
        """Stop the drill (signal handler): the run is cancelled and what it has is written.

        A second signal while the first is being handled exits at once, with the shell's code for
        that signal (130 for SIGINT, 143 for SIGTERM): the person pressing Ctrl-C twice means it.
        """
        if self.interrupted and self.signum:
            os.write(2, b"\ninterrupted again: exiting now\n")
            os._exit(128 + signum)
        self.interrupted = True
        self.signum = signum
        if self._main is not None:
            self._main.cancel()

    def abort(self, reason: str) -> None:
        """Stop the drill as a harness error (``reason`` is its message): the run is cancelled,
        judged ``error`` and written with what it has. For what the harness itself cannot wait
        out, such as a browser that stopped answering."""
        if self.aborted is None:
            self.aborted = reason
            self.ev("drill.aborted", "drill", f"drill stopped by the harness: {reason}")
        if self._main is not None:
            self._main.cancel()

    def _stalled(self, vt: float, turns: int, real: float) -> None:
        """The virtual clock stood still with work ready: something spins without waiting."""
        self.abort(
            f"the drill's clock stood still at {format_offset(vt - self.t0)} for {turns:,} "
            f"turns of the loop ({real:.0f} s of real time): something in the platform is "
            "scheduled again and again at the same instant without ever waiting (a livelock: "
            "work put off to a time already past, a retry with no back-off); the drill stops "
            "rather than spin on"
        )

    def _blocked(self, vt: float, worst: float, blocked: float, turns: int) -> None:
        """The platform's code ran for seconds of real time without yielding, again and again."""
        self.abort(
            f"the event loop was blocked for {blocked:.0f} s of real time by {turns} turns of "
            f"at least {BLOCK_REAL_S:g} s each (the longest {worst:.1f} s), the last at "
            f"{format_offset(vt - self.t0)}: something in the platform waits synchronously in "
            "async code (a database lock's busy wait, time.sleep, a blocking call), which stalls "
            "every job and client of its process; the drill stops rather than crawl on"
        )

    def _horizon_s(self) -> float:
        """How far past its start an in-process drill's clock may go: the workload, the drain,
        every verification check at its longest, and an hour of slack."""
        return (
            self.scenario.workload.duration
            + DRAIN_S
            + CHECK_ANSWER_WITHIN_S * len(self._checks())
            + HORIZON_SLACK_S
        )

    def _past_horizon(self, vt: float) -> None:
        """The next thing due lies beyond the drill's horizon: something awaits the platform
        for ever (a hold set decades ahead, a call that never answers)."""
        self.abort(
            f"the drill's clock was about to jump to {format_offset(vt - self.t0)}, past its "
            f"horizon of {format_offset(self._horizon_s())} (workload, drain and verification at "
            "their longest): the drill waits on the platform for something that never comes — "
            "a call that never answers, work put off far into the future (a rate-limit or token "
            "hold read from an absolute time as a wait); the drill stops rather than walk the "
            "clock there"
        )

    # --- the run ---------------------------------------------------------------------------
    async def run(self) -> DrillResult:
        """Arrange, run every phase, then judge and write, even when interrupted."""
        self.t0 = self.now()
        self.ev(
            "drill.started",
            "drill",
            f"drill of {self.scenario.id} started (seed {self.seed}, mode {self.mode})",
            {
                "scenario": self.scenario.id,
                "seed": self.seed,
                "mode": self.mode,
                "defects": list(self.defects),
            },
        )
        error: str | None = None
        self.platform = None
        loop = asyncio.get_running_loop()
        if isinstance(loop, VirtualTimeLoop):
            loop.on_stall = self._stalled
            loop.on_blocked = self._blocked
            loop.horizon = self.t0 + self._horizon_s()
            loop.on_horizon = self._past_horizon
        world = self._served_world() if self.opts.served else self._in_process_world()
        if self.opts.served or self.opts.time_scale != 1.0:
            # on a wall clock (a platform over HTTP, a game day's scaled clock), how busy the
            # machine is decides how long a request may be on the wire (finish.py)
            self._lag_task = asyncio.ensure_future(self.lag.run())
        try:
            async with world as roster:
                self._main = asyncio.ensure_future(self._phases(roster))
                if self.interrupted or self.aborted:  # a stop asked for before the phases began
                    self._main.cancel()
                try:
                    await self._main
                except asyncio.CancelledError:
                    if self.aborted is not None:
                        error = self.aborted
                        self.ev(
                            "drill.failed", "drill", f"harness error: {error}", {"error": error}
                        )
                    else:
                        self.interrupted = True
                        error = "interrupted"
                        self.ev(
                            "drill.interrupted", "drill", "drill interrupted; writing what it has"
                        )
                except DrillSkipped:
                    raise
                except Exception as e:  # the rehearsal broke: judged as error, reported, exit 3
                    error = f"{type(e).__name__}: {e}"
                    self.ev("drill.failed", "drill", f"harness error: {error}", {"error": error})
                finally:
                    if self.platform is not None:
                        with contextlib.suppress(Exception):
                            await self.platform.stop()
                    await self._cancel_tasks()
                    if isinstance(loop, VirtualTimeLoop):
                        loop.on_blocked = None  # judging and writing run long turns, rightly
                result = await finish(self, self.lane, error)
            if self.restored:  # a served platform, put back at rest after the report
                result.notes.append(
                    "controls restored after the drill: " + "; ".join(self.restored)
                )
            return result
        except DrillSkipped as e:
            return skipped(self, str(e))
        except (DrillError, httpx.HTTPError) as e:  # the world could not be arranged at all
            if self._main is not None:
                raise
            error = f"{type(e).__name__}: {e}"
            self.ev("drill.failed", "drill", f"harness error: {error}", {"error": error})
            return await finish(self, self.lane, error)

    @contextlib.asynccontextmanager
    async def _in_process_world(self) -> AsyncIterator[Roster]:
        """The fakes in this loop, on a roster generated for the scenario."""
        roster = Roster.generate(
            clients=self.scenario.world.clients,
            platforms=self.scenario.world.platforms,
            seed=self.seed,
            ttl_s={str(k): v for k, v in self.scenario.world.tokens_left.items()},
        )
        self.world = World(roster=roster, now=self.now, seed=self.seed)
        self.fakes = FakeWorld(self.world)
        self.view = InProcessWorld(self.world)
        async with (
            self.fakes.running(),
            self.lane.serve(),
            self.fakes.client(base_url="http://fakes/_fake") as admin,
        ):
            self.admin = admin
            yield roster

    @contextlib.asynccontextmanager
    async def _served_world(self) -> AsyncIterator[Roster]:
        """The fakes served by ``vibedrill serve`` (their ready file), and the platform at its URL."""
        if is_browser_scenario(self.scenario):
            raise DrillSkipped(
                "a browser-lane scenario drives the platform's own browser lane, which the "
                "platform contract does not expose; drill it in-process (without --platform-url)"
            )
        if any(step.do == "platform.restart" for step in self.scenario.operator):
            raise DrillSkipped(
                "the scenario restarts the platform (operator step platform.restart), which a "
                "drill can do only to the platform it runs itself; drill it in-process (without "
                "--platform-url), or restart your platform by hand during the drill"
            )
        if self.scenario.world.tokens_left:
            raise DrillSkipped(
                "the scenario sets how long the accounts' tokens have left (world.tokens_left), "
                "which only a roster the drill generates can say; drill it in-process (without "
                "--platform-url)"
            )
        doc = self.opts.served_world or {}
        headers = {"x-vibedrill-admin": "1"}
        token = os.environ.get("VIBEDRILL_ADMIN_TOKEN")
        if token:
            headers["authorization"] = f"Bearer {token}"
        async with (
            # the harness's own calls get 30 real seconds, whatever the world's time scale
            httpx.AsyncClient(
                base_url=str(doc["admin"]), headers=headers, timeout=30.0 * self.opts.time_scale
            ) as admin,
            HttpPlatformClient(
                str(self.opts.platform_url), timeout=30.0 * self.opts.time_scale
            ) as http_platform,
        ):
            self.admin = admin
            view = ServedWorld(admin)
            self.view = view
            roster = await view.roster()
            self.served_clients: list[str] = served_clients(self.scenario, roster)
            scoped = ScopedPlatformClient(http_platform)
            self.controls_at_rest, enabled = await preflight(
                scoped, str(self.opts.platform_url), self.defects
            )
            self.defects = tuple(dict.fromkeys([*self.defects, *enabled]))
            await scoped.mark(self.t0)
            await view.mark()
            self.platform_client = scoped
            self.run_tag = f"r{int(self.t0):x}-"
            try:
                yield roster
            finally:  # after the report: leave the platform at rest for the next drill
                with contextlib.suppress(Exception):
                    restored = await restore_controls(scoped, self.controls_at_rest)
                    if restored:
                        self.restored = restored

    async def _cancel_tasks(self) -> None:
        """Cancel every task this drill started, so nothing outlives it."""
        me = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        for t in others:
            t.cancel()
        if others:
            await asyncio.gather(*others, return_exceptions=True)

    async def _phases(self, roster: Roster) -> None:
        s = self.scenario
        # arrange ------------------------------------------------------------------------
        self.clients = [c.id for c in roster.clients if c.id != "agency"]
        if self.opts.served:
            self.clients = list(self.served_clients)
        self.accounts = {(c.id, str(a.platform)): a.id for c in roster.clients for a in c.accounts}
        self.secrets = [a.credential.access_token for a in roster.accounts()] + [
            a.credential.refresh_token for a in roster.accounts() if a.credential.refresh_token
        ]
        if not self.opts.served:
            overrides = scenario_settings(s, self.clients)
            settings, secrets = platform_settings(self.world.roster_with_secrets(), **overrides)
            self.given_urls = {k: (str(v),) for k, v in settings.base_urls.model_dump().items()}
            self.platform = make_platform(
                settings,
                secrets,
                transport=self.fakes.transport(),
                now=self.now,
                seed=self.seed,
                defects=self.defects,
            )
            self._made = (settings, secrets)
            if any(step.do == "platform.restart" for step in s.operator):
                # kept as a served platform keeps it, so that a restart has something to restore
                self._store = memory_store()
                self.platform.attach_storage(self._store)
            self.lane.install(self.platform)
            await _maybe_await(self.platform.start())
            self.platform_client = self.platform.client
        # every control request from here on is written down (the judge replays them over the
        # control state at the start: ``controls_as_requested``)
        self.recording = RecordingPlatformClient(self.platform_client, self.now)
        self.platform_client = self.recording
        self.control_requests = self.recording.requests
        self.controls_at_start = dict(await self.platform_client.controls())
        self.initial_budgets = flat_budgets(dict(self.controls_at_start.get("budgets") or {}))
        self.ev(
            "world.arranged",
            "drill",
            f"{len(self.clients)} clients on {', '.join(s.world.platforms)}",
            {"clients": self.clients, "platforms": list(s.world.platforms)},
        )
        for d in self.defects:
            self.ev("defect.activated", "drill", f"platform defect {d} switched on", {"defect": d})
        for p, lane in sorted(s.world.lanes.items()):
            if lane != "api":
                await self.platform_client.set_lane(p, lane, actor="drill", reason="scenario world")
        plan = plan_workload(s, self.seed, self.clients, self.accounts, self.run_tag)
        handles = {a.id: a.handle for a in roster.accounts()}
        if plan.inbound:
            body = [
                {
                    "fake": i.fake,
                    "kind": i.kind,
                    "account": i.account,
                    "text": i.text,
                    "author": handles.get(i.account, i.author)
                    if i.author == OWN_AUTHOR
                    else i.author,
                    "at": self.t0 + i.at,
                }
                for i in plan.inbound
            ]
            r = await self.admin.post("/inbound", json=body)
            if r.status_code != 201:
                raise DrillError(f"the fakes refused the inbound traffic: {r.text[:300]}")
        self.ev(
            "workload.started",
            "drill",
            f"{len(plan.jobs)} jobs and {len(plan.inbound)} inbound items over {format_duration(s.workload.duration)}",
            {"jobs": len(plan.jobs), "inbound": len(plan.inbound)},
        )
        self.inbound_planned = plan.inbound
        rb = runbooks()[s.runbook]
        rules = s.detection.rules or rb.symptoms
        self.detector = Detector(self.platform_client, tuple(rules), tuple(s.world.platforms))
        ctx = ActionContext(
            self.platform_client, actor=ACTOR, heal=self._heal, snapshot=self._snapshot
        )
        timed_ends = [self.t0 + f.at + f.duration for f in s.faults if f.duration is not None]
        self.ops = OpsLead(
            s, rb, ctx, self.timeline, self.now, self.t0, max(timed_ends) if timed_ends else None
        )
        self.ops.after_step = self.watch.sync_controls
        tasks = [
            asyncio.ensure_future(
                run_jobs(
                    plan,
                    self.platform_client,
                    self.t0,
                    self.now,
                    self._submitted,
                    in_flight=SERVED_SUBMISSIONS_IN_FLIGHT if self.opts.served else 1,
                )
            ),
            asyncio.ensure_future(self._inject()),
            asyncio.ensure_future(
                self.watch.monitor(self.t0 + self._incident_start_offset(), self._respond)
            ),
            asyncio.ensure_future(operate(self, _Levers(self))),
        ]
        # steady state -------------------------------------------------------------------
        start = self._incident_start_offset()
        await self._sleep_until(self.t0 + min(s.workload.steady_state, start))
        # an incident from the first second has no "before": nothing to verify (in a served drill
        # jobs are already on the wire by then, in-process none is — neither proves anything)
        if start > 0:
            await self._steady_state()
        # the rest of the workload: inject, detect, respond run as tasks ------------------
        await self._sleep_until(self.t0 + s.workload.duration)
        self.progress("heal")
        await tasks[0]
        await tasks[3]  # an operator step that fails is a broken rehearsal: it raises here
        await self._heal(None, actor="drill")
        for t in self._expiries:  # a fault window that could not be closed broke the rehearsal
            if t.done() and not t.cancelled() and (err := t.exception()) is not None:
                raise err
        if self._responder is not None:
            await self._responder
        self.ev(
            "workload.finished", "drill", "workload finished; the outside world is healed; draining"
        )
        await self._drain()
        tasks[2].cancel()
        await asyncio.gather(tasks[1], tasks[2], return_exceptions=True)
        await self.watch.poll_once()
        bite(self, await self.platform_client.jobs(), await self.platform_client.control_changes(0))
        self.progress("verify")
        await self._verify()
        self.jobs_at_end = list(await self.platform_client.jobs())

    def _incident_start_offset(self) -> float:
        starts = [f.at for f in self.scenario.faults] + [
            x.at for x in self.scenario.workload.surges
        ]
        return min(starts) if starts else self.scenario.workload.steady_state

    async def _sleep_until(self, t: float) -> None:
        d = t - self.now()
        if d > 0:
            await asyncio.sleep(d)

    async def _submitted(self, item: WorkItem, job: Any) -> None:
        sp = item.spec
        if item.origin == "resubmit":
            # the same job submitted again under its key: what the platform handed back
            self.resubmissions.append(
                {"idempotency_key": sp.idempotency_key, "job_id": job.id, "t": self.now()}
            )
            return
        self.workload_rows.append(
            {
                "job_id": job.id,
                "kind": sp.kind,
                "client_id": sp.client_id,
                "platform": sp.platform,
                "account_id": sp.account_id,
                "submitted_at": self.now(),
                "idempotency_key": sp.idempotency_key,
                "episode_id": sp.episode_id,
                "blueprint_id": sp.blueprint_id,
                "origin": item.origin,
                "tool": sp.payload.get("tool") if sp.kind == "tool_call" else None,
                # the gateway tools a draft may use (a text job's ``tools``)
                "tools": [str(t) for t in sp.payload.get("tools") or ()]
                if sp.kind == "generate_text"
                else None,
                # the media the post must go out with (a hash: the fakes keep no more)
                "media_hash": content_hash(sp.payload.get("media_url")),
                # the time it is due, as submitted (a calendar's post is submitted ahead)
                "run_at": getattr(getattr(job, "spec", None), "run_at", None) or sp.run_at,
            }
        )

    async def _steady_state(self) -> None:
        await self.watch.poll_once()
        ok = [e for e in self.detector.audit if e.phase == "outcome" and e.outcome == "success"]
        failed = [
            e
            for e in self.detector.audit
            if e.phase == "outcome" and e.outcome in ("failed", "dead_letter")
        ]
        kind = "steady_state.verified" if ok or not self.workload_rows else "steady_state.failed"
        self.ev(
            kind,
            "drill",
            f"steady state: {len(ok)} side effects succeeded, {len(failed)} failed",
            {"succeeded": len(ok), "failed": len(failed)},
        )
        self.progress("steady state")

    # --- inject / heal ---------------------------------------------------------------------
    async def _inject(self) -> None:
        for i, f in sorted(enumerate(self.scenario.faults), key=lambda x: (x[1].at, x[0])):
            await self._sleep_until(self.t0 + f.at)
            spec: dict[str, Any] = {
                "kind": f.kind,
                "params": f.params,
                "probability": f.probability,
                "match": f.match.model_dump(exclude_none=True),
            }
            if f.first_n is not None:
                spec["first_n"] = f.first_n
            if f.every_nth is not None:
                spec["every_nth"] = f.every_nth
            if f.duration is not None:
                spec["end"] = self.t0 + f.at + f.duration
            r = await self.admin.post("/faults", json=spec)
            if r.status_code != 201:
                raise DrillError(f"faults[{i}]: the fakes refused {f.kind}: {r.text[:300]}")
            rid = r.json()["id"]
            self.fault_ids[i] = rid
            self.ev(
                "fault.injected",
                "drill",
                f"fault {f.kind} injected"
                + (f" for {format_duration(f.duration)}" if f.duration else ""),
                {
                    "kind": f.kind,
                    "rule_id": rid,
                    "params": f.params,
                    "match": spec["match"],
                    "index": i,
                },
            )
            self.progress(f"inject {f.kind}")
            if f.duration is not None:
                self._expiries.append(
                    asyncio.ensure_future(self._expire(i, self.t0 + f.at + f.duration))
                )

    async def _expire(self, i: int, t: float) -> None:
        await self._sleep_until(t)
        await self._remove(i, "fake", "the fault's window ended")

    async def _remove(self, i: int, actor: str, why: str) -> bool:
        if i in self.healed or i not in self.fault_ids:
            return False
        rid = self.fault_ids[i]
        for attempt in range(3):  # DELETE is idempotent: a dropped connection is tried again
            try:
                await self.admin.delete(f"/faults/{rid}")
                break
            except httpx.TransportError as e:
                if attempt == 2:
                    raise DrillError(f"could not remove fault {rid} from the fakes: {e!r}") from e
        self.healed.add(i)
        self.ev(
            "fault.healed",
            actor,
            f"fault {self.scenario.faults[i].kind} healed: {why}",
            {"kind": self.scenario.faults[i].kind, "rule_id": rid},
        )
        return True

    async def _restart(self, crash: bool = False) -> dict[str, Any]:
        """Stop the in-process platform and start a new one on its storage (``platform.restart``):
        what the storage holds comes back; what only lived in memory (tasks, caches) does not.

        ``crash``: the process dies instead of stopping. The new one gets a copy of the storage
        as it was at this instant (jobs still ``running``, no outcome written for work in
        flight); the old process is then stopped into the discarded original, only so that none
        of its tasks outlives the drill."""
        old = self.platform
        if self.opts.served or old is None or self._store is None:
            raise DrillError("platform.restart restarts the in-process platform only")
        before = dict(await old.client.controls())
        if crash:
            self._store = crash_copy(self._store)
        await old.stop()
        self._restarts += 1
        settings, secrets = self._made
        new = make_platform(
            settings,
            secrets,
            transport=self.fakes.transport(),
            now=self.now,
            # a new process: its own random trace ids and jitter, still a function of the seed
            seed=self.seed + 1_000_003 * self._restarts,
            defects=self.defects,
        )
        restored = dict(new.attach_storage(self._store))
        self.lane.install(new)
        await _maybe_await(new.start())
        self.platform = new
        self.recording.inner = new.client
        # the platform's alerts are its process's memory: the new one counts from 1 again
        self.detector.alert_cursor = 0
        after = dict(await new.client.controls())
        self.ev(
            "platform.restarted",
            "operator",
            f"platform {'crashed and ' if crash else ''}restarted on its storage: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in restored.items()),
            {
                "restart": self._restarts,
                "crash": crash,
                "restored": restored,
                "before": before,
                "after": after,
            },
        )
        return restored

    async def _heal(self, kind: str | None, actor: str = ACTOR) -> int:
        """Remove open-ended faults (of ``kind``); timed ones end on their own."""
        n = 0
        for i, f in enumerate(self.scenario.faults):
            if (kind is None or f.kind == kind) and (f.duration is None or actor == "drill"):
                n += await self._remove(
                    i,
                    actor,
                    "healed by the runbook's fix" if actor != "drill" else "the drill ended",
                )
        return n

    async def _snapshot(self, items: list[str], why: str) -> None:
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
            ACTOR,
            f"evidence snapshot: {', '.join(items)}",
            {"items": items, "why": why, "index": len(self.snapshots)},
        )

    # --- respond / drain / verify ---------------------------------------------------------
    def _respond(self, det: Detection) -> None:
        self._responder = asyncio.ensure_future(self.ops.respond(det))

    async def _drain(self) -> None:
        deadline = self.now() + DRAIN_S
        while self.now() < deadline:
            await asyncio.sleep(30.0)
            await self.watch.poll_once()
            # one state at a time, stopping at the first that has a job: the platform builds
            # only the jobs asked for (the drill's hundreds of finished ones are not pending)
            for state in ("running", "retry_wait", "queued", "scheduled"):
                if await self.platform_client.jobs(state):
                    break
            else:
                break

    def _checks(self) -> tuple[VerificationCheck, ...]:
        if self.scenario.verification is not None:
            return tuple(self.scenario.verification)
        return tuple(runbooks()[self.scenario.runbook].verification)

    async def _verify(self) -> None:
        self.verifications = await run_checks(self, self._checks())
        await self.watch.poll_once()


async def _maybe_await(x: Any) -> Any:
    if asyncio.iscoroutine(x) or isinstance(x, asyncio.Future):
        return await x
    return x
