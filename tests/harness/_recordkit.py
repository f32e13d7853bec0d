"""Hand-built drill records for unit tests of the judge: a small world, and row builders."""

from __future__ import annotations

from typing import Any

from harness.judge.record import DrillRecord
from harness.judge.timeline import Timeline

T0 = 1_795_780_800.0
SECRET = "xat-0123456789abcdef0123456789abcdef"

ACCOUNTS = {
    "acme-x": {"tenant_id": "acme", "platform": "x", "handle": "@acme_x"},
    "northwind-x": {"tenant_id": "northwind", "platform": "x", "handle": "@northwind_x"},
    "acme-instagram": {"tenant_id": "acme", "platform": "instagram", "handle": "@acme_instagram"},
    "agency-openai": {"tenant_id": "agency", "platform": "openai", "handle": "agency@openai"},
    "agency-media": {"tenant_id": "agency", "platform": "media", "handle": "agency@media"},
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
    "agency-media": "fp_agency_media",
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
        # one trace per job (every healthy platform shares it across the job's events)
        "trace_id": job.encode().hex()[-32:].rjust(32, "0"),
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


def drill_record(
    *, leaked: bool = True, detected: bool = True, steady: bool = True, **kw: Any
) -> DrillRecord:
    """A whole RB-01 drill: a cross-wired credential posts Acme's content on Northwind's account."""
    tl = Timeline()
    tl.append(T0, "drill.started", "drill", "drill started", {"seed": 11})
    if steady:
        tl.append(
            T0 + 600, "steady_state.verified", "drill", "steady state verified: 10 posts live"
        )
    else:
        tl.append(
            T0 + 600, "steady_state.failed", "drill", "steady state: 0 side effects succeeded"
        )
    tl.append(
        T0 + 1200,
        "defect.activated",
        "drill",
        "defect credential_cross_wire active",
        {"defect": "credential_cross_wire"},
    )
    tl.append(
        T0 + 1200,
        "fault.injected",
        "drill",
        "fault x.rate_limited injected",
        {"kind": "x.rate_limited", "rule_id": "f1"},
    )
    ledger = [led(i, 60 * i, resource=f"p{i}") for i in range(1, 11)]
    audit = [aud(i, 60 * i + 1, job=f"j-{i}", resource=f"p{i}") for i in range(1, 11)]
    workload = [intent(f"j-{i}") for i in range(1, 11)]
    if leaked:
        for n, at in ((11, 1215), (12, 1230), (13, 1241)):
            ledger.append(led(n, at, account="northwind-x", resource=f"p{n}", fp="fp_north"))
            audit.append(aud(n, at + 1, job=f"j-{n}", resource=f"p{n}"))
            workload.append(intent(f"j-{n}"))
    alerts = []
    if detected:
        alerts = [
            {
                "seq": 1,
                "t": T0 + 1241,
                "name": "tenancy_mismatch",
                "severity": "page",
                "labels": {},
                "message": "audit account differs",
            }
        ]
        tl.append(
            T0 + 1241,
            "alert.fired",
            "monitoring",
            "alert tenancy_mismatch fired",
            {"name": "tenancy_mismatch", "alert_seq": 1},
        )
        tl.append(
            T0 + 1241,
            "incident.detected",
            "monitoring",
            "incident detected by tenancy_mismatch",
            {"signal": "tenancy_mismatch"},
        )
        tl.append(
            T0 + 1242,
            "runbook_step.started",
            "ops-lead (auto)",
            "RB-01.1 kill_switch.engage started",
            {"step": "RB-01.1", "index": 1, "action": "kill_switch.engage", "deadline_s": 120},
        )
        tl.append(
            T0 + 1244,
            "kill_switch.engaged",
            "ops-lead (auto)",
            'kill_switch.engaged scope=global reason="RB-01 step 1"',
            {"scope": {}, "control_seq": 1},
        )
        tl.append(
            T0 + 1244,
            "runbook_step.completed",
            "ops-lead (auto)",
            "RB-01.1 done",
            {
                "step": "RB-01.1",
                "index": 1,
                "postcondition": "no side effects",
                "postcondition_met": True,
            },
        )
        tl.append(
            T0 + 1250,
            "runbook_step.started",
            "ops-lead (auto)",
            "RB-01.2 mode.set started",
            {"step": "RB-01.2", "index": 2, "action": "mode.set", "deadline_s": 60},
        )
        tl.append(
            T0 + 1400,
            "runbook_step.completed",
            "ops-lead (auto)",
            "RB-01.2 done",
            {
                "step": "RB-01.2",
                "index": 2,
                "postcondition": "manual only",
                "postcondition_met": True,
            },
        )
    tl.append(
        T0 + 1800,
        "fault.healed",
        "drill",
        "fault x.rate_limited healed",
        {"kind": "x.rate_limited", "rule_id": "f1"},
    )
    tl.append(
        T0 + 1900, "verification.passed", "drill", "canary verified for acme", {"check": "canary"}
    )
    tl.append(T0 + 3600, "drill.finished", "drill", "drill finished")
    controls = [kill(1, 1244, True)] if detected else []
    journal = [
        {
            "seq": 1,
            "t": T0 + 1205,
            "fake": "x",
            "method": "POST",
            "path": "/2/tweets",
            "route": "tweets.create",
            "status": 429,
            "account_id": "acme-x",
            "request_id": "q1",
            "retry_count": None,
            "idempotency_key": None,
            "fault_id": "f1",
            "fault_kind": "x.rate_limited",
            "user_agent": None,
        },
    ]
    base: dict[str, Any] = {
        "scenario": {
            "id": "rb01_wrong_account_api_lane",
            "title": "Posts for Acme Bakery published on Northwind Tools' X account",
            "runbook": "RB-01",
            "severity": "P0",
            "incident_types": ["SAFETY"],
            "invariants": [
                "every_side_effect_on_intended_account",
                "no_side_effects_while_killed",
                "every_side_effect_audited",
                {"name": "no_secret_in_artifacts"},
            ],
            "faults": [{"kind": "x.rate_limited"}],
            "expect": {
                "time_to_detect": {"max": "2m"},
                "side_effects_after_containment": {"max": 0},
            },
        },
        "drill_id": "rb01-wrong-account-20261127T120000Z-s11",
        "seed": 11,
        "commit": "4e1c2a9f00",
        "defects": ("credential_cross_wire",),
        "start_t": T0,
        "end_t": T0 + 3600,
        "timeline": tl,
        "ledger": ledger,
        "audit": audit,
        "workload": workload,
        "alerts": alerts,
        "control_changes": controls,
        "journal": journal,
        "fault_rules": [
            {
                "id": "f1",
                "kind": "x.rate_limited",
                "params": {"retry_after_s": 60},
                "hits": 1,
                "matched": 3,
                "first_hit_at": T0 + 1205,
                "start": T0 + 1200,
                "end": T0 + 1800,
            }
        ],
        "jobs": [{"id": w["job_id"], "state": "succeeded"} for w in workload],
        "metrics_samples": [
            (
                T0 + 60 * i,
                {
                    "queue_depth": float(i % 5),
                    "publish_success": float(i),
                    # the global kill switch the Ops Lead engages at T+20m44s, as the gauge says
                    **(
                        {'kill_switch_state{scope="global"}': float(60 * i > 1244)}
                        if detected
                        else {}
                    ),
                },
            )
            for i in range(0, 60, 5)
        ],
        "accounts": ACCOUNTS,
        "clients": CLIENTS,
        "credentials": CREDENTIALS,
        "secrets": (SECRET,),
    }
    base.update(kw)
    return DrillRecord(**base)
