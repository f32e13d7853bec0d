"""Provider wire clients: OpenAI chat and images, Anthropic Messages (the media render-job API is
:mod:`sandbox.media_client`).

Each client speaks its provider's real HTTP format with plain httpx and turns every failure into
a :class:`ProviderError` that says whether a retry can help and whether another provider should
be tried: a 429 ``rate_limit_exceeded`` is retried (honouring ``retry-after-ms``/``retry-after``)
and then failed over; ``insufficient_quota`` is failed over at once, since retrying spends nothing
but time; a 529 ``overloaded_error`` and 5xx are retried then failed over; a 400 is our own fault
and goes nowhere. Routing, budgets and audit live in :mod:`sandbox.generation`.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = [
    "ANTHROPIC_VERSION",
    "CALL_TRACE",
    "CAPABILITIES",
    "DEFAULT_TEXT_MODELS",
    "PROVIDERS",
    "AnthropicClient",
    "Completion",
    "OpenAIClient",
    "ProviderError",
    "Rendered",
    "RetryPolicy",
    "ToolCall",
    "ToolSpec",
    "with_retries",
]

ANTHROPIC_VERSION = "2023-06-01"
#: capability → providers able to serve it (routing may order or narrow these)
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "text": ("openai", "anthropic"),
    "image": ("openai",),
    "video": ("media",),
}
PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "media")
#: the model each text provider is asked for unless ``Settings.text_models`` names another
DEFAULT_TEXT_MODELS: dict[str, str] = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-latest",
}

Sleep = Callable[[float], Awaitable[None]]

#: a fresh W3C ``traceparent`` of the job a provider call serves, one per request (set by the
#: job's handler): each request carries its job's trace, as an instrumented HTTP client's do, so
#: a call's retries can be told from another job's calls
CALL_TRACE: ContextVar[Callable[[], str] | None] = ContextVar("call_trace", default=None)


class ProviderError(Exception):
    """A provider call failed; ``retryable`` and ``failover`` say what may help."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        failover: bool = True,
        retry_after: float | None = None,
        request_id: str | None = None,
        resource_id: str | None = None,
    ) -> None:
        self.provider, self.status, self.code = provider, status, code
        self.retryable, self.failover = retryable, failover
        self.retry_after, self.request_id = retry_after, request_id
        #: set when the provider did the work (and billed it) but its result could not be had:
        #: the outcome must still claim it
        self.resource_id = resource_id
        where = f"{status} " if status else ""
        super().__init__(f"{provider}: {where}{code or 'error'}: {message}")

    @property
    def kind(self) -> str:
        """A short, stable classification for audit and metrics (e.g. ``openai.rate_limited``)."""
        table = {
            "rate_limit_exceeded": "rate_limited",
            "rate_limit_error": "rate_limited",
            "insufficient_quota": "quota_exhausted",
            "overloaded_error": "overloaded",
        }
        if self.code in table:
            return f"{self.provider}.{table[self.code]}"
        if self.status is None:
            # a transport failure has neither status nor code; a render that failed or stuck
            # (the provider answered, about the render) names its own
            return f"{self.provider}.{self.code or 'unreachable'}"
        return f"{self.provider}.http_{self.status}"


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call (as listed by the tool gateway)."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Completion:
    """A finished completion, whichever provider answered."""

    provider: str
    model: str
    text: str
    tool_calls: tuple[ToolCall, ...]
    tokens_in: int
    tokens_out: int
    request_id: str | None
    stop_reason: str | None = None


@dataclass(frozen=True)
class Rendered:
    """A generated image or video."""

    provider: str
    resource_id: str
    content: bytes
    request_id: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: the OpenAI SDK's rule, ``min(0.5·2^n, 8)`` s with jitter."""

    max_retries: int = 2
    base_s: float = 0.5
    cap_s: float = 8.0
    #: a retry-after above this is not waited for: fail over instead
    max_retry_after_s: float = 120.0

    def delay(self, attempt: int, err: ProviderError, rng: random.Random) -> float | None:
        """Seconds to wait before retry ``attempt`` (0-based), or None when not worth retrying."""
        if not err.retryable or attempt >= self.max_retries:
            return None
        if err.retry_after is not None:
            return err.retry_after if err.retry_after <= self.max_retry_after_s else None
        return float(min(self.base_s * 2**attempt, self.cap_s) * (1 - 0.25 * rng.random()))


