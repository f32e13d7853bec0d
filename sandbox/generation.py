"""Generation through provider routing: ordered failover, budgets, the tool-call recursion stop.

For each capability (text, image, video) the control plane names providers in failover order.
:class:`Generator` tries them in turn: each provider gets its own retries (see
:class:`~sandbox.providers.RetryPolicy`); an error that says another provider may help
(outage, rate limit after retries, quota gone, overload, auth) moves on to the next one. Before
every call the :class:`~sandbox.budget.Budget` is checked with an estimate; after it, the real
usage is charged. Every call is audited (``llm.complete``, ``image.generate``,
``video.generate``) with the provider's request id as proof, and tokens and spend go to
telemetry.

A provider's 429 holds that provider for every call, not only the one that met it: its limits
are per API key, so the other calls in flight would only run into the same 429. Calls wait out
a short hold (up to the retry policy's ``max_retry_after_s``) and skip a longer one (a quota
gone: ``PROVIDER_QUOTA_HOLD_S``) for the next provider routed; when every routed provider is
held, the job is retried after the soonest hold ends. When a hold ends, one call goes first and
the others wait for its answer (RB-05's "resume slowly"): a 429 holds the provider again, any
other answer ends the hold.

Defects declared here: ``no_provider_failover`` (only the first provider is ever tried) and
``no_budget_stop`` (budgets and the recursion cap count but never stop anything).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from .budget import (
    IMAGE_USD,
    VIDEO_USD_PER_S,
    Budget,
    BudgetExceeded,
    RecursionCapExceeded,
    price,
    priced_as,
)
from .defects import Defect
from .media_client import MediaClient
from .providers import (
    CAPABILITIES,
    DEFAULT_TEXT_MODELS,
    AnthropicClient,
    Completion,
    OpenAIClient,
    ProviderError,
    Rendered,
    RetryPolicy,
    ToolCall,
    ToolSpec,
    with_retries,
)

if TYPE_CHECKING:
    from .generation_jobs import GenerationComponent
    from .platform import Platform

__all__ = [
    "HARD_TOOL_ROUND_CEILING",
    "INVALID_REQUEST",
    "PROVIDER_HOLD_DEFAULT_S",
    "PROVIDER_QUOTA_HOLD_S",
    "GenerationComponent",
    "GenerationFailed",
    "Generator",
    "TextOutcome",
    "install",
]

#: a safety net below the platform's controls: even the ``no_budget_stop`` defect stops here,
#: so a drill of the defect terminates (the damage is long done by then)
HARD_TOOL_ROUND_CEILING = 64

AuditFn = Callable[..., Any]
MetricFn = Callable[[str, float, Mapping[str, str]], None]
RunTool = Callable[[ToolCall], Awaitable[str]]


class NoProviderFailover(Defect, name="no_provider_failover", runbook="RB-09"):
    """Provider routing ignores the failover order: only the first provider of a capability is
    tried, so an outage there fails every generation (RB-09 Fix: route to alternate provider)."""


class NoBudgetStop(Defect, name="no_budget_stop", runbook="RB-12"):
    """Cost budgets and the tool-call recursion cap are counted but not enforced: a model stuck in
    a tool-call loop burns tokens until the hard ceiling (RB-12 Diagnosis: infinite recursion;
    Fix: enforce per-episode budgets, fix recursion stop conditions)."""


#: provider statuses that say the request itself is wrong (not the provider, the key or the
#: load): a generation every provider refused with one of these is not retried, and a provider
#: that refused a job's request so is not sent it again when the job is retried
INVALID_REQUEST = frozenset({400, 413, 422})

#: seconds a provider's 429 holds it when the answer names no Retry-After
PROVIDER_HOLD_DEFAULT_S = 60.0
#: seconds ``insufficient_quota`` holds a provider (credits do not come back by themselves)
PROVIDER_QUOTA_HOLD_S = 900.0


class GenerationFailed(Exception):
    """Every provider routed for a capability failed (or none was routed).

    ``retry_after``: when every provider failed because it was throttled, the seconds until the
    soonest of their holds ends (None otherwise).
    """

    def __init__(
        self,
        capability: str,
        errors: Sequence[ProviderError],
        tried: Sequence[str],
        retry_after: float | None = None,
    ) -> None:
        self.capability, self.errors, self.tried = capability, list(errors), list(tried)
        self.retry_after = retry_after
        detail = "; ".join(str(e) for e in errors) or "no provider routed"
        super().__init__(
            f"{capability} generation failed on {', '.join(tried) or 'no provider'}: {detail}"
        )


@dataclass(frozen=True)
class TextOutcome:
    """A finished text episode: the final completion and what it took."""

    completion: Completion
    rounds: int
    providers: tuple[str, ...]
    tokens: int
    usd: float


async def _call(fn: AuditFn, **kw: Any) -> None:
    value = fn(**kw)
    if isinstance(value, Awaitable):
        await value


@dataclass
class Generator:
    """Runs generation requests through routing, failover, budgets, audit and telemetry."""

    http: httpx.AsyncClient
    base_urls: Callable[[str], str]
    api_key: Callable[[str], str]
    routing: Callable[[str], Sequence[str]]
    budget: Budget
    audit: AuditFn
    metric: MetricFn
    defect: Callable[[str], bool]
    rng: random.Random
    sleep: Callable[[float], Awaitable[None]]
    account_of: Callable[[str], str | None] = field(default=lambda p: f"agency-{p}")
    #: called before each provider call with (client_id, provider, action); raises to refuse it
    gate: Callable[[str, str, str], None] | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: seconds each provider request may take (``Settings.provider_timeout_s``)
    timeout: float = 60.0
    #: the model a text provider is asked for (``Settings.text_models``, else its default)
    text_model: Callable[[str], str] = field(default=lambda p: DEFAULT_TEXT_MODELS[p])
    _episodes: int = 0
    #: (provider, idempotency key) → {render id: the request that created it}, kept across
    #: retries *and* across attempts of the job: a render created by a submit whose poll then
    #: failed is handed back by a later submit with the same key, and its audit must name the
    #: request that created it (the one the provider bills); dropped once the render is audited
    _submitted: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: (provider, video key) → renders of that key that ended ``failed``: a replay of the key
    #: would hand back the failed render, so the next submit takes a key of its own
    _renders_failed: dict[tuple[str, str], int] = field(default_factory=dict)
    #: the platform's clock (holds are kept in its time)
    now: Callable[[], float] = field(default=lambda: asyncio.get_running_loop().time())
    #: provider → when the hold its last 429 set ends (kept until a call after it is answered)
    _holds: dict[str, float] = field(default_factory=dict)
    #: provider → set when the first call after its hold has its answer
    _probing: dict[str, asyncio.Event] = field(default_factory=dict)
    #: job id → {provider: the invalid-request error it answered this job's request with}: a
    #: retry of the job (an outage elsewhere) does not send it there again; see :meth:`forget`
    refused: dict[str, dict[str, ProviderError]] = field(default_factory=dict)

    def forget(self, job_id: str) -> None:
        """The job will not run again: drop what its runs learned."""
        self.refused.pop(job_id, None)

    def _hold(self, provider: str, err: ProviderError) -> None:
        """Hold ``provider`` for every call after a 429 (its limits are per key, not per call)."""
        if err.status != 429:
            return
        if err.code == "insufficient_quota":
            wait = PROVIDER_QUOTA_HOLD_S
        else:
            wait = err.retry_after if err.retry_after is not None else PROVIDER_HOLD_DEFAULT_S
        self._holds[provider] = max(self._holds.get(provider, 0.0), self.now() + wait)

    def held_for(self, provider: str) -> float:
        """Seconds until ``provider``'s hold ends (0 when it is not held)."""
        return max(0.0, self._holds.get(provider, 0.0) - self.now())

    async def _send(self, provider: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Make one provider call once no hold is in the way; a 429 holds the provider."""
        while True:
            wait = self.held_for(provider)
            if wait > self.policy.max_retry_after_s:
                # a long hold began while this call waited (the first call after a short one met
                # a spent quota): not a wait for a runner slot to sit through — the next routed
                # provider may serve it
                raise ProviderError(
                    provider,
                    f"held for {wait:g}s more after a 429",
                    status=429,
                    code="held",
                    retryable=False,
                    failover=True,
                )
            if wait > 0:  # another call's 429 holds this provider: no request until it ends
                await self.sleep(wait)
                continue
            first = self._probing.get(provider)
            if first is not None:  # the first call after the hold is out: wait for its answer
                await first.wait()
                continue
            break
        probe = None
        if provider in self._holds:
            probe = self._probing[provider] = asyncio.Event()
        try:
            result = await call()
        except ProviderError as e:
            self._hold(provider, e)
            raise
        else:
            if probe is not None:
                del self._holds[provider]
            return result
        finally:
            if probe is not None:
                del self._probing[provider]
                probe.set()

    # clients --------------------------------------------------------------------------------
    def _text(self, provider: str) -> OpenAIClient | AnthropicClient:
        key = lambda: self.api_key(provider)  # noqa: E731
        if provider == "openai":
            return OpenAIClient(
                self.http,
                self.base_urls("openai"),
                key,
                model=self.text_model("openai"),
                timeout=self.timeout,
            )
        if provider == "anthropic":
            return AnthropicClient(
                self.http,
                self.base_urls("anthropic"),
                key,
                model=self.text_model("anthropic"),
                timeout=self.timeout,
            )
        raise ValueError(
            f"{provider!r} cannot generate text; valid: {', '.join(CAPABILITIES['text'])}"
        )

    def _providers(self, capability: str) -> list[str]:
        routed = [p for p in self.routing(capability) if p in CAPABILITIES[capability]]
        return routed[:1] if self.defect("no_provider_failover") else routed

    # the shared failover loop ---------------------------------------------------------------
    async def _route(
        self,
        capability: str,
        action: str,
        call: Callable[[str, int], Awaitable[Any]],
        *,
        client_id: str,
        episode_id: str,
        estimate: tuple[int, float] | Callable[[str], tuple[int, float]],
        job_id: str | None,
        trace_id: str,
    ) -> tuple[Any, str]:
        """Try each routed provider in order; return (result, provider) or raise GenerationFailed.

        ``estimate`` is the (tokens, USD) a call may spend, or a function of the provider giving
        it (a text call's price depends on the model the provider is asked for).
        """
        errors: list[ProviderError] = []
        tried: list[str] = []
        holds: list[float] = []
        for provider in self._providers(capability):
            est = estimate(provider) if callable(estimate) else estimate
            common = dict(
                client_id=client_id,
                platform=provider,
                account_id=self.account_of(provider),
                action=action,
                job_id=job_id,
                trace_id=trace_id,
            )
            before = self.refused.get(job_id, {}).get(provider) if job_id else None
            if before is not None:
                # it refused this very request as invalid on an earlier run: the same request
                # is refused the same way, and paid for again
                errors.append(
                    ProviderError(
                        provider,
                        f"refused this request before ({before}); not sent again",
                        status=before.status,
                        code="refused_before",
                        retryable=False,
                        failover=True,
                    )
                )
                continue
            if self.gate is not None:
                try:
                    self.gate(client_id, provider, action)
                except Exception as e:
                    await _call(
                        self.audit,
                        phase="outcome",
                        outcome="blocked",
                        error=str(e),
                        detail={"episode_id": episode_id},
                        **common,
                    )
                    raise
            try:
                self.budget.check(client_id, episode_id, tokens=est[0], usd=est[1])
            except BudgetExceeded as e:
                self.metric("budget_stops", 1, {"client_id": client_id, "capability": capability})
                await _call(
                    self.audit,
                    phase="outcome",
                    outcome="blocked",
                    error=f"budget: {e}",
                    detail={"episode_id": episode_id},
                    **common,
                )
                raise
            held = self.held_for(provider)
            if held > self.policy.max_retry_after_s:
                # a long hold (a quota gone): no call until it ends; the next provider may serve
                holds.append(held)
                errors.append(
                    ProviderError(
                        provider,
                        f"held for {held:g}s more after a 429",
                        status=429,
                        code="held",
                        retryable=False,
                        failover=True,
                    )
                )
                continue
            tried.append(provider)
            await _call(self.audit, phase="attempt", detail={"episode_id": episode_id}, **common)

            def on_error(err: ProviderError, attempt: int, provider: str = provider) -> None:
                self.metric("provider_errors", 1, {"provider": provider, "kind": err.kind})
                if err.code in ("rate_limit_exceeded", "rate_limit_error") or err.status == 429:
                    self.metric("rate_limit_hits", 1, {"platform": provider})
                if job_id and err.status in INVALID_REQUEST:
                    self.refused.setdefault(job_id, {})[provider] = err

            def attempt(retry: int, provider: str = provider) -> Awaitable[Any]:
                return self._send(provider, lambda: call(provider, retry))

            self.budget.hold(client_id, episode_id, tokens=est[0], usd=est[1])
            try:
                result = await with_retries(attempt, self.policy, self.rng, self.sleep, on_error)
            except ProviderError as e:
                errors.append(e)
                if e.status == 429:
                    holds.append(self.held_for(provider))
                proof = {"request_id": e.request_id} if e.request_id else {}
                # the provider did the work (and billed it) and only its result is out of reach:
                # the side effect happened, so the outcome says success, with the error beside it
                done = e.resource_id is not None
                if done:
                    proof["resource_id"] = str(e.resource_id)
                    self.budget.charge(client_id, episode_id, tokens=0, usd=est[1])
                await _call(
                    self.audit,
                    phase="outcome",
                    outcome="success" if done else "failed",
                    error=str(e),
                    proof=proof,
                    detail={
                        "episode_id": episode_id,
                        "failure": e.kind,
                        **({"result": "unusable"} if done else {}),
                    },
                    **common,
                )
                if not e.failover:
                    break
                self.metric("provider_failovers", 1, {"capability": capability, "from": provider})
                continue
            finally:
                self.budget.release(client_id, episode_id, tokens=est[0], usd=est[1])
            return result, provider
        throttled = bool(errors) and len(holds) == len(errors)
        raise GenerationFailed(
            capability, errors, tried, retry_after=min(holds) if throttled else None
        )

    def _charge(
        self,
        client_id: str,
        episode_id: str,
        provider: str,
        tokens: int,
        usd: float,
        tokens_in: int = 0,
    ) -> None:
        self.budget.charge(client_id, episode_id, tokens=tokens, usd=usd)
        labels = {"client_id": client_id, "provider": provider}
        self.metric("llm_tokens_in", tokens_in, labels)
        self.metric("llm_tokens_out", tokens - tokens_in, labels)
        self.metric("llm_spend_usd", usd, labels)

    # text -----------------------------------------------------------------------------------
    async def complete(
        self,
        *,
        client_id: str,
        prompt: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        episode_id: str | None = None,
        job_id: str | None = None,
        trace_id: str = "",
        tools: Sequence[ToolSpec] = (),
        run_tool: RunTool | None = None,
        max_tokens: int = 256,
    ) -> TextOutcome:
        """Run a text episode: complete, run requested tools, repeat until a final answer.

        Raises :class:`BudgetExceeded`, :class:`RecursionCapExceeded` or :class:`GenerationFailed`.
        """
        if episode_id is None:
            self._episodes += 1
            episode_id = job_id or f"ep-{self._episodes:06d}"
        msgs: list[dict[str, Any]] = [dict(m) for m in messages or ()]
        if prompt is not None:
            msgs.append({"role": "user", "content": prompt})
        if not msgs:
            raise ValueError("complete() needs a prompt or messages; got neither")
        used: list[str] = []
        tokens, usd, rounds = 0, 0.0, 0
        while True:
            est_in = sum(len(json.dumps(m)) for m in msgs) // 4

            def estimate(provider: str, est_in: int = est_in) -> tuple[int, float]:
                # the dearest the call may be: every prompt token and max_tokens of output, at
                # the price of the model this provider is asked for
                return est_in + max_tokens, price(self.text_model(provider), est_in, max_tokens)

            async def once(provider: str, retry: int) -> Completion:
                return await self._text(provider).complete(
                    msgs, tools, max_tokens=max_tokens, retry=retry
                )

            comp, provider = await self._route(
                "text",
                "llm.complete",
                once,
                client_id=client_id,
                episode_id=episode_id,
                estimate=estimate,
                job_id=job_id,
                trace_id=trace_id,
            )
            cost = price(comp.model, comp.tokens_in, comp.tokens_out)
            await _call(
                self.audit,
                client_id=client_id,
                platform=provider,
                account_id=self.account_of(provider),
                action="llm.complete",
                job_id=job_id,
                trace_id=trace_id,
                phase="outcome",
                outcome="success",
                proof={"request_id": comp.request_id},
                detail={
                    "episode_id": episode_id,
                    "model": comp.model,
                    "tokens_in": comp.tokens_in,
                    "tokens_out": comp.tokens_out,
                    "cost_usd": round(cost, 6),
                    "tool_calls": [c.name for c in comp.tool_calls],
                    # answered by a model the price table lacks: the cost is its dearest price
                    **({"price_known": False} if priced_as(comp.model) is None else {}),
                },
            )
            self._charge(
                client_id,
                episode_id,
                provider,
                comp.tokens_in + comp.tokens_out,
                cost,
                comp.tokens_in,
            )
            tokens += comp.tokens_in + comp.tokens_out
            usd += cost
            used.append(provider)
            if not comp.tool_calls or run_tool is None:
                return TextOutcome(comp, rounds, tuple(used), tokens, usd)
            rounds = self.budget.tool_round(client_id, episode_id)
            self.metric("tool_call_rounds", 1, {"client_id": client_id})
            if rounds > HARD_TOOL_ROUND_CEILING:
                raise RecursionCapExceeded(episode_id, rounds, HARD_TOOL_ROUND_CEILING)
            msgs.append(
                {
                    "role": "assistant",
                    "content": comp.text or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                        }
                        for c in comp.tool_calls
                    ],
                }
            )
            for c in comp.tool_calls:
                msgs.append({"role": "tool", "tool_call_id": c.id, "content": await run_tool(c)})

    # images and video -----------------------------------------------------------------------
    async def image(
        self,
        *,
        client_id: str,
        prompt: str,
        episode_id: str | None = None,
        job_id: str | None = None,
        trace_id: str = "",
        size: str = "1024x1024",
    ) -> Rendered:
        """Generate one image through the image routing; audited as ``image.generate``."""
        ep = episode_id or job_id or "images"

        async def once(provider: str, retry: int) -> Rendered:
            return await OpenAIClient(
                self.http,
                self.base_urls(provider),
                lambda: self.api_key(provider),
                timeout=self.timeout,
            ).image(prompt, size=size, retry=retry)

        out, provider = await self._route(
            "image",
            "image.generate",
            once,
            client_id=client_id,
            episode_id=ep,
            estimate=(0, IMAGE_USD),
            job_id=job_id,
            trace_id=trace_id,
        )
        await self._success(
            out, provider, "image.generate", client_id, ep, job_id, trace_id, IMAGE_USD
        )
        return out  # type: ignore[no-any-return]

    async def video(
        self,
        *,
        client_id: str,
        prompt: str,
        duration_s: float = 10.0,
        episode_id: str | None = None,
        job_id: str | None = None,
        trace_id: str = "",
    ) -> Rendered:
        """Render one video through the video routing (submit, poll, fetch); audited as ``video.generate``."""
        ep = episode_id or job_id or "videos"
        usd = VIDEO_USD_PER_S * duration_s
        key = _video_key(ep, job_id)

        async def once(provider: str, retry: int) -> Rendered:
            client = MediaClient(
                self.http,
                self.base_urls(provider),
                lambda: self.api_key(provider),
                self.sleep,
                timeout=self.timeout,
                submitted=self._submitted.setdefault((provider, key), {}),
            )
            failed = self._renders_failed.get((provider, key), 0)
            try:
                return await client.render(
                    prompt,
                    client_id=client_id,
                    duration_s=duration_s,
                    retry=retry,
                    idempotency_key=key if not failed else f"{key}:{failed}",
                )
            except ProviderError as e:
                if e.code == "render_failed":
                    self._renders_failed[(provider, key)] = failed + 1
                raise

        out, provider = await self._route(
            "video",
            "video.generate",
            once,
            client_id=client_id,
            episode_id=ep,
            estimate=(0, usd),
            job_id=job_id,
            trace_id=trace_id,
        )
        await self._success(out, provider, "video.generate", client_id, ep, job_id, trace_id, usd)
        for p in CAPABILITIES["video"]:
            self._submitted.pop((p, key), None)
            self._renders_failed.pop((p, key), None)
        return out  # type: ignore[no-any-return]

    def abandon_video(
        self,
        *,
        client_id: str,
        episode_id: str | None,
        job_id: str,
        trace_id: str,
        duration_s: float,
        why: str,
    ) -> list[str]:
        """The video job gave up: claim every render its submits created and nothing followed.

        A render whose polls failed (or outlived ``deadline_s``) on every attempt is still the
        provider's job: it may finish after the platform stopped asking, and the provider bills
        it then. The platform knows its id and the request that created it, so it audits each one
        as ``needs_human_confirm`` (proof names the render; a person fetches it or writes it off)
        and holds its price against the budget. Returns the render ids claimed.
        """
        ep = episode_id or job_id
        key = _video_key(ep, job_id)
        usd = VIDEO_USD_PER_S * duration_s
        claimed: list[str] = []
        for provider in CAPABILITIES["video"]:
            for render_id, request_id in (self._submitted.pop((provider, key), None) or {}).items():
                value = self.audit(
                    client_id=client_id,
                    platform=provider,
                    account_id=self.account_of(provider),
                    action="video.generate",
                    job_id=job_id,
                    trace_id=trace_id,
                    phase="outcome",
                    outcome="needs_human_confirm",
                    error=(
                        f"gave up ({why}); render {render_id} was created and may still finish "
                        f"and be billed: confirm it with {provider}, or write it off"
                    ),
                    proof={"request_id": request_id, "resource_id": render_id},
                    detail={"episode_id": ep, "result": "unknown", "cost_usd": usd},
                )
                if isinstance(value, Awaitable):  # the platform's audit is synchronous
                    raise TypeError("abandon_video needs a synchronous audit function")
                self.budget.charge(client_id, ep, tokens=0, usd=usd)
                self.metric("llm_spend_usd", usd, {"client_id": client_id, "provider": provider})
                claimed.append(render_id)
        return claimed

    async def _success(
        self,
        out: Rendered,
        provider: str,
        action: str,
        client_id: str,
        ep: str,
        job_id: str | None,
        trace_id: str,
        usd: float,
    ) -> None:
        await _call(
            self.audit,
            client_id=client_id,
            platform=provider,
            account_id=self.account_of(provider),
            action=action,
            job_id=job_id,
            trace_id=trace_id,
            phase="outcome",
            outcome="success",
            proof={"request_id": out.request_id, "resource_id": out.resource_id},
            detail={"episode_id": ep, "bytes": len(out.content), "cost_usd": usd},
        )
        self.budget.charge(client_id, ep, tokens=0, usd=usd)
        self.metric("llm_spend_usd", usd, {"client_id": client_id, "provider": provider})


def _video_key(episode_id: str, job_id: str | None) -> str:
    """The ``Idempotency-Key`` of a video job's render submits (the same on every attempt)."""
    return f"{episode_id}:{job_id or 'video'}"


# --- wiring into a platform --------------------------------------------------------------------


def install(platform: Platform) -> GenerationComponent:
    """Wire generation into ``platform`` (called by the platform at construction)."""
    from .generation_jobs import GenerationComponent

    return GenerationComponent(platform)
