"""The fake language model shared by the ``openai`` and ``anthropic`` fakes: deterministic text.

There is no model here, only a pure function of the conversation: the answer's words are drawn
from a fixed vocabulary by a SHA-256 digest of the prompt, so the same prompt always gets the
same answer (in every run, on every seed) and no draw is taken from the world's RNG — a chat call
never shifts the fault engine's random stream.

Tool use, without a fault installed, is as predictable as the text: the model calls a tool only
when the caller forces it (``tool_choice`` required/any or a named tool) or when the last user
turn names an offered tool (``kb_search`` or ``kb search``); after a tool result it always
answers in text, so an agent loop ends. The ``<provider>.tool_call_loop`` fault overrides that.

Token counts are the usual rule of thumb, about four characters a token.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Price",
    "answer_text",
    "count_tokens",
    "digest",
    "embedding",
    "go_duration",
    "pick_tool",
    "sse",
    "stream_pieces",
    "tiny_png",
    "tool_arguments",
    "truncate_to_tokens",
]

_WORDS = (
    "launch",
    "weekend",
    "community",
    "fresh",
    "local",
    "story",
    "offer",
    "thanks",
    "morning",
    "behind",
    "scenes",
    "new",
    "season",
    "favourite",
    "team",
    "customers",
    "today",
    "join",
    "us",
    "for",
    "a",
    "quick",
    "look",
    "at",
    "our",
    "best",
    "ideas",
    "this",
    "week",
    "and",
    "with",
    "love",
    "from",
    "the",
    "studio",
    "share",
    "your",
    "moments",
    "coffee",
    "bright",
    "simple",
    "handmade",
    "update",
    "event",
    "limited",
    "time",
    "free",
    "tips",
    "guide",
    "how",
    "we",
    "make",
    "it",
    "every",
    "day",
    "together",
    "small",
    "big",
    "wins",
    "stay",
    "tuned",
    "more",
)


def digest(*parts: str) -> bytes:
    """SHA-256 of the parts, separated so that ('ab', 'c') and ('a', 'bc') differ."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\x00")
    return h.digest()


def answer_text(prompt: str) -> str:
    """The model's answer to ``prompt``: 12–40 vocabulary words in sentences, from its digest."""
    d = digest("answer", prompt)
    stream = d + digest("answer-more", prompt)
    n = 12 + d[0] % 29
    words = [_WORDS[stream[i + 1] % len(_WORDS)] for i in range(n)]
    sentences: list[str] = []
    i = 0
    while i < len(words):
        size = 6 + stream[(i * 7) % len(stream)] % 7
        chunk = words[i : i + size]
        sentences.append(
            chunk[0].capitalize() + (" " + " ".join(chunk[1:]) if len(chunk) > 1 else "") + "."
        )
        i += size
    return " ".join(sentences)


def count_tokens(text: str) -> int:
    """About four characters a token; at least one for non-empty text."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def truncate_to_tokens(text: str, max_tokens: int) -> tuple[str, bool]:
    """Cut ``text`` to about ``max_tokens`` tokens; return (text, whether it was cut)."""
    if count_tokens(text) <= max_tokens:
        return text, False
    return text[: max(0, max_tokens * 4)].rstrip(), True


def stream_pieces(text: str) -> list[str]:
    """Split text into the word-sized deltas a streamed answer is made of (joined, they are ``text``)."""
    pieces: list[str] = []
    start = 0
    for i, ch in enumerate(text):
        if ch == " " and i > start:
            pieces.append(text[start:i])
            start = i
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def pick_tool(
    offered: Sequence[str],
    forced: str | None,
    last_user_text: str,
    after_tool_result: bool,
) -> str | None:
    """Which tool the model calls, or None to answer in text (see the module docstring).

    ``forced`` is None when the model may choose, ``"*"`` when it must call some tool, or the
    name of the tool it must call.
    """
    if not offered or after_tool_result:
        return None
    if forced is not None:
        return offered[0] if forced == "*" else forced
    low = last_user_text.lower()
    for name in offered:
        if name.lower() in low or name.lower().replace("_", " ") in low:
            return name
    return None


def tool_arguments(name: str, schema: Any, prompt: str) -> dict[str, Any]:
    """Arguments for a call to tool ``name`` that satisfy its JSON schema's required properties."""
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    required = schema.get("required", list(props)) if isinstance(schema, dict) else []
    if not isinstance(props, dict) or not props:
        return {"query": _phrase(name, prompt)}
    out: dict[str, Any] = {}
    for key in required or list(props)[:1]:
        spec = props.get(key, {}) if isinstance(props.get(key), dict) else {}
        typ = spec.get("type", "string")
        if spec.get("enum"):
            out[key] = spec["enum"][digest(name, key, prompt)[0] % len(spec["enum"])]
        elif typ == "integer":
            out[key] = 1 + digest(name, key, prompt)[0] % 10
        elif typ == "number":
            out[key] = float(1 + digest(name, key, prompt)[0] % 10)
        elif typ == "boolean":
            out[key] = bool(digest(name, key, prompt)[0] % 2)
        elif typ == "array":
            out[key] = [_phrase(key, prompt)]
        elif typ == "object":
            out[key] = {}
        else:
            out[key] = _phrase(f"{name}.{key}", prompt)
    return out


def _phrase(salt: str, prompt: str) -> str:
    d = digest("phrase", salt, prompt)
    return " ".join(_WORDS[b % len(_WORDS)] for b in d[:3])


def embedding(text: str, dims: int) -> list[float]:
    """A unit vector of ``dims`` floats that depends only on ``text`` (equal texts, equal vectors)."""
    rng = random.Random(digest("embedding", text))
    v = [rng.uniform(-1.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [round(x / norm, 6) for x in v]


def go_duration(seconds: float) -> str:
    """Format a duration the way OpenAI's ``x-ratelimit-reset-*`` headers do: ``1s``, ``6m0s``, ``120ms``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    whole_min, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(whole_min), 60)
    s = f"{secs:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{s}s"
    if minutes:
        return f"{minutes}m{s}s"
    return f"{s}s"


def sse(data: str, event: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def dumps(data: Any) -> str:
    """Compact JSON, as the real APIs send."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def tiny_png(seed: str) -> bytes:
    """A valid 1×1 RGB PNG whose colour depends on ``seed``."""
    r, g, b = digest("png", seed)[:3]

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes([0, r, g, b]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Price:
    """USD per million tokens, in and out."""

    input_per_m: float
    output_per_m: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        """The cost of one call, rounded to a millionth of a dollar."""
        return round((tokens_in * self.input_per_m + tokens_out * self.output_per_m) / 1_000_000, 6)


def text_of(
    content: Any, text_types: tuple[str, ...] = ("text", "input_text", "output_text")
) -> str:
    """The text of a message ``content``: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict):
                if part.get("type") in text_types and isinstance(part.get("text"), str):
                    out.append(part["text"])
                elif part.get("type") == "tool_result":
                    out.append(text_of(part.get("content")))
        return "\n".join(out)
    return ""
