"""Request bodies parsed with limits: size, nesting depth, and no NaN or Infinity.

``json.loads`` recurses once per nesting level, so a 100,000-deep array raised ``RecursionError``
and every fake answered 500; it also accepts ``NaN`` and ``Infinity``, which no real API does,
and which turned into rules that never end. :func:`loads_body` refuses all three *as a
``json.JSONDecodeError``*, so each fake's existing handler answers with its own 400 shape.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_BODY_BYTES", "MAX_DEPTH", "loads_body", "nesting_depth"]

#: the largest request body a fake parses (real APIs refuse far smaller ones)
MAX_BODY_BYTES = 1 << 20
#: the deepest nesting of arrays and objects a fake parses
MAX_DEPTH = 64


def nesting_depth(text: str | bytes, stop_at: int = MAX_DEPTH) -> int:
    """Greatest nesting of ``[``/``{`` outside strings, counted up to ``stop_at + 1`` (iteratively)."""
    data = text.encode() if isinstance(text, str) else text
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_at:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: one decoder for every body (``json.loads`` with a hook builds a new one per call)
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _brackets(raw: str | bytes) -> int:
    """How many ``[`` and ``{`` the text holds: an upper bound of its nesting depth."""
    if isinstance(raw, bytes):
        return raw.count(b"[") + raw.count(b"{")
    return raw.count("[") + raw.count("{")


def loads_body(
    raw: str | bytes, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """``json.loads`` with a size cap, a depth cap and no NaN/Infinity; JSONDecodeError otherwise."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    if len(raw) > max_bytes:
        raise json.JSONDecodeError(f"body larger than {max_bytes} bytes", text[:64], max_bytes)
    # the byte-by-byte depth scan only when there are enough brackets to nest too deep
    if _brackets(raw) > max_depth and nesting_depth(raw, max_depth) > max_depth:
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", text[:64], 0)
    if text.startswith("\ufeff"):  # as json.loads refuses it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    try:
        return _DECODER.decode(text)
    except ValueError as e:
        if isinstance(e, json.JSONDecodeError):
            raise
        raise json.JSONDecodeError(str(e), text[:64], 0) from None
