"""Fault rules: what can go wrong in the outside world, when, and for whom.

A *fault kind* is frozen data: an id ``<target>.<condition>``, a layer (transport, protocol,
semantic), the fakes it applies to, a docstring whose first line says what the outside world
sees, and a pydantic model of its parameters. Behaviour lives in the fake that applies it.

A *fault rule* installs a kind with parameters, a match (fake, route glob, account), a trigger
(probability drawn from the world's seeded RNG, first-N, every-Nth) and a time window. A fake
asks :meth:`FaultEngine.fire` at the point where a kind is relevant; each firing is counted, and
the counts feed the drill's reached checks.
"""

from __future__ import annotations

import difflib
import fnmatch
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .clock import Now

__all__ = [
    "FAULT_KINDS",
    "FaultEngine",
    "FaultKind",
    "FaultRule",
    "FaultRuleError",
    "Fired",
    "Match",
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
SOCIAL: tuple[str, ...] = ("x", "instagram", "linkedin")


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


def _kind(
    kind: str, layer: Layer, fakes: tuple[str, ...], doc: str, params: type[BaseModel] = NoParams
) -> None:
    type(
        "".join(p.title() for p in kind.replace(".", "_").split("_")),
        (FaultKind,),
        {
            "kind": kind,
            "layer": layer,
            "fakes": fakes,
            "Params": params,
            "__doc__": doc,
            "__module__": __name__,
        },
    )


class _P(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- transport: applies to every fake ------------------------------------------------------


class LatencyParams(_P):
    ms: float = Field(500.0, ge=0, le=600_000, description="added delay in milliseconds")
    jitter_ms: float = Field(0.0, ge=0, le=600_000, description="uniform extra delay, seeded")


class HangParams(_P):
    seconds: float = Field(600.0, ge=0, le=86_400, description="how long the request hangs")


class OutageParams(_P):
    status: int = Field(503, ge=500, le=599, description="the 5xx status served")


_kind(
    "http.latency",
    "transport",
    ALL_FAKES,
    "Responses arrive late by `ms` (plus seeded jitter).",
    LatencyParams,
)
_kind(
    "http.hang",
    "transport",
    ALL_FAKES,
    "The request hangs with no response until the client gives up.",
    HangParams,
)
_kind(
    "http.reset",
    "transport",
    ALL_FAKES,
    "The connection drops mid-response (the client sees a protocol error).",
)
_kind(
    "http.malformed_body",
    "transport",
    ALL_FAKES,
    "A 200 whose JSON body is cut short and does not parse.",
)
_kind(
    "http.outage",
    "protocol",
    ALL_FAKES,
    "The service answers 5xx with its own error body (an outage).",
    OutageParams,
)


# --- social fakes: x, instagram, linkedin --------------------------------------------------


class RateLimitedParams(_P):
    retry_after_s: float = Field(
        60.0, ge=0, le=86_400, description="seconds until the window resets"
    )
    style: Literal["problem", "v1"] = Field(
        "problem", description="X only: problem JSON or v1 code 88 body"
    )
    window: Literal["15m", "24h"] = Field("15m", description="X only: which window is exhausted")
    code: int = Field(4, description="Instagram only: 4 app, 17 user, 32 page, 613 custom throttle")


class InvisibleParams(_P):
    for_s: float | None = Field(
        None, ge=0, description="seconds the post stays invisible; null = forever"
    )


class EchoParams(_P):
    keyword: str = Field("price?", description="the trigger keyword each echoed comment carries")
    delay_s: float = Field(5.0, ge=0, le=86_400, description="seconds until the echo arrives")


class ScopeParams(_P):
    scope: str | None = Field(
        None, description="the scope that was revoked (default: the write scope)"
    )


class RefreshFailedParams(_P):
    error: Literal["invalid_request", "invalid_grant"] = Field(
        "invalid_request", description="the OAuth error code"
    )


for _f in SOCIAL:
    _kind(
        f"{_f}.rate_limited",
        "protocol",
        (_f,),
        f"{_f}: 429 storm with the platform's exact rate-limit headers and body.",
        RateLimitedParams,
    )
    _kind(
        f"{_f}.token_expired",
        "protocol",
        (_f,),
        f"{_f}: the access token is rejected as expired (X/LinkedIn 401, Instagram code 190/463).",
    )
    _kind(
        f"{_f}.token_revoked",
        "protocol",
        (_f,),
        f"{_f}: the access token (and its refresh token) is revoked by the user or platform.",
    )
    _kind(
        f"{_f}.scope_revoked",
        "protocol",
        (_f,),
        f"{_f}: writes are refused with 403 because a scope was withdrawn.",
        ScopeParams,
    )
    _kind(
        f"{_f}.post_invisible",
        "semantic",
        (_f,),
        f"{_f}: a post is accepted (2xx with an id) but lookups do not find it, for a time or forever.",
        InvisibleParams,
    )
    _kind(
        f"{_f}.duplicate_rejected",
        "semantic",
        (_f,),
        f"{_f}: a post is refused as duplicate content (X 403, Instagram 506, LinkedIn 422).",
    )
    _kind(
        f"{_f}.action_blocked",
        "semantic",
        (_f,),
        f"{_f}: the action is blocked as spam/restricted activity (X 403, Instagram 4/2207051, LinkedIn 403).",
    )
    _kind(
        f"{_f}.reply_echo",
        "semantic",
        (_f,),
        f"{_f}: each reply the platform sends draws a new inbound comment with the trigger keyword.",
        EchoParams,
    )
    _kind(
        f"{_f}.duplicate_inbound",
        "semantic",
        (_f,),
        f"{_f}: each inbound comment or DM is delivered twice (same id).",
    )

_kind(
    "x.refresh_failed",
    "protocol",
    ("x",),
    "x: POST /2/oauth2/token answers 400 invalid_request for a valid refresh token.",
    RefreshFailedParams,
)
_kind("x.usage_capped", "protocol", ("x",), "x: 429 UsageCapExceeded (monthly cap, not retryable).")


class StuckParams(_P):
    for_s: float | None = Field(
        None, ge=0, description="seconds the container stays IN_PROGRESS; null = forever"
    )


_kind(
    "instagram.container_stuck",
    "semantic",
    ("instagram",),
    "instagram: media containers stay IN_PROGRESS (for a time or forever).",
    StuckParams,
)
_kind(
    "instagram.container_error",
    "semantic",
    ("instagram",),
    "instagram: media containers end in status_code ERROR.",
)


# --- LLM and media providers ---------------------------------------------------------------


class LlmRateParams(_P):
    retry_after_s: float = Field(
        1.0, ge=0, le=3600, description="value of retry-after (and retry-after-ms)"
    )


class StreamCutParams(_P):
    after_chunks: int = Field(
        3, ge=0, le=10_000, description="chunks sent before the stream is cut"
    )
    mode: Literal["error_event", "drop"] = Field(
        "error_event", description="an SSE error object, or the connection drops"
    )


class BloatParams(_P):
    factor: float = Field(50.0, ge=1, le=100_000, description="multiplier on reported usage tokens")


class ToolLoopParams(_P):
    tool: str = Field("kb_search", description="the tool the model keeps asking for")


for _p in ("openai", "anthropic"):
    _kind(
        f"{_p}.rate_limited",
        "protocol",
        (_p,),
        f"{_p}: 429 rate limit (retryable) with retry-after headers.",
        LlmRateParams,
    )
    _kind(
        f"{_p}.token_bloat",
        "semantic",
        (_p,),
        f"{_p}: completions succeed but report huge token usage (cost spike).",
        BloatParams,
    )
    _kind(
        f"{_p}.tool_call_loop",
        "semantic",
        (_p,),
        f"{_p}: the model answers every turn with another tool call, never a final answer.",
        ToolLoopParams,
    )
    _kind(
        f"{_p}.stream_cut",
        "transport",
        (_p,),
        f"{_p}: a streamed completion stops mid-way (error event or dropped connection).",
        StreamCutParams,
    )

_kind(
    "openai.quota_exhausted",
    "protocol",
    ("openai",),
    "openai: 429 insufficient_quota — credits gone; retrying does not help.",
)
_kind("anthropic.overloaded", "protocol", ("anthropic",), "anthropic: 529 overloaded_error.")
_kind(
    "media.job_stuck",
    "semantic",
    ("media",),
    "media: render jobs stay 'processing' (for a time or forever).",
    StuckParams,
)
_kind(
    "media.job_failed",
    "semantic",
    ("media",),
    "media: render jobs end in status 'failed' with an error.",
)


# --- MCP tool gateway ----------------------------------------------------------------------


class ToolParams(_P):
    tool: str | None = Field(None, description="the tool affected (default: every tool)")


class ToolErrorParams(_P):
    tool: str | None = Field(None, description="the tool affected (default: every tool)")
    message: str = Field("upstream tool failed", description="the error text in the tool result")


_kind(
    "toolgate.unavailable",
    "protocol",
    ("toolgate",),
    'toolgate: the gateway fails `initialize` (like `calling "initialize": EOF`).',
)
_kind(
    "toolgate.tool_missing",
    "semantic",
    ("toolgate",),
    "toolgate: a tool vanishes from tools/list and calls to it fail.",
    ToolParams,
)
_kind(
    "toolgate.schema_drift",
    "semantic",
    ("toolgate",),
    "toolgate: a tool's input schema changes (renamed required argument), unannounced.",
    ToolParams,
)
_kind(
    "toolgate.tool_error",
    "semantic",
    ("toolgate",),
    "toolgate: tool calls return a result with isError=true.",
    ToolErrorParams,
)


# --- rules ---------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Fired:
    """A rule that fired for one request."""

    rule_id: str
    kind: str
    params: BaseModel


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
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise FaultRuleError(
                "kind",
                kind,
                f"{kind!r} is not a fault kind{did_you_mean(str(kind), FAULT_KINDS)}",
                sorted(FAULT_KINDS),
            )
        cls = FAULT_KINDS[kind]
        try:
            rule = FaultRule.model_validate({k: v for k, v in spec.items() if k != "id"})
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
            params = cls.Params.model_validate(rule.params)
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
        self.history.append(
            {"id": rid, "kind": rule.kind, "params": dict(rule.params), "installed_at": self.now()}
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


# --- the social fakes' web UI (the browser lane) -------------------------------------------


class DriftParams(_P):
    reword_labels: bool = Field(
        True,
        description="labels and accessible names reworded too, so no v1 locator matches; false keeps them, so a role/label fallback finds the controls",
    )


class SlowRenderParams(_P):
    delay_ms: float = Field(
        2000.0, ge=0, le=120_000, description="milliseconds before a page's content appears"
    )


WEB: tuple[str, ...] = ("x", "instagram")
_kind(
    "web.selector_drift",
    "semantic",
    WEB,
    "web: a new UI version: test ids and classes renamed, publish moved into a menu, another control where it was.",
    DriftParams,
)
_kind(
    "web.interstitial",
    "semantic",
    WEB,
    "web: a modal dialog covers the page until it is dismissed.",
)
_kind(
    "web.captcha",
    "semantic",
    WEB,
    "web: a 'confirm you are human' challenge replaces the page; nothing happens until a person solves it.",
)
_kind(
    "web.action_blocked",
    "semantic",
    WEB,
    "web: the action is refused with a 'we restrict certain activity' banner.",
)
_kind(
    "web.slow_render",
    "semantic",
    WEB,
    "web: pages show their content late (after `delay_ms`).",
    SlowRenderParams,
)
_kind(
    "web.session_expired",
    "semantic",
    WEB,
    "web: the browser session is logged out; pages send it back to the login form.",
)
