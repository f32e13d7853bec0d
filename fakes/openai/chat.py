"""Chat completions (JSON and SSE) and the Responses API of the OpenAI fake."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

from ..core.http import Call, ConnectionDropped, json_response
from .model import count_tokens, dumps, sse, stream_pieces, text_of
from .prices import CHAT_MODELS, resolve
from .wire import FINGERPRINT, SERVER_ERROR, Conversation, Turn, error

if TYPE_CHECKING:
    from .service import OpenAIFake

__all__ = ["chat", "responses"]


async def chat(fake: OpenAIFake, call: Call) -> Response:
    """``POST /v1/chat/completions``."""
    if (refused := fake.auth(call)) is not None:
        return refused
    body = await fake.body(call)
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
    if (bad := _unanswered_tool_calls(messages)) is not None:
        return bad
    price = resolve(model, CHAT_MODELS)
    if price is None:
        return error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    conv = _chat_conversation(messages)
    if (refused := fake.gate(call, model, count_tokens(conv.prompt))) is not None:
        return refused
    model, price = fake.served(call, model, price)
    tools, forced = _chat_tools(body)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    turn = fake.turn(
        call, price, conv, tools, forced, max_tokens if isinstance(max_tokens, int) else None
    )
    cid = fake.new_id(call, "chatcmpl-", 29)
    created = int(fake.world.now())
    usage = _chat_usage(turn.tokens_in, turn.tokens_out)
    if body.get("stream"):
        opts = body.get("stream_options") or {}
        include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
        cut = call.fire(fake.world, "openai.stream_cut")
        return StreamingResponse(
            chat_stream(
                fake,
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
    fake.spend_tokens(call, turn.tokens_out)
    fake.bill(call, cid, model, turn)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": turn.text if turn.tool is None else None,
        "refusal": None,
        "annotations": [],
    }
    if turn.tool is not None:
        message["tool_calls"] = [
            {
                "id": fake.new_id(call, "call_"),
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


async def chat_stream(
    fake: OpenAIFake,
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
            "id": fake.new_id(call, "call_"),
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
        fake.spend_tokens(call, turn.tokens_out)
        fake.bill(call, cid, model, turn)
        return
    fake.bill(
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
                        "message": SERVER_ERROR,
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
async def responses(fake: OpenAIFake, call: Call) -> Response:
    """``POST /v1/responses`` (non-streaming; enough for text and function calls)."""
    if (refused := fake.auth(call)) is not None:
        return refused
    body = await fake.body(call)
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
    if (refused := fake.gate(call, model, count_tokens(conv.prompt))) is not None:
        return refused
    model, price = fake.served(call, model, price)
    tools = {
        t["name"]: t.get("parameters")
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)
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
    turn = fake.turn(
        call, price, conv, tools, forced, max_out if isinstance(max_out, int) else None
    )
    rid = fake.new_id(call, "resp_", 48)
    fake.spend_tokens(call, turn.tokens_out)
    fake.bill(call, rid, model, turn)
    if turn.tool is not None:
        output: list[dict[str, Any]] = [
            {
                "type": "function_call",
                "id": fake.new_id(call, "fc_", 48),
                "call_id": fake.new_id(call, "call_"),
                "name": turn.tool,
                "arguments": turn.arguments,
                "status": "completed",
            }
        ]
    else:
        output = [
            {
                "type": "message",
                "id": fake.new_id(call, "msg_", 48),
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
            "created_at": int(fake.world.now()),
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


def _unanswered_tool_calls(messages: list[dict[str, Any]]) -> Response | None:
    """OpenAI's 400 for a conversation that breaks the tool-call protocol: an assistant message
    with ``tool_calls`` must be followed by one ``tool`` message per call id (a ``function``
    message, or none, does not answer it), and a ``tool`` message must answer such a call."""
    i = 0
    while i < len(messages):
        m = messages[i]
        calls = m.get("tool_calls") if m.get("role") == "assistant" else None
        if m.get("role") == "tool":
            return error(
                400,
                "Invalid parameter: messages with role 'tool' must be a response to a "
                "preceeding message with 'tool_calls'.",
                param=f"messages.[{i}].role",
            )
        i += 1
        if not calls or not isinstance(calls, list):
            continue
        wanted = [str(c.get("id")) for c in calls if isinstance(c, dict)]
        answered: set[str] = set()
        while i < len(messages) and messages[i].get("role") == "tool":
            answered.add(str(messages[i].get("tool_call_id")))
            i += 1
        missing = [c for c in wanted if c not in answered]
        if missing:
            return error(
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(missing)}",
                param=f"messages.[{i}].role",
            )
    return None


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