def _request_id(resp: httpx.Response) -> str | None:
    rid = resp.headers.get("x-request-id") or resp.headers.get("request-id")
    return str(rid) if rid else None


def _retry_after(resp: httpx.Response) -> float | None:
    ms = resp.headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    ra = resp.headers.get("retry-after")
    if ra:
        try:
            return float(ra)
        except ValueError:
            return None
    return None


def _error_of(provider: str, resp: httpx.Response) -> ProviderError:
    """Classify a non-2xx response from its status, error body and retry headers."""
    status = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = {}
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    code = err.get("code") or err.get("type")
    message = str(err.get("message") or resp.reason_phrase or "error")
    retryable = status in (408, 409, 429) or status >= 500
    failover = status in (401, 403, 404, 408, 409, 429) or status >= 500
    if code == "insufficient_quota":
        retryable = False
    should = resp.headers.get("x-should-retry")
    if should in ("true", "false"):
        retryable = should == "true"
    return ProviderError(
        provider,
        message,
        status=status,
        code=str(code) if code else None,
        retryable=retryable,
        failover=failover,
        retry_after=_retry_after(resp),
        request_id=_request_id(resp),
    )


async def _send(
    http: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    retry: int,
    request_timeout: float,
    **kw: Any,
) -> httpx.Response:
    """Send one request; transport failures and undecodable bodies become ProviderErrors."""
    headers = dict(kw.pop("headers", {}))
    traceparent = CALL_TRACE.get()
    if traceparent is not None:
        headers["traceparent"] = traceparent()
    headers["x-stainless-retry-count"] = str(retry)
    try:
        resp = await http.request(method, url, headers=headers, timeout=request_timeout, **kw)
    except httpx.HTTPError as e:
        raise ProviderError(provider, f"{type(e).__name__}: {e}", retryable=True) from None
    if resp.status_code >= 400:
        raise _error_of(provider, resp)
    return resp


