"""Turn the first pydantic validation error of a scenario into one sentence a person can act on.

``faults[0].kind: 'x.ratelimited' is not a fault kind; did you mean 'x.rate_limited'?`` —
the key path, the value, and the valid choices (with the closest one suggested).
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from fakes.core.faults import did_you_mean

from .errors import BadInputError
from .safe_input import short_repr

__all__ = ["ScenarioError", "explain", "render_path"]


class ScenarioError(BadInputError):
    """A scenario that cannot be used; ``str()`` is the one message shown to the user (exit 2)."""


def render_path(loc: tuple[Any, ...]) -> str:
    """``('faults', 0, 'kind')`` → ``faults[0].kind``."""
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "$"


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types inside Optional/Union/Annotated/tuple/dict annotations."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in get_args(tp) for t in _unwrap(a)]
    return [tp]


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (walking fields, tuples and dicts)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        nxt: Any = None
        for t in _unwrap(field.annotation):
            origin = get_origin(t)
            if origin in (tuple, list):
                t = get_args(t)[0]
            elif origin is dict:
                t = get_args(t)[1]
            for u in _unwrap(t):
                if isinstance(u, type) and issubclass(u, BaseModel):
                    nxt = u
        if nxt is None:
            return None
        current = nxt
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _literal_choices(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The allowed values of a Literal field at ``loc``, if that is what it is."""
    holder = _model_at(model, tuple(p for p in loc[:-1]))
    name = next((p for p in reversed(loc) if isinstance(p, str)), None)
    if holder is None or name is None or name not in holder.model_fields:
        return []
    for t in _unwrap(holder.model_fields[name].annotation):
        origin = get_origin(t)
        if origin in (tuple, list, dict):
            t = get_args(t)[-1]
        for u in _unwrap(t):
            if get_origin(u) is Literal:
                return [str(a) for a in get_args(u)]
    return []


def explain(exc: BaseException, model: type[BaseModel], raw: Any) -> str | None:
    """One message for the first error of ``exc`` (a ValidationError), or None if it is not one."""
    if not isinstance(exc, ValidationError):
        return None
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    # errors raised inside a wrapping before-validator carry a trailing union tag; drop it
    loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
    path = render_path(loc)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        holder = _model_at(model, loc[:-1])
        valid = list(holder.model_fields) if holder else []
        return (
            f"{path}: unknown key {key!r}{did_you_mean(key, valid)}; valid keys: {', '.join(valid)}"
        )
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind in ("literal_error", "enum"):
        choices = _literal_choices(model, loc)
        if not choices:
            expected = (err.get("ctx") or {}).get("expected", "")
            choices = re.findall(r"'([^']*)'", str(expected))
        return f"{path}: {short_repr(value)} is not one of {', '.join(choices)}{did_you_mean(str(value), choices)}"
    if kind == "value_error":
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not loc:  # a whole-scenario check names its own key path
            return msg
        sub = re.match(r"^((?:params|match)(?:\.[A-Za-z_0-9]+)*): (.*)$", msg)
        if sub:
            return f"{path}.{sub.group(1)}: {sub.group(2)}"
        return f"{path}: {msg}"
    if kind == "string_pattern_mismatch":
        pattern = (err.get("ctx") or {}).get("pattern", "")
        hint = (
            " (e.g. 'RB-05')"
            if loc and loc[-1] == "runbook"
            else " (lower_snake_case, e.g. 'rb05_rate_limit_storm')"
        )
        return f"{path}: {short_repr(value)} does not match {pattern}{hint}"
    msg = str(err["msg"])
    return f"{path}: {msg} (got {short_repr(value)})"
