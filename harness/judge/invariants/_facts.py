"""Joins shared by the invariants: ledger ↔ audit ↔ workload, evidence anchors, nouns.

The fakes' ledger is the ground truth, the audit is the platform's claim, the workload is the
drill's intent. A ledger entry is matched to the audit's success outcomes by
``(audit action, platform, proof.resource_id)`` for social actions and by ``proof.request_id``
for providers and tools (docs/contracts.md); the job id of the match leads to the intent. An
outcome *claims* a side effect when it is a success, or a ``needs_human_confirm`` whose proof
names the resource (the platform says "I made this, but could not confirm it is live", RB-03)
— or names none, for the one unclaimed side effect its job's idempotency key made (the platform
knows an earlier attempt posted, not which post, and hands it to a person).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..record import AUDIT_ACTION_OF, SOCIAL_FAKES, DrillRecord, scenario_field
from ..rows import AuditRow, LedgerRow, text

__all__ = [
    "CLAIMING_OUTCOMES",
    "Facts",
    "Intent",
    "evidence",
    "facts",
    "noun_of",
    "post_shown_and_gone",
    "thread_of",
]

#: audit outcomes that account for a side effect named by their proof
CLAIMING_OUTCOMES: frozenset[str] = frozenset({"success", "needs_human_confirm"})

_NOUNS: dict[str, tuple[str, str, str]] = {
    "post.created": ("post", "posts", "published"),
    "post.deleted": ("deletion", "deletions", "made"),
    "reply.created": ("reply", "replies", "sent"),
    "dm.sent": ("DM", "DMs", "sent"),
    "like.created": ("like", "likes", "made"),
    "llm.completion": ("LLM call", "LLM calls", "made"),
    "image.generated": ("image", "images", "generated"),
    "video.generated": ("video", "videos", "generated"),
    "tool.called": ("tool call", "tool calls", "made"),
}


def noun_of(action: str) -> tuple[tuple[str, str], str]:
    """``((singular, plural), verb)`` for a ledger action."""
    s, p, verb = _NOUNS.get(action, ("side effect", "side effects", "made"))
    return (s, p), verb


def evidence(file: str, index: int) -> str:
    """The anchor of row ``index`` (0-based) of an evidence JSONL file: ``evidence/x.jsonl#L3``."""
    return f"evidence/{file}#L{index + 1}"


@dataclass(frozen=True, slots=True)
class Intent:
    """Who a side effect was meant for: the job, its client, its account, its keys."""

    job_id: str | None
    client_id: str | None
    account_id: str | None
    idempotency_key: str | None
    episode_id: str | None


@dataclass(frozen=True)
class Facts:
    """The joins of one record, computed once per invariant call."""

    #: ledger index → audit indexes of the outcomes that claim it (:data:`CLAIMING_OUTCOMES`)
    claims: dict[int, list[int]]
    #: ledger index → intent (None when nothing links it to a job)
    intents: dict[int, Intent | None]
    #: audit indexes of success outcomes
    successes: list[int]


#: fakes whose side effects are followed by the id of what they made, not the request: the
#: social platforms, and the render service (a render replayed under its Idempotency-Key is
#: the same render, whichever request got it back)
_BY_RESOURCE = frozenset({*SOCIAL_FAKES, "media"})


def _key_of_audit(a: AuditRow) -> tuple[object, ...] | None:
    proof = a.get("proof") or {}
    if a.get("platform") in _BY_RESOURCE and proof.get("resource_id") is not None:
        return ("res", a.get("action"), a.get("platform"), str(proof["resource_id"]))
    if proof.get("request_id") is not None:
        return ("req", str(proof["request_id"]))
    return None


def _key_of_ledger(e: LedgerRow) -> tuple[object, ...]:
    if e.get("fake") in _BY_RESOURCE and e.get("resource_id") is not None:
        return (
            "res",
            AUDIT_ACTION_OF.get(str(e.get("action"))),
            e.get("fake"),
            str(e["resource_id"]),
        )
    return ("req", str(e.get("request_id")))


