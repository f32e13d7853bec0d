"""Control and guard coverage: which drills make each control and guard bite, with a judged outcome.

Every control of the mitigation toolbox (kill switch scopes, modes, queue pause, pacing and
daily caps, blueprint disable, trigger lock, provider routing, each budget kind) and every guard
of the platform (tenancy guard, refresh lock, idempotency, verification, tool-gateway fail-closed,
egress guard, own-message and dedupe guards, engagement caps, recursion cap, secret scrubbing) is
an :class:`Item`: a predicate over one healthy drill's evidence that says whether the control or
guard *met work* in that drill (an audit outcome ``blocked`` with its reason, a job approved
while a mode held it, a throttle the platform had to wait out, …) and the invariants that judge
it. A drill covers an item when the evidence shows the item exercised **and** one of its
invariants was judged there (``held`` or ``violated`` with at least one thing checked; a
``not_applicable`` verdict judges nothing). Nothing here is a hand-kept list of scenarios: the
map is derived from the reports.

``vibedrill coverage`` prints the map (``--json`` for machines) and exits 1 when an item has no
covering drill.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ITEMS", "DrillEvidence", "Item", "coverage_map", "load_evidence"]

KILL_SCOPES = ("global", "client", "platform", "account", "action")
SOCIAL = ("x", "instagram", "linkedin")


@dataclass
class DrillEvidence:
    """The evidence of one healthy drill, read from its report folder."""

    scenario: str
    report_dir: Path
    verdict: dict[str, Any]
    _cache: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Rows of ``evidence/<name>.jsonl`` (empty when the file is absent)."""
        if name not in self._cache:
            p = self.report_dir / "evidence" / f"{name}.jsonl"
            self._cache[name] = (
                [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
                if p.is_file()
                else []
            )
        return self._cache[name]

    def blocked(self, prefix: str) -> list[dict[str, Any]]:
        """Audit outcomes ``blocked`` whose error starts with ``prefix``."""
        return [
            a
            for a in self.rows("audit")
            if a.get("outcome") == "blocked" and str(a.get("error") or "").startswith(prefix)
        ]

    def judged(self, name: str) -> bool:
        """Whether invariant ``name`` was judged in this drill (held or violated, ≥ 1 checked)."""
        return any(
            i.get("name") == name
            and i.get("verdict") in ("held", "violated")
            and int(i.get("checked") or 0) > 0
            for i in self.verdict.get("invariants", [])
        )

    def probe(self, name: str) -> int:
        """How much work a ``control.bit`` probe counted (0 when absent)."""
        return sum(
            int((e.get("data") or {}).get("count") or 0)
            for e in self.rows("timeline")
            if e.get("kind") == "control.bit" and (e.get("data") or {}).get("probe") == name
        )

    def changes(self, control: str) -> list[dict[str, Any]]:
        """Control changes of one control, in order."""
        return [c for c in self.rows("controls") if c.get("control") == control]


Evidence = Callable[[DrillEvidence], int]


@dataclass(frozen=True)
class Item:
    """A control or guard: what it is, how a drill shows it met work, which invariants judge it."""

    id: str
    kind: str  # "control" | "guard"
    what: str
    judged_by: tuple[str, ...]
    evidence: Evidence
    shows: str


def _kill(scope: str) -> Evidence:
    from .drill.operator import kill_scope

    return lambda d: sum(
        1 for a in d.blocked("kill_switch:") if kill_scope(str(a.get("error"))) == scope
    )


def _mode_held(mode: str) -> Evidence:
    """Jobs a person approved while ``mode`` was in force for their client/platform."""

    def fn(d: DrillEvidence) -> int:
        spans: list[tuple[dict[str, Any], float, float]] = []
        open_: dict[str, tuple[dict[str, Any], float]] = {}
        for c in d.changes("mode"):
            scope = dict(c.get("scope") or {})
            key = json.dumps(scope, sort_keys=True)
            if key in open_:
                sc, start = open_.pop(key)
                spans.append((sc, start, float(c["t"])))
            if c.get("value") == mode:
                open_[key] = (scope, float(c["t"]))
        spans += [(sc, start, float("inf")) for sc, start in open_.values()]
        n = 0
        for j in d.rows("jobs"):
            at = j.get("approved_at")
            if at is None:
                continue
            for sc, a, b in spans:
                if (
                    a <= float(at) < b
                    and sc.get("client_id") in (None, j.get("client_id"))
                    and sc.get("platform") in (None, j.get("platform"))
                ):
                    n += 1
                    break
        return n

    return fn


def _throttled(platform: str) -> Evidence:
    return lambda d: sum(
        1
        for j in d.rows("journal")
        if j.get("fake") == platform
        and (j.get("status") == 429 or str(j.get("fault_kind") or "").endswith(".rate_limited"))
    )


def _budget(level: str, unit: str) -> Evidence:
    pattern = re.compile(rf"budget: {level} budget of .* {unit} spent")
    return lambda d: sum(1 for a in d.blocked("budget:") if pattern.match(str(a.get("error"))))


def _fault_hits(suffix: str) -> Evidence:
    return lambda d: sum(
        int(f.get("hits") or 0)
        for f in d.rows("faults")
        if str(f.get("kind") or "").endswith(suffix)
    )


def _errors(*needles: str) -> Evidence:
    """Audit outcomes (any) or final jobs whose error names one of ``needles``."""

    def fn(d: DrillEvidence) -> int:
        texts = [str(a.get("error") or "") for a in d.rows("audit") if a.get("phase") == "outcome"]
        texts += [str(j.get("last_error") or "") for j in d.rows("jobs")]
        return sum(1 for t in texts if any(n in t for n in needles))

    return fn


def _routing(d: DrillEvidence) -> int:
    """Provider calls that went to a provider other than the first of the original route
    after a routing change (the platform followed the new route)."""
    changes = d.changes("provider_routing")
    if not changes:
        return 0
    first = min(float(c["t"]) for c in changes)
    routed = {p for c in changes for p in list(c.get("value") or [])[:1]}
    return sum(
        1
        for a in d.rows("audit")
        if a.get("outcome") == "success"
        and float(a["t"]) >= first
        and a.get("platform") in routed
        and a.get("action") in ("llm.complete", "image.generate", "video.generate")
    )


def _lookup_errors(d: DrillEvidence) -> int:
    lookups = ("tweets.get", "node.get", "posts.get")
    return sum(
        1
        for j in d.rows("journal")
        if j.get("route") in lookups
        and (int(j.get("status") or 0) >= 500 or j.get("fault_kind") == "http.malformed_body")
    )


def _paced(d: DrillEvidence) -> int:
    """Side-effect attempts after the first pacing change that set an interval or narrowed
    concurrency (the pacer had something to enforce)."""
    starts = [
        float(c["t"])
        for c in d.changes("pacing")
        if isinstance(c.get("value"), dict)
        and (
            float(c["value"].get("min_interval_s") or 0) > 0
            or int(c["value"].get("concurrency") or 1_000_000) < 4
        )
    ]
    if not starts:
        return 0
    first = min(starts)
    return sum(1 for a in d.rows("audit") if a.get("phase") == "attempt" and float(a["t"]) >= first)


def _refresh(d: DrillEvidence) -> int:
    """Token refreshes made while several requests of one account were refused as expired."""
    refused: dict[Any, int] = {}
    for j in d.rows("journal"):
        if j.get("status") == 401 or str(j.get("fault_kind") or "").endswith("token_expired"):
            refused[j.get("account_id")] = refused.get(j.get("account_id"), 0) + 1
    refreshes = [j for j in d.rows("journal") if "token" in str(j.get("route") or "")]
    return len(refreshes) if any(n > 1 for n in refused.values()) else 0


def _idempotent_resends(d: DrillEvidence) -> int:
    """Mutating requests sent again under the same idempotency key (a retry after an unknown outcome)."""
    seen: dict[tuple[Any, ...], int] = {}
    for j in d.rows("journal"):
        key = j.get("idempotency_key")
        if key and j.get("method") == "POST":
            k = (j.get("fake"), j.get("route"), key)
            seen[k] = seen.get(k, 0) + 1
    return sum(n - 1 for n in seen.values() if n > 1)


def _own_messages(d: DrillEvidence) -> int:
    return d.probe("own_message.bit")


def _auth_failures(d: DrillEvidence) -> int:
    return sum(
        1
        for j in d.rows("journal")
        if j.get("status") == 401
        or str(j.get("fault_kind") or "").startswith(
            ("x.token", "instagram.token", "linkedin.token")
        )
    )


def _egress(d: DrillEvidence) -> int:
    return sum(
        1
        for a in d.rows("audit")
        if a.get("action") == "http.request" and a.get("outcome") == "blocked"
    ) + len(d.blocked("egress"))


def _queue_paused(d: DrillEvidence) -> int:
    """Metric samples with work waiting in a paused job class."""
    path = d.report_dir / "evidence" / "metrics.csv"
    if not path.is_file() or not d.changes("queue_paused"):
        return 0
    import csv

    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    spans: list[tuple[str, float, float]] = []
    open_: dict[str, float] = {}
    for c in d.changes("queue_paused"):
        cls = str((c.get("scope") or {}).get("job_class"))
        if c.get("value"):
            open_.setdefault(cls, float(c["t"]))
        elif cls in open_:
            spans.append((cls, open_.pop(cls), float(c["t"])))
    spans += [(cls, t, float("inf")) for cls, t in open_.items()]
    start = _start_t(d)
    n = 0
    for r in rows:
        try:
            at = start + float(r.get("offset_s") or 0.0)
        except ValueError:
            continue
        for cls, a, b in spans:
            depth = r.get(f'queue_depth{{job_class="{cls}"}}') or "0"
            if a <= at < b and float(depth) > 0:
                n += 1
    return n


def _start_t(d: DrillEvidence) -> float:
    for e in d.rows("timeline"):
        if e.get("kind") == "drill.started":
            return float(e["t"])
    return 0.0


ITEMS: tuple[Item, ...] = (
    *(
        Item(
            f"kill_switch.{s}",
            "control",
            f"kill switch, {'global' if s == 'global' else 'per ' + ('job class (action type)' if s == 'action' else s)}",
            ("no_side_effects_while_killed", "nothing_lost_or_doubled_across_release"),
            _kill(s),
            "audit outcomes blocked by a switch of this scope",
        )
        for s in KILL_SCOPES
    ),
    Item(
        "kill_switch.lane",
        "control",
        "a lane held read-only (ingest only)",
        ("side_effects_only_as_the_mode_allows", "no_side_effects_while_killed"),
        lambda d: len(d.blocked("lane:read_only")) + len(d.blocked("x.browser.read_only")),
        "audit outcomes blocked by the read-only lane",
    ),
    Item(
        "mode.auto",
        "control",
        "mode auto (side effects run unattended)",
        ("every_side_effect_audited",),
        lambda d: sum(1 for a in d.rows("audit") if a.get("outcome") == "success"),
        "side effects that succeeded",
    ),
    Item(
        "mode.approval_required",
        "control",
        "mode approval_required",
        ("side_effects_only_as_the_mode_allows",),
        _mode_held("approval_required"),
        "jobs approved by a person while the mode held them",
    ),
    Item(
        "mode.manual_only",
        "control",
        "mode manual_only",
        ("side_effects_only_as_the_mode_allows",),
        _mode_held("manual_only"),
        "jobs approved by a person while the mode held them",
    ),
    Item(
        "mode.read_only",
        "control",
        "mode read_only",
        ("side_effects_only_as_the_mode_allows",),
        lambda d: len(d.blocked("mode:read_only")),
        "audit outcomes blocked by read_only",
    ),
    Item(
        "queue.pause",
        "control",
        "queue consumers paused",
        ("every_job_terminal_after_healing", "queue_freshness_restored"),
        _queue_paused,
        "metric samples with work waiting in a paused job class",
    ),
    *(
        Item(
            f"pacing.backoff.{p}",
            "control",
            f"pacing: back-off on {p}'s throttling signal",
            ("rate_within_platform_limits",),
            _throttled(p),
            f"requests {p} throttled",
        )
        for p in SOCIAL
    ),
    Item(
        "pacing.interval",
        "control",
        "pacing: minimum interval and concurrency (RB-05's reduce concurrency, add jitter)",
        ("pacing_in_force",),
        _paced,
        "side-effect attempts made after a pacing change that spaced or narrowed them",
    ),
    Item(
        "pacing.daily_caps",
        "control",
        "pacing: daily caps",
        ("rate_within_platform_limits", "daily_caps_used_in_full"),
        _errors("pacing: daily cap"),
        "jobs deferred by a daily cap",
    ),
    Item(
        "blueprint.disable",
        "control",
        "a blueprint disabled",
        ("no_reply_while_triggers_off",),
        lambda d: d.probe("blueprint_off.bit"),
        "keyword comments that arrived for a disabled blueprint",
    ),
    Item(
        "triggers.lock",
        "control",
        "keyword triggers locked",
        ("no_reply_while_triggers_off",),
        lambda d: d.probe("trigger_lock.bit"),
        "keyword comments that arrived for a client with locked triggers",
    ),
    Item(
        "provider.routing",
        "control",
        "provider routing (failover order)",
        ("provider_routing_in_force", "every_job_terminal_after_healing", "spend_within_budget"),
        _routing,
        "provider calls that followed a routing change",
    ),
    *(
        Item(
            f"budget.{level}_{unit.lower()}",
            "control",
            f"budget: {level} {unit}",
            ("spend_within_budget",),
            _budget(level, unit),
            f"calls refused by a {level} {unit} budget",
        )
        for level in ("episode", "client")
        for unit in ("USD", "tokens")
    ),
    Item(
        "guard.tenancy",
        "guard",
        "tenancy guard (a job's account belongs to its client)",
        ("every_side_effect_on_intended_account", "no_credential_across_tenants"),
        _errors("tenancy_mismatch", "tenancy"),
        "jobs refused by the tenancy guard",
    ),
    Item(
        "guard.refresh_lock",
        "guard",
        "refresh lock (one token refresh per account at a time)",
        ("every_job_terminal_after_healing", "no_needless_token_refresh"),
        _refresh,
        "token refreshes while several requests of one account were refused",
    ),
    Item(
        "guard.idempotency",
        "guard",
        "idempotency keys on resends",
        ("no_duplicate_side_effects",),
        _idempotent_resends,
        "mutating requests resent under the same idempotency key",
    ),
    Item(
        "guard.verification.not_found",
        "guard",
        "verification: a post the lookups do not find",
        ("no_unverified_publish_reported_live",),
        lambda d: sum(1 for a in d.rows("audit") if a.get("outcome") == "needs_human_confirm"),
        "publishes left needing a human's confirmation",
    ),
    Item(
        "guard.verification.lookup_error",
        "guard",
        "verification: lookups that error",
        ("no_unverified_publish_reported_live",),
        _lookup_errors,
        "post lookups that answered 5xx or a cut-short body",
    ),
    Item(
        "guard.toolgate_fail_closed",
        "guard",
        "tool gateway fails closed",
        ("no_side_effect_while_toolgate_failing",),
        lambda d: sum(
            1
            for a in d.rows("audit")
            if a.get("action") == "tool.call" and a.get("outcome") in ("blocked", "failed")
        ),
        "tool calls that failed or were blocked",
    ),
    Item(
        "guard.egress",
        "guard",
        "egress guard (only the hosts the platform was given)",
        ("nothing_reaches_a_host_it_was_not_given", "every_side_effect_audited"),
        _egress,
        "requests to a host outside the allow-list refused",
    ),
    Item(
        "guard.own_message",
        "guard",
        "own-message guard (never answer the account itself)",
        ("engagement_never_answers_itself",),
        _own_messages,
        "inbound comments written by the platform's own accounts",
    ),
    Item(
        "guard.dedupe",
        "guard",
        "inbound dedupe (an item delivered twice is answered once)",
        ("no_duplicate_side_effects", "engagement_loops_bounded"),
        _fault_hits(".duplicate_inbound"),
        "inbound listings that delivered items twice",
    ),
    Item(
        "guard.engagement_caps",
        "guard",
        "engagement caps (per conversation, cooldown) against echo loops",
        ("engagement_loops_bounded",),
        _fault_hits(".reply_echo"),
        "echo comments drawn by the platform's replies",
    ),
    Item(
        "guard.recursion_cap",
        "guard",
        "tool-call recursion cap",
        ("spend_within_budget", "every_job_terminal_after_healing"),
        _errors("recursion stop", "tool-call round"),
        "episodes stopped by the recursion cap",
    ),
    Item(
        "guard.secret_scrubbing",
        "guard",
        "secret scrubbing (no credential in any artifact)",
        ("no_secret_in_artifacts",),
        _auth_failures,
        "credential failures (where a token is closest to an error text)",
    ),
)


#: fault kinds of the catalogue no API-lane drill serves, each with why: a fault kind no drill
#: serves is a way the world can break that nothing rehearses, so a new one fails the map
#: until a scenario serves it or it is listed here
NOT_DRILLED: dict[str, str] = {
    "anthropic.stream_cut": "the platform does not stream completions (the SDK tests drill it)",
    "openai.stream_cut": "the platform does not stream completions (the SDK tests drill it)",
    "web.interstitial": "browser lane: the API-lane map runs no browser drill",
    "web.session_expired": "browser lane: the API-lane map runs no browser drill",
    "web.slow_render": "browser lane: the API-lane map runs no browser drill",
    "web.captcha": "browser lane: served by rb06_browser_captcha, a browser drill",
    "web.selector_drift": "browser lane: served by rb06_browser_drift, a browser drill",
    "web.action_blocked": "browser lane: served by rb05_browser_action_blocked, a browser drill",
}


def fault_map(drills: Iterable[DrillEvidence]) -> dict[str, Any]:
    """Which scenarios' drills served each fault kind of the catalogue (its rule answered at
    least one request): ``{"kinds": {kind: [scenario, …]}, "unserved": [...], "not_drilled":
    {kind: why}}`` — ``unserved`` lists the kinds neither served nor in :data:`NOT_DRILLED`."""
    import fakes.core.faults  # noqa: F401  (registers the catalogue's kinds)
    from fakes.core.fault_kind import FAULT_KINDS

    served: dict[str, set[str]] = {k: set() for k in FAULT_KINDS}
    #: kinds a drill laid as a trap a safe platform never meets (a reached check of min 0)
    traps: dict[str, set[str]] = {}
    for d in drills:
        for r in d.rows("faults"):
            kind = str(r.get("kind"))
            if int(r.get("hits") or 0) > 0 and kind in served:
                served[kind].add(d.scenario)
        for c in d.verdict.get("reached") or ():
            name = str(c.get("name") or "") if isinstance(c, dict) else ""
            if name.endswith(" served") and c.get("min") == 0:
                traps.setdefault(name.removesuffix(" served"), set()).add(d.scenario)
    skipped = {k: why for k, why in NOT_DRILLED.items() if k in served and not served[k]}
    laid = {k: sorted(v) for k, v in sorted(traps.items()) if k in served and not served[k]}
    return {
        "kinds": {k: sorted(v) for k, v in sorted(served.items())},
        "unserved": sorted(
            k for k, v in served.items() if not v and k not in skipped and k not in laid
        ),
        "not_drilled": skipped,
        "traps": laid,
    }


def load_evidence(report_dir: Path) -> DrillEvidence | None:
    """The evidence of one report folder, or None when it has no verdict."""
    v = report_dir / "verdict.json"
    if not v.is_file():
        return None
    verdict = json.loads(v.read_text())
    return DrillEvidence(str(verdict.get("scenario")), report_dir, verdict)


def coverage_map(drills: Iterable[DrillEvidence]) -> dict[str, Any]:
    """``{"items": [...], "uncovered": [...], "drills": n}``; see the module docstring."""
    drills = list(drills)
    items: list[dict[str, Any]] = []
    for it in ITEMS:
        rows: list[dict[str, Any]] = []
        for d in drills:
            n = it.evidence(d)
            judged = [name for name in it.judged_by if d.judged(name)]
            if n > 0 and judged:
                rows.append({"scenario": d.scenario, "evidence": n, "judged_by": judged})
        items.append(
            {
                "id": it.id,
                "kind": it.kind,
                "what": it.what,
                "shows": it.shows,
                "judged_by": list(it.judged_by),
                "scenarios": sorted(rows, key=lambda r: str(r["scenario"])),
            }
        )
    return {
        "drills": len(drills),
        "items": items,
        "uncovered": [i["id"] for i in items if not i["scenarios"]],
    }


def command(*, as_json: bool, reports_dir: Path, jobs: int, reuse: bool) -> int:
    """``vibedrill coverage``: run (or reuse) every API-lane scenario healthy, print the map.

    Returns the exit code: 0 when every item is covered, 1 otherwise.
    """
    import sys

    from rich.console import Console
    from rich.table import Table

    from .catalogue import scenarios_dir
    from .drill.browser import is_browser_scenario
    from .drill.options import drill_id_for
    from .drill.run import commit_of
    from .mutants import default_jobs, run_drills
    from .scenario import load_scenario

    out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    scenarios = [load_scenario(p) for p in sorted(scenarios_dir().glob("*.yaml"))]
    scenarios = [s for s in scenarios if not is_browser_scenario(s)]
    commit = commit_of()
    drills: list[DrillEvidence] = []
    todo = []
    for s in scenarios:
        folder = reports_dir / drill_id_for(s, s.seed)
        ev = load_evidence(folder) if reuse else None
        if ev is not None and ev.verdict.get("commit") == commit and not ev.verdict.get("defects"):
            drills.append(ev)
        else:
            todo.append((s, ()))
    for o in run_drills(todo, reports_dir, jobs=jobs or default_jobs(), commit=commit):
        ev = load_evidence(Path(o.report_dir)) if o.report_dir else None
        if ev is not None:
            drills.append(ev)
    m = coverage_map(sorted(drills, key=lambda d: d.scenario))
    unheld = sorted(d.scenario for d in drills if d.verdict.get("verdict") != "held")
    m["not_held"] = unheld
    m["faults"] = faults = fault_map(drills)
    if as_json:
        print(json.dumps(m, indent=2))
    else:
        t = Table("control / guard", "kind", "judged by", "scenarios (evidence)", title="coverage")
        for i in m["items"]:
            where = ", ".join(f"{r['scenario']} ({r['evidence']})" for r in i["scenarios"])
            t.add_row(
                i["id"],
                i["kind"],
                ", ".join(i["judged_by"]),
                where or "[red]NOT COVERED[/red]",
            )
        out.print(t)
        kinds = faults["kinds"]
        out.print(
            f"{sum(1 for v in kinds.values() if v)}/{len(kinds)} fault kinds served by a drill"
            + (
                "; laid as traps a safe platform never meets: "
                + "; ".join(f"{k} ({', '.join(v)})" for k, v in faults["traps"].items())
                if faults["traps"]
                else ""
            )
            + (
                f"; [red]served by none: {', '.join(faults['unserved'])}[/red]"
                if faults["unserved"]
                else ""
            )
            + (
                "; not drilled here: "
                + "; ".join(f"{k} ({why})" for k, why in faults["not_drilled"].items())
                if faults["not_drilled"]
                else ""
            )
        )
        n = len(m["items"])
        out.print(
            f"{n - len(m['uncovered'])}/{n} controls and guards covered by {m['drills']} drills"
            + (f"; uncovered: {', '.join(m['uncovered'])}" if m["uncovered"] else "")
            + (f"; drills not held: {', '.join(unheld)}" if unheld else "")
        )
    return 1 if m["uncovered"] or unheld or faults["unserved"] else 0
