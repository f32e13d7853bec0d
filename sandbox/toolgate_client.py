"""Tool calls through the official ``mcp`` client to the tool gateway, failing closed.

The SDK's streamable-HTTP client speaks through ``httpx2``; :class:`_EgressBridge` hands its
requests to the platform's own egress-guarded ``httpx.AsyncClient``, so a tool call obeys the
same host allow-list (and, in drills, the same in-process routing and virtual clock) as every
other request. Each call opens a short session (``initialize`` → ``tools/list`` → ``tools/call``):
the gateway is stateless and a fresh handshake is what notices an unavailable gateway.

Failing closed (RB-08): :meth:`ToolGate.guarded` runs a side effect only when the tool answered
cleanly, or when a person approved the job. Every failure — ``initialize`` failing, the tool
missing from ``tools/list``, its schema drifted from the arguments we send, an ``isError``
result — is a :class:`ToolGateError`, audited as ``tool.call`` with outcome ``failed``, and the
dependent side effect is audited ``blocked``. The ``toolgate_fail_open`` defect instead carries
on with an empty result and performs the side effect.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
import httpx2
import mcp_types as types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import ValidationError

from .contract import JobSpec
from .defects import Defect
from .errors import Fatal, Held, Retryable
from .jobs import AUDIT_ACTION_OF, JobRecord

if TYPE_CHECKING:
    from .platform import Platform

__all__ = [
    "FailureKind",
    "GuardedOutcome",
    "ToolGate",
    "ToolGateComponent",
    "ToolGateError",
    "ToolResult",
    "install",
]

FailureKind = Literal["unavailable", "tool_missing", "schema_drift", "tool_error", "bad_result"]
T = TypeVar("T")
AuditFn = Callable[..., Any]


class ToolgateFailOpen(Defect, name="toolgate_fail_open", runbook="RB-08"):
    """Tool gateway failures are treated as success: the side effect that depends on the tool
    result goes ahead with an empty default result (RB-08 Immediate action: fail closed, block
    side effects; Diagnosis: MCP unavailable, tool registry mismatch)."""


class ToolGateError(Exception):
    """The gateway could not give a trustworthy result for a tool call."""

    def __init__(
        self, kind: FailureKind, tool: str, message: str, request_id: str | None = None
    ) -> None:
        self.kind, self.tool, self.request_id = kind, tool, request_id
        super().__init__(f"toolgate.{kind}: {tool}: {message}")


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer: the structured data (or the parsed text) and the proof."""

    tool: str
    data: dict[str, Any]
    request_id: str | None
    #: True only for the fail-open defect's stand-in result
    defaulted: bool = False


@dataclass(frozen=True)
class GuardedOutcome:
    """What :meth:`ToolGate.guarded` did: the side effect's value, or why it was blocked."""

    performed: bool
    value: Any = None
    result: ToolResult | None = None
    error: ToolGateError | None = None


class _Stream(httpx2.AsyncByteStream):
    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._resp.aiter_raw():
            yield chunk

    async def aclose(self) -> None:
        await self._resp.aclose()


class _EgressBridge(httpx2.AsyncBaseTransport):
    """An ``httpx2`` transport that sends through an ``httpx.AsyncClient`` (the egress guard).

    It also remembers the ``x-request-id`` of the last ``tools/call`` response: the proof the
    harness matches against the gateway's ledger.
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.last_call_request_id: str | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        req = self.http.build_request(
            request.method, str(request.url), headers=list(request.headers.raw), content=body
        )
        try:
            resp = await self.http.send(req, stream=True)
        except httpx.TimeoutException as e:
            raise httpx2.ReadTimeout(f"{type(e).__name__}: {e}", request=request) from None
        except httpx.HTTPError as e:
            raise httpx2.ConnectError(f"{type(e).__name__}: {e}", request=request) from None
        if b'"tools/call"' in body:
            self.last_call_request_id = resp.headers.get("x-request-id")
        return httpx2.Response(
            resp.status_code, headers=resp.headers.raw, stream=_Stream(resp), request=request
        )


def _drift(schema: Mapping[str, Any], args: Mapping[str, Any]) -> str | None:
    """How ``args`` disagree with the tool's advertised input schema, or None."""
    props = schema.get("properties") or {}
    missing = [r for r in schema.get("required") or () if r not in args]
    extra = [a for a in args if props and a not in props]
    if missing or extra:
        return f"schema requires {sorted(schema.get('required') or ())}, we send {sorted(args)}"
    return None