def facts(record: DrillRecord) -> Facts:
    """Match every ledger entry to its claims and its intent."""
    by_key: dict[tuple[object, ...], list[int]] = {}
    successes: list[int] = []
    for i, a in enumerate(record.audit):
        if a.get("phase", "outcome") != "outcome" or a.get("outcome") not in CLAIMING_OUTCOMES:
            continue
        if a.get("outcome") == "success":
            successes.append(i)
        k = _key_of_audit(a)
        if k is not None:
            by_key.setdefault(k, []).append(i)
        proof = a.get("proof") or {}
        if k is not None and k[0] == "res" and proof.get("request_id") is not None:
            by_key.setdefault(("req", str(proof["request_id"])), []).append(i)
    jobs = record.job_intent()
    hashes = Counter(w.get("content_hash") for w in record.workload if w.get("content_hash"))
    by_hash = {
        w["content_hash"]: w for w in record.workload if hashes.get(w.get("content_hash")) == 1
    }
    # a needs_human_confirm that names no resource (the platform knows an earlier attempt of
    # its job posted, not which post: X refused the retry as a duplicate) claims the one side
    # effect its job's key made that nothing else claims
    unnamed: dict[str, list[int]] = {}
    for i, a in enumerate(record.audit):
        if (
            a.get("phase", "outcome") == "outcome"
            and a.get("outcome") == "needs_human_confirm"
            and _key_of_audit(a) is None
            and a.get("idempotency_key") is not None
        ):
            unnamed.setdefault(str(a["idempotency_key"]), []).append(i)
    key_of_request = (
        {
            str(j.get("request_id")): str(j.get("idempotency_key"))
            for j in record.journal
            if j.get("idempotency_key") is not None
        }
        if unnamed
        else {}
    )
    claims: dict[int, list[int]] = {}
    intents: dict[int, Intent | None] = {}
    for i, e in enumerate(record.ledger):
        found = by_key.get(_key_of_ledger(e), [])
        if not found and e.get("request_id") is not None:
            found = by_key.get(("req", str(e["request_id"])), [])
        if not found and unnamed:
            pending = unnamed.get(key_of_request.get(str(e.get("request_id")), ""), [])
            if pending:
                found = [pending.pop(0)]
        claims[i] = found
        intent: Intent | None = None
        if found:
            a = record.audit[found[0]]
            job = jobs.get(str(a.get("job_id"))) if a.get("job_id") is not None else None
            detail = a.get("detail") or {}
            intent = Intent(
                job_id=a.get("job_id"),
                client_id=(job or {}).get("client_id") or a.get("client_id"),
                account_id=(job or {}).get("account_id") or a.get("account_id"),
                idempotency_key=(job or {}).get("idempotency_key") or a.get("idempotency_key"),
                episode_id=(job or {}).get("episode_id") or text(detail.get("episode_id")),
            )
        elif e.get("content_hash") in by_hash:
            w = by_hash[e["content_hash"]]
            intent = Intent(
                w.get("job_id"),
                w.get("client_id"),
                w.get("account_id"),
                w.get("idempotency_key"),
                w.get("episode_id"),
            )
        intents[i] = intent
    return Facts(claims=claims, intents=intents, successes=successes)


def thread_of(record: DrillRecord) -> Callable[[str], str]:
    """``inbound item id → thread``: the post a conversation hangs off, followed back through our
    own replies (a comment on one of our replies continues the thread of what that reply
    answered)."""
    inbound = {str(c.get("id")): c for c in record.inbound if c.get("id") is not None}
    #: our reply → the inbound item it answered
    answered = {
        str(e.get("resource_id")): str(e.get("in_reply_to"))
        for e in record.ledger
        if e.get("action") == "reply.created" and e.get("resource_id")
    }

    def root(target: str) -> str:
        thread = str((inbound.get(target) or {}).get("post_id") or target)
        seen: set[str] = set()
        while thread in answered and thread not in seen:
            seen.add(thread)
            nxt = answered[thread]
            thread = str((inbound.get(nxt) or {}).get("post_id") or nxt)
        return thread

    return root


def post_shown_and_gone(row: Mapping[str, object]) -> tuple[float, float]:
    """``(shown from, gone from)`` of a post the ledger holds, from the notes the fakes write on
    it: kept from view for ``invisible_for=<s>s`` (for good: ``invisible``), deleted by its member
    in the platform's own app ``deleted_by_member_after=<s>s``; else shown when it landed and
    never gone."""
    t = float(str(row.get("t") or 0.0))
    shown, gone = t, float("inf")
    for part in str(row.get("detail") or "").replace(";", " ").split():
        k, _, v = part.partition("=")
        if k == "invisible" and not v:
            shown = float("inf")
        elif k == "invisible_for" and v.endswith("s"):
            shown = t + float(v[:-1])
        elif k == "deleted_by_member_after" and v.endswith("s"):
            gone = min(gone, t + float(v[:-1]))
    return shown, gone


def configured_pacing(record: DrillRecord) -> dict[str, dict[str, object]]:
    """platform → the pacing the drill's settings gave the platform at start (the scenario's
    ``world.pacing``, each field as the settings carry it); empty when none is configured."""
    world = scenario_field(record.scenario, "world")
    raw = scenario_field(world, "pacing") if world is not None else None
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, dict[str, object]] = {}
    for platform, pacing in raw.items():
        form = getattr(pacing, "as_settings", None)
        value = form() if callable(form) else pacing
        if isinstance(value, Mapping):
            out[str(platform)] = {str(k): v for k, v in value.items()}
    return out


def trace_id(traceparent: object) -> str | None:
    """The trace id of a W3C ``traceparent`` (``00-<trace>-<span>-01``), or None."""
    parts = str(traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
