"""Invariants: positive claims about a drill, each a pure function of the drill record."""

from . import controls, holds, mitigation, pacing, recovery, requests, safety, tokens
from ._base import (
    REGISTRY,
    Findings,
    Invariant,
    InvariantError,
    InvariantResult,
    InvariantSpec,
    NotApplicable,
    Params,
    Violation,
    catalogue,
    evaluate,
    invariant,
    sentence,
)

#: the registry under the name the drill loop looks up
INVARIANTS = REGISTRY

__all__ = [
    "INVARIANTS",
    "REGISTRY",
    "Findings",
    "Invariant",
    "InvariantError",
    "InvariantResult",
    "InvariantSpec",
    "NotApplicable",
    "Params",
    "Violation",
    "catalogue",
    "controls",
    "evaluate",
    "holds",
    "invariant",
    "mitigation",
    "pacing",
    "recovery",
    "requests",
    "safety",
    "sentence",
    "tokens",
]