@dataclass
class ToolGate:
    """The platform's MCP client for the tool gateway at ``url``.

    ``http`` is the platform's egress-guarded client; ``audit(**fields)`` appends an audit
    event; ``fail_open()`` is True under the ``toolgate_fail_open`` defect.
    """

    http: httpx.AsyncClient
    url: str
    audit: AuditFn
    fail_open: Callable[[], bool] = field(default=lambda: False)
    api_key: Callable[[], str | None] = field(default=lambda: None)
    account_id: str = "agency-toolgate"
    #: seconds (loop time) the SDK waits for any one answer
    read_timeout_s: float = 30.0
    calls: int = 0
    failures: int = 0

    async def _session(self, bridge: _EgressBridge) -> Client:
        key = self.api_key()
        headers = {"authorization": f"Bearer {key}"} if key else None
        h2 = httpx2.AsyncClient(transport=bridge, headers=headers, timeout=self.read_timeout_s)
        return Client(
            streamable_http_client(self.url, http_client=h2),
            mode="legacy",
            read_timeout_seconds=self.read_timeout_s,
            cache=None,
        )

    async def list_tools(self) -> list[types.Tool]:
        """The tools the gateway lists now; :class:`ToolGateError` ``unavailable`` if it cannot."""
        bridge = _EgressBridge(self.http)
        try:
            async with await self._session(bridge) as client:
                return list((await client.list_tools()).tools)
        except Exception as e:
            raise ToolGateError("unavailable", "*", _describe(e)) from None

    async def _call(self, tool: str, arguments: Mapping[str, Any]) -> ToolResult:
        bridge = _EgressBridge(self.http)
        try:
            async with await self._session(bridge) as client:
                listed = {t.name: t for t in (await client.list_tools()).tools}
                if tool not in listed:
                    raise ToolGateError(
                        "tool_missing", tool, f"not in tools/list; listed: {sorted(listed)}"
                    )
                drift = _drift(listed[tool].input_schema, arguments)
                if drift is not None:
                    raise ToolGateError("schema_drift", tool, drift)
                res = await client.call_tool(tool, dict(arguments))
        except Exception as e:
            inner = _find(e, ToolGateError)
            if inner is not None:
                raise inner from None
            kind: FailureKind = "tool_missing" if "Unknown tool" in str(e) else "unavailable"
            raise ToolGateError(kind, tool, _describe(e), bridge.last_call_request_id) from None
        rid = bridge.last_call_request_id or (res.meta or {}).get("request_id")
        text = "".join(c.text for c in res.content if isinstance(c, types.TextContent))
        if res.is_error:
            raise ToolGateError("tool_error", tool, text or "isError result without text", rid)
        data = res.structured_content
        if data is None:
            try:
                parsed = json.loads(text) if text else {}
            except ValueError:
                parsed = {"text": text}
            data = parsed if isinstance(parsed, dict) else {"value": parsed}
        return ToolResult(tool, dict(data), rid)

    async def call(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        client_id: str,
        job_id: str | None = None,
        trace_id: str = "",
        idempotency_key: str | None = None,
    ) -> ToolResult:
        """Call one tool and audit it; raises :class:`ToolGateError` on any gateway failure."""
        common = dict(
            client_id=client_id,
            platform="toolgate",
            account_id=self.account_id,
            action="tool.call",
            job_id=job_id,
            trace_id=trace_id,
            idempotency_key=idempotency_key,
        )
        await _maybe_await(self.audit(phase="attempt", detail={"tool": tool}, **common))
        self.calls += 1
        try:
            result = await self._call(tool, arguments)
        except ToolGateError as e:
            self.failures += 1
            await _maybe_await(
                self.audit(
                    phase="outcome",
                    outcome="failed",
                    error=str(e),
                    proof={"request_id": e.request_id} if e.request_id else {},
                    detail={"tool": tool, "failure": e.kind},
                    **common,
                )
            )
            raise
        await _maybe_await(
            self.audit(
                phase="outcome",
                outcome="success",
                proof={"request_id": result.request_id},
                detail={"tool": tool},
                **common,
            )
        )
        return result

    async def guarded(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        side_effect: Callable[[ToolResult], Awaitable[T]],
        *,
        client_id: str,
        approved: bool = False,
        job_id: str | None = None,
        trace_id: str = "",
        on_blocked: Callable[[ToolGateError], Awaitable[None]] | None = None,
    ) -> GuardedOutcome:
        """Call ``tool`` and run ``side_effect(result)`` only if the tool answered (or approved).

        On a gateway failure the side effect is skipped and ``on_blocked`` (which should audit the
        blocked action) runs — unless the job was approved by a person, in which case the side
        effect runs with an empty, ``defaulted`` result, as it does under ``toolgate_fail_open``.
        """
        try:
            result = await self.call(
                tool, arguments, client_id=client_id, job_id=job_id, trace_id=trace_id
            )
        except ToolGateError as e:
            if approved or self.fail_open():
                stand_in = ToolResult(tool, {}, None, defaulted=True)
                return GuardedOutcome(True, await side_effect(stand_in), stand_in, e)
            if on_blocked is not None:
                await on_blocked(e)
            return GuardedOutcome(False, None, None, e)
        return GuardedOutcome(True, await side_effect(result), result)


