"""The platform: one instance of the reference Raize The Vibe core, wired together.

``Platform(settings, secrets, transport=…, now=…, seed=…, defects=…)`` builds the control plane,
job store, runner, keyring, lanes, audit, telemetry and alerts on the caller's event loop. It
reaches the outside world only through ``transport`` wrapped in the egress guard, and takes
time from ``now`` and randomness from ``seed``, so an in-process drill on a virtual clock is a
pure function of its inputs.

Components owned elsewhere plug in without editing this file: each module named in
:data:`COMPONENT_MODULES` is imported (declaring its defects) and, if it defines
``install(platform)``, called; the object it returns is started and stopped with the platform
when it has ``start()`` / ``stop()`` coroutines. Hooks they use: ``platform.runner.register``,
``platform.controls``, ``platform.audit``, ``platform.telemetry``, ``platform.alerts``,
``platform.http``, ``platform.keyring``, ``platform.defects``, ``platform.lanes``,
``platform.scope(job, …)``, ``platform.publishing.prepare(job)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import random
import time
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

import httpx

from .alerts import AlertRules, Alerts
from .audit import AuditLog, Scrubber
from .contract import ControlChange, JobSpec
from .controls import Controls
from .defects import Defects
from .egress import EgressGuard
from .errors import Blocked
from .jobs import AUDIT_ACTION_OF, JobRecord, JobStore
from .keyring import Keyring
from .lanes.api import LaneDeps
from .lanes.base import Lane
from .lanes.instagram import InstagramLane
from .lanes.linkedin import LinkedInLane
from .lanes.x import XLane
from .pacing import Pacer
from .publishing import PublishHandlers
from .runner import CURRENT_JOB, Runner
from .scope import JobScope
from .settings import SOCIAL_PLATFORMS, CredentialSecret, Settings
from .storage import SqliteStore
from .telemetry import Telemetry

__all__ = ["COMPONENT_MODULES", "Platform"]

#: optional components (other modules of ``sandbox``) loaded by every platform
COMPONENT_MODULES: tuple[str, ...] = (
    "sandbox.generation",
    "sandbox.engagement",
    "sandbox.toolgate_client",
)


def load_components() -> list[ModuleType]:
    """Import the component modules that exist (their defects register on import)."""
    out = []
    for name in COMPONENT_MODULES:
        try:
            out.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    return out


class _NoCookies(httpx.Cookies):
    """The API client's cookie jar, which never stores a cookie.

    One client serves every tenant, so a stored cookie would ride along on other tenants'
    requests; and parsing each response for ``Set-Cookie`` (httpx wraps it in urllib objects)
    was a tenth of a publish job's CPU time. The APIs authenticate with bearer tokens.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _ApiClient(httpx.AsyncClient):
    """The platform's HTTP client: each distinct URL string is parsed once.

    Polling sends the same URLs over and over (a render's status, a post's comments, the DM
    list: nine requests in ten repeat one already sent), and httpx validates and parses a URL
    string anew for every request, character by character — a tenth of a drill's CPU time —
    and once more to put ``params`` into its query. An :class:`httpx.URL` is immutable, so the
    one built the first time is handed to httpx instead of the string: with ``params`` (a
    non-empty dict of plain values, the client having none of its own), the URL httpx would
    build from both (``URL(url, params=QueryParams(params))``: the params make the query),
    and no ``params``. The same request is built. A string httpx refuses is not kept and
    raises where it did (in :meth:`build_request`).
    """

    #: distinct URLs kept (the oldest goes first); a platform's routes × ids in flight fit
    URL_CACHE_SIZE = 4096

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._urls: dict[Any, httpx.URL] = {}
        #: requests built by :meth:`_build` itself (the rest by httpx)
        self.built_fast = 0

    def _url(self, key: Any, make: Callable[[], httpx.URL]) -> httpx.URL:
        hit = self._urls.get(key)
        if hit is None:
            hit = make()
            if len(self._urls) >= self.URL_CACHE_SIZE:
                del self._urls[next(iter(self._urls))]
            self._urls[key] = hit
        return hit

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        """:meth:`httpx.AsyncClient.build_request`, with each URL (and params) parsed once, and
        the request built in one step when nothing of the client's own is to merge but its
        headers and timeout (see :meth:`_build`)."""
        if isinstance(url, str):
            s = url
            url = self._url(s, lambda: httpx.URL(s))
            params = kwargs.get("params")
            if params and isinstance(params, dict) and not self.params:
                # with each value's type: 1, 1.0 and True are equal keys but "1", "1.0", "true"
                items = tuple((k, type(v), v) for k, v in params.items())
                if all(isinstance(k, str) and isinstance(v, _PLAIN) for k, _, v in items):
                    base = url
                    url = self._url(
                        (s, items), lambda: httpx.URL(base, params=httpx.QueryParams(params))
                    )
                    kwargs["params"] = None
        if isinstance(url, httpx.URL) and url.is_absolute_url:
            # httpx's own ``request()`` passes every argument, unused ones as None
            given = {k: v for k, v in kwargs.items() if v is not None or k in _FAST_KEYS}
            if _FAST_KEYS.issuperset(given):
                return self._build(method, url, **given)
        return super().build_request(method, url, **kwargs)

    def _build(
        self,
        method: str,
        url: httpx.URL,
        *,
        content: Any = None,
        data: Any = None,
        json: Any = None,
        params: Any = None,
        headers: Any = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Request:
        """The request httpx's ``build_request`` makes for an absolute URL, no cookies, files or
        extensions, and a client with no params, cookies or base URL of its own: the client's
        headers without those the request sets (by name, any case), then the request's, in
        order; the timeout as an extension. One header list instead of httpx's three (client
        copy, merge, request copy), each header normalised once."""
        if self.params or self.cookies or str(self.base_url):
            return super().build_request(
                method, url, content=content, data=data, json=json, params=params,
                headers=headers, timeout=timeout,
            )  # fmt: skip
        self.built_fast += 1
        mine = self.headers.raw
        if headers:
            given = httpx.Headers(headers)
            names = {k.lower() for k, _ in given.raw}
            raw = [h for h in mine if h[0].lower() not in names] + given.raw
        else:
            raw = mine
        t = self.timeout if timeout is httpx.USE_CLIENT_DEFAULT else httpx.Timeout(timeout)
        return httpx.Request(
            method, url, content=content, data=data, json=json, params=params,
            headers=raw, extensions={"timeout": t.as_dict()},
        )  # fmt: skip


#: the ``build_request`` arguments :meth:`_ApiClient._build` takes (any other: httpx builds it)
_FAST_KEYS = frozenset({"content", "data", "json", "params", "headers", "timeout"})


def _kill_label(scope: Mapping[str, Any]) -> str:
    """The ``kill_switch_state`` gauge's label of a kill switch's scope (``global`` when empty)."""
    return ",".join(f"{k}={v}" for k, v in sorted(scope.items()) if v is not None) or "global"


#: query parameter values whose (hashable) identity decides the query string
_PLAIN = (str, int, float, bool, type(None))


class Platform:
    """The reference platform under test."""

    def __init__(
        self,
        settings: Settings,
        secrets: Mapping[str, CredentialSecret],
        *,
        transport: httpx.AsyncBaseTransport,
        now: Callable[[], float] = time.time,
        seed: int = 0,
        defects: Iterable[str] = (),
        alert_rules: AlertRules | None = None,
    ) -> None:
        modules = load_components()
        self.settings = settings
        self.now = now
        self.seed = seed
        self.rng = random.Random(f"platform:{seed}")
        self.defects = Defects(defects)
        self.scrubber = Scrubber()
        self.audit = AuditLog(now, self.defects, self.scrubber)
        self.telemetry = Telemetry(now)
        self.alerts = Alerts(now)
        self.alert_rules = alert_rules or AlertRules()
        self.controls = Controls(settings, now)
        self.controls.listeners.append(self._on_control)
        self.jobs = JobStore(now, self._trace_id, self.scrubber.value)
        urls = [settings.base_urls.of(s) for s in type(settings.base_urls).model_fields]
        self.egress = EgressGuard(transport, urls, on_refused=self._egress_refused)
        # connect/read/write/pool limits; the lanes also bound each whole request (asyncio.timeout)
        limit = settings.request_timeout_s
        self.http = _ApiClient(
            transport=self.egress,
            timeout=httpx.Timeout(limit, connect=min(settings.connect_timeout_s, limit)),
        )
        self.http._cookies = _NoCookies()  # the setter would copy it into a plain jar
        self.keyring = Keyring(
            settings, secrets, http=self.http, now=now, defects=self.defects,
            rng=random.Random(f"keyring:{seed}"), scrubber=self.scrubber,
            on_throttled=self._throttled, on_unauthorised=self._unauthorised,
        )  # fmt: skip
        self.pacer = Pacer(self.controls, now, random.Random(f"pacing:{seed}"), self.defects)
        self.runner = Runner(
            self.jobs, self.controls, self.telemetry, settings, self.defects,
            random.Random(f"runner:{seed}"), now,
        )  # fmt: skip
        self.runner.on_dead_letter.append(self._dead_letter)
        # a dead letter that completes a burst pages at once, not at the next evaluation: a
        # burst that only just fits the alert's window may have left it by then
        self.runner.on_dead_letter.append(lambda _job: self.evaluate_alerts())
        deps = LaneDeps(
            self.http,
            settings,
            self.keyring,
            self.pacer,
            self.telemetry,
            now,
            self.defects,
            self.rng,
        )
        self.lanes: dict[str, Lane] = {
            "x": XLane(deps),
            "instagram": InstagramLane(deps),
            "linkedin": LinkedInLane(deps),
        }
        #: platform → its browser lane, filled by ``sandbox.lanes.browser_install.install``
        self.browser_lanes: dict[str, Lane] = {}
        self.publishing = PublishHandlers(self)
        self.publishing.install()
        self.components: dict[str, Any] = {}
        for mod in modules:
            install = getattr(mod, "install", None)
            if callable(install):
                self.components[mod.__name__] = install(self)
        self._alert_task: asyncio.Task[None] | None = None
        self.started = False
        from .client import InProcessPlatformClient

        self.client = InProcessPlatformClient(self)

    # wiring ---------------------------------------------------------------------------------
    def _trace_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def scope(
        self, job: JobRecord, *, service: str, account_id: str | None, lane: str = "api"
    ) -> JobScope:
        """A side-effect scope for ``job`` acting on ``service`` as ``account_id``."""
        return JobScope(
            self,
            job,
            client_id=job.spec.client_id,
            service=service,
            account_id=account_id,
            lane=lane,
        )

    def lane_for(self, platform: str) -> Lane:
        """The lane the control plane routes ``platform`` to (browser falls back to nothing)."""
        if platform not in self.lanes:
            raise Blocked(
                f"lane: {platform!r} is not a social platform; valid: {', '.join(SOCIAL_PLATFORMS)}",
                reason="lane_unavailable",
            )
        route = self.controls.lanes.get(platform, "api")
        if route == "api":
            return self.lanes[platform]
        lane = self.browser_lanes.get(platform)
        if lane is not None:
            return lane
        if route == "hybrid":
            return self.lanes[platform]
        raise Blocked(
            f"lane: {platform} is routed to the browser lane, which is not available",
            reason="lane_unavailable",
        )

    def attach_storage(self, store: SqliteStore) -> dict[str, int]:
        """Restore what ``store`` holds (jobs, audit, controls) and persist every later change;
        call before :meth:`start`. Returns what was restored."""
        forget = self.defects.on("controls_forgotten_on_restart")
        restored = store.attach(self.jobs, self.audit, None if forget else self.controls)
        # a job the old process was running runs again here with the same attempt number: its
        # requests' span ids go on from a range of this process's own, never one it already sent
        boot = store.next_boot()
        for j in self.jobs.all():
            j.spans = max(j.spans, boot << 24)
        self._reckon_interrupted_attempts()
        self._recount_publishes()
        # LinkedIn has no "my posts' comments" feed: the lane reads the posts it published, so a
        # restarted platform names them again (else comments on them go unanswered for good)
        linkedin = self.lanes["linkedin"]
        if isinstance(linkedin, LinkedInLane):
            posted = sorted(
                (
                    j
                    for j in self.jobs.all()
                    if j.kind == "publish" and j.spec.platform == "linkedin"
                ),
                key=lambda j: (j.updated_at, j.seq),
            )
            for j in posted:
                urn = j.result.get("resource_id")
                if urn and j.spec.account_id:
                    linkedin.remember(j.spec.account_id, str(urn))
        # the Retry-After holds of 429s received before the restart still hold
        holds = {} if self.defects.on("rate_limits_forgotten_on_restart") else store.holds()
        self.pacer.restore_holds(dict(holds.get("pacing") or {}))
        for name, lane in self.lanes.items():
            restore = getattr(lane, "restore_read_holds", None)
            if restore is not None:
                restore([tuple(h) for h in (holds.get("reads") or {}).get(name, ())])

        def save_holds() -> None:
            store.save_holds(self.holds())

        self.pacer.on_hold.append(save_holds)
        comp = self.components.get("sandbox.engagement")
        if comp is not None:
            kept = holds.get("engagement_held") or {}
            comp.engine.held_posts.update({a: set(p) for a, p in kept.items()})
            comp.engine.on_held.append(save_holds)
        for lane in self.lanes.values():
            listeners = getattr(lane, "on_hold", None)
            if listeners is not None:
                listeners.append(save_holds)
        for c, p, a, acc in self.controls.kill_switches:
            scope = {"client_id": c, "platform": p, "action": a, "account_id": acc}
            self.telemetry.kill_switch_state.labels(_kill_label(scope)).set(1)
        return restored

    def _recount_publishes(self) -> None:
        """The publish error alert counts attempts and failures over its window in memory: a
        process started on its storage counts again, from the audit, those of the last hour —
        a deploy in the middle of an outage must not leave the page blind to the failures just
        before it."""
        since = self.now() - 3600.0
        for ev in self.audit.events():
            if ev.action != "post.create" or ev.t < since:
                continue
            if ev.phase == "attempt":
                self.telemetry.mark_at(f"publish_attempt:{ev.platform}", ev.t)
            elif ev.outcome == "failed":
                self.telemetry.mark_at(f"publish_failed:{ev.platform}", ev.t)

    def _reckon_interrupted_attempts(self) -> None:
        """A publish the old process stopped in the middle of its side effect (an attempt
        audited, no outcome) spent that attempt, and its request may have landed: the attempt
        counts against the retry policy, and the next one checks whether it posted before
        posting again (the answer was lost with the process, not the request)."""
        opened: dict[str, int] = {}
        for ev in self.audit.events():
            if ev.job_id is None:
                continue
            if ev.phase == "attempt":
                opened[ev.job_id] = opened.get(ev.job_id, 0) + 1
            elif ev.phase == "outcome" and opened.get(ev.job_id):
                opened[ev.job_id] -= 1
        for j in self.jobs.all("queued"):
            if (
                j.kind == "publish"
                and j.last_error == "interrupted by a platform restart"
                and opened.get(j.id)
            ):
                j.attempts += 1
                j.result.setdefault(
                    "ambiguous", "interrupted by a platform restart in the middle of its request"
                )

    def holds(self) -> dict[str, Any]:
        """The rate-limit holds in force: adaptive pacing holds and each lane's read holds."""
        reads = {
            name: [list(h) for h in lane.read_holds()]
            for name, lane in self.lanes.items()
            if hasattr(lane, "read_holds")
        }
        comp = self.components.get("sandbox.engagement")
        # posts whose comments a control held back: read again after a restart, whatever newer
        # posts came meanwhile (else what a kill switch held is never answered)
        held = (
            {a: sorted(p) for a, p in comp.engine.held_posts.items() if p}
            if comp is not None
            else {}
        )
        return {"pacing": self.pacer.holds(), "reads": reads, "engagement_held": held}

    def _throttled(self, platform: str) -> None:
        """A 429 outside the lanes (the token or identity endpoint): counted like theirs."""
        self.telemetry.rate_limit_hits.labels(platform).inc()
        self.telemetry.mark(f"rate_limited:{platform}")

    def _unauthorised(self, platform: str) -> None:
        """A 401 outside the lanes (the identity endpoint): counted like theirs."""
        self.telemetry.auth_failures.labels(platform).inc()
        self.telemetry.mark(f"auth_failed:{platform}")

    def _on_control(self, ch: ControlChange) -> None:
        if ch.control == "kill_switch":
            self.telemetry.kill_switch_state.labels(_kill_label(ch.scope)).set(1 if ch.value else 0)
        if ch.control == "lane":
            for job in self.jobs.all("blocked"):
                if job.hold_reason == "lane_unavailable":
                    self.runner.requeue(job)

    def _egress_refused(self, request: httpx.Request, message: str) -> None:
        job = CURRENT_JOB.get()
        self.telemetry.blocked.labels("egress").inc()
        self.alerts.fire("egress_refused", message, host=request.url.host)
        self.audit.record(
            client_id=job.spec.client_id if job else "platform",
            platform=(job.spec.platform or "-") if job else "-",
            account_id=job.spec.account_id if job else None,
            action="http.request",
            phase="outcome",
            outcome="blocked",
            job_id=job.id if job else None,
            idempotency_key=job.idempotency_key if job else None,
            trace_id=job.trace_id if job else self._trace_id(),
            error=message,
            detail={"method": request.method, "host": request.url.host},
        )

    def _dead_letter(self, job: JobRecord) -> None:
        self.audit.record(
            client_id=job.spec.client_id, platform=job.spec.platform or "-", account_id=job.spec.account_id,
            action=AUDIT_ACTION_OF.get(job.kind, job.kind), phase="outcome", outcome="dead_letter", job_id=job.id,
            idempotency_key=job.idempotency_key, trace_id=job.trace_id, error=job.last_error,
        )  # fmt: skip

    # lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the runner, the alert evaluator and every component with a ``start()``."""
        if self.started:
            return
        self.started = True
        await self.runner.start()
        for comp in self.components.values():
            if hasattr(comp, "start"):
                await comp.start()
        self._alert_task = asyncio.create_task(self._alert_loop(), name="vibedrill-alerts")

    async def stop(self) -> None:
        """Stop everything this platform started; in-flight jobs return to the queue."""
        if not self.started:
            await self.http.aclose()
            return
        self.started = False
        if self._alert_task is not None:
            self._alert_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._alert_task
            self._alert_task = None
        for comp in reversed(list(self.components.values())):
            if hasattr(comp, "stop"):
                await comp.stop()
        await self.runner.stop()
        for lane in self.lanes.values():
            close = getattr(lane, "aclose", None)
            if close is not None:
                await close()
        await self.http.aclose()

    async def __aenter__(self) -> Platform:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # operations -----------------------------------------------------------------------------
    def submit(self, spec: JobSpec) -> JobRecord:
        """Take in a job (idempotent on ``spec.idempotency_key``)."""
        if spec.client_id != "agency":
            self.settings.client(spec.client_id)
        return self.jobs.submit(spec)[0]

    async def canary(self, client_id: str, platform: str) -> dict[str, Any]:
        """Publish one test post for one client on one platform, verify it, and report."""
        if platform not in SOCIAL_PLATFORMS:
            raise ValueError(
                f"platform: {platform!r} is not a social platform; valid: {', '.join(SOCIAL_PLATFORMS)}"
            )
        self.settings.client(client_id)
        job = self.submit(JobSpec(kind="canary", client_id=client_id, platform=platform))
        job = await self.jobs.wait_settled(job.id)
        return {
            "ok": job.state == "succeeded" and bool(job.result.get("verified")),
            "job_id": job.id,
            "state": job.state,
            "client_id": client_id,
            "platform": platform,
            "resource_id": job.result.get("resource_id"),
            "permalink": job.result.get("permalink"),
            "verified": bool(job.result.get("verified")),
            "error": job.last_error,
        }

    def health(self) -> dict[str, Any]:
        """Liveness and a few vital signs."""
        return {
            "status": "ok" if self.started else "stopped",
            "now": self.now(),
            "jobs": len(self.jobs),
            "running": self.runner.running,
            "states": {k: v for k, v in self.jobs.counts.items() if v},
            "audit_events": len(self.audit),
            "alerts": len(self.alerts.fired),
            "defects": sorted(self.defects.enabled),
            "components": sorted(self.components),
        }

    # alerts ---------------------------------------------------------------------------------
    async def _alert_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.alert_interval_s)
            self.evaluate_alerts()

    def evaluate_alerts(self) -> None:
        """Evaluate the windowed alert rules now."""
        r, tm, fire = self.alert_rules, self.telemetry, self.alerts.fire
        w = r.window_s
        for p in SOCIAL_PLATFORMS:
            n = tm.window(f"verification_failed:{p}", w)
            if n >= r.verification_failed_min:
                fire(
                    "verification_failed_high",
                    f"{n} publishes on {p} not visible in the last {w:g}s",
                    platform=p,
                )
            att, err = tm.window(f"publish_attempt:{p}", w), tm.window(f"publish_failed:{p}", w)
            if att >= r.error_min_attempts and err / att >= r.error_rate:
                fire(
                    "publish_error_rate_high",
                    f"{err} of {att} publishes on {p} failed in the last {w:g}s",
                    platform=p,
                )
            n = tm.window(f"rate_limited:{p}", w)
            if n >= r.rate_limited_min:
                fire(
                    "rate_limited",
                    f"{n} throttling responses from {p} in the last {w:g}s",
                    severity="ticket",
                    platform=p,
                )
            n = tm.window(f"engagement_poll_failed:{p}", w)
            if n >= r.inbox_failures_min:
                fire(
                    "inbox_unreadable",
                    f"{n} reads of {p} inboxes failed in the last {w:g}s: comments and DMs there "
                    "are not being answered",
                    platform=p,
                )
            n = tm.window(f"auth_failed:{p}", w)
            if n >= r.auth_failures_min:
                fire(
                    "auth_failing",
                    f"{n} authentication failures on {p} in the last {w:g}s",
                    platform=p,
                )
        n = tm.window("dead_letter", w)
        if n >= r.dead_letters_min:
            fire(
                "dead_letters_rising",
                f"{n} jobs dead-lettered in the last {w:g}s",
                severity="ticket",
            )
        n = tm.window("engagement_reply", w)
        if n >= r.engagement_replies_min:
            # here as well as after each poll: a poll that reads a slow inbox for minutes must
            # not hold back the page for the replies already going out
            fire("engagement_rate_high", f"{n} engagement replies in the last {w:g}s")
        gap = self.audit.gap()
        if gap > 0:
            fire("audit_gap", f"{gap} successful side effects have no outcome AuditEvent")
        depth = sum(self.runner._depth.values())
        if depth >= r.backlog_depth:
            fire("queue_backlog", f"{depth} jobs waiting", severity="ticket")
        for c in self.settings.clients:
            b = self.controls.budget_for(c.client_id)
            if b.client_usd:
                spent = tm.spend_usd.labels(c.client_id).get()
                if spent >= r.spend_fraction * b.client_usd:
                    fire(
                        "spend_high",
                        f"{c.client_id} spent ${spent:.2f} of ${b.client_usd:.2f}",
                        client_id=c.client_id,
                    )
