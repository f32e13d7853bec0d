"""Browser drills: scenarios whose platform acts through the Playwright lane and a real Chromium.

The drill engine calls a :class:`LaneHooks` at four points (serve the world, install lanes on the
platform, amend the record, write extra files); :func:`hooks_for` gives the no-op hooks to
API-lane scenarios and :class:`BrowserDrill` to browser ones (``lane: browser`` or a platform
routed to ``browser`` in ``world.lanes``). A browser drill:

* serves the drill's own ``FakeWorld`` on ``127.0.0.1:<free port>`` from its own event loop
  (:mod:`harness.drill.served_world`): Chromium drives the fakes' web UI while the platform's API
  calls stay in-process, and both write to the one World's ledger;
* installs the browser lanes on the platform (``sandbox.lanes.browser_install.install``, through ``harness.platform_adapter``) with the web
  UI at the served address and the loop's :meth:`~harness.clock.VirtualTimeLoop.hold_virtual_time`
  as the lane's ``real_io``: while Chromium works, virtual time follows real time instead of
  jumping, so the rest of the drill sees browser work take the time it really takes;
* watches each of those stretches: one that lasts :attr:`BrowserDrill.stall_s` real seconds
  (Chromium stopped answering) kills the drill's Chromium and stops the drill as a harness error
  naming where the lane waited, instead of a drill that crawls on in real time; and whatever ends
  the drill's loop, no Chromium process outlives it (:meth:`BrowserDrill.close`);
* copies every screenshot and DOM snapshot the lane captured into the report's
  ``evidence/browser/`` (each one also a timeline event, linked from the postmortem) and hands
  the session cookie values to the record's secrets (``no_secret_in_artifacts`` looks for them,
  in the DOM snapshots too).

Browser drills are ``topology: "served-browser"`` in ``verdict.json``: their timing follows the
machine, so unlike in-process API drills their timeline hash is not promised to repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from ..judge.record import DrillRecord
from ..platform_adapter import BrowserMissingError, browser_choice, install_browser_lane
from .served_world import ServedApp, serve_app
from .state import DrillState

__all__ = [
    "BROWSER_PLATFORMS",
    "TOPOLOGY",
    "BrowserDrill",
    "LaneHooks",
    "browser_available",
    "hooks_for",
    "is_browser_scenario",
]

#: the topology of a browser drill in ``verdict.json``
TOPOLOGY = "served-browser"
#: the platforms whose fakes have a web UI
BROWSER_PLATFORMS: tuple[str, ...] = ("x", "instagram")
#: where a browser drill's evidence goes inside its report folder
EVIDENCE_DIR = "evidence/browser"


def is_browser_scenario(scenario: Any) -> bool:
    """Whether ``scenario`` needs the browser lane (``lane: browser`` or a platform routed there)."""
    lanes = dict(getattr(getattr(scenario, "world", None), "lanes", {}) or {})
    return getattr(scenario, "lane", "api") == "browser" or "browser" in lanes.values()


def browser_available(chromium: str | None = None) -> tuple[bool, str]:
    """(True, where) when a Chromium is found, else (False, the error naming what was tried)."""
    try:
        executable, source = browser_choice(chromium)
    except BrowserMissingError as e:
        return False, str(e)
    return True, f"{executable} ({source})"


class LaneHooks:
    """What the drill engine asks of a scenario's lane; the API lane needs nothing."""

    topology = "in-process"

    def serve(self) -> AbstractAsyncContextManager[Any]:
        """A context the drill runs inside, once the fakes are up."""
        return contextlib.nullcontext()

    def install(self, platform: Any) -> None:
        """Give the platform what the lane needs (before it starts)."""

    def amend(self, record: DrillRecord) -> DrillRecord:
        """The record with what the lane adds (topology, secrets, artifacts)."""
        return record

    def write_files(self, out_dir: Path) -> None:
        """Write the lane's own files (binary evidence) into the report folder."""

    def close(self) -> None:
        """After the drill's loop has ended, however it ended: leave no process behind."""


def hooks_for(state: DrillState) -> LaneHooks:
    """The hooks of the drill's scenario: :class:`BrowserDrill` for a browser scenario."""
    return BrowserDrill(state) if is_browser_scenario(state.scenario) else LaneHooks()


