"""The Anthropic fake: the Messages API (with SSE) and models — the failover LLM provider.

Served at ``<base>/anthropic`` so that ``Anthropic(base_url=<served>/anthropic)`` works (routes at
``/v1/…``; in process the host ``api.anthropic.com`` reaches them). Checked against the source
of the official ``anthropic`` SDK (v2):

- Auth: ``x-api-key: <key>`` (or ``Authorization: Bearer``), the key of the roster account
  ``agency-anthropic``; every request also needs ``anthropic-version``.
- Errors: ``{"type": "error", "error": {"type", "message"}, "request_id"}``, with the
  ``request-id`` header (the SDK's ``request_id``). The SDK maps 429 to ``RateLimitError``,
  529 to ``OverloadedError`` (an ``InternalServerError``), other 5xx to ``InternalServerError``.
- Rate limits: ``anthropic-ratelimit-requests|tokens-limit|remaining|reset`` (RFC 3339), from
  continuously refilled buckets per key; an empty bucket is a real 429 with ``retry-after``.
- Streaming: ``event: message_start``, ``content_block_start``, ``ping``,
  ``content_block_delta`` (``text_delta`` / ``input_json_delta``) …, ``content_block_stop``,
  ``message_delta`` (stop reason and output usage), ``message_stop``.
- The answers come from :mod:`fakes.openai.model`, the deterministic fake LLM both providers
  share: the same conversation gets the same text from either provider.

Prices (USD per million tokens in / out; the fake's own table, from 2025 list prices; dated ids
like ``claude-sonnet-4-5-20250929`` are priced as the name they start with): claude-opus-4-5
and later Opus 5/25, claude-opus-4-1 15/75, every Sonnet 3/15, claude-haiku-4-5 1/5,
claude-3-5-haiku 0.80/4. (The SDK warns, as a ``DeprecationWarning``, about deprecated ids such
as claude-sonnet-4-5; the fake serves them without comment, as the API does until end of life.)

Ledger: ``llm.completion`` per message (tokens, ``cost_usd``, ``detail`` = the model; a stream cut
part-way is billed for what was sent with ``detail`` = ``<model>;partial``).

Faults: ``anthropic.rate_limited`` (429 ``rate_limit_error`` with ``retry-after``),
``anthropic.overloaded`` (529 ``overloaded_error``), ``anthropic.key_revoked`` (401
``authentication_error``, "invalid x-api-key": a key revoked or rotated away), ``anthropic.stream_cut`` (an ``event:
error`` with ``overloaded_error``, as the real API sends mid-stream, or the connection drops,
after ``after_chunks`` events), ``anthropic.token_bloat`` (usage and cost multiplied),
``anthropic.tool_call_loop`` (every turn with ``tools`` is a ``tool_use`` block for
``params.tool``, ``stop_reason: tool_use``), and ``http.outage`` with Anthropic's 5xx body.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..core.faults import ALIAS_MOVED_TO, AnthropicAliasParams, LlmRateParams
from ..core.http import Call, ConnectionDropped, FakeService, json_response
from ..core.jsonbody import loads_body
from ..core.world import World
from ..openai.limits import Limits, OrgLimits
from ..openai.model import (
    answer_text,
    count_tokens,
    digest,
    dumps,
    pick_tool,
    sse,
    stream_pieces,
    tool_arguments,
    truncate_to_tokens,
)
from ..openai.prices import resolve
from .wire import (
    ERROR_MESSAGES,
    ERROR_TYPES,
    FAKE,
    MODELS,
    Turn,
    api_key,
    conversation,
    error,
    model_obj,
    param,
    rfc3339,
    seconds_header,
)

__all__ = ["AnthropicFake", "create"]


class AnthropicFake:
    """State and handlers of one Anthropic fake (per World)."""

    def __init__(self, world: World, limits: Limits) -> None:
        self.world = world
        self.limits = limits
        self.orgs: dict[str, OrgLimits] = {}
        world.on_reset(self.orgs.clear)
        svc = FakeService(
            world,
            FAKE,
            credential_of=api_key,
            outage_body=self._outage,
            request_id_header="request-id",
            error_body=_route_error,
        )
        svc.route("/v1/messages", "messages.create", ["POST"])(self.messages)
        svc.route("/v1/messages/count_tokens", "messages.count_tokens", ["POST"])(self.count_tokens)
        svc.route("/v1/models", "models.list", ["GET"])(self.models)
        svc.route("/v1/models/{model}", "models.retrieve", ["GET"])(self.model)
        self.service = svc

    # plumbing -------------------------------------------------------------------------------
    @staticmethod
    def _outage(call: Call, status: int) -> Response:
        return error(
            call,
            status,
            ERROR_TYPES.get(status, "api_error"),
            ERROR_MESSAGES.get(status, "Internal server error"),
        )

    def _auth(self, call: Call) -> Response | None:
        if call.credential is None:
            return error(call, 401, "authentication_error", "x-api-key header is required")
        account, problem = self.world.tokens.check(call.credential)
        platform = self.world.roster.account(account).platform if account else None
        if (
            problem is not None
            or platform != FAKE
            or call.fire(self.world, ("anthropic.key_revoked",)) is not None
        ):
            return error(call, 401, "authentication_error", "invalid x-api-key")
        if not call.request.headers.get("anthropic-version"):
            return error(
                call, 400, "invalid_request_error", "anthropic-version: header is required"
            )
        return None

    async def _body(self, call: Call) -> dict[str, Any] | Response:
        raw = await call.request.body()
        try:
            data = loads_body(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return error(
                call,
                400,
                "invalid_request_error",
                f"There was an issue with your request body: invalid JSON ({e})",
            )
        if not isinstance(data, dict):
            return error(
                call,
                400,
                "invalid_request_error",
                "There was an issue with your request body: expected an object",
            )
        return data

    def _org(self, call: Call) -> OrgLimits:
        key = call.account_id or "?"
        org = self.orgs.get(key)
        if org is None:
            org = self.orgs[key] = OrgLimits.of(self.limits)
        return org

    def _rate_headers(self, org: OrgLimits) -> dict[str, str]:
        now = self.world.now()
        return {
            "anthropic-ratelimit-requests-limit": str(self.limits.requests_per_window),
            "anthropic-ratelimit-requests-remaining": str(org.requests.remaining(now)),
            "anthropic-ratelimit-requests-reset": rfc3339(now + org.requests.reset_in(now)),
            "anthropic-ratelimit-tokens-limit": str(self.limits.tokens_per_window),
            "anthropic-ratelimit-tokens-remaining": str(org.tokens.remaining(now)),
            "anthropic-ratelimit-tokens-reset": rfc3339(now + org.tokens.reset_in(now)),
        }

    def _rate_limited(self, call: Call, what: str, limit: int, wait_s: float) -> Response:
        org_id = (
            self.world.roster.account(call.account_id).platform_user_id
            if call.account_id
            else "unknown"
        )
        msg = (
            f"This request would exceed the rate limit for your organization ({org_id}) of {limit:,} {what} per minute. "
            "For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for "
            "current usage. Please reduce the prompt length or the maximum tokens requested, or try again later."
        )
        return error(
            call, 429, "rate_limit_error", msg, {"retry-after": seconds_header(round(wait_s, 3))}
        )

    def _gate(self, call: Call, est_tokens: int) -> Response | None:
        """Faults and rate limits that refuse a call before the model runs."""
        w = self.world
        org = self._org(call)
        call.extra_headers.update(self._rate_headers(org))
        f = call.fire(
            w, ("anthropic.context_too_long", "anthropic.overloaded", "anthropic.rate_limited")
        )
        if f is not None:
            if f.kind == "anthropic.context_too_long":
                window = int(param(f, "window"))
                msg = f"prompt is too long: {window + est_tokens} tokens > {window} maximum"
                return error(call, 400, "invalid_request_error", msg)
            if f.kind == "anthropic.overloaded":
                return error(call, 529, "overloaded_error", "Overloaded")
            p = f.params_as(LlmRateParams)
            call.extra_headers["anthropic-ratelimit-requests-remaining"] = "0"
            call.extra_headers["anthropic-ratelimit-requests-reset"] = rfc3339(
                w.now() + p.retry_after_s
            )
            return self._rate_limited(
                call, "requests", self.limits.requests_per_window, p.retry_after_s
            )
        now = w.now()
        if not org.requests.can_take(now, 1):
            return self._rate_limited(
                call, "requests", self.limits.requests_per_window, org.requests.wait_for(now, 1)
            )
        if not org.tokens.can_take(now, est_tokens):
            return self._rate_limited(
                call,
                "input tokens",
                self.limits.tokens_per_window,
                org.tokens.wait_for(now, est_tokens),
            )
        org.requests.take(now, 1)
        org.tokens.take(now, est_tokens)
        call.extra_headers.update(self._rate_headers(org))
        return None

    def _bill(
        self,
        call: Call,
        msg_id: str,
        model: str,
        turn: Turn,
        tokens_out: int | None = None,
        partial: bool = False,
    ) -> None:
        out = turn.tokens_out if tokens_out is None else tokens_out
        entry = resolve(model, MODELS)
        price = entry[1] if entry else MODELS["claude-sonnet-4-6"][1]
        self.world.record(
            FAKE,
            "llm.completion",
            account_id=call.account_id,
            credential=call.credential,
            request_id=call.request_id,
            resource_id=msg_id,
            content=turn.text if turn.tool is None else f"{turn.tool}({dumps(turn.tool_input)})",
            tokens_in=turn.tokens_in,
            tokens_out=out,
            cost_usd=price.cost(turn.tokens_in, out),
            detail=f"{model};partial" if partial else model,
        )

    def _id(self, call: Call, prefix: str) -> str:
        return f"{prefix}01{digest(prefix, call.request_id).hex()[:22]}"

    # messages -------------------------------------------------------------------------------
    async def messages(self, call: Call) -> Response:
        """``POST /v1/messages``."""
        if (refused := self._auth(call)) is not None:
            return refused
        body = await self._body(call)
        if isinstance(body, Response):
            return body
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                return error(call, 400, "invalid_request_error", f"{key}: Field required")
        model, max_tokens, messages = body["model"], body["max_tokens"], body["messages"]
        if not isinstance(max_tokens, int) or max_tokens < 1:
            return error(
                call,
                400,
                "invalid_request_error",
                f"max_tokens: Input should be a valid positive integer (got {max_tokens!r})",
            )
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) for m in messages)
        ):
            return error(
                call, 400, "invalid_request_error", "messages: at least one message is required"
            )
        if not isinstance(model, str) or resolve(model, MODELS) is None:
            return error(call, 404, "not_found_error", f"model: {model}")
        prompt, last_user, after_tool = conversation(messages, body.get("system"))
        if (refused := self._gate(call, count_tokens(prompt))) is not None:
            return refused
        moved = call.fire(self.world, "anthropic.alias_moved")
        if moved is not None:
            # the alias now resolves to another model: the answer names it, the bill prices it
            model = moved.params_as(AnthropicAliasParams).to or ALIAS_MOVED_TO["anthropic"]
        turn = self._turn(call, prompt, last_user, after_tool, len(messages), body, max_tokens)
        msg_id = self._id(call, "msg_")
        usage = {
            "input_tokens": turn.tokens_in,
            "output_tokens": turn.tokens_out,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        }
        if body.get("stream"):
            cut = call.fire(self.world, "anthropic.stream_cut")
            return StreamingResponse(
                self._stream(call, msg_id, model, turn, usage, cut.params if cut else None),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        self._org(call).tokens.take(self.world.now(), turn.tokens_out)
        self._bill(call, msg_id, model, turn)
        return json_response(
            {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [self._block(call, turn)],
                "stop_reason": turn.stop_reason,
                "stop_sequence": None,
                "usage": usage,
            }
        )

    def _block(self, call: Call, turn: Turn) -> dict[str, Any]:
        if turn.tool is not None:
            return {
                "type": "tool_use",
                "id": self._id(call, "toolu_"),
                "name": turn.tool,
                "input": turn.tool_input,
            }
        return {"type": "text", "text": turn.text}

    def _turn(
        self,
        call: Call,
        prompt: str,
        last_user: str,
        after_tool: bool,
        n_messages: int,
        body: dict[str, Any],
        max_tokens: int,
    ) -> Turn:
        """Run the fake model once, with the semantic faults that change its answer."""
        w = self.world
        tools = {
            t["name"]: t.get("input_schema")
            for t in body.get("tools") or []
            if isinstance(t, dict) and isinstance(t.get("name"), str)
        }
        raw_choice = body.get("tool_choice")
        choice: dict[str, Any] = raw_choice if isinstance(raw_choice, dict) else {}
        kind = choice.get("type", "auto")
        forced = "*" if kind == "any" else choice.get("name") if kind == "tool" else None
        if kind == "none":
            tools = {}
        tool: str | None = None
        if tools:
            loop = call.fire(w, "anthropic.tool_call_loop")
            tool = (
                param(loop, "tool")
                if loop is not None
                else pick_tool(list(tools), forced, last_user, after_tool)
            )
        bloat = call.fire(w, "anthropic.token_bloat")
        factor = float(param(bloat, "factor")) if bloat is not None else 1.0
        in_factor = 1.0 if bloat is not None and param(bloat, "output_only") else factor
        tokens_in = count_tokens(prompt) + 3 * n_messages
        if tool is not None:
            args = tool_arguments(tool, tools.get(tool), prompt)
            text, stop, raw_out = "", "tool_use", count_tokens(tool) + count_tokens(dumps(args)) + 7
        else:
            args = {}
            text, cut = truncate_to_tokens(answer_text(prompt), max_tokens)
            stop, raw_out = ("max_tokens" if cut else "end_turn"), count_tokens(text)
        t_out = math.ceil(raw_out * factor)
        if t_out > max_tokens:
            # a bloated answer runs on until the request's max_tokens stops it
            t_out, stop = max_tokens, "max_tokens" if stop == "end_turn" else stop
        return Turn(text, tool, args, stop, math.ceil(tokens_in * in_factor), t_out, factor)

    async def _stream(
        self, call: Call, msg_id: str, model: str, turn: Turn, usage: dict[str, Any], cut: Any
    ) -> AsyncIterator[bytes]:
        start_usage = {**usage, "output_tokens": 1}
        message: dict[str, Any] = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": start_usage,
        }
        block = self._block(call, turn)
        empty = {**block, "input": {}} if turn.tool is not None else {"type": "text", "text": ""}
        events: list[tuple[str, dict[str, Any], str]] = [
            ("message_start", {"type": "message_start", "message": message}, ""),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": empty},
                "",
            ),
            ("ping", {"type": "ping"}, ""),
        ]
        if turn.tool is not None:
            args = dumps(turn.tool_input)
            for i in range(0, len(args), 16):
                piece = args[i : i + 16]
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                        piece,
                    )
                )
        else:
            for piece in stream_pieces(turn.text):
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                        piece,
                    )
                )
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}, ""),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": turn.stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": turn.tokens_out},
                },
                "",
            ),
            ("message_stop", {"type": "message_stop"}, ""),
        ]
        stop_at = len(events) if cut is None else min(cut.after_chunks, len(events) - 1)
        sent = ""
        for name, data, text in events[:stop_at]:
            yield sse(dumps(data), name)
            sent += text
        if cut is None:
            self._org(call).tokens.take(self.world.now(), turn.tokens_out)
            self._bill(call, msg_id, model, turn)
            return
        self._bill(
            call,
            msg_id,
            model,
            turn,
            tokens_out=math.ceil(count_tokens(sent) * turn.factor),
            partial=True,
        )
        if cut.mode == "error_event":
            yield sse(
                dumps(
                    {
                        "type": "error",
                        "error": {"type": "overloaded_error", "message": "Overloaded"},
                        "request_id": call.request_id,
                    }
                ),
                "error",
            )
            return
        raise ConnectionDropped(
            "vibedrill fault anthropic.stream_cut: connection dropped mid-stream"
        )

    async def count_tokens(self, call: Call) -> Response:
        """``POST /v1/messages/count_tokens``."""
        if (refused := self._auth(call)) is not None:
            return refused
        body = await self._body(call)
        if isinstance(body, Response):
            return body
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return error(call, 400, "invalid_request_error", "messages: Field required")
        prompt, _, _ = conversation(messages, body.get("system"))
        return json_response({"input_tokens": count_tokens(prompt) + 3 * len(messages)})

    # models ---------------------------------------------------------------------------------
    async def models(self, call: Call) -> Response:
        """``GET /v1/models``."""
        if (refused := self._auth(call)) is not None:
            return refused
        data = [model_obj(m) for m in MODELS]
        return json_response(
            {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        )

    async def model(self, call: Call) -> Response:
        """``GET /v1/models/{model}``."""
        if (refused := self._auth(call)) is not None:
            return refused
        name = call.request.path_params["model"]
        if name not in MODELS:
            return error(call, 404, "not_found_error", f"model: {name}")
        return json_response(model_obj(name))


def create(world: World, *, limits: Limits | None = None) -> FakeService:
    """Build the Anthropic fake on ``world``."""
    return AnthropicFake(
        world, limits or Limits(requests_per_window=4_000, tokens_per_window=400_000)
    ).service


_ERROR_TYPES = {404: "not_found_error", 413: "request_too_large"}


def _route_error(status: int, message: str, request: Request) -> Response:
    """Anthropic's error body for a path or method it does not serve, or a body it refuses."""
    body = {
        "type": "error",
        "error": {"type": _ERROR_TYPES.get(status, "invalid_request_error"), "message": message},
    }
    return json_response(body, status)
