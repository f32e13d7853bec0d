"""The invariant registry, specs, findings and the scope rules that turn findings into a result.

An invariant is a pure function ``fn(record, params) -> Findings | NotApplicable``, registered
with :func:`invariant` under its name (a positive claim). Its docstring's first line is the
claim, shown in ``vibedrill invariants`` and in postmortems. It lists *every* violation it
finds; :func:`evaluate` then applies the scenario's scope (``always`` or ``after_containment``
with a blast-radius limit) and writes the sentence a person can act on.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypedDict, TypeVar, cast, overload

from pydantic import BaseModel, ConfigDict, ValidationError

from ...errors import BadInputError
from ..record import DrillRecord, scenario_field
from ..rows import Json, JsonObject
from ..timeline import format_offset

__all__ = [
    "REGISTRY",
    "CatalogueEntry",
    "Findings",
    "Invariant",
    "InvariantError",
    "InvariantResult",
    "InvariantSpec",
    "NoParams",
    "NotApplicable",
    "ParamInfo",
    "Params",
    "Violation",
    "catalogue",
    "evaluate",
    "invariant",
    "sentence",
]

Scope = Literal["always", "after_containment"]
Outcome = Literal["held", "violated", "not_applicable"]


class InvariantError(BadInputError):
    """An invariant spec that cannot be judged (unknown name, bad params, duplicate definition)."""


class Params(BaseModel):
    """Base of every invariant's parameters: frozen, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoParams(Params):
    """An invariant without parameters."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One violating event: when, what (noun + phrase, grouped into the sentence), which id."""

    t: float
    noun: tuple[str, str]
    phrase: str
    ref: str
    evidence: str | None = None
    #: a whole sentence, used instead of "<n> <noun> <phrase>" when set
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Findings:
    """What an invariant found: how many things it checked, every violation, the held sentence."""

    checked: int
    violations: list[Violation]
    held: str


@dataclass(frozen=True, slots=True)
class NotApplicable:
    """The invariant has nothing to judge in this drill, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class InvariantSpec:
    """An invariant as a scenario asks for it: name, params, scope and blast-radius limit."""

    name: str
    params: Mapping[str, object] = field(default_factory=dict)
    scope: Scope = "always"
    #: violations tolerated within the scope (the blast-radius limit)
    max: int = 0

    @classmethod
    def parse(cls, obj: object) -> InvariantSpec:
        """Accept a name, a dict or a scenario model with ``name``/``params``/``scope``/``max``."""
        if isinstance(obj, InvariantSpec):
            return obj
        if isinstance(obj, str):
            return cls(name=obj)
        name = scenario_field(obj, "name")
        if not isinstance(name, str) or not name:
            raise InvariantError(f"invariant spec {obj!r} has no name")
        params = scenario_field(obj, "params") or {}
        if isinstance(params, BaseModel):
            params = params.model_dump()
        if not isinstance(params, Mapping):
            raise InvariantError(f"invariant {name}: params {params!r} is not a mapping")
        scope = scenario_field(obj, "scope") or "always"
        scope = getattr(scope, "value", scope)
        limit = scenario_field(obj, "max")
        for alt in ("blast_radius", "limit", "max_violations"):
            if limit is None:
                limit = scenario_field(obj, alt)
        if isinstance(limit, Mapping):
            limit = limit.get("max")
        if scope not in ("always", "after_containment"):
            raise InvariantError(
                f"invariant {name}: scope {scope!r} is not one of 'always', 'after_containment'"
            )
        if limit is not None and not isinstance(limit, int | float | str):
            raise InvariantError(f"invariant {name}: max {limit!r} is not a number")
        params = {str(k): v for k, v in params.items()}
        return cls(name=name, params=params, scope=scope, max=int(limit or 0))


@dataclass(frozen=True, slots=True)
class InvariantResult:
    """The judged invariant: verdict, the actionable sentence, the first violating event."""

    name: str
    verdict: Outcome
    detail: str
    first_violation: JsonObject | None = None
    count: int = 0
    checked: int = 0
    scope: Scope = "always"
    max: int = 0
    claim: str = ""
    violations: tuple[Violation, ...] = ()

    def to_json(self) -> JsonObject:
        """The shape of one entry of ``verdict.json``'s ``invariants``."""
        return {
            "name": self.name,
            "verdict": self.verdict,
            "detail": self.detail,
            "first_violation": self.first_violation,
            "count": self.count,
            "checked": self.checked,
            "scope": self.scope,
            "max": self.max,
        }


P = TypeVar("P", bound=Params)
#: an invariant as written: the record and its own params model in, findings out
InvariantFn = Callable[[DrillRecord, P], "Findings | NotApplicable"]


@dataclass(frozen=True)
class Invariant:
    """A registered invariant: its name, function, params model and claim.

    ``fn`` takes any :class:`Params`: it checks that they are of ``params`` (the model the
    function was written for) and calls the function.
    """

    name: str
    fn: Callable[[DrillRecord, Params], Findings | NotApplicable]
    params: type[Params]
    #: the docstring of the function as written
    doc: str
    #: ``module.qualname`` of the function as written
    defined_at: str

    @property
    def claim(self) -> str:
        """The first line of the docstring: the positive claim."""
        return self.doc.strip().splitlines()[0]

    def validate(self, params: Mapping[str, object]) -> Params:
        """Validate params; the error names the invariant, the key, the value and valid keys."""
        try:
            return self.params.model_validate(dict(params))
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            valid = sorted(self.params.model_fields)
            hint = ""
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(err["loc"][-1]), valid, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InvariantError(
                f"invariant {self.name}: params.{loc}: {err['msg']} (got {err.get('input')!r}); "
                f"valid params: {', '.join(valid) or 'none'}{hint}"
            ) from None


