"""Fault rules and the engine that decides, per request, which fire.

A rule installs a kind (:mod:`fakes.core.faults`) with parameters, a match (fake, route glob,
account), a trigger (probability drawn from the world's seeded RNG, first-N, every-Nth) and a
time window. Each firing is counted; the counts feed the drill's reached checks.
"""

from __future__ import annotations

import fnmatch
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .clock import Now
from .fault_kind import FAULT_KINDS, did_you_mean

__all__ = ["FaultEngine", "FaultRule", "FaultRuleError", "Fired", "Match"]


class FaultRuleError(ValueError):
    """A fault rule that cannot be installed; the message names the path, value and choices."""

    def __init__(self, path: str, value: Any, message: str, valid: list[str] | None = None) -> None:
        self.path, self.value, self.valid = path, value, valid or []
        super().__init__(f"{path}: {message}")

    def to_json(self) -> dict[str, Any]:
        """The error as served by the admin API."""
        return {
            "error": {
                "message": str(self),
                "path": self.path,
                "value": self.value,
                "valid": self.valid,
            }
        }


class Match(BaseModel):
    """Which requests a rule applies to; every given field must match."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fake: str | None = None
    #: a route name or glob, e.g. 'tweets.create', 'media.*'
    route: str | None = None
    account: str | None = None


class FaultRule(BaseModel):
    """An installed fault: kind + params + match + trigger + window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = ""
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    match: Match = Field(default_factory=Match)
    probability: float = Field(1.0, ge=0.0, le=1.0)
    first_n: int | None = Field(None, ge=1)
    every_nth: int | None = Field(None, ge=1)
    #: window in the fakes' clock (unix seconds); None = open
    start: float | None = None
    end: float | None = None


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Fired:
    """A rule that fired for one request."""

    rule_id: str
    kind: str
    params: BaseModel

    def params_as(self, model: type[M]) -> M:
        """The rule's params as the kind's model (``FAULT_KINDS[kind].params``), typed."""
        if not isinstance(self.params, model):
            raise TypeError(
                f"fault {self.kind}: params are {type(self.params).__name__}, not {model.__name__}"
            )
        return self.params


@dataclass
class _Installed:
    rule: FaultRule
    params: BaseModel
    matched: int = 0
    hits: int = 0
    first_hit_at: float | None = None
    last_hit_at: float | None = None
    #: install order: among candidates of one kind the earliest installed rule fires first
    seq: int = 0


def _install_order(inst: _Installed) -> int:
    return inst.seq


