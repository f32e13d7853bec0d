"""The platform contract over HTTP (Starlette): controls, jobs, approvals, audit, alerts, metrics.

Every route delegates to an object implementing :class:`~sandbox.contract.PlatformClient`
(normally the in-process client of a running platform), so the HTTP API and the Python Protocol
cannot drift apart. The route table :data:`ROUTES` is data — the controls' routes come from
:data:`sandbox.control_table.CONTROLS`, one generic handler each — :mod:`sandbox.openapi` builds the
OpenAPI document from it and from the pydantic models, and ``GET /openapi.json`` serves that.

Errors are JSON ``{"error": {"message", "path", "value", "valid"}}``: bad input is a 422 that
names the field, the value and the valid choices; an unknown job is a 404. Nothing a client
sends may produce a 5xx.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .client import JobStateError
from .contract import (
    Alert,
    AuditPage,
    ControlChange,
    Job,
    JobSpec,
    JobState,
    PlatformClient,
)
from .control_table import CONTROLS, ChangeRequest, ControlSpec, SocialPlatform

__all__ = ["JOB_STATES", "ROUTES", "ApiRoute", "create_app", "error_body"]

JOB_STATES: tuple[str, ...] = JobState.__args__  # type: ignore[attr-defined]


class ApproveRequest(ChangeRequest):
    """Approve a job that waits for a person."""


class NeedsHumanConfirmRequest(ChangeRequest):
    """Park jobs as 'needs human confirm' (e.g. after an incident's unverified publishes)."""

    job_ids: list[str] = Field(max_length=10_000)


class CanaryRequest(BaseModel):
    """Publish one test post for one client on one platform and verify it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str
    platform: SocialPlatform


class ErrorDetail(BaseModel):
    """What was wrong with a request."""

    message: str
    path: str | None = None
    value: Any = None
    valid: list[str] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The body of every 4xx answer."""

    error: ErrorDetail


class JobList(BaseModel):
    """Jobs, oldest first."""

    jobs: list[Job]


class AlertList(BaseModel):
    """Alerts the platform raised."""

    alerts: list[Alert]


class ChangeList(BaseModel):
    """Control changes since a sequence number."""

    changes: list[ControlChange]


class FreeForm(BaseModel):
    """A JSON object whose keys are documented in the contract (health, controls, defects, canary)."""

    model_config = ConfigDict(extra="allow")


class MetricsJson(BaseModel):
    """Every metric sample as ``name{labels}`` → value."""

    model_config = ConfigDict(extra="allow")


# --- errors ------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer with a status and a body naming the field, value and valid choices."""

    def __init__(
        self,
        status: int,
        message: str,
        path: str | None = None,
        value: Any = None,
        valid: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.body = status, error_body(message, path, value, valid)


def error_body(
    message: str, path: str | None = None, value: Any = None, valid: list[str] | None = None
) -> dict[str, Any]:
    """The JSON error body."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = repr(value)
    return {"error": {"message": message, "path": path, "value": value, "valid": list(valid or [])}}


def _from_validation(e: ValidationError, prefix: str = "") -> ApiError:
    err = e.errors(include_url=False)[0]
    path = prefix + ".".join(str(p) for p in err["loc"])
    ctx = err.get("ctx") or {}
    valid = re.findall(r"'([^']*)'", str(ctx.get("expected", ""))) if "expected" in ctx else []
    value = err.get("input")
    tail = f"; valid: {', '.join(valid)}" if valid else ""
    return ApiError(
        422, f"{path or 'body'}: {err['msg']} (got {value!r}){tail}", path or None, value, valid
    )


def _control_error(e: Exception) -> ApiError | None:
    to_json = getattr(e, "to_json", None)
    if callable(to_json):
        body = to_json()
        err = body.get("error", {}) if isinstance(body, dict) else {}
        return ApiError(
            422, str(err.get("message", e)), err.get("path"), err.get("value"), err.get("valid")
        )
    return None


#: the largest body and the deepest nesting the contract parses (json.loads recurses per level)
MAX_BODY_BYTES = 1 << 20
MAX_BODY_DEPTH = 32


def _nesting_depth(raw: bytes, stop_at: int) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_at:
                break
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _integral_floats_as_ints(value: Any) -> Any:
    """``value`` with every float that is a whole number (``86.0``) as an int; the same object
    when there is none (a float field still accepts the int, strictly)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        items = {k: _integral_floats_as_ints(v) for k, v in value.items()}
        return value if all(items[k] is value[k] for k in value) else items
    if isinstance(value, list):
        out = [_integral_floats_as_ints(v) for v in value]
        return value if all(a is b for a, b in zip(out, value, strict=True)) else out
    return value


async def _body(request: Request, model: type[BaseModel]) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"body is {len(raw):,} bytes; the limit is {MAX_BODY_BYTES:,}", "body")
    if _nesting_depth(raw, MAX_BODY_DEPTH) > MAX_BODY_DEPTH:
        raise ApiError(422, f"body is nested deeper than {MAX_BODY_DEPTH} levels", "body")
    try:
        data = json.loads(raw or b"null", parse_constant=_not_json_constant)
    except ValueError:
        raise ApiError(422, f"body is not JSON (got {raw[:80]!r})", "body") from None
    if not isinstance(data, dict):
        raise ApiError(422, f"body must be a JSON object, got {type(data).__name__}", "body", data)
    whole = _integral_floats_as_ints(data)
    if whole is not data:
        # JSON has one number type and JSON Schema counts 86.0 as an integer (the OpenAPI
        # document says ``integer``): a count written ``86.0`` is the count 86
        raw = json.dumps(whole).encode()
    try:
        # strict at the wire: ``true`` is a boolean and ``1`` is not, ``false`` is no amount of
        # dollars, ``"5"`` is no count (in-process callers keep pydantic's usual coercion)
        return model.model_validate_json(raw, strict=True)
    except ValidationError as e:
        raise _from_validation(e) from None


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(422, f"{name}: {raw!r} is not an integer", name, raw) from None
    if not lo <= v <= hi:
        raise ApiError(422, f"{name}: {v} is out of range [{lo}, {hi}]", name, v)
    return v


# --- routes ------------------------------------------------------------------------------------

Handler = Callable[[PlatformClient, Request], Awaitable[Any]]


@dataclass(frozen=True)
class ApiRoute:
    """One operation of the contract: how it is called and what it answers."""

    method: str
    path: str
    operation_id: str
    summary: str
    handler: Handler
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    #: query parameter → (JSON schema, description)
    query: tuple[tuple[str, dict[str, Any], str], ...] = ()
    path_params: tuple[str, ...] = ()
    status: int = 200
    errors: tuple[int, ...] = (422,)
    media_type: str = "application/json"


def _control(spec: ControlSpec) -> ApiRoute:
    """The HTTP route of one control of the table: validate the body, call the control."""

    async def handler(pc: PlatformClient, request: Request) -> Any:
        body = await _body(request, spec.request)
        arguments = {f: getattr(body, f) for f in type(body).model_fields}
        return await pc.call_control(spec.name, arguments)

    return ApiRoute(
        spec.method, spec.path, spec.name, spec.summary, handler, spec.request, ControlChange
    )


async def _health(pc: PlatformClient, r: Request) -> Any:
    return await pc.health()


async def _controls(pc: PlatformClient, r: Request) -> Any:
    return await pc.controls()


async def _changes(pc: PlatformClient, r: Request) -> Any:
    return ChangeList(changes=await pc.control_changes(_int_param(r, "since", 0, 0, 2**31)))


async def _submit(pc: PlatformClient, r: Request) -> Any:
    spec = await _body(r, JobSpec)
    try:
        return await pc.submit(spec)
    except KeyError as e:
        raise ApiError(
            422,
            str(e.args[0]) if e.args else f"unknown client {spec.client_id!r}",
            "client_id",
            spec.client_id,
        ) from None


async def _jobs(pc: PlatformClient, r: Request) -> Any:
    state = r.query_params.get("state")
    if state is not None and state not in JOB_STATES:
        raise ApiError(
            422,
            f"state: {state!r} is not a job state; valid: {', '.join(JOB_STATES)}",
            "state",
            state,
            list(JOB_STATES),
        )
    return JobList(jobs=await pc.jobs(state))


async def _job(pc: PlatformClient, r: Request) -> Any:
    return await pc.job(r.path_params["job_id"])


async def _approve(pc: PlatformClient, r: Request) -> Any:
    b = await _body(r, ApproveRequest)
    return await pc.approve(r.path_params["job_id"], actor=b.actor, reason=b.reason)


async def _confirm(pc: PlatformClient, r: Request) -> Any:
    b = await _body(r, NeedsHumanConfirmRequest)
    return JobList(
        jobs=await pc.mark_needs_human_confirm(list(b.job_ids), actor=b.actor, reason=b.reason)
    )


async def _audit(pc: PlatformClient, r: Request) -> Any:
    return await pc.audit(
        _int_param(r, "cursor", 0, 0, 2**31), _int_param(r, "limit", 500, 1, 10_000)
    )


async def _alerts(pc: PlatformClient, r: Request) -> Any:
    return AlertList(alerts=await pc.alerts(_int_param(r, "since", 0, 0, 2**31)))


async def _metrics_json(pc: PlatformClient, r: Request) -> Any:
    return await pc.metrics()


async def _defects(pc: PlatformClient, r: Request) -> Any:
    return await pc.defects()


async def _canary(pc: PlatformClient, r: Request) -> Any:
    b = await _body(r, CanaryRequest)
    try:
        return await pc.canary(b.client_id, b.platform)
    except KeyError as e:
        raise ApiError(
            422,
            str(e.args[0]) if e.args else f"unknown client {b.client_id!r}",
            "client_id",
            b.client_id,
        ) from None


_SINCE = (
    "since",
    {"type": "integer", "minimum": 0, "maximum": 2**31, "default": 0},
    "sequence number already seen",
)
_C = "/controls"
ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        "/health",
        "health",
        "Liveness and readiness of the platform.",
        _health,
        response=FreeForm,
        errors=(),
    ),
    ApiRoute(
        "GET",
        _C,
        "controls",
        "The whole control-plane state: kill_switches, lanes, read_only_lanes, modes, paused, "
        "pacing, blueprints, trigger_lock, provider_routing, budgets, and (read-only, from the "
        "settings) retry: the retry policy {max_attempts, base_delay_s, max_delay_s, jitter} — "
        "a job runs at most max_attempts times and is dead-lettered only after using them.",
        _controls,
        response=FreeForm,
        errors=(),
    ),
    ApiRoute(
        "GET",
        f"{_C}/changes",
        "control_changes",
        "Control changes after `since`.",
        _changes,
        response=ChangeList,
        query=(_SINCE,),
    ),
    *(_control(spec) for spec in CONTROLS),
    ApiRoute("POST", "/jobs", "submit", "Submit a job.", _submit, JobSpec, Job, status=201),
    ApiRoute(
        "GET",
        "/jobs",
        "jobs",
        "Jobs, optionally in one state.",
        _jobs,
        response=JobList,
        query=(("state", {"type": "string", "enum": list(JOB_STATES)}, "only jobs in this state"),),
    ),
    ApiRoute(
        "POST",
        "/jobs/needs-human-confirm",
        "mark_needs_human_confirm",
        "Park jobs as needs-human-confirm.",
        _confirm,
        NeedsHumanConfirmRequest,
        JobList,
        errors=(404, 422),
    ),
    ApiRoute(
        "GET",
        "/jobs/{job_id}",
        "job",
        "One job.",
        _job,
        response=Job,
        path_params=("job_id",),
        errors=(404,),
    ),
    ApiRoute(
        "POST",
        "/jobs/{job_id}/approve",
        "approve",
        "Approve a job awaiting approval.",
        _approve,
        ApproveRequest,
        Job,
        path_params=("job_id",),
        errors=(404, 409, 422),
    ),
    ApiRoute(
        "GET",
        "/audit",
        "audit",
        "The audit feed, cursor-paged.",
        _audit,
        response=AuditPage,
        query=(
            (
                "cursor",
                {"type": "integer", "minimum": 0, "maximum": 2**31, "default": 0},
                "last seq seen",
            ),
            (
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 500},
                "page size",
            ),
        ),
    ),
    ApiRoute(
        "GET",
        "/alerts",
        "alerts",
        "Alerts the platform raised.",
        _alerts,
        response=AlertList,
        query=(_SINCE,),
    ),
    ApiRoute(
        "GET",
        "/metrics.json",
        "metrics",
        "Every metric sample as JSON.",
        _metrics_json,
        response=MetricsJson,
        errors=(),
    ),
    ApiRoute(
        "GET",
        "/defects",
        "defects",
        "The defect catalogue and the defects switched on.",
        _defects,
        response=FreeForm,
        errors=(),
    ),
    ApiRoute(
        "POST",
        "/canary",
        "canary",
        "Publish one test post and verify it.",
        _canary,
        CanaryRequest,
        FreeForm,
    ),
)


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _endpoint(pc: PlatformClient, route: ApiRoute) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            out = await route.handler(pc, request)
        except ApiError as e:
            return JSONResponse(e.body, e.status)
        except ValidationError as e:
            err = _from_validation(e)
            return JSONResponse(err.body, err.status)
        except JobStateError as e:
            return JSONResponse(error_body(str(e), "job_id", e.job_id, list(e.valid)), 409)
        except KeyError as e:
            msg = str(e.args[0]) if e.args else "not found"
            return JSONResponse(error_body(msg, None, request.path_params.get("job_id")), 404)
        except ValueError as e:
            ce = _control_error(e) or ApiError(422, str(e))
            return JSONResponse(ce.body, ce.status)
        except PermissionError as e:
            return JSONResponse(error_body(str(e)), 409)
        return JSONResponse(_dump(out), route.status)

    return endpoint


def create_app(
    pc: PlatformClient,
    *,
    exposition: Callable[[], bytes] | None = None,
    openapi: Callable[[], dict[str, Any]] | None = None,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    """The HTTP app serving ``pc``; ``exposition()`` gives the Prometheus text of ``/metrics``."""
    routes = [
        Route(r.path, _endpoint(pc, r), methods=[r.method], name=r.operation_id) for r in ROUTES
    ]

    async def metrics(request: Request) -> Response:
        if exposition is not None:
            return Response(exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
        lines = [f"{k} {v}" for k, v in sorted((await pc.metrics()).items()) if "{" not in k]
        return Response(
            "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def openapi_json(request: Request) -> Response:
        if openapi is None:
            from .openapi import document

            return JSONResponse(document())
        return JSONResponse(openapi())

    routes.append(Route("/metrics", metrics, methods=["GET"], name="prometheus"))
    routes.append(Route("/openapi.json", openapi_json, methods=["GET"], name="openapi"))
    return Starlette(routes=routes, lifespan=lifespan)
