"""Hand-built drill records for unit tests of the judge: a small world, and row builders."""

from __future__ import annotations

from typing import Any

from harness.record import DrillRecord
from harness.timeline import Timeline

T0 = 1_795_780_800.0
SECRET = "xat-0123456789abcdef0123456789abcdef"

ACCOUNTS = {
    "acme-x": {"tenant_id": "acme", "platform": "x", "handle": "@acme_x"},
    "northwind-x": {"tenant_id": "northwind", "platform": "x", "handle": "@northwind_x"},
    "acme-instagram": {"tenant_id": "acme", "platform": "instagram", "handle": "@acme_instagram"},
    "agency-openai": {"tenant_id": "agency", "platform": "openai", "handle": "agency@openai"},
}
CLIENTS = {"acme": "Acme Bakery", "northwind": "Northwind Tools", "agency": "The agency"}
CREDENTIALS = {
    "fp_acme": {"account_id": "acme-x", "tenant_id": "acme"},
    "fp_north": {"account_id": "northwind-x", "tenant_id": "northwind"},
    "fp_agency": {"account_id": "agency-openai", "tenant_id": "agency"},
}
_FP = {
    "acme-x": "fp_acme",
    "northwind-x": "fp_north",
    "acme-instagram": "fp_acme_ig",
    "agency-openai": "fp_agency",
}


def led(
    n: int,
    at: float,
    *,
    action: str = "post.created",
    account: str = "acme-x",
    fake: str | None = None,
    resource: str | None = None,
    content: str | None = None,
    in_reply_to: str | None = None,
    cost: float = 0.0,
    tokens: int = 0,
    fp: str | None = None,
) -> dict[str, Any]:
    """A ledger row ``n`` at offset ``at`` seconds."""
    acc = ACCOUNTS[account]
    return {
        "seq": n,
        "t": T0 + at,
        "fake": fake or acc["platform"],
        "action": action,
        "account_id": account,
        "tenant_id": acc["tenant_id"],
        "credential_fp": fp or _FP[account],
        "request_id": f"req-{n}",
        "resource_id": resource if resource is not None else f"r{n}",
        "content_hash": content if content is not None else f"h{n}",
        "in_reply_to": in_reply_to,
        "tokens_in": tokens,
        "tokens_out": 0,
        "cost_usd": cost,
        "detail": None,
        "channel": "api",
    }


def aud(
    n: int,
    at: float,
    *,
    job: str,
    resource: str | None = None,
    action: str = "post.create",
    client: str = "acme",
    platform: str = "x",
    account: str = "acme-x",
    verified: bool = True,
    request_id: str | None = None,
    key: str | None = None,
    outcome: str = "success",
    proof: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A success outcome AuditEvent for ``job`` claiming ``resource``."""
    return {
        "seq": n,
        "t": T0 + at,
        "event_id": f"ae-{n:06d}",
        "client_id": client,
        "platform": platform,
        "account_id": account,
        "action": action,
        "phase": "outcome",
        "outcome": outcome,
        "job_id": job,
        "idempotency_key": key or f"k-{job}",
        "lane": "api",
        "trace_id": f"{n:032x}",
        "proof": proof
        if proof is not None
        else {
            "resource_id": resource,
            "request_id": request_id,
            "verified": verified,
        },
        "error": None,
        "detail": {},
    }


def intent(
    job: str,
    *,
    client: str = "acme",
    account: str = "acme-x",
    platform: str = "x",
    kind: str = "publish",
    content: str | None = None,
    episode: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """A workload row: what the drill asked for."""
    return {
        "job_id": job,
        "kind": kind,
        "client_id": client,
        "platform": platform,
        "account_id": account,
        "submitted_at": T0,
        "idempotency_key": key or f"k-{job}",
        "content_hash": content,
        "episode_id": episode,
    }


def kill(n: int, at: float, engaged: bool, **scope: Any) -> dict[str, Any]:
    """A kill-switch control change."""
    return {
        "seq": n,
        "t": T0 + at,
        "actor": "ops-lead (auto)",
        "reason": "RB-01 step 1",
        "control": "kill_switch",
        "scope": scope,
        "value": engaged,
    }


def record(**kw: Any) -> DrillRecord:
    """A record in the small world; keyword arguments override fields."""
    base: dict[str, Any] = {
        "scenario": {
            "id": "rb01_wrong_account",
            "title": "Wrong account",
            "runbook": "RB-01",
            "severity": "P0",
            "incident_types": ["SAFETY"],
        },
        "drill_id": "rb01-wrong-account-20261127T120000Z-s1",
        "seed": 1,
        "start_t": T0,
        "end_t": T0 + 3600,
        "timeline": Timeline(),
        "accounts": ACCOUNTS,
        "clients": CLIENTS,
        "credentials": CREDENTIALS,
    }
    base.update(kw)
    return DrillRecord(**base)