@dataclass
class FaultEngine:
    """Holds the rules of one world and decides, per request, which fire."""

    rng: random.Random
    now: Now
    #: fake name → its route names, for validating ``match``
    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _rules: dict[str, _Installed] = field(default_factory=dict)
    _by_kind: dict[str, list[_Installed]] = field(default_factory=dict)
    #: (kind, match.account) → rules: a request only walks the rules that could match its account,
    #: so rules for other accounts cost a dict lookup, not a scan
    _by_key: dict[tuple[str, str | None], list[_Installed]] = field(default_factory=dict)
    _next: int = 1
    #: every rule ever installed (kept after removal, for reached checks)
    history: list[dict[str, Any]] = field(default_factory=list)

    def validate(self, spec: dict[str, Any]) -> tuple[FaultRule, BaseModel]:
        """Validate a rule spec completely before anything is installed."""
        if not isinstance(spec, dict):
            raise FaultRuleError(
                "$",
                spec,
                "a fault rule must be a JSON object",
                ["kind", "params", "match", "probability", "first_n", "every_nth", "start", "end"],
            )
        rid = spec.get("id")
        if rid is not None and not isinstance(rid, str):
            raise FaultRuleError("id", rid, "a rule id must be a string")
        kind = spec.get("kind")
        if not isinstance(kind, str) or kind not in FAULT_KINDS:
            raise FaultRuleError(
                "kind",
                kind,
                f"{kind!r} is not a fault kind{did_you_mean(str(kind), FAULT_KINDS)}",
                sorted(FAULT_KINDS),
            )
        cls = FAULT_KINDS[kind]
        try:
            # strict, as JSON: a boolean or a string is not a number (the OpenAPI document's rule)
            rule = FaultRule.model_validate_json(
                json.dumps({k: v for k, v in spec.items() if k != "id"}, default=str), strict=True
            )
        except ValidationError as e:
            err = e.errors()[0]
            path = ".".join(str(p) for p in err["loc"])
            valid = (
                list(FaultRule.model_fields)
                if err["type"] == "extra_forbidden" and len(err["loc"]) == 1
                else (
                    list(Match.model_fields)
                    if err["loc"][:1] == ("match",) and err["type"] == "extra_forbidden"
                    else []
                )
            )
            hint = did_you_mean(str(err["loc"][-1]), valid) if valid else ""
            raise FaultRuleError(
                path, err.get("input"), f"{err['msg']} (got {err.get('input')!r}){hint}", valid
            ) from None
        try:
            params = cls.Params.model_validate_json(
                json.dumps(rule.params, default=str), strict=True
            )
        except ValidationError as e:
            err = e.errors()[0]
            path = "params." + ".".join(str(p) for p in err["loc"])
            valid = list(cls.Params.model_fields)
            hint = (
                did_you_mean(str(err["loc"][-1]), valid) if err["type"] == "extra_forbidden" else ""
            )
            raise FaultRuleError(
                path,
                err.get("input"),
                f"{err['msg']} (got {err.get('input')!r}) for {kind}{hint}",
                valid,
            ) from None
        m = rule.match
        if m.fake is not None:
            if m.fake not in self.routes:
                raise FaultRuleError(
                    "match.fake",
                    m.fake,
                    f"{m.fake!r} is not a fake{did_you_mean(m.fake, self.routes)}",
                    sorted(self.routes),
                )
            if m.fake not in cls.fakes:
                raise FaultRuleError(
                    "match.fake", m.fake, f"{kind} does not apply to {m.fake!r}", list(cls.fakes)
                )
        if m.route is not None:
            fakes = [m.fake] if m.fake else [f for f in cls.fakes if f in self.routes]
            names = sorted({r for f in fakes for r in self.routes.get(f, ())})
            if names and not any(fnmatch.fnmatchcase(r, m.route) for r in names):
                raise FaultRuleError(
                    "match.route",
                    m.route,
                    f"{m.route!r} matches no route of {', '.join(fakes)}{did_you_mean(m.route, names)}",
                    names,
                )
        if rule.start is not None and rule.end is not None and rule.end < rule.start:
            raise FaultRuleError("end", rule.end, f"end {rule.end} is before start {rule.start}")
        return rule, params

    def add(self, spec: dict[str, Any]) -> FaultRule:
        """Validate and install a rule; returns it with its id. Nothing is installed on error."""
        rule, params = self.validate(spec)
        rid = spec.get("id") or f"f{self._next}"
        if rid in self._rules:
            raise FaultRuleError("id", rid, f"a fault rule with id {rid!r} is already installed")
        self._next += 1
        rule = rule.model_copy(update={"id": rid})
        inst = _Installed(rule, params)
        self._rules[rid] = inst
        inst.seq = self._next
        self._by_kind.setdefault(rule.kind, []).append(inst)
        self._by_key.setdefault((rule.kind, rule.match.account), []).append(inst)
        # params are kept so a judge reading a healed rule still knows e.g. its Retry-After
        # … and what it matched, how often and when, so a judge can tell a whole outage of a
        # fake from a partial one after the rule is gone
        self.history.append(
            {
                "id": rid,
                "kind": rule.kind,
                "params": dict(rule.params),
                "match": rule.match.model_dump(exclude_none=True),
                "probability": rule.probability,
                "first_n": rule.first_n,
                "every_nth": rule.every_nth,
                "start": rule.start,
                "end": rule.end,
                "installed_at": self.now(),
            }
        )
        return rule

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; False when no such rule."""
        inst = self._rules.pop(rule_id, None)
        if inst is None:
            return False
        self._by_kind[inst.rule.kind].remove(inst)
        self._by_key[(inst.rule.kind, inst.rule.match.account)].remove(inst)
        self._record_removal(inst)
        return True

    def clear(self) -> int:
        """Remove every rule; return how many."""
        n = len(self._rules)
        for inst in self._rules.values():
            self._record_removal(inst)
        self._rules.clear()
        self._by_kind.clear()
        self._by_key.clear()
        return n

    def _record_removal(self, inst: _Installed) -> None:
        for h in self.history:
            if h["id"] == inst.rule.id and "removed_at" not in h:
                h.update(removed_at=self.now(), hits=inst.hits, first_hit_at=inst.first_hit_at)

    def active(self, kind: str) -> bool:
        """Whether any rule of this kind is installed (cheap pre-check for fakes)."""
        return bool(self._by_kind.get(kind))

    def fire(
        self,
        fake: str,
        route: str,
        account: str | None,
        kinds: str | tuple[str, ...],
        where: Callable[[BaseModel], bool] | None = None,
    ) -> Fired | None:
        """Return the first rule of ``kinds`` that matches this request and triggers, counting it.

        ``where`` narrows the match by the rule's params (e.g. a toolgate rule for one ``tool``),
        before the rule's match and trigger counters move.
        """
        if isinstance(kinds, str):
            kinds = (kinds,)
        t: float | None = None
        for kind in kinds:
            any_account = self._by_key.get((kind, None))
            own = self._by_key.get((kind, account)) if account is not None else None
            if any_account and own:
                candidates: Iterable[_Installed] = sorted(any_account + own, key=_install_order)
            else:
                candidates = any_account or own or ()
            for inst in candidates:
                r = inst.rule
                m = r.match
                if m.fake is not None and m.fake != fake:
                    continue
                if fake not in FAULT_KINDS[kind].fakes:
                    continue
                if m.account is not None and m.account != account:
                    continue
                if (
                    m.route is not None
                    and m.route != route
                    and not fnmatch.fnmatchcase(route, m.route)
                ):
                    continue
                if where is not None and not where(inst.params):
                    continue
                if t is None:
                    t = self.now()
                if (r.start is not None and t < r.start) or (r.end is not None and t >= r.end):
                    continue
                inst.matched += 1
                if r.first_n is not None and inst.matched > r.first_n:
                    continue
                if r.every_nth is not None and inst.matched % r.every_nth:
                    continue
                if r.probability < 1.0 and self.rng.random() >= r.probability:
                    continue
                inst.hits += 1
                inst.last_hit_at = t
                if inst.first_hit_at is None:
                    inst.first_hit_at = t
                return Fired(r.id, r.kind, inst.params)
        return None

    def in_force(
        self,
        fake: str,
        route: str,
        account: str | None,
        kind: str,
        where: Callable[[BaseModel], bool] | None = None,
    ) -> BaseModel | None:
        """The params of the first rule of ``kind`` in force for this request (it matches and its
        window is open), without firing it: no counter moves and no trigger is drawn."""
        rules: list[_Installed] = [
            *self._by_key.get((kind, None), ()),
            *(self._by_key.get((kind, account), ()) if account is not None else ()),
        ]
        t = self.now()
        for inst in sorted(rules, key=_install_order):
            r, m = inst.rule, inst.rule.match
            if (m.fake is not None and m.fake != fake) or fake not in FAULT_KINDS[kind].fakes:
                continue
            if m.account is not None and m.account != account:
                continue
            if m.route is not None and m.route != route and not fnmatch.fnmatchcase(route, m.route):
                continue
            if (r.start is not None and t < r.start) or (r.end is not None and t >= r.end):
                continue
            if where is None or where(inst.params):
                return inst.params
        return None

    def rule_end(self, rule_id: str) -> float | None:
        """When an installed rule's window closes (None: open-ended or not installed)."""
        inst = self._rules.get(rule_id)
        return inst.rule.end if inst is not None else None

    def rules(self) -> list[dict[str, Any]]:
        """Installed rules with their hit counts."""
        return [
            {
                **i.rule.model_dump(mode="json"),
                "matched": i.matched,
                "hits": i.hits,
                "first_hit_at": i.first_hit_at,
                "last_hit_at": i.last_hit_at,
            }
            for i in self._rules.values()
        ]

    def hits_by_kind(self) -> dict[str, int]:
        """Total hits per kind over installed rules."""
        out: dict[str, int] = {}
        for i in self._rules.values():
            out[i.rule.kind] = out.get(i.rule.kind, 0) + i.hits
        return out
