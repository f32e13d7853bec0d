"""Durations with units ("20m", "2h", "1m30s", "250ms") and drill offsets shown as ``T+20m03s``.

Scenarios write every duration with a unit so that a reader never guesses whether ``90`` means
seconds or minutes; a bare number is accepted only as seconds from code (not from YAML strings
without a unit, which are refused with the valid shapes).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from .errors import BadInputError

__all__ = ["Duration", "DurationError", "format_duration", "format_offset", "parse_duration"]

_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


class DurationError(BadInputError):
    """A duration that does not parse; the message shows the value and the valid shapes."""


def parse_duration(value: Any) -> float:
    """Return ``value`` in seconds: ``"20m"`` → 1200.0, ``"1m30s"`` → 90.0, ``"T+5m"`` → 300.0.

    Numbers (int/float, not bool) are taken as seconds. Negative, NaN and unitless strings are
    refused with a message naming the value.
    """
    if isinstance(value, bool):
        raise DurationError(
            f"{value!r} is not a duration; write it with a unit, e.g. '90s', '20m', '1h30m'"
        )
    if isinstance(value, int | float):
        if math.isnan(value) or value < 0:
            raise DurationError(
                f"{value!r} is not a duration; it must be a non-negative number of seconds"
            )
        return float(value)
    if not isinstance(value, str):
        raise DurationError(
            f"{value!r} is not a duration; write it with a unit, e.g. '90s', '20m', '1h30m'"
        )
    text = value.strip().replace(" ", "")
    if text.startswith("T+"):
        text = text[2:]
    if not text or not _WHOLE.fullmatch(text):
        raise DurationError(
            f"{value!r} is not a duration; write a number with a unit (ms, s, m, h, d), e.g. '90s', '20m', '1h30m'"
        )
    units = [u for _, u in _PART.findall(text)]
    if len(set(units)) != len(units):
        raise DurationError(f"{value!r} is not a duration; each unit may appear once, e.g. '1h30m'")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Render seconds compactly: 90 → ``1m30s``, 3600 → ``1h``, 0.25 → ``250ms``, 0 → ``0s``."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if 0 < seconds < 1:
        return f"{round(seconds * 1000)}ms"
    total = round(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return out or "0s"


def format_offset(seconds: float) -> str:
    """Render an offset from the drill's start: 1203 → ``T+20m03s``, 7262 → ``T+2h01m02s``."""
    sign = "+" if seconds >= 0 else "-"
    total = round(abs(seconds))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"T{sign}{h}h{m:02d}m{s:02d}s"
    if m:
        return f"T{sign}{m}m{s:02d}s"
    return f"T{sign}{s}s"


def _validate(value: Any) -> float:
    try:
        return parse_duration(value)
    except DurationError as e:
        # pydantic shows ValueError messages as "Value error, …"; the loader strips that prefix.
        raise ValueError(str(e)) from None


#: A pydantic field type: accepts "20m" etc., holds seconds, dumps back as "20m".
Duration = Annotated[
    float, BeforeValidator(_validate), PlainSerializer(format_duration, return_type=str)
]
