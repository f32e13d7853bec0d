"""The OpenAI fake: chat completions (with SSE), responses, images, embeddings and models.

Mounted so that ``OpenAI(base_url=<served>/openai/v1)`` works (routes live at ``/v1/…``; in
process the host ``api.openai.com`` reaches them). It speaks what the official ``openai`` SDK
(v3) sends and parses, checked against its source:

- Auth: ``Authorization: Bearer <key>``; the key of the roster account ``agency-openai``. A
  missing or wrong key gets OpenAI's 401 body (``invalid_api_key``).
- Every answer carries ``x-request-id`` (the SDK's ``request_id``), ``openai-version``,
  ``openai-processing-ms`` and, once the key is known, ``x-ratelimit-limit-requests|tokens``,
  ``x-ratelimit-remaining-requests|tokens``, ``x-ratelimit-reset-requests|tokens`` (Go
  durations: ``1s``, ``6m0s``). The limits are continuously refilled buckets per key
  (:class:`~fakes.openai.limits.Limits`); an empty bucket is a real 429.
- Errors: ``{"error": {"message", "type", "param", "code"}}`` with the real statuses.
- Chat streaming: ``data: {chat.completion.chunk}`` lines, then ``data: [DONE]``; the usage
  chunk (empty ``choices``) only when ``stream_options.include_usage`` is true.
- The answers come from :mod:`fakes.openai.model` (deterministic text, tool calls only when
  forced, named or looped by a fault); prices from :mod:`fakes.openai.prices`.

This module holds the per-world state and the plumbing every route shares (auth, rate limits and
the faults that refuse a call, the model turn, billing); the routes live in :mod:`.chat`
(chat completions, responses), :mod:`.images` and :mod:`.catalogue` (embeddings, models).

Ledger: ``llm.completion`` for every chat completion and response (tokens, ``cost_usd``,
``detail`` = the model; a stream cut mid-way is billed for what was sent, ``detail`` =
``<model>;partial``) and one ``image.generated`` per image. Embeddings are not side effects the
drill judges and are not recorded.

Faults: ``openai.rate_limited`` (429 ``rate_limit_exceeded`` with ``retry-after`` and
``retry-after-ms``), ``openai.quota_exhausted`` (429 ``insufficient_quota`` with
``x-should-retry: false``, so the SDK does not retry), ``openai.key_revoked`` (the key's 401
``invalid_api_key``, as for a key revoked or rotated away), ``openai.stream_cut`` (an SSE error
object, or the connection drops, after ``after_chunks`` chunks), ``openai.token_bloat`` (usage
and cost multiplied), ``openai.tool_call_loop`` (every turn with ``tools`` is a call to
``params.tool``), and ``http.outage`` with OpenAI's 5xx body.
"""

from __future__ import annotations

import json
import math
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..core.faults import ALIAS_MOVED_TO, LlmRateParams, OpenAIAliasParams
from ..core.http import Call, FakeService
from ..core.jsonbody import loads_body
from ..core.world import World
from . import catalogue, chat, images, wire
from .limits import Limits, OrgLimits
from .model import (
    Price,
    answer_text,
    count_tokens,
    digest,
    dumps,
    go_duration,
    pick_tool,
    tool_arguments,
    truncate_to_tokens,
)
from .prices import CHAT_MODELS, resolve
from .wire import (
    BAD_JSON,
    FAKE,
    NO_KEY,
    QUOTA,
    SERVER_ERROR,
    Conversation,
    Turn,
    error,
    mask,
    param,
    seconds_header,
)

__all__ = ["OpenAIFake", "create"]