def _json(provider: str, resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        raise ProviderError(
            provider,
            "response body is not JSON",
            status=resp.status_code,
            retryable=True,
            request_id=_request_id(resp),
        ) from None
    if not isinstance(data, dict):
        raise ProviderError(
            provider,
            f"expected a JSON object, got {type(data).__name__}",
            status=resp.status_code,
            retryable=True,
            request_id=_request_id(resp),
        )
    return data


async def with_retries(
    call: Callable[[int], Awaitable[Any]],
    policy: RetryPolicy,
    rng: random.Random,
    sleep: Sleep,
    on_error: Callable[[ProviderError, int], None] | None = None,
) -> Any:
    """Run ``call(retry_count)`` until it succeeds or the policy says stop; re-raise the last error."""
    attempt = 0
    while True:
        try:
            return await call(attempt)
        except ProviderError as e:
            if on_error is not None:
                on_error(e, attempt)
            wait = policy.delay(attempt, e, rng)
            if wait is None:
                raise
            await sleep(wait)
            attempt += 1


@dataclass
class OpenAIClient:
    """OpenAI chat completions and image generation over plain httpx (``Authorization: Bearer``)."""

    http: httpx.AsyncClient
    base_url: str
    api_key: Callable[[], str]
    model: str = DEFAULT_TEXT_MODELS["openai"]
    image_model: str = "gpt-image-1"
    timeout: float = 60.0
    name: str = "openai"

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[ToolSpec] = (),
        *,
        max_tokens: int = 256,
        retry: int = 0,
    ) -> Completion:
        """POST ``/chat/completions`` and parse the first choice (text and tool calls)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": dict(t.input_schema),
                    },
                }
                for t in tools
            ]
        resp = await _send(
            self.http,
            self.name,
            "POST",
            f"{self.base_url.rstrip('/')}/chat/completions",
            retry=retry,
            request_timeout=self.timeout,
            json=body,
            headers={"authorization": f"Bearer {self.api_key()}"},
        )
        data = _json(self.name, resp)
        try:
            choice = data["choices"][0]
            msg = choice["message"]
            calls = tuple(
                ToolCall(
                    c["id"],
                    c["function"]["name"],
                    json.loads(c["function"].get("arguments") or "{}"),
                )
                for c in msg.get("tool_calls") or ()
            )
            usage = data.get("usage") or {}
            return Completion(
                self.name,
                str(data.get("model", self.model)),
                msg.get("content") or "",
                calls,
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
                _request_id(resp),
                choice.get("finish_reason"),
            )
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise ProviderError(
                self.name,
                f"unexpected completion shape: {e!r}",
                status=resp.status_code,
                retryable=True,
                request_id=_request_id(resp),
            ) from None

    async def image(self, prompt: str, *, size: str = "1024x1024", retry: int = 0) -> Rendered:
        """POST ``/images/generations`` and decode the first image (``b64_json`` or a ``url``)."""
        body = {"model": self.image_model, "prompt": prompt, "n": 1, "size": size}
        resp = await _send(
            self.http,
            self.name,
            "POST",
            f"{self.base_url.rstrip('/')}/images/generations",
            retry=retry,
            request_timeout=self.timeout,
            json=body,
            headers={"authorization": f"Bearer {self.api_key()}"},
        )
        data = _json(self.name, resp)
        try:
            item = data["data"][0]
            content = (
                base64.b64decode(item["b64_json"])
                if item.get("b64_json")
                else str(item.get("url", "")).encode()
            )
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise ProviderError(
                self.name,
                f"unexpected image shape: {e!r}",
                status=resp.status_code,
                retryable=True,
                request_id=_request_id(resp),
            ) from None
        rid = _request_id(resp)
        return Rendered(
            self.name, f"img-{rid or data.get('created', '')}", content, rid, {"size": size}
        )


def _to_anthropic(messages: Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Convert OpenAI-shaped messages to (system, Anthropic messages with tool blocks)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role == "system":
            system.append(str(m.get("content") or ""))
        elif role == "assistant" and m.get("tool_calls"):
            blocks: list[dict[str, Any]] = []
            if m.get("content"):
                blocks.append({"type": "text", "text": m["content"]})
            for c in m["tool_calls"]:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": c["id"],
                        "name": c["function"]["name"],
                        "input": json.loads(c["function"].get("arguments") or "{}"),
                    }
                )
            out.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": m.get("tool_call_id"),
                "content": str(m.get("content") or ""),
            }
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        else:
            out.append(
                {
                    "role": "assistant" if role == "assistant" else "user",
                    "content": str(m.get("content") or ""),
                }
            )
    return "\n".join(system), out


@dataclass
class AnthropicClient:
    """Anthropic Messages API over plain httpx (``x-api-key`` and ``anthropic-version``)."""

    http: httpx.AsyncClient
    base_url: str
    api_key: Callable[[], str]
    model: str = DEFAULT_TEXT_MODELS["anthropic"]
    timeout: float = 60.0
    name: str = "anthropic"

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[ToolSpec] = (),
        *,
        max_tokens: int = 256,
        retry: int = 0,
    ) -> Completion:
        """POST ``/v1/messages`` and parse text and ``tool_use`` blocks."""
        system, msgs = _to_anthropic(messages)
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens, "messages": msgs}
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": dict(t.input_schema)}
                for t in tools
            ]
        resp = await _send(
            self.http,
            self.name,
            "POST",
            f"{self.base_url.rstrip('/')}/v1/messages",
            retry=retry,
            request_timeout=self.timeout,
            json=body,
            headers={"x-api-key": self.api_key(), "anthropic-version": ANTHROPIC_VERSION},
        )
        data = _json(self.name, resp)
        try:
            text = "".join(b.get("text", "") for b in data["content"] if b.get("type") == "text")
            calls = tuple(
                ToolCall(b["id"], b["name"], dict(b.get("input") or {}))
                for b in data["content"]
                if b.get("type") == "tool_use"
            )
            usage = data.get("usage") or {}
            return Completion(
                self.name,
                str(data.get("model", self.model)),
                text,
                calls,
                int(usage.get("input_tokens", 0)),
                int(usage.get("output_tokens", 0)),
                _request_id(resp),
                data.get("stop_reason"),
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ProviderError(
                self.name,
                f"unexpected message shape: {e!r}",
                status=resp.status_code,
                retryable=True,
                request_id=_request_id(resp),
            ) from None