def _describe(e: BaseException) -> str:
    """A one-line description of an exception, unwrapping exception groups."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}"


def _find(e: BaseException, cls: type[ToolGateError]) -> ToolGateError | None:
    """The first ``cls`` inside ``e`` or its (nested) exception groups."""
    if isinstance(e, cls):
        return e
    if isinstance(e, BaseExceptionGroup):
        for sub in e.exceptions:
            found = _find(sub, cls)
            if found is not None:
                return found
    return None


async def _maybe_await(value: Any) -> None:
    if isinstance(value, Awaitable):
        await value


# --- wiring into a platform --------------------------------------------------------------------

#: job kind → the audit action of the side effect a tool result may feed
#: the audit action of a follow-up's work (every job kind has one: ``then`` is a validated JobSpec)
_FOLLOWUP_ACTION = AUDIT_ACTION_OF


def _summary(data: Mapping[str, Any]) -> str:
    """A short text form of a tool result, for ``{result}`` in a follow-up's text."""
    hits = data.get("hits")
    if isinstance(hits, list) and hits and isinstance(hits[0], dict):
        return str(hits[0].get("snippet", ""))[:200]
    if "value" in data:
        return str(data["value"])
    return json.dumps(dict(data), separators=(",", ":"), sort_keys=True)[:200] if data else ""


class ToolGateComponent:
    """The tool gateway client wired into a platform, with the ``tool_call`` job handler.

    A ``tool_call`` job's payload names ``tool`` and ``arguments`` and, optionally, ``then``: a
    job spec (e.g. a publish) submitted only with the tool's result in hand — its
    ``payload.text`` may carry ``{result}``. When the gateway fails, the follow-up is not
    submitted (its action is audited ``blocked``) and the job waits for approval: a person may
    let it go ahead without the tool (RB-08: fail closed, unless approved).
    """

    def __init__(self, platform: Platform) -> None:
        p = self.p = platform
        account = next(
            (a.account_id for a in p.settings.providers if a.provider == "toolgate"),
            "agency-toolgate",
        )
        self.gate = ToolGate(
            p.http,
            p.settings.base_urls.of("toolgate"),
            audit=p.audit.record,
            fail_open=lambda: p.defects.on("toolgate_fail_open"),
            api_key=self._key,
            account_id=account,
            read_timeout_s=p.settings.tool_timeout_s,
        )
        p.runner.register("tool_call", self.handle)

    def _key(self) -> str | None:
        try:
            return self.p.keyring.provider_secret("toolgate")
        except KeyError:
            return None

    async def handle(self, job: JobRecord) -> dict[str, Any]:
        """Handler of ``tool_call`` jobs."""
        spec, pl = job.spec, job.spec.payload
        tool, args, then = pl.get("tool"), pl.get("arguments") or {}, pl.get("then")
        if not isinstance(tool, str) or not tool or not isinstance(args, dict):
            raise Fatal(
                f"payload: a tool_call job needs 'tool' (a name) and 'arguments' (an object); got {pl!r}"
            )
        common = {"client_id": spec.client_id, "job_id": job.id, "trace_id": job.trace_id}
        if then is None:
            try:
                res = await self.gate.call(
                    tool, args, idempotency_key=job.idempotency_key, **common
                )
            except ToolGateError as e:
                raise Retryable(str(e)) from None
            return {"tool": tool, "request_id": res.request_id, "data": res.data}
        try:
            follow = JobSpec.model_validate({"client_id": spec.client_id, **then})
        except ValidationError as e:
            raise Fatal(
                f"payload.then: not a job spec: {e.errors(include_url=False)[0]['msg']}"
            ) from None

        async def side_effect(result: ToolResult) -> str:
            payload = dict(follow.payload)
            if isinstance(payload.get("text"), str):
                payload["text"] = payload["text"].replace("{result}", _summary(result.data))
            rec = self.p.submit(
                follow.model_copy(
                    update={"payload": payload, "idempotency_key": f"{job.idempotency_key}:then"}
                )
            )
            if job.approved:
                rec.approved = True
            return rec.id

        async def on_blocked(err: ToolGateError) -> None:
            self.p.telemetry.blocked.labels("toolgate").inc()
            self.p.telemetry.mark("toolgate_failed")
            self.p.audit.record(
                client_id=follow.client_id, platform=follow.platform or "-", account_id=follow.account_id,
                action=_FOLLOWUP_ACTION.get(follow.kind, follow.kind), phase="outcome", outcome="blocked",
                job_id=job.id, idempotency_key=job.idempotency_key, trace_id=job.trace_id,
                error=f"fail_closed: {err}",
            )  # fmt: skip

        out = await self.gate.guarded(
            tool, args, side_effect, approved=job.approved, on_blocked=on_blocked, **common
        )
        if not out.performed:
            raise Held(
                f"{out.error}; fail closed: the dependent {follow.kind} was not submitted — "
                "approve the job to go ahead without the tool result"
            )
        got = out.result
        return {
            "tool": tool,
            "followup_job_id": out.value,
            "request_id": got.request_id if got else None,
            "defaulted": bool(got and got.defaulted),
            "tool_error": str(out.error) if out.error else None,
        }


def install(platform: Platform) -> ToolGateComponent:
    """Wire the tool gateway client into ``platform`` (called by the platform at construction)."""
    return ToolGateComponent(platform)
