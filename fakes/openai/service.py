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

Ledger: ``llm.completion`` for every chat completion and response (tokens, ``cost_usd``,
``detail`` = the model; a stream cut mid-way is billed for what was sent, ``detail`` =
``<model>;partial``) and one ``image.generated`` per image. Embeddings are not side effects the
drill judges and are not recorded.

Faults: ``openai.rate_limited`` (429 ``rate_limit_exceeded`` with ``retry-after`` and
``retry-after-ms``), ``openai.quota_exhausted`` (429 ``insufficient_quota`` with
``x-should-retry: false``, so the SDK does not retry), ``openai.stream_cut`` (an SSE error
object, or the connection drops, after ``after_chunks`` chunks), ``openai.token_bloat`` (usage
and cost multiplied), ``openai.tool_call_loop`` (every turn with ``tools`` is a call to
``params.tool``), and ``http.outage`` with OpenAI's 5xx body.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response, StreamingResponse

from ..core.faults import Fired
from ..core.http import Call, ConnectionDropped, FakeService, json_response
from ..core.world import World
from .limits import Limits, OrgLimits
from .model import (
    Price,
    answer_text,
    count_tokens,
    digest,
    dumps,
    embedding,
    go_duration,
    pick_tool,
    sse,
    stream_pieces,
    text_of,
    tiny_png,
    tool_arguments,
    truncate_to_tokens,
)
from .prices import CHAT_MODELS, EMBEDDING_MODELS, IMAGE_MODELS, resolve

__all__ = ["OpenAIFake", "create"]

FAKE = "openai"
FINGERPRINT = "fp_vibedrill"
_CREATED = 1_715_367_049  # the models' "created" stamp: fixed, as models do not change

_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
    "username) if you're accessing the API from your browser and are prompted for a username and "
    "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
)
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
    "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
    "help center at help.openai.com.)"
)
_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)
_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


