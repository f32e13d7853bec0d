"""The Anthropic fake's wire vocabulary: models and prices, error bodies, reading a conversation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..core.faults import Fired
from ..core.http import Call, bearer, json_response
from ..openai.model import Price, dumps, text_of

__all__ = [
    "ERROR_MESSAGES",
    "ERROR_TYPES",
    "FAKE",
    "MODELS",
    "Turn",
    "api_key",
    "conversation",
    "error",
    "model_obj",
    "param",
    "rfc3339",
    "seconds_header",
]

FAKE = "anthropic"

#: model → (display name, price)
MODELS: dict[str, tuple[str, Price]] = {
    "claude-opus-4-8": ("Claude Opus 4.8", Price(5.0, 25.0)),
    "claude-opus-4-7": ("Claude Opus 4.7", Price(5.0, 25.0)),
    "claude-opus-4-6": ("Claude Opus 4.6", Price(5.0, 25.0)),
    "claude-sonnet-4-6": ("Claude Sonnet 4.6", Price(3.0, 15.0)),
    "claude-opus-4-5": ("Claude Opus 4.5", Price(5.0, 25.0)),
    "claude-sonnet-4-5": ("Claude Sonnet 4.5", Price(3.0, 15.0)),
    "claude-haiku-4-5": ("Claude Haiku 4.5", Price(1.0, 5.0)),
    "claude-opus-4-1": ("Claude Opus 4.1", Price(15.0, 75.0)),
    "claude-sonnet-4": ("Claude Sonnet 4", Price(3.0, 15.0)),
    "claude-3-5-haiku": ("Claude Haiku 3.5", Price(0.80, 4.0)),
}
MODEL_CREATED = "2025-05-14T00:00:00Z"
ERROR_TYPES = {
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {500: "Internal server error", 504: "Request timed out", 529: "Overloaded"}


def api_key(request: Request) -> str | None:
    """The caller's key: ``x-api-key``, else a bearer token (the SDK's ``auth_token``)."""
    return request.headers.get("x-api-key") or bearer(request)


def error(
    call: Call, status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """Anthropic's error body with ``status``."""
    body = {
        "type": "error",
        "error": {"type": type_, "message": message},
        "request_id": call.request_id,
    }
    return json_response(body, status, headers)


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_header(s: float) -> str:
    return str(int(s)) if float(s).is_integer() else f"{s:g}"


@dataclass(frozen=True)
class Turn:
    """What the model answered: text or one tool use, with (possibly bloated) usage and cost."""

    text: str
    tool: str | None
    tool_input: dict[str, Any]
    stop_reason: str
    tokens_in: int
    tokens_out: int
    factor: float


def param(fired: Fired, name: str) -> Any:
    """A parameter of a fired rule (validated against the kind's params model when installed)."""
    return getattr(fired.params, name)


def model_obj(name: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": name,
        "display_name": MODELS[name][0],
        "created_at": MODEL_CREATED,
    }


def conversation(messages: list[dict[str, Any]], system: Any) -> tuple[str, str, bool]:
    """(prompt text, last user text, whether the last turn is a tool result)."""
    lines = [f"system: {text_of(system)}"] if system else []
    last_user = ""
    for m in messages:
        role = str(m.get("role", ""))
        content = m.get("content")
        text = text_of(content)
        if isinstance(content, list):
            text += "".join(
                dumps(b.get("input"))
                for b in content
                if isinstance(b, dict) and b.get("type") == "tool_use"
            )
        lines.append(f"{role}: {text}")
        if role == "user":
            last_user = text
    last = messages[-1].get("content")
    after_tool = isinstance(last, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in last
    )
    return "\n".join(lines), last_user, after_tool
