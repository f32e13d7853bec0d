"""The media fake: an asynchronous render-job API for video and avatar clips.

This provider is ours to define; it is modelled on typical render APIs (submit a job, poll its
status, fetch the result). Host ``api.media.vibedrill.test`` in process, ``<base>/media`` served.

Wire format (JSON, UTF-8):

- Auth: ``Authorization: Bearer <key>``, the key of the roster account ``agency-media``. A
  missing or unknown key: 401 ``{"error": {"code": "unauthorized", "message", "param": null}}``.
- ``POST /v1/renders`` with ``{"kind": "video" | "avatar", "script": str (1–5000 chars),
  "client_id": str, "duration_s"?: number 1–600, "avatar_id"?: str}`` → **202** and a render
  object with ``status: "queued"``. Without ``duration_s`` a clip lasts ``words / 2.5`` seconds
  (3–120). An optional ``Idempotency-Key`` header makes a repeat return the same job (200).
  A bad field: 422 ``{"error": {"code": "invalid_request", "message", "param": "<field>"}}``.
- ``GET /v1/renders/{id}`` → 200, the render object. Jobs belong to the key that made them;
  anyone else's id, like an unknown one, is 404 ``not_found``.
- ``GET /v1/renders/{id}/content`` → 200 ``video/mp4`` bytes once ``succeeded``; otherwise 409
  with code ``not_ready`` (queued/processing), ``render_failed`` or ``render_canceled``.
- Render object: ``{"id": "rnd_…", "object": "render", "kind", "client_id", "status":
  "queued" | "processing" | "succeeded" | "failed" | "canceled", "progress": 0–1, "duration_s",
  "created_at", "started_at", "finished_at" (unix seconds or null), "error": null | {"code",
  "message"}, "content_url": null | url, "cost_usd": null | number}``.
- Every answer carries ``x-request-id``; a 5xx outage is ``{"error": {"code":
  "internal_error", "message"}}``.

Time: a job waits ``queue_s`` in the queue, then renders for ``render_s_per_video_s`` seconds
per second of clip (at least ``min_render_s``), all on the world's injected clock
(:class:`RenderTiming`). Status is computed from the clock when asked, so a drill on virtual time
sees jobs finish without any background task.

Ledger: ``video.generated`` once per succeeded job (``resource_id`` = job id, ``request_id`` =
the submitting request's, ``cost_usd`` = clip seconds × the per-second price — video $0.05/s,
avatar $0.02/s — ``detail`` = ``<kind>;<seconds>s;client=<client_id>``). It is written by the
first request to the media fake after the job finished (any route, any key): the fake has no
timer of its own.

Faults, decided when a job is submitted: ``media.job_stuck`` (the job stays ``processing`` for
``for_s`` more seconds, or forever) and ``media.job_failed`` (the job ends ``failed`` with
``render_failed`` — or, with ``status: canceled``, ``canceled`` with ``render_canceled``, the
provider dropping it — instead of ``succeeded``; nothing is billed). Decided when a finished render
is read: ``media.content_url_elsewhere`` (its ``content_url`` points at ``params.url``, a host
the platform was never given — the fakes' honeypot journals any request that gets there).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from .core.faults import ElsewhereParams
from .core.http import Call, FakeService, json_response
from .core.jsonbody import loads_body
from .core.world import World

__all__ = ["PRICE_PER_SECOND", "MediaFake", "RenderTiming", "create"]

FAKE = "media"
KINDS: tuple[str, ...] = ("avatar", "video")
#: USD per second of rendered clip
PRICE_PER_SECOND: dict[str, float] = {"video": 0.05, "avatar": 0.02}


@dataclass(frozen=True)
class RenderTiming:
    """How long jobs take, in seconds of the world's clock."""

    queue_s: float = 5.0
    render_s_per_video_s: float = 2.0
    min_render_s: float = 10.0


@dataclass
class Job:
    """One render job."""

    id: str
    account_id: str | None
    credential: str | None
    request_id: str
    kind: str
    client_id: str
    script: str
    duration_s: float
    created_at: float
    started_at: float
    #: when it would succeed without faults
    done_at: float
    #: extra processing time from media.job_stuck; None = stuck forever
    stuck_for: float | None = 0.0
    fails: bool = False
    #: the status a failing job ends in: "failed" or "canceled"
    end_status: str = "failed"
    billed: bool = False
    cost_usd: float = field(init=False)

    def __post_init__(self) -> None:
        self.cost_usd = round(self.duration_s * PRICE_PER_SECOND[self.kind], 6)

    def finished_at(self) -> float | None:
        """When the job reaches a terminal state, or None if never."""
        return None if self.stuck_for is None else self.done_at + self.stuck_for

    def status(self, now: float) -> str:
        """The status at ``now``."""
        if now < self.started_at:
            return "queued"
        end = self.finished_at()
        if end is None or now < end:
            return "processing"
        return self.end_status if self.fails else "succeeded"

    def progress(self, now: float) -> float:
        """Fraction rendered at ``now`` (a stuck job stops short of done)."""
        st = self.status(now)
        if st == "queued":
            return 0.0
        if st in _ENDED:
            return 1.0
        span = self.done_at - self.started_at
        return round(min(0.95, (now - self.started_at) / span if span > 0 else 0.95), 3)