def error(
    status: int,
    message: str,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """OpenAI's error body with ``status``."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return json_response(body, status, headers)


def _mask(key: str) -> str:
    return f"{key[:3]}{'*' * max(4, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "*" * len(key)


def _seconds_header(s: float) -> str:
    return str(int(s)) if float(s).is_integer() else f"{s:g}"


@dataclass(frozen=True)
class Turn:
    """What the model answered: text or one tool call, with (possibly bloated) usage and cost."""

    text: str
    tool: str | None
    arguments: str
    finish: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    #: usage before bloat, to bill a stream cut part-way by what was actually sent
    factor: float


@dataclass(frozen=True)
class Conversation:
    """The parts of a request the fake model looks at."""

    prompt: str
    last_user: str
    after_tool_result: bool
    turns: int


class OpenAIFake:
    """State and handlers of one OpenAI fake (per World)."""

    def __init__(self, world: World, limits: Limits) -> None:
        self.world = world
        self.limits = limits
        self.orgs: dict[str, OrgLimits] = {}
        #: image id → the seed its PNG is drawn from (so a url can be fetched later)
        self.images: dict[str, str] = {}
        world.on_reset(self.reset)
        svc = FakeService(world, FAKE, outage_body=self._outage, request_id_header="x-request-id")
        svc.route("/v1/chat/completions", "chat.completions", ["POST"])(self.chat)
        svc.route("/v1/responses", "responses.create", ["POST"])(self.responses)
        svc.route("/v1/images/generations", "images.generations", ["POST"])(self.images_generate)
        svc.route("/v1/images/content/{image_id}", "images.content", ["GET"])(self.image_content)
        svc.route("/v1/embeddings", "embeddings.create", ["POST"])(self.embeddings)
        svc.route("/v1/models", "models.list", ["GET"])(self.models)
        svc.route("/v1/models/{model}", "models.retrieve", ["GET"])(self.model)
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
        return error(status, messages.get(status, _SERVER_ERROR), "server_error")

    def _auth(self, call: Call) -> Response | None:
        if call.credential is None:
            return error(401, _NO_KEY)
        account, problem = self.world.tokens.check(call.credential)
        platform = self.world.roster.account(account).platform if account else None
        if problem is not None or platform != FAKE:
            return error(
                401,
                f"Incorrect API key provided: {_mask(call.credential)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        call.extra_headers.update({"openai-version": "2020-10-01", "openai-processing-ms": "42"})
        return None

    async def _body(self, call: Call) -> dict[str, Any] | Response:
        raw = await call.request.body()
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, _BAD_JSON)
        return data if isinstance(data, dict) else error(400, _BAD_JSON)

    def _org(self, call: Call) -> OrgLimits:
        key = call.account_id or "?"
        org = self.orgs.get(key)
        if org is None:
            org = self.orgs[key] = OrgLimits.of(self.limits)
        return org

    def _org_id(self, call: Call) -> str:
        return (
            self.world.roster.account(call.account_id).platform_user_id
            if call.account_id
            else "org-unknown"
        )

    def _rate_headers(self, org: OrgLimits) -> dict[str, str]:
        now = self.world.now()
        return {
            "x-ratelimit-limit-requests": str(self.limits.requests_per_window),
            "x-ratelimit-limit-tokens": str(self.limits.tokens_per_window),
            "x-ratelimit-remaining-requests": str(org.requests.remaining(now)),
            "x-ratelimit-remaining-tokens": str(org.tokens.remaining(now)),
            "x-ratelimit-reset-requests": go_duration(org.requests.reset_in(now)),
            "x-ratelimit-reset-tokens": go_duration(org.tokens.reset_in(now)),
        }

    def _rate_limited(
        self, call: Call, model: str, kind: str, limit: int, wait_s: float
    ) -> Response:
        unit = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
        wait = go_duration(wait_s)
        msg = (
            f"Rate limit reached for {model} in organization {self._org_id(call)} on {unit}: "
            f"Limit {limit}, Used {limit}, Requested 1. Please try again in {wait}. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."
        )
        headers = {
            "retry-after": _seconds_header(round(wait_s, 3)),
            "retry-after-ms": str(max(0, round(wait_s * 1000))),
        }
        return error(429, msg, kind, "rate_limit_exceeded", headers=headers)

    def _gate(self, call: Call, model: str, est_tokens: int) -> Response | None:
        """Faults and rate limits that refuse a call before the model runs."""
        w = self.world
        org = self._org(call)
        call.extra_headers.update(self._rate_headers(org))
        f = call.fire(w, ("openai.quota_exhausted", "openai.rate_limited"))
        if f is not None:
            if f.kind == "openai.quota_exhausted":
                return error(
                    429,
                    _QUOTA,
                    "insufficient_quota",
                    "insufficient_quota",
                    headers={"x-should-retry": "false"},
                )
            p: Any = f.params
            call.extra_headers["x-ratelimit-remaining-requests"] = "0"
            call.extra_headers["x-ratelimit-reset-requests"] = go_duration(p.retry_after_s)
            return self._rate_limited(
                call, model, "requests", self.limits.requests_per_window, p.retry_after_s
            )
        now = w.now()
        if not org.requests.can_take(now, 1):
            return self._rate_limited(
                call,
                model,
                "requests",
                self.limits.requests_per_window,
                org.requests.wait_for(now, 1),
            )
        if not org.tokens.can_take(now, est_tokens):
            return self._rate_limited(
                call,
                model,
                "tokens",
                self.limits.tokens_per_window,
                org.tokens.wait_for(now, est_tokens),
            )
        org.requests.take(now, 1)
        org.tokens.take(now, est_tokens)
        call.extra_headers.update(self._rate_headers(org))
        return None

    def _spend_tokens(self, call: Call, n: int) -> None:
        org = self._org(call)
        org.tokens.take(self.world.now(), n)
        call.extra_headers.update(self._rate_headers(org))

    def _bill(
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

    def _turn(
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
                _param(loop, "tool")
                if loop is not None
                else pick_tool(list(tools), forced, conv.last_user, conv.after_tool_result)
            )
        bloat = call.fire(w, "openai.token_bloat")
        factor = float(_param(bloat, "factor")) if bloat is not None else 1.0
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
        t_in, t_out = math.ceil(tokens_in * factor), math.ceil(raw_out * factor)
        return Turn(text, tool, args, finish, t_in, t_out, price.cost(t_in, t_out), factor)

    def _id(self, call: Call, prefix: str, n: int = 24) -> str:
        return f"{prefix}{digest(prefix, call.request_id).hex()[:n]}"

    # chat -----------------------------------------------------------------------------------
    async def chat(self, call: Call) -> Response:
        """``POST /v1/chat/completions``."""
        if (refused := self._auth(call)) is not None:
            return refused
        body = await self._body(call)
        if isinstance(body, Response):
            return body
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return error(400, "you must provide a model parameter")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) for m in messages)
        ):
            return error(
                400,
                "Missing required parameter: 'messages'.",
                code="missing_required_parameter",
                param="messages",
            )
        price = resolve(model, CHAT_MODELS)
        if price is None:
            return error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        conv = _chat_conversation(messages)
        if (refused := self._gate(call, model, count_tokens(conv.prompt))) is not None:
            return refused
        tools, forced = _chat_tools(body)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        turn = self._turn(
            call, price, conv, tools, forced, max_tokens if isinstance(max_tokens, int) else None
        )
        cid = self._id(call, "chatcmpl-", 29)
        created = int(self.world.now())
        usage = _chat_usage(turn.tokens_in, turn.tokens_out)
        if body.get("stream"):
            opts = body.get("stream_options") or {}
            include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
            cut = call.fire(self.world, "openai.stream_cut")
            return StreamingResponse(
                self._chat_stream(
                    call,
                    cid,
                    created,
                    model,
                    turn,
                    usage,
                    include_usage,
                    cut.params if cut else None,
                ),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        self._spend_tokens(call, turn.tokens_out)
        self._bill(call, cid, model, turn)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": turn.text if turn.tool is None else None,
            "refusal": None,
            "annotations": [],
        }
        if turn.tool is not None:
            message["tool_calls"] = [
                {
                    "id": self._id(call, "call_"),
                    "type": "function",
                    "function": {"name": turn.tool, "arguments": turn.arguments},
                }
            ]
        return json_response(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": turn.finish}
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": FINGERPRINT,
            }
        )

    async def _chat_stream(
        self,
        call: Call,
        cid: str,
        created: int,
        model: str,
        turn: Turn,
        usage: dict[str, Any],
        include_usage: bool,
        cut: Any,
    ) -> AsyncIterator[bytes]:
        base: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
        if include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse(
                dumps(
                    {
                        **base,
                        "choices": [
                            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                        ],
                    }
                )
            )

        events: list[tuple[bytes, str]] = [
            (chunk({"role": "assistant", "content": "", "refusal": None}), "")
        ]
        if turn.tool is not None:
            head = {
                "index": 0,
                "id": self._id(call, "call_"),
                "type": "function",
                "function": {"name": turn.tool, "arguments": ""},
            }
            events.append((chunk({"tool_calls": [head]}), turn.tool))
            for i in range(0, len(turn.arguments), 16):
                piece = turn.arguments[i : i + 16]
                events.append(
                    (chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), piece)
                )
        else:
            events.extend((chunk({"content": piece}), piece) for piece in stream_pieces(turn.text))
        events.append((chunk({}, turn.finish), ""))
        if include_usage:
            events.append((sse(dumps({**base, "choices": [], "usage": usage})), ""))
        stop_at = len(events) if cut is None else min(cut.after_chunks, len(events))
        sent = ""
        for event, text in events[:stop_at]:
            yield event
            sent += text
        if cut is None:
            yield b"data: [DONE]\n\n"
            self._spend_tokens(call, turn.tokens_out)
            self._bill(call, cid, model, turn)
            return
        self._bill(
            call,
            cid,
            model,
            turn,
            tokens_out=math.ceil(count_tokens(sent) * turn.factor),
            partial=True,
        )
        if cut.mode == "error_event":
            yield sse(
                dumps(
                    {
                        "error": {
                            "message": _SERVER_ERROR,
                            "type": "server_error",
                            "param": None,
                            "code": None,
                        }
                    }
                )
            )
            return
        raise ConnectionDropped("vibedrill fault openai.stream_cut: connection dropped mid-stream")

    # responses ------------------------------------------------------------------------------
    async def responses(self, call: Call) -> Response:
        """``POST /v1/responses`` (non-streaming; enough for text and function calls)."""
        if (refused := self._auth(call)) is not None:
            return refused
        body = await self._body(call)
        if isinstance(body, Response):
            return body
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return error(
                400,
                "Missing required parameter: 'model'.",
                code="missing_required_parameter",
                param="model",
            )
        if body.get("stream"):
            return error(
                400,
                "vibedrill's OpenAI fake does not stream the Responses API; use chat completions to test streaming.",
                param="stream",
            )
        price = resolve(model, CHAT_MODELS)
        if price is None:
            return error(
                400,
                f"The requested model '{model}' does not exist.",
                code="model_not_found",
                param="model",
            )
        conv = _responses_conversation(body.get("input"), body.get("instructions"))
        if (refused := self._gate(call, model, count_tokens(conv.prompt))) is not None:
            return refused
        tools = {
            t["name"]: t.get("parameters")
            for t in body.get("tools") or []
            if isinstance(t, dict)
            and t.get("type") == "function"
            and isinstance(t.get("name"), str)
        }
        choice = body.get("tool_choice")
        forced = (
            None
            if choice in (None, "auto")
            else "*"
            if choice == "required"
            else choice.get("name")
            if isinstance(choice, dict)
            else None
        )
        if choice == "none":
            tools = {}
        max_out = body.get("max_output_tokens")
        turn = self._turn(
            call, price, conv, tools, forced, max_out if isinstance(max_out, int) else None
        )
        rid = self._id(call, "resp_", 48)
        self._spend_tokens(call, turn.tokens_out)
        self._bill(call, rid, model, turn)
        if turn.tool is not None:
            output: list[dict[str, Any]] = [
                {
                    "type": "function_call",
                    "id": self._id(call, "fc_", 48),
                    "call_id": self._id(call, "call_"),
                    "name": turn.tool,
                    "arguments": turn.arguments,
                    "status": "completed",
                }
            ]
        else:
            output = [
                {
                    "type": "message",
                    "id": self._id(call, "msg_", 48),
                    "status": "completed",
                    "role": "assistant",
                    "content": [
                        {
                            "type": "output_text",
                            "text": turn.text,
                            "annotations": [],
                            "logprobs": [],
                        }
                    ],
                }
            ]
        incomplete = turn.finish == "length"
        return json_response(
            {
                "id": rid,
                "object": "response",
                "created_at": int(self.world.now()),
                "status": "incomplete" if incomplete else "completed",
                "background": False,
                "error": None,
                "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
                "instructions": body.get("instructions"),
                "max_output_tokens": max_out,
                "metadata": body.get("metadata") or {},
                "model": model,
                "output": output,
                "parallel_tool_calls": True,
                "previous_response_id": body.get("previous_response_id"),
                "reasoning": {"effort": None, "summary": None},
                "service_tier": "default",
                "store": True,
                "temperature": 1.0,
                "text": {"format": {"type": "text"}, "verbosity": "medium"},
                "tool_choice": choice if choice is not None else "auto",
                "tools": body.get("tools") or [],
                "top_p": 1.0,
                "truncation": "disabled",
                "usage": {
                    "input_tokens": turn.tokens_in,
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": turn.tokens_out,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": turn.tokens_in + turn.tokens_out,
                },
                "user": None,
            }
        )

    # images ---------------------------------------------------------------------------------
    async def images_generate(self, call: Call) -> Response:
        """``POST /v1/images/generations``: tiny PNGs, as ``b64_json`` or a fetchable ``url``."""
        if (refused := self._auth(call)) is not None:
            return refused
        body = await self._body(call)
        if isinstance(body, Response):
            return body
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return error(
                400,
                "Missing required parameter: 'prompt'.",
                code="missing_required_parameter",
                param="prompt",
            )
        model = body.get("model") or "dall-e-2"
        per_image = resolve(str(model), IMAGE_MODELS)
        if per_image is None:
            return error(
                400, f"Invalid value for 'model' = {model}.", param="model", code="invalid_value"
            )
        n = body.get("n") or 1
        if not isinstance(n, int) or not 1 <= n <= 10:
            return error(
                400,
                f"Invalid 'n': integer between 1 and 10 expected, got {n!r}.",
                param="n",
                code="invalid_value",
            )
        gpt_image = str(model).startswith("gpt-image")
        fmt = body.get("response_format") or ("b64_json" if gpt_image else "url")
        if fmt not in ("url", "b64_json"):
            return error(
                400,
                f"Invalid value for 'response_format' = {fmt}; expected 'url' or 'b64_json'.",
                param="response_format",
                code="invalid_value",
            )
        if gpt_image and body.get("response_format") == "url":
            return error(
                400,
                "Unknown parameter: 'response_format'.",
                param="response_format",
                code="unknown_parameter",
            )
        if (refused := self._gate(call, str(model), count_tokens(prompt))) is not None:
            return refused
        data = []
        base = _mount_base(call)
        for i in range(n):
            image_id = self._id(call, f"img_{i}_", 20)
            self.images[image_id] = f"{prompt}\x00{i}"
            item: dict[str, Any] = (
                {"b64_json": base64.b64encode(tiny_png(self.images[image_id])).decode()}
                if fmt == "b64_json"
                else {"url": f"{base}/v1/images/content/{image_id}.png"}
            )
            if model == "dall-e-3":
                item["revised_prompt"] = prompt
            data.append(item)
            self.world.record(
                FAKE,
                "image.generated",
                account_id=call.account_id,
                credential=call.credential,
                request_id=call.request_id,
                resource_id=image_id,
                content=prompt,
                cost_usd=per_image,
                detail=str(model),
            )
        out: dict[str, Any] = {"created": int(self.world.now()), "data": data}
        if gpt_image:
            t = count_tokens(prompt)
            out["usage"] = {
                "input_tokens": t,
                "output_tokens": 272 * n,
                "total_tokens": t + 272 * n,
                "input_tokens_details": {"text_tokens": t, "image_tokens": 0},
            }
        return json_response(out)

    async def image_content(self, call: Call) -> Response:
        """``GET /v1/images/content/{id}.png``: the bytes behind an image ``url`` (no auth, like a signed URL)."""
        image_id = call.request.path_params["image_id"].removesuffix(".png")
        seed = self.images.get(image_id)
        if seed is None:
            return Response(
                b"<Error><Code>BlobNotFound</Code></Error>",
                status_code=404,
                media_type="application/xml",
            )
        return Response(tiny_png(seed), media_type="image/png")

    # embeddings and models ------------------------------------------------------------------
    async def embeddings(self, call: Call) -> Response:
        """``POST /v1/embeddings``: unit vectors that depend only on the input text."""
        if (refused := self._auth(call)) is not None:
            return refused
        body = await self._body(call)
        if isinstance(body, Response):
            return body
        model = body.get("model")
        spec = resolve(str(model), EMBEDDING_MODELS) if isinstance(model, str) else None
        if spec is None:
            return error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        raw = body.get("input")
        inputs: list[Any] = (
            raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
        )
        if raw is None or raw == "" or raw == []:
            return error(
                400,
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            )
        dims = body.get("dimensions") or spec[0]
        if not isinstance(dims, int) or not 1 <= dims <= spec[0]:
            return error(
                400,
                f"This model does not support specifying dimensions of {dims!r}.",
                param="dimensions",
            )
        texts = [x if isinstance(x, str) else json.dumps(x) for x in inputs]
        tokens = sum(count_tokens(t) for t in texts)
        if (refused := self._gate(call, model, tokens)) is not None:  # type: ignore[arg-type]
            return refused
        b64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = embedding(text, dims)
            value: Any = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if b64 else vec
            data.append({"object": "embedding", "index": i, "embedding": value})
        return json_response(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def models(self, call: Call) -> Response:
        """``GET /v1/models``."""
        if (refused := self._auth(call)) is not None:
            return refused
        names = [*CHAT_MODELS, *EMBEDDING_MODELS, *IMAGE_MODELS]
        return json_response({"object": "list", "data": [_model_obj(n) for n in names]})

    async def model(self, call: Call) -> Response:
        """``GET /v1/models/{model}``."""
        if (refused := self._auth(call)) is not None:
            return refused
        name = call.request.path_params["model"]
        if name not in (*CHAT_MODELS, *EMBEDDING_MODELS, *IMAGE_MODELS):
            return error(
                404, f"The model '{name}' does not exist", param="model", code="model_not_found"
            )
        return json_response(_model_obj(name))


def _param(fired: Fired, name: str) -> Any:
    """A parameter of a fired rule (validated against the kind's params model when installed)."""
    return getattr(fired.params, name)


def _mount_base(call: Call) -> str:
    """The URL this fake is mounted at (``…/openai`` when served, the bare host in process)."""
    url = call.request.url
    return f"{url.scheme}://{url.netloc}{call.request.scope.get('root_path', '')}".rstrip("/")


def _model_obj(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "system"}


def _chat_usage(tokens_in: int, tokens_out: int) -> dict[str, Any]:
    return {
        "prompt_tokens": tokens_in,
        "completion_tokens": tokens_out,
        "total_tokens": tokens_in + tokens_out,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_conversation(messages: list[dict[str, Any]]) -> Conversation:
    lines, last_user = [], ""
    for m in messages:
        role = str(m.get("role", ""))
        text = text_of(m.get("content"))
        if m.get("tool_calls"):
            text += dumps(m["tool_calls"])
        lines.append(f"{role}: {text}")
        if role == "user":
            last_user = text
    return Conversation(
        "\n".join(lines), last_user, messages[-1].get("role") == "tool", len(messages)
    )


def _chat_tools(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    tools: dict[str, Any] = {}
    for t in body.get("tools") or []:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            tools[fn["name"]] = fn.get("parameters")
    choice = body.get("tool_choice")
    if choice == "none":
        return {}, None
    if choice == "required":
        return tools, "*"
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return tools, choice["function"].get("name")
    return tools, None


def _responses_conversation(raw: Any, instructions: Any) -> Conversation:
    items: list[Any] = (
        [{"role": "user", "content": raw}] if isinstance(raw, str) else list(raw or [])
    )
    lines = [f"system: {instructions}"] if isinstance(instructions, str) else []
    last_user, after_tool = "", False
    for it in items:
        if not isinstance(it, dict):
            continue
        kind = it.get("type", "message")
        if kind == "function_call_output":
            lines.append(f"tool: {it.get('output')}")
            after_tool = True
            continue
        if kind == "function_call":
            lines.append(f"assistant: {it.get('name')}({it.get('arguments')})")
            after_tool = False
            continue
        role = str(it.get("role", "user"))
        text = text_of(it.get("content"))
        lines.append(f"{role}: {text}")
        after_tool = False
        if role == "user":
            last_user = text
    return Conversation("\n".join(lines), last_user, after_tool, max(1, len(items)))


def create(world: World, *, limits: Limits | None = None) -> FakeService:
    """Build the OpenAI fake on ``world``."""
    return OpenAIFake(world, limits or Limits()).service
