"""Generation as platform jobs: ``generate_text``, ``generate_image``, ``generate_video``.

:class:`GenerationComponent` wires a :class:`~sandbox.generation.Generator` into a platform:
provider routing and budgets come from the control plane (so ``set_provider_routing`` and
``set_budget`` act on the next call), kill switches on ``generate`` are checked before every
provider call, tokens and spend go to telemetry, and tools named in a text job's payload are
called through the tool gateway component.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .budget import Budget, BudgetExceeded, BudgetLimits, RecursionCapExceeded
from .errors import Blocked, Fatal, Retryable
from .generation import INVALID_REQUEST, GenerationFailed, Generator, RunTool
from .jobs import JobRecord
from .providers import CALL_TRACE, DEFAULT_TEXT_MODELS, ProviderError, ToolCall, ToolSpec
from .toolgate_client import ToolGateError

if TYPE_CHECKING:
    from .platform import Platform

__all__ = ["INVALID_REQUEST", "GenerationComponent"]


def _down(err: ProviderError) -> bool:
    """The provider did not answer (a transport error), or answered that it is failing (a 5xx,
    Anthropic's 529 overloaded)."""
    if err.status is None:
        return err.code is None and err.retryable
    return err.status >= 500


class GenerationComponent:
    """The generator wired into a platform: job handlers, budgets from the controls, telemetry."""

    def __init__(self, platform: Platform) -> None:
        p = self.p = platform
        self.budget = Budget(
            limits_of=self._limits, enforce=lambda: not p.defects.on("no_budget_stop")
        )
        self.generator = Generator(
            http=p.http,
            base_urls=p.settings.base_urls.of,
            api_key=p.keyring.provider_secret,
            routing=lambda cap: p.controls.provider_routing.get(cap, ()),
            budget=self.budget,
            audit=p.audit.record,
            metric=self._metric,
            defect=p.defects.on,
            rng=random.Random(f"generation:{p.seed}"),
            sleep=asyncio.sleep,
            now=p.now,
            account_of=self._account_of,
            gate=self._gate,
            timeout=p.settings.provider_timeout_s,
            text_model=lambda provider: next(
                (m for k, m in p.settings.text_models.items() if k == provider),
                DEFAULT_TEXT_MODELS[provider],
            ),
        )
        for kind in ("generate_text", "generate_image", "generate_video"):
            p.runner.register(kind, self.run_job)
        p.runner.on_dead_letter.append(self._gave_up)

    def _gave_up(self, job: JobRecord) -> None:
        """A dead-lettered video job's renders are still the provider's work: claim them."""
        if job.spec.kind != "generate_video":
            return
        self.generator.abandon_video(
            client_id=job.spec.client_id,
            episode_id=job.spec.episode_id,
            job_id=job.id,
            trace_id=job.trace_id,
            duration_s=float(job.spec.payload.get("duration_s") or 10.0),
            why=f"dead letter after {job.attempts} attempts",
        )

    def _limits(self, client_id: str) -> BudgetLimits:
        b = self.p.controls.budget_for(client_id)
        return BudgetLimits(b.episode_tokens, b.episode_usd, b.client_tokens, b.client_usd)

    def _account_of(self, provider: str) -> str | None:
        return next(
            (a.account_id for a in self.p.settings.providers if a.provider == provider), None
        )

    def _gate(self, client_id: str, provider: str, action: str) -> None:
        ks = self.p.controls.is_killed(client_id, provider, "generate")
        if ks is not None:
            raise Blocked(
                f"kill_switch: {action} for {client_id} on {provider} stopped by the switch "
                f"{ks.model_dump(exclude_none=True) or 'global'}",
                reason="kill_switch",
            )

    def _metric(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        tm = self.p.telemetry
        if name in ("llm_tokens_in", "llm_tokens_out"):
            tm.tokens.labels(labels["provider"], name.rsplit("_", 1)[1]).inc(value)
        elif name == "llm_spend_usd":
            tm.spend_usd.labels(labels["client_id"]).inc(value)
        elif name == "rate_limit_hits":
            tm.rate_limit_hits.labels(labels["platform"]).inc(value)
            tm.mark(f"rate_limited:{labels['platform']}")
        elif name == "budget_stops":
            # the job it stops ends blocked, which the runner counts in side_effects_blocked_total
            # (counting it here too made every budget refusal two)
            tm.mark("budget_stop")
        else:
            tm.mark(name)

    async def _tools(self, names: Sequence[str]) -> list[ToolSpec]:
        comp = self.p.components.get("sandbox.toolgate_client")
        if not names or comp is None:
            return []
        try:
            listed = await comp.gate.list_tools()
        except ToolGateError:
            return []  # text without tools: nothing rides on a tool result
        return [
            ToolSpec(t.name, t.description or "", t.input_schema) for t in listed if t.name in names
        ]

    async def run_job(self, job: JobRecord) -> dict[str, Any]:
        """Run one generation job (:meth:`handle`); once it will not run again, the generator
        forgets what its runs learned (providers that refused its request)."""
        try:
            out = await self.handle(job)
        except Retryable:
            raise
        except BaseException:
            self.generator.forget(job.id)
            raise
        self.generator.forget(job.id)
        return out

    async def handle(self, job: JobRecord) -> dict[str, Any]:
        """Handler of ``generate_text``, ``generate_image`` and ``generate_video`` jobs."""
        spec, pl = job.spec, job.spec.payload
        ep = spec.episode_id or job.id
        prompt = str(pl.get("prompt") or "")
        if not prompt:
            raise Fatal(
                f"payload.prompt: a {spec.kind} job needs a non-empty prompt; got keys {sorted(pl)}"
            )
        # every provider request of this run carries the job's trace (a fresh span each; the
        # variable is this run's task's own)
        CALL_TRACE.set(job.next_traceparent)
        kw: dict[str, Any] = {
            "client_id": spec.client_id,
            "episode_id": ep,
            "job_id": job.id,
            "trace_id": job.trace_id,
        }
        try:
            if spec.kind == "generate_text":
                names = [str(n) for n in pl.get("tools") or ()]
                tools = await self._tools(names) if names else []
                run_tool = self._tool_runner(job) if tools else None
                out = await self.generator.complete(
                    prompt=prompt,
                    tools=tools,
                    run_tool=run_tool,
                    max_tokens=int(pl.get("max_tokens") or 256),
                    **kw,
                )
                c = out.completion
                return {
                    "text": c.text,
                    "provider": c.provider,
                    "model": c.model,
                    "request_id": c.request_id,
                    "tokens": out.tokens,
                    "usd": round(out.usd, 6),
                    "rounds": out.rounds,
                }
            if spec.kind == "generate_image":
                img = await self.generator.image(
                    prompt=prompt, size=str(pl.get("size") or "1024x1024"), **kw
                )
                return {
                    "provider": img.provider,
                    "resource_id": img.resource_id,
                    "request_id": img.request_id,
                    "bytes": len(img.content),
                }
            vid = await self.generator.video(
                prompt=prompt, duration_s=float(pl.get("duration_s") or 10.0), **kw
            )
            return {
                "provider": vid.provider,
                "resource_id": vid.resource_id,
                "request_id": vid.request_id,
                "bytes": len(vid.content),
            }
        except BudgetExceeded as e:
            raise Blocked(f"budget: {e}", reason="budget") from None
        except RecursionCapExceeded as e:
            raise Fatal(f"recursion_stop: {e}") from None
        except GenerationFailed as e:
            if any(x.resource_id for x in e.errors):  # done and billed: running it again pays twice
                raise Fatal(f"generation_unusable: {e}") from None
            if e.errors and all(x.status in INVALID_REQUEST for x in e.errors):
                # the request itself is wrong (a prompt over the window, a refused parameter):
                # the same request is refused the same way however often it is sent
                raise Fatal(f"generation_refused: {e}") from None
            if e.errors and all(x.status in INVALID_REQUEST or _down(x) for x in e.errors):
                # the providers that would take the request are down, the rest refused it: an
                # outage to wait out (the runner's outage window), not a failure of this job —
                # a retry skips the providers that refused it (Generator.refused)
                raise Retryable(f"generation_failed: {e}", e.retry_after, outage=True) from None
            raise Retryable(f"generation_failed: {e}", e.retry_after) from None

    def _tool_runner(self, job: JobRecord) -> RunTool | None:
        comp = self.p.components.get("sandbox.toolgate_client")
        if comp is None:
            return None

        async def run(call: ToolCall) -> str:
            try:
                res = await comp.gate.call(
                    call.name,
                    call.arguments,
                    client_id=job.spec.client_id,
                    job_id=job.id,
                    trace_id=job.trace_id,
                )
            except (
                Exception
            ) as e:  # the model hears that the tool failed; no side effect rides on it
                return json.dumps({"error": str(e)})
            return json.dumps(res.data)

        return run