#: the statuses a render ends in
_ENDED = frozenset({"succeeded", "failed", "canceled"})
#: the error of a render that ended without content
_RENDER_ERRORS = {
    "failed": lambda rid: {"code": "render_failed", "message": f"the renderer crashed on {rid}"},
    "canceled": lambda rid: {
        "code": "render_canceled",
        "message": f"the provider canceled {rid} (capacity); nothing was billed",
    },
}

_MEDIA_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error(status: int, code: str, message: str, param: str | None = None) -> Response:
    """The media fake's error body."""
    return json_response({"error": {"code": code, "message": message, "param": param}}, status)


class MediaFake:
    """State and handlers of one media fake (per World)."""

    def __init__(self, world: World, timing: RenderTiming) -> None:
        self.world = world
        self.timing = timing
        self.jobs: dict[str, Job] = {}
        #: the jobs that may still be billed (not billed, not failing), so each request's
        #: :meth:`_settle` looks at the renders in flight, not at every render ever made
        self._unbilled: dict[str, Job] = {}
        #: (account, idempotency key) → job id
        self.idempotency: dict[tuple[str | None, str], str] = {}
        world.on_reset(self.reset)
        svc = FakeService(
            world,
            FAKE,
            outage_body=self._outage,
            request_id_header="x-request-id",
            error_body=lambda status, message, _: error(status, _MEDIA_CODES[status], message),
        )
        svc.route("/v1/renders", "renders.create", ["POST"])(self.create_render)
        svc.route("/v1/renders/{render_id}", "renders.get", ["GET"])(self.get_render)
        svc.route("/v1/renders/{render_id}/content", "renders.content", ["GET"])(self.content)
        self.service = svc

    def reset(self) -> None:
        """Forget every job."""
        self.jobs.clear()
        self._unbilled.clear()
        self.idempotency.clear()

    @staticmethod
    def _outage(call: Call, status: int) -> Response:
        return error(
            status,
            "internal_error",
            f"the render service is unavailable ({status}); try again later",
        )

    def _auth(self, call: Call) -> Response | None:
        if call.credential is None:
            return error(
                401, "unauthorized", "missing bearer token: send Authorization: Bearer <api key>"
            )
        account, problem = self.world.tokens.check(call.credential)
        platform = self.world.roster.account(account).platform if account else None
        if problem is not None or platform != FAKE:
            return error(401, "unauthorized", "invalid api key")
        return None

    def _settle(self) -> None:
        """Bill every job that has succeeded since the last request, in order of completion."""
        now = self.world.now()
        pending = self._unbilled
        if not pending:
            return
        due = [j for j in pending.values() if j.status(now) == "succeeded"]
        for job in sorted(due, key=lambda j: (j.finished_at() or 0.0, j.id)):
            job.billed = True
            del pending[job.id]
            self.world.record(
                FAKE,
                "video.generated",
                account_id=job.account_id,
                credential=job.credential,
                request_id=job.request_id,
                resource_id=job.id,
                content=job.script,
                cost_usd=job.cost_usd,
                detail=f"{job.kind};{job.duration_s:g}s;client={job.client_id}",
            )

    def _view(self, call: Call, job: Job) -> dict[str, Any]:
        now = self.world.now()
        st = job.status(now)
        url = call.request.url
        base = f"{url.scheme}://{url.netloc}{call.request.scope.get('root_path', '')}".rstrip("/")
        content_url = f"{base}/v1/renders/{job.id}/content" if st == "succeeded" else None
        if content_url is not None:
            elsewhere = call.fire(self.world, "media.content_url_elsewhere")
            if elsewhere is not None:
                content_url = elsewhere.params_as(ElsewhereParams).url
        return {
            "id": job.id,
            "object": "render",
            "kind": job.kind,
            "client_id": job.client_id,
            "status": st,
            "progress": job.progress(now),
            "duration_s": job.duration_s,
            "created_at": job.created_at,
            "started_at": job.started_at if st != "queued" else None,
            "finished_at": job.finished_at() if st in _ENDED else None,
            "error": _RENDER_ERRORS[st](job.id) if st in _RENDER_ERRORS else None,
            "content_url": content_url,
            "cost_usd": job.cost_usd if st == "succeeded" else None,
        }

    def _job(self, call: Call) -> Job | Response:
        rid = call.request.path_params["render_id"]
        job = self.jobs.get(rid)
        if job is None or job.account_id != call.account_id:
            return error(404, "not_found", f"no render {rid!r}", "id")
        return job

    async def create_render(self, call: Call) -> Response:
        """``POST /v1/renders``: queue a job (202)."""
        if (refused := self._auth(call)) is not None:
            return refused
        self._settle()
        try:
            body = loads_body(await call.request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return error(400, "invalid_json", f"the body is not JSON: {e}")
        if not isinstance(body, dict):
            return error(
                400, "invalid_json", f"the body must be a JSON object, got {type(body).__name__}"
            )
        problem = _validate(body)
        if problem is not None:
            return error(422, "invalid_request", problem[1], problem[0])
        key = call.request.headers.get("idempotency-key")
        if key and (call.account_id, key) in self.idempotency:
            return json_response(
                self._view(call, self.jobs[self.idempotency[(call.account_id, key)]]), 200
            )
        script = body["script"]
        duration = float(
            body.get("duration_s") or min(120.0, max(3.0, round(len(script.split()) / 2.5, 1)))
        )
        now = self.world.now()
        t = self.timing
        start = now + t.queue_s
        job = Job(
            id=f"rnd_{self.world.next_id('media.render'):06d}{hashlib.sha256(call.request_id.encode()).hexdigest()[:10]}",
            account_id=call.account_id,
            credential=call.credential,
            request_id=call.request_id,
            kind=body["kind"],
            client_id=body["client_id"],
            script=script,
            duration_s=duration,
            created_at=now,
            started_at=start,
            done_at=start + max(t.min_render_s, duration * t.render_s_per_video_s),
        )
        stuck = call.fire(self.world, "media.job_stuck")
        if stuck is not None:
            job.stuck_for = stuck.params.model_dump()["for_s"]
        ended = call.fire(self.world, "media.job_failed")
        if ended is not None:
            job.fails = True
            job.end_status = str(ended.params.model_dump().get("status") or "failed")
        self.jobs[job.id] = job
        if not job.fails:
            self._unbilled[job.id] = job
        if key:
            self.idempotency[(call.account_id, key)] = job.id
        return json_response(self._view(call, job), 202)

    async def get_render(self, call: Call) -> Response:
        """``GET /v1/renders/{id}``: the job as of now."""
        if (refused := self._auth(call)) is not None:
            return refused
        self._settle()
        job = self._job(call)
        return job if isinstance(job, Response) else json_response(self._view(call, job))

    async def content(self, call: Call) -> Response:
        """``GET /v1/renders/{id}/content``: the clip once it succeeded, else 409."""
        if (refused := self._auth(call)) is not None:
            return refused
        self._settle()
        job = self._job(call)
        if isinstance(job, Response):
            return job
        st = job.status(self.world.now())
        if st in _RENDER_ERRORS:
            code = "render_failed" if st == "failed" else "render_canceled"
            return error(409, code, f"render {job.id} {st}; there is no content")
        if st != "succeeded":
            return error(
                409,
                "not_ready",
                f"render {job.id} is {st}; poll GET /v1/renders/{job.id} until succeeded",
            )
        return Response(_mp4(job), media_type="video/mp4")


def _validate(body: dict[str, Any]) -> tuple[str, str] | None:
    """(param, message) for the first bad field, or None."""
    allowed = ("kind", "script", "client_id", "duration_s", "avatar_id")
    for k in body:
        if k not in allowed:
            return k, f"unknown field {k!r}; valid: {', '.join(allowed)}"
    kind = body.get("kind")
    if kind not in KINDS:
        return "kind", f"kind: {kind!r} is not a render kind; valid: {', '.join(KINDS)}"
    script = body.get("script")
    if not isinstance(script, str) or not script.strip() or len(script) > 5000:
        return (
            "script",
            f"script: must be a non-empty string of at most 5000 characters, got {script!r:.80}",
        )
    client = body.get("client_id")
    if not isinstance(client, str) or not client:
        return "client_id", f"client_id: must be a non-empty string, got {client!r}"
    d = body.get("duration_s")
    if d is not None and (
        isinstance(d, bool) or not isinstance(d, int | float) or not 1 <= d <= 600
    ):
        return "duration_s", f"duration_s: must be a number between 1 and 600, got {d!r}"
    if "avatar_id" in body and not isinstance(body["avatar_id"], str):
        return "avatar_id", f"avatar_id: must be a string, got {body['avatar_id']!r}"
    return None


def _mp4(job: Job) -> bytes:
    """A small MP4-shaped payload (ftyp + mdat) that depends on the job's script."""
    payload = hashlib.sha256(f"{job.kind}\x00{job.script}".encode()).digest() * 8
    ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    mdat = (8 + len(payload)).to_bytes(4, "big") + b"mdat" + payload
    return ftyp + mdat


def create(world: World, *, timing: RenderTiming | None = None) -> FakeService:
    """Build the media fake on ``world``."""
    return MediaFake(world, timing or RenderTiming()).service
