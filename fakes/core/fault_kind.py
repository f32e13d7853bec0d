"""What a fault kind is: the base class and the registry every kind joins on definition.

The catalogue of kinds is :mod:`fakes.core.faults`; the rules that install them and decide
what fires are :mod:`fakes.core.fault_engine`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from .roster import SOCIAL_PLATFORMS

__all__ = [
    "ALL_FAKES",
    "FAULT_KINDS",
    "SOCIAL",
    "FaultKind",
    "FaultParams",
    "Layer",
    "NoParams",
    "did_you_mean",
]

Layer = Literal["transport", "protocol", "semantic"]
ALL_FAKES: tuple[str, ...] = (
    "x",
    "instagram",
    "linkedin",
    "openai",
    "anthropic",
    "media",
    "toolgate",
)
#: the social fakes (one list: ``fakes.core.roster.SOCIAL_PLATFORMS``)
SOCIAL: tuple[str, ...] = SOCIAL_PLATFORMS


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return "; did you mean 'y'?" when a close choice exists, else ''."""
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class NoParams(BaseModel):
    """A fault kind without parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")


FAULT_KINDS: dict[str, type[FaultKind]] = {}


class FaultKind:
    """Base of every fault kind; subclasses register themselves by ``kind``."""

    kind: ClassVar[str]
    layer: ClassVar[Layer]
    fakes: ClassVar[tuple[str, ...]]
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if not getattr(cls, "kind", None):
            return
        if cls.kind in FAULT_KINDS:
            prev = FAULT_KINDS[cls.kind]
            raise TypeError(
                f"fault kind {cls.kind!r} defined twice: {prev.__module__}.{prev.__qualname__} "
                f"and {cls.__module__}.{cls.__qualname__}"
            )
        if not cls.__doc__:
            raise TypeError(f"fault kind {cls.kind!r} needs a docstring saying what is seen")
        FAULT_KINDS[cls.kind] = cls

    @classmethod
    def summary(cls) -> str:
        """The first line of the docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0]

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The kind as shown by ``GET /_fake/faults/kinds`` and ``vibedrill faults``."""
        params = {}
        for name, f in cls.Params.model_fields.items():
            params[name] = {
                "type": getattr(f.annotation, "__name__", str(f.annotation)),
                "default": None if f.is_required() else f.get_default(call_default_factory=True),
                "description": f.description or "",
            }
        return {
            "kind": cls.kind,
            "layer": cls.layer,
            "fakes": list(cls.fakes),
            "description": cls.summary(),
            "params": params,
        }


class FaultParams(BaseModel):
    """Base of a fault kind's parameters: frozen, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")