class OpenAIFake:
    """State and handlers of one OpenAI fake (per World)."""

    def __init__(self, world: World, limits: Limits) -> None:
        self.world = world
        self.limits = limits
        self.orgs: dict[str, OrgLimits] = {}
        #: image id → the seed its PNG is drawn from (so a url can be fetched later)
        self.images: dict[str, str] = {}
        world.on_reset(self.reset)
        svc = FakeService(
            world,
            FAKE,
            outage_body=self._outage,
            request_id_header="x-request-id",
            error_body=_route_error,
        )
        svc.route("/v1/chat/completions", "chat.completions", ["POST"])(partial(chat.chat, self))
        svc.route("/v1/responses", "responses.create", ["POST"])(partial(chat.responses, self))
        svc.route("/v1/images/generations", "images.generations", ["POST"])(
            partial(images.generate, self)
        )
        svc.route("/v1/images/content/{image_id}", "images.content", ["GET"])(
            partial(images.content, self)
        )
        svc.route("/v1/embeddings", "embeddings.create", ["POST"])(
            partial(catalogue.embeddings, self)
        )
        svc.route("/v1/models", "models.list", ["GET"])(partial(catalogue.models, self))
        svc.route("/v1/models/{model}", "models.retrieve", ["GET"])(partial(catalogue.model, self))
        self.service = svc

    def reset(self) -> None:
        """Forget rate-limit buckets and generated images."""
        self.orgs.clear()
        self.images.clear()

    # plumbing -------------------------------------------------------------------------------
    @staticmethod
    def _outage(call: Call, status: int) -> Response:
        messages = {
            502: "Bad gateway.",
            503: "The engine is currently overloaded, please try again later.",
            504: "Gateway timeout.",
        }
        return error(status, messages.get(status, SERVER_ERROR), "server_error")

    def auth(self, call: Call) -> Response | None:
        if call.credential is None:
            return error(401, NO_KEY)
        account, problem = self.world.tokens.check(call.credential)
        platform = self.world.roster.account(account).platform if account else None
        if (
            problem is not None
            or platform != FAKE
            or call.fire(self.world, ("openai.key_revoked",)) is not None
        ):
            return error(
                401,
                f"Incorrect API key provided: {mask(call.credential)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        call.extra_headers.update({"openai-version": "2020-10-01", "openai-processing-ms": "42"})
        return None

    async def body(self, call: Call) -> dict[str, Any] | Response:
        raw = await call.request.body()
        try:
            data = loads_body(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, BAD_JSON)
        return data if isinstance(data, dict) else error(400, BAD_JSON)

    def org(self, call: Call) -> OrgLimits:
        key = call.account_id or "?"
        org = self.orgs.get(key)
        if org is None:
            org = self.orgs[key] = OrgLimits.of(self.limits)
        return org

    def org_id(self, call: Call) -> str:
        return (
            self.world.roster.account(call.account_id).platform_user_id
            if call.account_id
            else "org-unknown"
        )

    def rate_headers(self, org: OrgLimits) -> dict[str, str]:
        now = self.world.now()
        return {
            "x-ratelimit-limit-requests": str(self.limits.requests_per_window),
            "x-ratelimit-limit-tokens": str(self.limits.tokens_per_window),
            "x-ratelimit-remaining-requests": str(org.requests.remaining(now)),
            "x-ratelimit-remaining-tokens": str(org.tokens.remaining(now)),
            "x-ratelimit-reset-requests": go_duration(org.requests.reset_in(now)),
            "x-ratelimit-reset-tokens": go_duration(org.tokens.reset_in(now)),
        }

    def rate_limited(
        self, call: Call, model: str, kind: str, limit: int, wait_s: float
    ) -> Response:
        unit = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
        wait = go_duration(wait_s)
        msg = (
            f"Rate limit reached for {model} in organization {self.org_id(call)} on {unit}: "
            f"Limit {limit}, Used {limit}, Requested 1. Please try again in {wait}. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."
        )
        headers = {
            "retry-after": seconds_header(round(wait_s, 3)),
            "retry-after-ms": str(max(0, round(wait_s * 1000))),
        }
        return error(429, msg, kind, "rate_limit_exceeded", headers=headers)

    def gate(self, call: Call, model: str, est_tokens: int) -> Response | None:
        """Faults and rate limits that refuse a call before the model runs."""
        w = self.world
        org = self.org(call)
        call.extra_headers.update(self.rate_headers(org))
        f = call.fire(
            w, ("openai.context_too_long", "openai.quota_exhausted", "openai.rate_limited")
        )
        if f is not None:
            if f.kind == "openai.context_too_long":
                window = int(param(f, "window"))
                return error(
                    400,
                    f"This model's maximum context length is {window} tokens. However, your "
                    f"messages resulted in {window + est_tokens} tokens. Please reduce the "
                    "length of the messages.",
                    code="context_length_exceeded",
                    param="messages",
                )
            if f.kind == "openai.quota_exhausted":
                return error(
                    429,
                    QUOTA,
                    "insufficient_quota",
                    "insufficient_quota",
                    headers={"x-should-retry": "false"},
                )
            p = f.params_as(LlmRateParams)
            call.extra_headers["x-ratelimit-remaining-requests"] = "0"
            call.extra_headers["x-ratelimit-reset-requests"] = go_duration(p.retry_after_s)
            return self.rate_limited(
                call, model, "requests", self.limits.requests_per_window, p.retry_after_s
            )
        now = w.now()
        if not org.requests.can_take(now, 1):
            return self.rate_limited(
                call,
                model,
                "requests",
                self.limits.requests_per_window,
                org.requests.wait_for(now, 1),
            )
        if not org.tokens.can_take(now, est_tokens):
            return self.rate_limited(
                call,
                model,
                "tokens",
                self.limits.tokens_per_window,
                org.tokens.wait_for(now, est_tokens),
            )
        org.requests.take(now, 1)
        org.tokens.take(now, est_tokens)
        call.extra_headers.update(self.rate_headers(org))
        return None

    def spend_tokens(self, call: Call, n: int) -> None:
        org = self.org(call)
        org.tokens.take(self.world.now(), n)
        call.extra_headers.update(self.rate_headers(org))

    def served(self, call: Call, model: str, price: Price) -> tuple[str, Price]:
        """The model that answers a request for ``model`` and its price: ``model`` itself, or
        where ``openai.alias_moved`` fires the model the alias now resolves to."""
        moved = call.fire(self.world, "openai.alias_moved")
        if moved is None:
            return model, price
        to = moved.params_as(OpenAIAliasParams).to or ALIAS_MOVED_TO["openai"]
        return to, CHAT_MODELS[to]

    def bill(
        self,
        call: Call,
        resource_id: str,
        model: str,
        turn: Turn,
        tokens_out: int | None = None,
        partial: bool = False,
    ) -> None:
        out = turn.tokens_out if tokens_out is None else tokens_out
        price = resolve(model, CHAT_MODELS) or CHAT_MODELS["gpt-4o"]
        self.world.record(
            FAKE,
            "llm.completion",
            account_id=call.account_id,
            credential=call.credential,
            request_id=call.request_id,
            resource_id=resource_id,
            content=turn.text if turn.tool is None else f"{turn.tool}({turn.arguments})",
            tokens_in=turn.tokens_in,
            tokens_out=out,
            cost_usd=price.cost(turn.tokens_in, out),
            detail=f"{model};partial" if partial else model,
        )

    def turn(
        self,
        call: Call,
        price: Price,
        conv: Conversation,
        tools: dict[str, Any],
        forced: str | None,
        max_tokens: int | None,
    ) -> Turn:
        """Run the fake model once, with the semantic faults that change its answer."""
        w = self.world
        tool: str | None = None
        if tools:
            loop = call.fire(w, "openai.tool_call_loop")
            tool = (
                param(loop, "tool")
                if loop is not None
                else pick_tool(list(tools), forced, conv.last_user, conv.after_tool_result)
            )
        bloat = call.fire(w, "openai.token_bloat")
        factor = float(param(bloat, "factor")) if bloat is not None else 1.0
        in_factor = 1.0 if bloat is not None and param(bloat, "output_only") else factor
        tokens_in = count_tokens(conv.prompt) + 3 * conv.turns
        if tool is not None:
            text, args, finish = (
                "",
                dumps(tool_arguments(tool, tools.get(tool), conv.prompt)),
                "tool_calls",
            )
            raw_out = count_tokens(tool) + count_tokens(args) + 7
        else:
            text, cut = (
                truncate_to_tokens(answer_text(conv.prompt), max_tokens)
                if max_tokens
                else (answer_text(conv.prompt), False)
            )
            args, finish = "", "length" if cut else "stop"
            raw_out = count_tokens(text)
        t_in, t_out = math.ceil(tokens_in * in_factor), math.ceil(raw_out * factor)
        if max_tokens and t_out > max_tokens:
            # a bloated answer runs on until the request's cap stops it (OpenAI never bills
            # more output than max_tokens allows): the cap is what bounds a runaway's output
            t_out, finish = max_tokens, "length" if finish == "stop" else finish
        return Turn(text, tool, args, finish, t_in, t_out, price.cost(t_in, t_out), factor)

    def new_id(self, call: Call, prefix: str, n: int = 24) -> str:
        return f"{prefix}{digest(prefix, call.request_id).hex()[:n]}"

    # chat -----------------------------------------------------------------------------------


def create(world: World, *, limits: Limits | None = None) -> FakeService:
    """Build the OpenAI fake on ``world``."""
    return OpenAIFake(world, limits or Limits()).service


def _route_error(status: int, message: str, request: Request) -> Response:
    """OpenAI's answer to a path it does not serve: ``Invalid URL (METHOD /path)``."""
    if status in (404, 405):
        path = request.url.path
        return wire.error(status, f"Invalid URL ({request.method} {path})")
    return wire.error(status, message)
