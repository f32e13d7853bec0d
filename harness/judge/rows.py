"""The rows of the drill record, typed: what each list of :class:`~harness.judge.record.DrillRecord` holds.

Rows are JSON objects (they come from the fakes' ledger and journal, the platform's audit feed
and the fakes' admin API), so they are ``TypedDict``\\ s: indexing a key that no row has is a type
error, and a row built by hand in a test needs only the keys the test cares about
(``total=False``). Free-form parts (an audit event's ``proof`` and ``detail``, a fault's
``params``) are :data:`JsonObject`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypedDict, TypeVar, cast

__all__ = [
    "AccountFacts",
    "AlertRow",
    "AuditRow",
    "ControlChangeRow",
    "ControlRequestRow",
    "CredentialFacts",
    "FaultRow",
    "InboundRow",
    "JobRow",
    "JournalRow",
    "Json",
    "JsonObject",
    "LedgerRow",
    "WorkloadRow",
    "as_row",
    "json_object",
    "number",
    "rows_of",
    "text",
]

#: a JSON value
Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]
#: a JSON object
JsonObject = dict[str, Json]


class LedgerRow(TypedDict, total=False):
    """One side effect the fakes accepted (``fakes.core.ledger.LedgerEntry``)."""

    seq: int
    t: float
    fake: str
    action: str
    account_id: str | None
    tenant_id: str | None
    credential_fp: str | None
    request_id: str
    resource_id: str | None
    content_hash: str | None
    in_reply_to: str | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    detail: str | None
    channel: str
    #: a post's public address as the platform gives it (absent: it has none)
    permalink: str | None


class JournalRow(TypedDict, total=False):
    """One request as a fake saw it (``fakes.core.journal.JournalEntry``)."""

    seq: int
    t: float
    fake: str
    method: str
    path: str
    route: str
    status: int
    account_id: str | None
    request_id: str
    retry_count: int | None
    idempotency_key: str | None
    fault_id: str | None
    fault_kind: str | None
    #: when the request arrived at the fake (``t`` is when it was answered)
    started: float | None
    #: the request's W3C ``traceparent`` header, when it sent one
    traceparent: str | None
    #: which of its account's access tokens the request carried (0 the roster's, +1 per refresh)
    token_gen: int | None
    #: when a refresh had replaced that token, as of the request's arrival (None: the newest)
    token_replaced_at: float | None
    #: the API's error code of an error answer (``invalid-request``, ``100/33``, ``duplicate``)
    error: str | None
    #: the ``seq`` of the last entry journaled when the request arrived
    after_seq: int | None
    #: the paging parameter of a GET (``pagination_token``, ``after``, ``start``), if any
    page: str | None


class AuditRow(TypedDict, total=False):
    """One side-effect attempt or outcome as the platform claims it (``AuditEvent``)."""

    seq: int
    t: float
    event_id: str
    client_id: str
    platform: str
    account_id: str | None
    action: str
    phase: str
    outcome: str | None
    job_id: str | None
    idempotency_key: str | None
    lane: str
    trace_id: str
    proof: JsonObject
    error: str | None
    detail: JsonObject


class ControlChangeRow(TypedDict, total=False):
    """One change to the control plane (``ControlChange``)."""

    seq: int
    t: float
    actor: str
    reason: str
    control: str
    scope: JsonObject
    value: Json


class ControlRequestRow(TypedDict, total=False):
    """One control request the harness sent (``call_control``): who asked what, and the answer."""

    #: 1-based, in the order the requests were sent
    seq: int
    #: when the request was sent (the drill's clock)
    t: float
    actor: str
    reason: str
    #: the control call, e.g. ``set_pacing`` (``sandbox.control_table``)
    name: str
    #: its arguments besides actor and reason, as JSON (a field left None keeps its value)
    arguments: JsonObject
    #: ``seq`` of the ControlChange the platform answered with (None: it refused or broke)
    change_seq: int | None
    error: str | None
    #: the platform's ``controls()`` read right after it answered (what an operator's console
    #: then shows; None: not read, or the read failed)
    state_after: JsonObject | None


class AlertRow(TypedDict, total=False):
    """One alert the platform raised (``Alert``)."""

    seq: int
    t: float
    name: str
    severity: str
    labels: dict[str, str]
    message: str


class FaultRow(TypedDict, total=False):
    """One fault rule from ``GET /_fake/faults`` (rules and history merged)."""

    id: str
    kind: str
    params: JsonObject
    match: JsonObject
    probability: float
    start: float | None
    end: float | None
    installed_at: float | None
    removed_at: float | None
    hits: int
    matched: int
    first_hit_at: float | None
    first_n: int | None
    every_nth: int | None


class WorkloadRow(TypedDict, total=False):
    """One job the drill submitted: its intent."""

    job_id: str
    kind: str
    client_id: str
    platform: str | None
    account_id: str | None
    submitted_at: float
    idempotency_key: str | None
    content_hash: str | None
    episode_id: str | None
    blueprint_id: str | None
    origin: str
    tool: str | None
    #: the gateway tools a text job may use (its payload's ``tools``; None: not a text job)
    tools: list[str] | None
    #: a hash of the media the post asked for (``payload.media_url``), as the fakes' ledger keeps
    media_hash: str | None
    #: when the job was due, if it was submitted ahead (the content calendar)
    run_at: float | None


class JobRow(TypedDict, total=False):
    """One of the platform's jobs at the end of the drill."""

    id: str
    state: str
    kind: str
    client_id: str
    platform: str | None
    account_id: str | None
    run_at: float
    updated_at: float
    #: the job's spec, when a caller kept it whole
    spec: JsonObject
    created_at: float
    attempts: int
    last_error: str | None
    idempotency_key: str | None
    #: when a person approved it (None: never)
    approved_at: float | None
    #: when a person marked it needs_human_confirm (None: never)
    marked_at: float | None
    #: what the platform's contract reports as the job's result (``GET /jobs``): anyone who may
    #: list jobs reads it, so no secret may be in it (``no_secret_in_artifacts``)
    result: JsonObject


