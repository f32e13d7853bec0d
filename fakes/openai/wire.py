"""The OpenAI fake's wire vocabulary: error bodies, fixed messages, and what a turn produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ..core.faults import Fired
from ..core.http import Call, json_response

__all__ = [
    "BAD_JSON",
    "FAKE",
    "FINGERPRINT",
    "NO_KEY",
    "QUOTA",
    "SERVER_ERROR",
    "Conversation",
    "Turn",
    "error",
    "mask",
    "mount_base",
    "param",
    "seconds_header",
]

FAKE = "openai"
FINGERPRINT = "fp_vibedrill"

NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
    "username) if you're accessing the API from your browser and are prompted for a username and "
    "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
)
BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
    "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
    "help center at help.openai.com.)"
)
QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


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


def mask(key: str) -> str:
    return f"{key[:3]}{'*' * max(4, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "*" * len(key)


def seconds_header(s: float) -> str:
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


def param(fired: Fired, name: str) -> Any:
    """A parameter of a fired rule (validated against the kind's params model when installed)."""
    return getattr(fired.params, name)


def mount_base(call: Call) -> str:
    """The URL this fake is mounted at (``…/openai`` when served, the bare host in process)."""
    url = call.request.url
    return f"{url.scheme}://{url.netloc}{call.request.scope.get('root_path', '')}".rstrip("/")