class BrowserDrill(LaneHooks):
    """The hooks of one browser drill (see the module doc)."""

    topology = TOPOLOGY
    #: timeouts of the lane in a drill: short, the fakes answer at once on loopback (a click that
    #: navigates nowhere — a brittle lane's wrong control — costs the navigation timeout). A
    #: control of a page already there waits ``step_timeout_s``: 0.5 s was too short for a CI
    #: machine whose two cores ran other drills too (the login form's button "not found" once in
    #: ``rb04_browser_session_expired`` at a2af2a0); a miss costs one wait per control
    render_timeout_s = 2.0
    step_timeout_s = 1.5
    navigation_timeout_s = 4.0
    #: real seconds one stretch of browser I/O may last before the drill calls Chromium stalled
    #: (a lane operation takes well under ten: its waits are bounded by the timeouts above)
    stall_s = 90.0
    #: real seconds all the drill's browser I/O together may hold its clock (a healthy browser
    #: drill holds it for about ten): past that, Chromium is too slow for the drill to end
    held_budget_s = 200.0

    def __init__(self, state: DrillState) -> None:
        self.state = state
        self.tmp = Path(tempfile.mkdtemp(prefix="vibedrill-browser-"))
        self.served: ServedApp | None = None
        self.comp: Any = None
        #: every piece of evidence the lane captured, with its path in the report folder
        self.shots: list[dict[str, Any]] = []
        self.cookies: set[str] = set()
        #: why the watchdog stopped the drill (None: it did not)
        self.stalled: str | None = None

    # serve ------------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _serve(self) -> AsyncIterator[ServedApp]:
        async with serve_app(self.state.fakes.app) as served:
            self.served = served
            yield served

    def serve(self) -> AbstractAsyncContextManager[Any]:
        """Serve the drill's FakeWorld on loopback for Chromium."""
        return self._serve()

    # install ----------------------------------------------------------------------------------
    def install(self, platform: Any) -> None:
        """Install the browser lanes on ``platform``, the web UI at the served address."""
        browser_choice()
        assert self.served is not None, "serve() runs before install()"
        loop = asyncio.get_running_loop()
        served = self.served
        given = self.state.given_urls
        for p in BROWSER_PLATFORMS:
            given[p] = (*given.get(p, ()), served.web_base(p))
        self.comp = install_browser_lane(
            platform,
            tmp=self.tmp,
            web_base_urls={p: served.web_base(p) for p in BROWSER_PLATFORMS},
            render_timeout_s=self.render_timeout_s,
            step_timeout_s=self.step_timeout_s,
            navigation_timeout_s=self.navigation_timeout_s,
            real_io=self._real_io if hasattr(loop, "hold_virtual_time") else None,
        )
        self._watch(self.comp)

    @contextlib.asynccontextmanager
    async def _real_io(self) -> AsyncIterator[None]:
        """One stretch of real browser I/O: virtual time held, and a watchdog on the stretch
        (under the hold the loop's clock follows real time, so its timer counts real seconds)."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        held = float(getattr(loop, "held", 0.0))
        if held > self.held_budget_s and self.stalled is None:
            self.stalled = (
                f"the browser lane is too slow: its Chromium work has held the drill's clock for "
                f"{held:.0f} s of real time (budget {self.held_budget_s:g} s; a healthy browser "
                f"drill needs about ten); the drill stops rather than crawl on in real time"
            )
            abort = getattr(self.state, "abort", None)
            if abort is not None:
                abort(self.stalled)
        with loop.hold_virtual_time():  # type: ignore[attr-defined]
            timer = loop.call_later(self.stall_s, self._stall, task)
            try:
                yield
            finally:
                timer.cancel()

    def _stall(self, task: asyncio.Task[Any] | None) -> None:
        """A stretch of browser I/O outlived :attr:`stall_s`: kill Chromium, stop the drill."""
        where = _waiting_at(task)
        self.stalled = (
            f"the browser lane stalled: Chromium did not answer for {self.stall_s:g} s of real "
            f"time{f' (waiting at {where})' if where else ''}; its processes were killed"
        )
        if self.comp is not None:
            self.comp.runtime.kill()
        abort = getattr(self.state, "abort", None)
        if abort is not None:
            abort(self.stalled)

    def close(self) -> None:
        """Kill whatever is left of the drill's Chromium; remove its temporary folder."""
        if self.comp is not None:
            self.comp.runtime.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _watch(self, comp: Any) -> None:
        """Every capture becomes a timeline event; cookies are remembered before the browser stops."""
        store, runtime = comp.evidence, comp.runtime
        capture, stop = store.capture, runtime.stop
        root = store.root

        async def capture_and_note(page: Any, **kw: Any) -> dict[str, Any]:
            entry: dict[str, Any] = await capture(page, **kw)
            with contextlib.suppress(Exception):
                self.cookies.update(c["value"] for c in await page.context.cookies())
            self._note(entry, root, kw)
            return entry

        async def stop_after_cookies() -> None:
            for ctx in list(getattr(runtime, "_contexts", {}).values()):
                with contextlib.suppress(Exception):
                    self.cookies.update(c["value"] for c in await ctx.cookies())
            await stop()

        store.capture = capture_and_note
        runtime.stop = stop_after_cookies

    def _note(self, entry: dict[str, Any], root: Path, kw: dict[str, Any]) -> None:
        rel = {
            k: f"{EVIDENCE_DIR}/{Path(entry[k]).relative_to(root).as_posix()}"
            for k in ("screenshot", "dom_snapshot")
        }
        tag, action = str(kw.get("tag")), str(kw.get("action"))
        t = self.state.now()
        shot = {
            "t": t,
            "tag": tag,
            "action": action,
            "client_id": kw.get("client_id"),
            "platform": kw.get("platform"),
            "job_id": kw.get("job_id"),
            "resource_id": kw.get("resource_id"),
            "url": entry.get("url"),
            "ui_version": entry.get("ui_version"),
            "screenshot": rel["screenshot"],
            "dom_snapshot": rel["dom_snapshot"],
            "source": {"screenshot": entry["screenshot"], "dom_snapshot": entry["dom_snapshot"]},
        }
        self.shots.append(shot)
        self.state.timeline.append(
            t,
            "browser.evidence",
            "platform",
            f"browser lane evidence {tag} of {action} on {kw.get('platform')} "
            f"for {kw.get('client_id')} (UI {entry.get('ui_version') or 'v1'})",
            {k: v for k, v in shot.items() if k not in ("t", "source")},
            evidence=rel["screenshot"],
        )

    # record and files -------------------------------------------------------------------------
    def amend(self, record: DrillRecord) -> DrillRecord:
        """Served-browser topology, session cookies as secrets, DOM snapshots as artifacts."""
        import dataclasses

        artifacts = dict(record.artifacts)
        for s in self.shots:
            with contextlib.suppress(OSError):
                artifacts[s["dom_snapshot"]] = Path(s["source"]["dom_snapshot"]).read_text(
                    encoding="utf-8"
                )
        shots = [{k: v for k, v in s.items() if k != "source"} for s in self.shots]
        return dataclasses.replace(
            record,
            topology=self.topology,
            secrets=tuple(dict.fromkeys((*record.secrets, *sorted(self.cookies)))),
            artifacts=artifacts,
            extra={**record.extra, "browser_evidence": shots, "served_at": self._where()},
        )

    def _where(self) -> str | None:
        return None if self.served is None else self.served.base

    def write_files(self, out_dir: Path) -> None:
        """Copy the screenshots and DOM snapshots into ``out_dir/evidence/browser/``; clean up."""
        for s in self.shots:
            for k in ("screenshot", "dom_snapshot"):
                src, dst = Path(s["source"][k]), out_dir / s[k]
                if src.is_file():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dst)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _waiting_at(task: asyncio.Task[Any] | None) -> str:
    """Where ``task`` waits, as ``file:line in function`` of its innermost lane frame ("")."""
    frames: list[Any] = []
    aw: Any = None if task is None else task.get_coro()
    while aw is not None and len(frames) < 200:  # the chain of awaits, outermost first
        frame = getattr(aw, "cr_frame", None) or getattr(aw, "ag_frame", None)
        if frame is not None:
            frames.append(frame)
        aw = getattr(aw, "cr_await", None) or getattr(aw, "ag_await", None)
    for frame in reversed(frames):
        path = Path(frame.f_code.co_filename)
        if "lanes" in path.parts:
            return f"{path.parent.name}/{path.name}:{frame.f_lineno} in {frame.f_code.co_name}"
    return ""


def scenarios_for_all(
    scenarios: list[Any], *, no_browser: bool
) -> tuple[list[Any], list[str], str | None]:
    """What ``vibedrill run --all`` runs: (scenarios, notes to print, error or None).

    Browser scenarios run when a Chromium is found. Without one, ``--all`` is an error naming what
    was tried (exit 3), unless ``no_browser`` says to skip them, which is then printed.
    """
    browser = [s for s in scenarios if is_browser_scenario(s)]
    if not browser:
        return scenarios, [], None
    rest = [s for s in scenarios if not is_browser_scenario(s)]
    names = ", ".join(s.id for s in browser)
    if no_browser:
        return rest, [f"skipped {len(browser)} browser scenario(s) (--no-browser): {names}"], None
    ok, where = browser_available()
    if not ok:
        return (
            rest,
            [],
            (
                f"{len(browser)} browser scenario(s) need a Chromium ({names}): {where} "
                "Pass --no-browser to run the other scenarios without them."
            ),
        )
    return scenarios, [f"browser scenarios run with {where}"], None
