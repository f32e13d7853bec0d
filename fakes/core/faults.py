"""The catalogue of fault kinds: what can go wrong in the outside world, when, and for whom.

A *fault kind* is frozen data: an id ``<target>.<condition>``, a layer (transport, protocol,
semantic), the fakes it applies to, a docstring whose first line says what the outside world
sees, and a pydantic model of its parameters. Behaviour lives in the fake that applies it.

A *fault rule* installs a kind with parameters, a match (fake, route glob, account), a trigger
(probability drawn from the world's seeded RNG, first-N, every-Nth) and a time window. A fake
asks :meth:`FaultEngine.fire` at the point where a kind is relevant; each firing is counted, and
the counts feed the drill's reached checks.

This module holds the catalogue of kinds and re-exports the rest: the base class and registry
are :mod:`fakes.core.fault_kind`, the rules and the engine :mod:`fakes.core.fault_engine`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from .fault_engine import FaultEngine, FaultRule, FaultRuleError, Fired, Match
from .fault_kind import (
    ALL_FAKES,
    FAULT_KINDS,
    SOCIAL,
    FaultKind,
    FaultParams,
    Layer,
    NoParams,
    did_you_mean,
)

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

_P = FaultParams


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


# --- transport: applies to every fake ------------------------------------------------------


class LatencyParams(_P):
    ms: float = Field(500.0, ge=0, le=600_000, description="added delay in milliseconds")
    jitter_ms: float = Field(0.0, ge=0, le=600_000, description="uniform extra delay, seeded")
    committed: bool = Field(
        False,
        description=(
            "the request is carried out first and its answer is late (an API that committed, "
            "then a slow way back): a caller that gives up or stops meanwhile cannot tell "
            "whether it landed"
        ),
    )


class HangParams(_P):
    seconds: float = Field(600.0, ge=0, le=86_400, description="how long the request hangs")


class OutageParams(_P):
    status: int = Field(503, ge=500, le=599, description="the 5xx status served")
    echo_request: bool = Field(
        False,
        description=(
            "a gateway in debug mode in front of the API: the error's message echoes the "
            "request it failed, its headers (Authorization included) with it"
        ),
    )
    committed: bool = Field(
        False,
        description=(
            "the request is carried out first and answered 5xx anyway (a gateway's 502 or 504 "
            "after the API behind it committed): the side effect lands, the caller cannot tell"
        ),
    )
    retry_after_s: int | None = Field(
        None,
        ge=0,
        le=86_400,
        description=(
            "the 5xx carries `Retry-After: N` (a maintenance window, an overloaded API shedding "
            "load: RFC 9110 lets a 503 say how long it will last); the same request may not be "
            "sent again before it elapsed"
        ),
    )


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


class ResetParams(_P):
    committed: bool = Field(
        False,
        description=(
            "the request is carried out first and the connection drops while its answer is on "
            "the way back: the side effect lands, the caller sees a protocol error"
        ),
    )


_kind(
    "http.reset",
    "transport",
    ALL_FAKES,
    "The connection drops mid-response (the client sees a protocol error).",
    ResetParams,
)


class MalformedBodyParams(_P):
    committed: bool = Field(
        False,
        description=(
            "the request is carried out first and its own answer is cut short on the way back "
            "(a proxy or connection that drops the end of a response): the side effect lands, the "
            "status and headers say so, the body does not parse"
        ),
    )


_kind(
    "http.malformed_body",
    "transport",
    ALL_FAKES,
    "A 200 whose JSON body is cut short and does not parse (`committed`: the request's own "
    "answer, cut short after it was carried out).",
    MalformedBodyParams,
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
    headers: bool = Field(
        True,
        description=(
            "false — the throttle says nothing of its end: on X the 429 carries no rate-limit "
            "header (no Retry-After, no x-rate-limit-reset: an edge's answer in an incident); on "
            "Instagram the throttle is not counted in the usage headers (`x-app-usage` and "
            "`x-business-use-case-usage` as before it, `estimated_time_to_regain_access` 0: a "
            "user-level throttle the usage does not show); the fake holds "
            "for `retry_after_s` all the same, and the client must wait without being told how long"
        ),
    )
    code: int = Field(
        4,
        description=(
            "Instagram only: 4 app, 17 user, 32 page, 613 custom throttle, 80002 the Instagram "
            "account's own (business use case) throttle"
        ),
    )
    calls_per_hour: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description=(
            "Instagram only: instead of throttling at once, the account may make this many calls "
            "in a rolling hour (Meta sizes an account's limit by its impressions): call_count of "
            "x-business-use-case-usage counts up to it while total_cputime and total_time do "
            "not, and each call beyond it is throttled with `code` until enough calls have left "
            "the hour (retry_after_s unused); the rule counts as served on each answer from 80 % "
            "of the limit on. With `code: 4` the limit is the app's (every account's calls "
            "together, counted by x-app-usage): each call beyond it is throttled with code 4, and "
            "the rule counts as served from 80 % of the app's limit on"
        ),
    )
    posts_per_day: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description=(
            "X only: instead of throttling at once, the account's 24-hour post window allows "
            "this many posts (X's Basic tier allows 100): each 201 counts "
            "x-user-limit-24hour-remaining down from it, the post that takes the last one says 0 "
            "with the window's reset, and each post beyond it is refused with a 429 whose resets "
            "name the window's end (retry_after_s and window unused); the rule counts as served "
            "on the post that takes the last one and on each post it refuses"
        ),
    )


class InvisibleParams(_P):
    for_s: float | None = Field(
        None, ge=0, description="seconds the post stays invisible; null = forever"
    )
    lifecycle_state: Literal["PUBLISH_REQUESTED", "PUBLISH_FAILED"] | None = Field(
        None,
        description=(
            "LinkedIn only: while invisible, GET /rest/posts/{urn} answers 200 with the post in "
            "this lifecycleState (being processed, or failed) instead of 404"
        ),
    )


class EchoParams(_P):
    keyword: str = Field("price?", description="the trigger keyword each echoed comment carries")
    delay_s: float = Field(5.0, ge=0, le=86_400, description="seconds until the echo arrives")
    dms: bool = Field(
        False,
        description=(
            "each DM the platform sends draws a new keyword DM from its recipient too (an "
            "auto-responder on the other side; X)"
        ),
    )


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
        f"{_f}: the access token is rejected as expired (X/LinkedIn 401, Instagram code 190/463; "
        "on X a token so refused stays expired after the window: only a refresh helps).",
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
        f"{_f}: writes are refused with 403 because a scope was withdrawn (`scope` names "
        "another: on X `tweet.read` refuses post reads too and `users.read` the identity check "
        "alone; on LinkedIn `r_member_social` refuses the reads — post lookups, comments, "
        "socialMetadata — and leaves writes alone).",
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


class UsageCapParams(_P):
    headers: bool = Field(
        True,
        description=(
            "false — the 429s name no reset (no x-rate-limit-* header, as an edge in front of "
            "the API answers): the client knows the account is capped, not until when, and must "
            "hold it all the same"
        ),
    )


_kind(
    "x.usage_capped",
    "protocol",
    ("x",),
    "x: 429 UsageCapExceeded (monthly cap, not retryable).",
    UsageCapParams,
)


class IdWithPathParams(_P):
    suffix: str = Field(
        "/../../_fake/state",
        min_length=1,
        max_length=200,
        description="what the answer appends to the new post's id (path segments to follow)",
    )


_kind(
    "x.id_with_path",
    "semantic",
    ("x",),
    "x: a created post's id comes back with path segments appended (a proxy rewriting answers, "
    "a compromised API): the post is made, and a client that builds its next URL from the id is "
    "led elsewhere on the host — its egress guard must refuse, not follow.",
    IdWithPathParams,
)


class WrongUserParams(_P):
    as_account: str | None = Field(
        None,
        description=(
            "the roster account whose X user the token acts as (default: the first X account of "
            "another client, in roster order)"
        ),
    )


_kind(
    "x.token_wrong_user",
    "semantic",
    ("x",),
    "x: the matched account's token was granted by another X user (its owner consented while "
    "signed in to the wrong account): every call it makes acts as that user — GET /2/users/me "
    "names that user, and posts, replies and DMs land on that user's account.",
    WrongUserParams,
)


class DeletedParams(_P):
    after_s: float = Field(
        600.0,
        ge=0,
        le=30 * 86_400,
        description="seconds after it was published that the member deletes the post",
    )
    listed: bool = Field(
        False,
        description=(
            "Instagram only: the account's media list still names the deleted post (the list "
            "has not caught up with the deletion), while reading it or its comments answers "
            "code 100 all the same"
        ),
    )


_kind(
    "linkedin.post_deleted",
    "semantic",
    ("linkedin",),
    "linkedin: the member deletes a published post in LinkedIn's own UI `after_s` later: from "
    "then on reads of it answer 404 (GET /rest/posts/{urn}, its comments, socialMetadata's "
    "errors), as for a post that never was.",
    DeletedParams,
)


_kind(
    "instagram.post_deleted",
    "semantic",
    ("instagram",),
    "instagram: the account's owner deletes a published post in Instagram's own app `after_s` "
    "later: from then on reads of it and of its comments answer code 100 / 33 (the object does "
    "not exist) and it leaves the account's media list, while the account's other media answer.",
    DeletedParams,
)


_kind(
    "linkedin.id_header_dropped",
    "semantic",
    ("linkedin",),
    "linkedin: a proxy in front of the API drops the response headers of a created post: the "
    "post is made (201, empty body as always) but the answer carries no `x-restli-id`, so the "
    "caller cannot tell which post it made — an ambiguous answer, to be settled by looking.",
)


class VersionWithdrawnParams(_P):
    version: str | None = Field(
        None,
        pattern=r"^\d{6}$",
        description=(
            "the version (YYYYMM) LinkedIn stops serving; null: the month before the current one "
            "(by the world's clock), the newest a client can count on"
        ),
    )


_kind(
    "linkedin.version_withdrawn",
    "protocol",
    ("linkedin",),
    "linkedin: a version LinkedIn served is withdrawn early (a breaking change rolled back, a "
    "version sunset ahead of its year): `/rest/` requests that name it in `Linkedin-Version` get "
    "426 `NONEXISTENT_VERSION`, as for a version that never existed; other versions answer.",
    VersionWithdrawnParams,
)


class GraphErrorParams(_P):
    code: Literal[1, 2] = Field(
        2, description="the Graph error code: 1 an unknown error, 2 the service unavailable"
    )
    status: Literal[400, 500] = Field(
        400,
        description="the HTTP status it comes with (Graph answers these with 400 as often as 500)",
    )


_kind(
    "instagram.graph_error",
    "protocol",
    ("instagram",),
    "instagram: Graph fails calls on the matched routes with its transient error object — code "
    "1 (`An unknown error has occurred.`) or 2 (`An unexpected error has occurred. Please retry "
    "your request later.`), `is_transient: true`, no subcode — answered with HTTP 400 (or 500): "
    "the call failed, it says nothing of the object asked for.",
    GraphErrorParams,
)


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
    output_only: bool = Field(
        False,
        description=(
            "the model rambles: only the answer grows (the prompt is billed as sent), and a "
            "request's `max_tokens` still stops it — the cap is what bounds the cost"
        ),
    )


class ToolLoopParams(_P):
    tool: str = Field("kb_search", description="the tool the model keeps asking for")


class _AliasParams(_P):
    #: the provider whose catalogue ``to`` must name (set by each subclass)
    PROVIDER: ClassVar[str] = ""
    to: str | None = Field(
        None,
        max_length=100,
        description=(
            "the model the alias now resolves to, from the provider's catalogue (default: "
            "gpt-4.1 on OpenAI, claude-haiku-4-5 on Anthropic)"
        ),
    )

    @field_validator("to")
    @classmethod
    def _served(cls, v: str | None) -> str | None:
        if v is None:
            return v
        # the catalogues live with their fakes (imported here, when a rule is installed)
        from ..anthropic.wire import MODELS
        from ..openai.prices import CHAT_MODELS

        known: Collection[str] = CHAT_MODELS if cls.PROVIDER == "openai" else MODELS
        if v not in known:
            raise ValueError(
                f"{v!r} is not a model of the {cls.PROVIDER} fake; valid: {', '.join(known)}"
            )
        return v


class OpenAIAliasParams(_AliasParams):
    PROVIDER: ClassVar[str] = "openai"


class AnthropicAliasParams(_AliasParams):
    PROVIDER: ClassVar[str] = "anthropic"


#: the model an alias moves to unless the rule names one: one the platform's price table may
#: not know, dearer than the alias's own
ALIAS_MOVED_TO = {"openai": "gpt-4.1", "anthropic": "claude-haiku-4-5"}

for _p, _alias in (("openai", OpenAIAliasParams), ("anthropic", AnthropicAliasParams)):
    _kind(
        f"{_p}.alias_moved",
        "semantic",
        (_p,),
        f"{_p}: the model alias the platform asks for now resolves to another model (`to`): "
        "answers name that model and are billed at its price.",
        _alias,
    )

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
        f"{_p}: completions succeed but report huge token usage (cost spike); the output "
        "never exceeds the request's `max_tokens`.",
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


class ContextParams(_P):
    window: int = Field(
        128_000, ge=1, le=10_000_000, description="the model's context window the error names"
    )


for _p, _answer in (
    ("openai", "400 invalid_request_error `context_length_exceeded` (param `messages`)"),
    ("anthropic", "400 invalid_request_error `prompt is too long`"),
):
    _kind(
        f"{_p}.context_too_long",
        "semantic",
        (_p,),
        f"{_p}: {_answer} — the prompt is over the model's window (a brief or a thread grew "
        "too long): the request itself is wrong, and sending it again does not help.",
        ContextParams,
    )
for _p, _answer in (("openai", "401 invalid_api_key"), ("anthropic", "401 authentication_error")):
    _kind(
        f"{_p}.key_revoked",
        "protocol",
        (_p,),
        f"{_p}: the agency's API key is revoked or rotated away: every call answers {_answer}.",
    )
_kind(
    "media.job_stuck",
    "semantic",
    ("media",),
    "media: render jobs stay 'processing' (for a time or forever).",
    StuckParams,
)


class RenderEndParams(_P):
    status: Literal["failed", "canceled"] = Field(
        "failed",
        description="how the render ends: 'failed' (render_failed: the renderer crashed) or "
        "'canceled' (render_canceled: the provider dropped it, e.g. for capacity); neither is billed",
    )


_kind(
    "media.job_failed",
    "semantic",
    ("media",),
    "media: render jobs end in status 'failed' (or 'canceled') with an error, unbilled.",
    RenderEndParams,
)


class ElsewhereParams(_P):
    url: str = Field(
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        min_length=1,
        max_length=2048,
        pattern=r"^https?://",
        description="where the finished render's content_url points (default: the cloud "
        "metadata address, served by the fakes' honeypot)",
    )


_kind(
    "media.content_url_elsewhere",
    "semantic",
    ("media",),
    "media: a finished render's content_url points at a host the platform was never given "
    "(a cloud metadata address by default): following it is server-side request forgery.",
    ElsewhereParams,
)


# --- MCP tool gateway ----------------------------------------------------------------------


class ToolParams(_P):
    tool: str | None = Field(None, description="the tool affected (default: every tool)")


class SchemaDriftParams(ToolParams):
    change: Literal["rename", "drop", "opaque"] = Field(
        "rename",
        description=(
            "rename: the required client_id becomes tenant_id and calls that still send "
            "client_id are refused (a strict schema); drop: client_id leaves the schema and the "
            "gateway answers for its own default tenant, ignoring arguments it no longer knows "
            "(a server that validates with extra='ignore', as FastMCP's argument models do); "
            "opaque: the tools are listed with a free-form input schema (an object naming no "
            "properties, as a proxy that cannot describe them lists them) and calls work as before"
        ),
    )


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
    "toolgate: a tool's input schema changes (a required argument renamed, or dropped and "
    "ignored when sent, or listed free-form), unannounced.",
    SchemaDriftParams,
)
_kind(
    "toolgate.tool_error",
    "semantic",
    ("toolgate",),
    "toolgate: tool calls return a result with isError=true.",
    ToolErrorParams,
)
_kind(
    "toolgate.no_meta_request_id",
    "protocol",
    ("toolgate",),
    "toolgate: tool results carry no _meta.request_id (a gateway that names its request only "
    "in the x-request-id header).",
    ToolParams,
)


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


class CrossedParams(_P):
    as_account: str | None = Field(
        None,
        description=(
            "the roster account whose session the site serves instead (default: the first "
            "account on that platform of another client, in roster order)"
        ),
    )


_kind(
    "web.session_crossed",
    "semantic",
    WEB,
    "web: the site's session store hands a browser another user's session (from a page load "
    "on, until the window ends): pages name that user, and what is done on them is done as "
    "that user.",
    CrossedParams,
)