REGISTRY: dict[str, Invariant] = {}


@overload
def invariant() -> Callable[[InvariantFn[NoParams]], InvariantFn[NoParams]]: ...


@overload
def invariant(
    params: type[P], name: str | None = None
) -> Callable[[InvariantFn[P]], InvariantFn[P]]: ...


def invariant(
    params: type[Params] = NoParams, name: str | None = None
) -> Callable[[InvariantFn[P]], InvariantFn[P]]:
    """Register an invariant under its function name; refuses duplicates and missing claims."""

    def deco(fn: InvariantFn[P]) -> InvariantFn[P]:
        key = name or fn.__name__
        here = f"{fn.__module__}.{fn.__qualname__}"
        if key in REGISTRY:
            raise InvariantError(
                f"invariant {key!r} defined twice: {REGISTRY[key].defined_at} and {here}"
            )
        if not (fn.__doc__ or "").strip():
            raise InvariantError(
                f"invariant {key!r} needs a docstring whose first line is its claim"
            )

        def checked(record: DrillRecord, p: Params) -> Findings | NotApplicable:
            if not isinstance(p, params):
                raise InvariantError(
                    f"invariant {key}: params of {type(p).__name__}, not {params.__name__}"
                )
            return fn(record, cast(P, p))

        REGISTRY[key] = Invariant(key, checked, params, fn.__doc__ or "", here)
        return fn

    return deco


class ParamInfo(TypedDict):
    """One parameter of an invariant in the catalogue."""

    default: Json
    description: str


class CatalogueEntry(TypedDict):
    """One invariant in the catalogue: its name, claim and parameters."""

    name: str
    claim: str
    params: dict[str, ParamInfo]


def catalogue() -> list[CatalogueEntry]:
    """Every invariant with its claim and params, sorted by name (``vibedrill invariants``)."""
    out: list[CatalogueEntry] = []
    for name in sorted(REGISTRY):
        inv = REGISTRY[name]
        params = {
            k: ParamInfo(
                default=f.get_default(call_default_factory=True),
                description=f.description or "",
            )
            for k, f in inv.params.model_fields.items()
        }
        out.append({"name": name, "claim": inv.claim, "params": params})
    return out


def _ids(refs: list[str], limit: int = 5) -> str:
    shown = ", ".join(refs[:limit])
    return shown + (f" … (+{len(refs) - limit} more)" if len(refs) > limit else "")


def sentence(violations: list[Violation], max_groups: int = 3) -> str:
    """Group violations by (noun, phrase) and write one sentence naming counts, where and ids."""
    groups: dict[tuple[str, str, str | None], list[Violation]] = {}
    for v in violations:
        key = (v.noun[0], v.phrase, v.message) if v.message is None else ("", "", v.message)
        groups.setdefault(key, []).append(v)
    parts = []
    for (_, _, message), vs in list(groups.items())[:max_groups]:
        if message is not None:
            parts.append(message)
            continue
        n = len(vs)
        noun = vs[0].noun[0] if n == 1 else vs[0].noun[1]
        refs = list(dict.fromkeys(v.ref for v in vs))
        parts.append(f"{n} {noun} {vs[0].phrase}: ids {_ids(refs)}")
    rest = len(groups) - max_groups
    text = "; ".join(parts)
    if rest > 0:
        text += f"; and {rest} more group{'s' if rest > 1 else ''}"
    return text


def _first(record: DrillRecord, v: Violation) -> JsonObject:
    return {
        "t": v.t,
        "offset": format_offset(record.offset(v.t)),
        "ref": v.ref,
        "evidence": v.evidence,
        "summary": sentence([v]),
    }


def evaluate(
    spec: InvariantSpec | str | Mapping[str, object], record: DrillRecord
) -> InvariantResult:
    """Judge one invariant spec against a record (pure; raises InvariantError on a bad spec)."""
    spec = InvariantSpec.parse(spec)
    inv = REGISTRY.get(spec.name)
    if inv is None:
        close = difflib.get_close_matches(spec.name, list(REGISTRY), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvariantError(
            f"invariant {spec.name!r} is not known{hint}; known: {', '.join(sorted(REGISTRY))}"
        )
    params = inv.validate(spec.params)
    found = inv.fn(record, params)

    def result(
        verdict: Outcome,
        detail: str,
        checked: int = 0,
        violations: tuple[Violation, ...] = (),
        first: JsonObject | None = None,
    ) -> InvariantResult:
        return InvariantResult(
            name=spec.name,
            verdict=verdict,
            detail=detail,
            first_violation=first,
            count=len(violations) if first is not None else 0,
            checked=checked,
            scope=spec.scope,
            max=spec.max,
            claim=inv.claim,
            violations=violations,
        )

    if isinstance(found, NotApplicable):
        return result("not_applicable", found.reason)
    violations = sorted(found.violations, key=lambda v: v.t)
    where = ""
    if spec.scope == "after_containment":
        ct = record.first_containment_t()
        if ct is None:
            return result(
                "not_applicable",
                "scope is after_containment but no containment action was taken",
                checked=found.checked,
            )
        violations = [v for v in violations if v.t >= ct]
        where = f" after containment at {format_offset(record.offset(ct))}"
    if not violations:
        detail = found.held + (f" (judged{where})" if where else "")
        return result("held", detail, checked=found.checked)
    text = sentence(violations)
    first = _first(record, violations[0])
    if len(violations) <= spec.max:
        detail = f"{len(violations)} violation(s){where} within the blast-radius limit of {spec.max}: {text}"
        return result("held", detail, found.checked, tuple(violations), first)
    if spec.max or where:
        text += f" ({len(violations)}{where}; blast-radius limit {spec.max})"
    return result("violated", text, found.checked, tuple(violations), first)