class InboundRow(TypedDict, total=False):
    """One inbound comment or DM the fakes delivered."""

    id: str
    fake: str
    kind: str
    account_id: str
    post_id: str | None
    author: str
    t: float
    #: the id of the reply this item echoes (a reply loop), if any
    echo: str | None
    text: str


class AccountFacts(TypedDict, total=False):
    """World facts about one account."""

    tenant_id: str
    platform: str
    handle: str


class CredentialFacts(TypedDict, total=False):
    """World facts about one credential fingerprint."""

    account_id: str
    tenant_id: str | None


R = TypeVar("R")


def as_row(obj: object) -> dict[str, object]:
    """Convert a named tuple, pydantic model, dataclass-like or mapping into a plain dict."""
    if isinstance(obj, Mapping):
        return dict(obj)
    for method in ("model_dump", "_asdict", "to_json"):
        fn = getattr(obj, method, None)
        if callable(fn):
            return dict(fn(mode="json") if method == "model_dump" else fn())
    raise TypeError(f"cannot turn {type(obj).__name__} {obj!r} into a record row")


def rows_of(row_type: type[R], items: Iterable[object] | None) -> list[R]:
    """``items`` (ledger entries, audit events, JSON objects) as rows of ``row_type``.

    The one place where rows read from the fakes, the platform or JSON take their type.
    """
    del row_type  # the type is for the checker: rows are plain dicts at run time
    return cast(list[R], [as_row(x) for x in (items or ())])


def json_object(value: object) -> JsonObject:
    """``value`` when it is a JSON object, else ``{}`` (a free-form field that is missing)."""
    return cast(JsonObject, value) if isinstance(value, dict) else {}


def number(value: object, default: float = 0.0) -> float:
    """``value`` as a float when it is a number or a numeric string, else ``default``."""
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def text(value: object) -> str | None:
    """``value`` as a string, ``None`` staying ``None``."""
    return None if value is None else str(value)
