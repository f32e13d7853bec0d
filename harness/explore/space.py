"""The fault space ``vibedrill explore`` searches: Hypothesis strategies that draw whole scenarios.

A draw is a short drill (20–40 virtual minutes, 1–3 clients): the world's platforms, 1–4 fault
rules of kinds the catalogue offers for them (fake, kind, params inside the kind's validated
ranges, offset, window, probability, match), a workload (posts, inbound comments and DMs,
generation, renders, tool calls, surges, budgets) shaped so the drawn faults have traffic to bite,
the runbook the Ops Lead follows and whether it responds at all. Every choice is listed from the
simplest to the richest so Hypothesis' shrinker walks towards fewer faults, shorter windows,
fewer clients and a smaller workload.

Independent draws almost never line faults up the way incidents do, so a draw may also take one
:class:`Package` of correlated faults and the traffic they need (a token expiry with a slow token
endpoint and a burst of posts, a render flood with slow renders, an echo bot on a thread with
keyword comments), alerting more watchful than the runbook's own thresholds (the Ops Lead meets
work still in flight), and one family of the runbook's controls unavailable (the Ops Lead skips
those steps; kill switches are never among them).

:func:`invariants_for` picks every invariant that applies to a drawn schedule, with the
parameters the hand-written scenarios use (e.g. publish jobs must succeed after a token expiry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from hypothesis import strategies as st
from pydantic import BaseModel

from fakes.core.fault_kind import FAULT_KINDS, SOCIAL

from ..runbooks import runbooks
from ..scenario import Scenario

__all__ = [
    "Space",
    "fault_kinds_for",
    "invariants_for",
    "runbook_of",
    "scenarios",
]

#: non-social fakes a fault may target (browser-lane ``web.*`` kinds are never drawn)
BACKENDS: tuple[str, ...] = ("openai", "anthropic", "media", "toolgate")
LLM = ("openai", "anthropic")

#: incident type of a fault on a social platform, by condition (``x.rate_limited`` → RATE)
_SOCIAL_TYPE: dict[str, str] = {
    "rate_limited": "RATE",
    "action_blocked": "RATE",
    "usage_capped": "RATE",
    "token_expired": "AUTH",
    "token_revoked": "AUTH",
    "scope_revoked": "AUTH",
    "refresh_failed": "AUTH",
    "token_wrong_user": "SAFETY",
    "reply_echo": "ENGAGE",
    "duplicate_inbound": "ENGAGE",
}
#: incident type of any fault on a backend fake, with the semantic exceptions
_BACKEND_TYPE = {
    "openai": "PROVIDER",
    "anthropic": "PROVIDER",
    "media": "QUEUE",
    "toolgate": "TOOLGATE",
}
_COST_KINDS = ("token_bloat", "tool_call_loop")
#: the runbook an incident type is rehearsed with
RUNBOOK_OF_TYPE: dict[str, str] = {
    "SAFETY": "RB-01",
    "PUBLISH": "RB-02",
    "AUTH": "RB-04",
    "RATE": "RB-05",
    "QUEUE": "RB-07",
    "TOOLGATE": "RB-08",
    "PROVIDER": "RB-09",
    "ENGAGE": "RB-10",
    "OBS": "RB-11",
    "COST": "RB-12",
}

#: kinds that hold from T+0 for the whole drill when drawn (see ``_fault``)
_FROM_THE_START = frozenset({"x.token_wrong_user"})

#: routes a transport fault may be narrowed to (None: every route of the fake)
_ROUTES: dict[str, tuple[str | None, ...]] = {
    "x": (None, "oauth2.token"),
    "instagram": (None, "media.publish"),
    "linkedin": (None, "posts.create"),
}
_TOOLS = ("kb_search", "schedule_lookup", "analytics_fetch")
#: the token endpoint of a platform whose tokens the sandbox refreshes (only X has a refresh flow)
TOKEN_ROUTES: dict[str, str] = {"x": "oauth2.token"}

#: runbook controls a draw may find unavailable, by family (the blueprint service that locks
#: triggers is down, the queue cannot be paused): the Ops Lead skips every step of the runbook
#: using one. Kill switches are never unavailable: they are what must hold.
CONTROL_FAMILIES: dict[str, tuple[str, ...]] = {
    "triggers": ("triggers.lock", "triggers.unlock"),
    "queue": ("queue.pause", "queue.resume"),
    "pacing": ("pacing.set",),
    "routing": ("provider.route", "lane.route"),
    "modes": ("mode.set", "lane.read_only"),
    "budgets": ("budget.set",),
}
#: how watchful the alerting is: the runbook's symptom thresholds times this (1: as written),
#: so the Ops Lead also meets incidents early, while work is still in flight
WATCHFULNESS: tuple[float, ...] = (1.0, 0.25)


def incident_of(kind: str, fake: str) -> str:
    """The incident type a fault of ``kind`` on ``fake`` is (``x.post_invisible`` → PUBLISH)."""
    cond = kind.split(".", 1)[1]
    if fake in _BACKEND_TYPE:
        return "COST" if cond in _COST_KINDS else _BACKEND_TYPE[fake]
    if cond == "post_invisible":
        return "PUBLISH"
    return _SOCIAL_TYPE.get(cond, "PUBLISH")


def runbook_of(kind: str, fake: str) -> str:
    """The runbook a fault is rehearsed with (``x.post_invisible`` → RB-03)."""
    if kind.endswith(".post_invisible"):
        return "RB-03"
    return RUNBOOK_OF_TYPE[incident_of(kind, fake)]


def fault_kinds_for(fake: str) -> list[str]:
    """The API-lane fault kinds that apply to ``fake``, sorted (``http.*`` first)."""
    return sorted(k for k, v in FAULT_KINDS.items() if fake in v.fakes and not k.startswith("web."))


@dataclass(frozen=True)
class Space:
    """What a search may draw: platforms, fault kinds (by incident type) and response modes."""

    platforms: tuple[str, ...] = SOCIAL
    types: tuple[str, ...] = ()
    runbook: str | None = None
    modes: tuple[Literal["auto", "observe"], ...] = ("auto", "observe")
    min_faults: int = 1
    max_faults: int = 4

    def kinds(self, fake: str) -> list[str]:
        """The fault kinds drawn for ``fake`` under the type/runbook filter."""
        out = []
        for k in fault_kinds_for(fake):
            t = incident_of(k, fake)
            if self.types and t not in self.types:
                continue
            if self.runbook and runbook_of(k, fake) != self.runbook:
                continue
            out.append(k)
        return out

    def fakes(self, platforms: Sequence[str]) -> list[str]:
        """The fakes with at least one drawable kind, given the world's platforms."""
        return [f for f in (*platforms, *BACKENDS) if self.kinds(f)]

    def misrouting(self) -> bool:
        """May misrouted publish jobs (a SAFETY incident) be drawn?"""
        ok_type = not self.types or "SAFETY" in self.types
        return ok_type and self.runbook in (None, "RB-01")

    def describe(self) -> dict[str, Any]:
        """The space as written into the summary."""
        return {
            "platforms": list(self.platforms),
            "types": list(self.types),
            "runbook": self.runbook,
            "modes": list(self.modes),
            "faults": [self.min_faults, self.max_faults],
        }


def _param(name: str, field: Any) -> st.SearchStrategy[Any]:
    """Representative values of one fault parameter, inside its validated range, simplest first."""
    ann = field.annotation
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    default = None if field.is_required() else field.get_default()
    if get_args(ann) and all(isinstance(a, str) for a in get_args(ann)):  # a Literal
        return st.sampled_from(list(get_args(ann)))
    if name == "tool":
        return st.sampled_from(_TOOLS)
    if name in ("scope", "message", "keyword", "code"):
        return st.just(default)
    if name == "for_s":
        return st.sampled_from([None, 120.0, 600.0])
    if ann in (float, int):
        grid = {
            "retry_after_s": (default, 120.0, 600.0, 5.0),
            "ms": (2000.0, 20000.0, 45000.0),
            "jitter_ms": (0.0, 500.0),
            "seconds": (30.0, 120.0),
            "factor": (50.0, 200.0),
            "status": (503.0, 500.0, 502.0),
            "after_chunks": (3.0, 0.0),
            "delay_s": (5.0, 30.0),
        }.get(name, (default,))
        vals = [
            v for v in grid if v is not None and (lo is None or v >= lo) and (hi is None or v <= hi)
        ]
        vals = [int(v) if ann is int else float(v) for v in dict.fromkeys(vals)]
        return st.sampled_from(vals or [default])
    return st.just(default)


def _params(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    model: type[BaseModel] = FAULT_KINDS[kind].Params
    fields = {n: _param(n, f) for n, f in model.model_fields.items()}
    return st.fixed_dictionaries(fields).map(
        lambda d: {k: v for k, v in d.items() if v is not None}
    )


@st.composite
def _fault(
    draw: st.DrawFn, space: Space, platforms: Sequence[str], duration: int
) -> dict[str, Any]:
    fake = draw(st.sampled_from(space.fakes(platforms)))
    kind = draw(st.sampled_from(space.kinds(fake)))
    if kind in _FROM_THE_START:
        # a token is bound to its user when it is granted: the mix-up is there from the start,
        # on the first client's account, for the whole drill (a later start is no incident a
        # platform could meet: an identity it checked cannot change under the same token)
        return {"kind": kind, "at": 0.0, "match": {"fake": fake, "account": f"acme-{fake}"}}
    at_min = draw(st.integers(5, duration // 60 - 5))
    window = draw(st.one_of(st.sampled_from([5, 10, 15, 2]), st.none()))
    f: dict[str, Any] = {"kind": kind, "at": at_min * 60.0}
    if window is not None:
        f["duration"] = float(min(window, duration // 60 - at_min) * 60)
    params = draw(_params(kind))
    if params:
        f["params"] = params
    # no_side_effect_while_toolgate_failing judges the gateway's failure *window*, not each call:
    # a gateway fault that hits every other call would blame posts made on real results
    prob = 1.0 if fake == "toolgate" else draw(st.sampled_from([1.0, 0.5]))
    if prob != 1.0:
        f["probability"] = prob
    if len(FAULT_KINDS[kind].fakes) > 1:
        route = draw(st.sampled_from(_ROUTES.get(fake, (None,))))
        f["match"] = {"fake": fake} | ({"route": route} if route else {})
    return f


@st.composite
def _surge(draw: st.DrawFn, jobs: Sequence[str], duration: int) -> dict[str, Any]:
    job = draw(st.sampled_from(jobs))
    # renders are long and slow: only a flood of them backs a queue up (rb07's 3,000 an hour
    # starves the publish queue of a runner that serves work first-come), other surges stay cheap
    rates = [240.0, 900.0, 3000.0] if job == "generate_video" else [60.0, 240.0]
    return {
        "job": job,
        "at": draw(st.integers(5, duration // 60 - 10)) * 60.0,
        "duration": draw(st.sampled_from([300.0, 600.0])),
        "per_hour": draw(st.sampled_from(rates)),
    }


@dataclass
class Package:
    """Correlated faults and the traffic they need, drawn as one unit (Jepsen's combined nemeses).

    Faults drawn independently almost never line up the way real incidents do: a token expiring
    *while* the token endpoint is slow and a burst of posts needs a refresh at once, renders slow
    *during* a flood of them, an echo bot answering a thread that gets replies. Each package is
    such a coupling; its faults are still ordinary rules (the shrinker and the 1-minimality pass
    drop any that are not needed).
    """

    name: str
    faults: list[dict[str, Any]]
    surges: list[dict[str, Any]]
    #: workload rates raised to at least these values
    rates: dict[str, float]
    #: the workload must last this long (a flood needs time to drain after it)
    min_duration: float = 0.0


def _packages(space: Space, platforms: Sequence[str]) -> list[str]:
    """The packages ``space`` allows for a world of ``platforms`` (by their faults' kinds)."""
    out = []
    if any(p in TOKEN_ROUTES and f"{p}.token_expired" in space.kinds(p) for p in platforms):
        out.append("expiry_storm")
    if "http.latency" in space.kinds("media"):
        out.append("render_flood")
    if any(f"{p}.reply_echo" in space.kinds(p) for p in platforms):
        out.append("echo_loop")
    return out


@st.composite
def _package(draw: st.DrawFn, space: Space, platforms: Sequence[str], duration: int) -> Package:
    name = draw(st.sampled_from(_packages(space, platforms)))
    if name == "expiry_storm":
        # tokens expire, refreshing is slow, and a burst of posts needs a fresh token at once
        p = draw(st.sampled_from([p for p in platforms if p in TOKEN_ROUTES]))
        at = draw(st.integers(5, duration // 60 - 15)) * 60.0
        window = draw(st.sampled_from([10, 5])) * 60.0
        latency = {"fake": p, "route": TOKEN_ROUTES[p]}
        return Package(
            name,
            [
                {"kind": f"{p}.token_expired", "at": at, "duration": window},
                {
                    "kind": "http.latency",
                    "at": at,
                    "duration": window,
                    "match": latency,
                    "params": {"ms": draw(st.sampled_from([2000.0, 5000.0]))},
                },
            ],
            [{"job": "publish", "at": at, "duration": 60.0, "per_hour": 2400.0}],
            {},
        )
    if name == "render_flood":
        # a flood of long renders while the renderer is slow: the backlog outlives the flood
        window = draw(st.sampled_from([15, 20])) * 60.0
        return Package(
            name,
            [
                {
                    "kind": "http.latency",
                    "at": 300.0,
                    "duration": window,
                    "match": {"fake": "media"},
                    "params": {"ms": 20000.0},
                }
            ],
            [{"job": "generate_video", "at": 300.0, "duration": window, "per_hour": 3000.0}],
            {"video_jobs_per_hour": 6.0},
            min_duration=3600.0,
        )
    # an echo bot answers the platform's replies on a thread that gets keyword comments
    p = draw(st.sampled_from([p for p in platforms if f"{p}.reply_echo" in space.kinds(p)]))
    at = draw(st.integers(5, duration // 60 - 10)) * 60.0
    window = draw(st.sampled_from([10, 20])) * 60.0
    echo: dict[str, Any] = {"kind": f"{p}.reply_echo", "at": at, "duration": window}
    if len(FAULT_KINDS[echo["kind"]].fakes) > 1:
        echo["match"] = {"fake": p}
    return Package(name, [echo], [], {"inbound_comments_per_hour": 120.0})


def _needs(faults: Sequence[dict[str, Any]]) -> set[str]:
    """What traffic the drawn faults need to bite: engagement, generation, renders, tools."""
    out: set[str] = set()
    for f in faults:
        fake = (f.get("match") or {}).get("fake") or FAULT_KINDS[f["kind"]].fakes[0]
        if f["kind"].endswith(("reply_echo", "duplicate_inbound")):
            out.add("inbound")
        elif fake in LLM:
            out.add("text")
            if f["kind"].endswith("tool_call_loop"):
                out.add("tools_in_text")
        elif fake == "media":
            out.add("render")
        elif fake == "toolgate":
            out.add("tools")
    return out


@st.composite
def scenarios(draw: st.DrawFn, space: Space, sid: str = "explore_draw", seed: int = 0) -> Scenario:
    """Draw one short scenario of ``space``; see the module doc."""
    platforms = draw(
        st.lists(
            st.sampled_from(space.platforms), min_size=1, max_size=len(space.platforms), unique=True
        )
    )
    platforms = [p for p in SOCIAL if p in platforms]
    clients = draw(st.integers(1, 3))
    duration = draw(st.sampled_from([1200, 1800]))
    offered = _packages(space, platforms) if space.max_faults >= 2 else []
    packs = draw(st.lists(_package(space, platforms, duration), max_size=1)) if offered else []
    faults = [f for pk in packs for f in pk.faults]
    faults += draw(
        st.lists(
            _fault(space, platforms, duration),
            min_size=0 if faults else space.min_faults,
            max_size=max(space.max_faults - len(faults), 0),
        )
    )
    need = _needs(faults)
    duration = int(max([float(duration), *(pk.min_duration for pk in packs)]))
    wl: dict[str, Any] = {"duration": float(duration), "steady_state": 300.0}
    wl["posts_per_hour"] = draw(st.sampled_from([30.0, 60.0]))
    comments = draw(st.sampled_from([0.0, 60.0, 120.0] if "inbound" not in need else [60.0, 120.0]))
    if comments:
        wl["inbound_comments_per_hour"] = comments
        if draw(st.booleans()):
            wl["dms_per_hour"] = 30.0
    gen = draw(st.sampled_from([0.0, 60.0, 120.0] if "text" not in need else [60.0, 120.0]))
    if gen:
        wl["generation_jobs_per_hour"] = gen
        if "tools_in_text" in need or draw(st.booleans()):
            wl["text_tools"] = ["kb_search"]
    videos = draw(st.sampled_from([0.0, 6.0] if "render" not in need else [6.0]))
    if videos:
        wl["video_jobs_per_hour"] = videos
    tools = draw(st.sampled_from([0.0, 60.0] if "tools" not in need else [60.0]))
    if tools:
        wl["tool_calls_per_hour"] = tools
        if draw(st.booleans()) or "tools" in need:
            wl["tool_followup"] = "publish"
    surge_jobs = ["publish", "comment", "generate_video"] + (
        ["misrouted_publish"] if space.misrouting() else []
    )
    surges = [x for pk in packs for x in pk.surges]
    surges += draw(st.lists(_surge(surge_jobs, duration), max_size=2))
    if surges:
        wl["surges"] = surges
    for pk in packs:
        for key, rate in pk.rates.items():
            wl[key] = max(float(wl.get(key) or 0.0), rate)
    world: dict[str, Any] = {"clients": clients, "platforms": platforms}
    if draw(st.booleans()) if need & {"text"} else False:
        world["budgets"] = {"episode_usd": 0.5, "client_usd": 5.0, "client_tokens": 10000}
    # the runbook: the one of any drawn fault (or of the misrouted jobs), the first by default
    misrouted = any(s["job"] == "misrouted_publish" for s in surges)
    books = [runbook_of(f["kind"], _fake_of(f)) for f in faults]
    books = list(dict.fromkeys((["RB-01"] if misrouted else []) + books))
    if space.runbook:
        books = [space.runbook]
    runbook = draw(st.sampled_from(books))
    detection = _detection(runbook, draw(st.sampled_from(WATCHFULNESS)))
    skip = draw(_unavailable(runbook))
    types = [incident_of(f["kind"], _fake_of(f)) for f in faults] + (
        ["SAFETY"] if misrouted else []
    )
    types = list(dict.fromkeys(types))
    mode = draw(st.sampled_from(space.modes))
    raw: dict[str, Any] = {
        "id": sid,
        "title": "explored schedule",
        "runbook": runbook,
        "severity": "P2",
        "incident_types": types,
        "seed": seed,
        "world": world,
        "workload": wl,
        "faults": faults,
        "response": mode,
        "invariants": [],
    }
    if detection:
        raw["detection"] = {"rules": detection}
    if skip:
        raw["runbook_overrides"] = {"skip": skip}
    raw["invariants"] = invariants_for(raw)
    return Scenario.model_validate(raw)


def _detection(runbook: str, watchfulness: float) -> list[dict[str, Any]]:
    """The runbook's symptom rules with thresholds times ``watchfulness`` ([] when it is 1)."""
    if watchfulness == 1.0:
        return []
    rules = []
    for r in runbooks()[runbook].symptoms:
        rule = r.model_dump(mode="json", exclude_defaults=True)
        if r.source != "alert":
            rule["threshold"] = max(r.threshold * watchfulness, 1.0)
        rules.append(rule)
    return rules


def _unavailable(runbook: str) -> st.SearchStrategy[list[str]]:
    """Nothing, or the steps of ``runbook`` using one control family (see CONTROL_FAMILIES)."""
    steps = [
        s
        for s in (*runbooks()[runbook].immediate, *runbooks()[runbook].fix)
        if s.action and not s.action.startswith("kill_switch.")
    ]
    options: list[list[str]] = [[]]
    for actions in CONTROL_FAMILIES.values():
        ids = [s.id for s in steps if s.action in actions]
        if ids:
            options.append(ids)
    return st.sampled_from(options)


def _fake_of(f: dict[str, Any]) -> str:
    return str((f.get("match") or {}).get("fake") or FAULT_KINDS[f["kind"]].fakes[0])


#: invariants judged on every draw with their default parameters
ALWAYS: tuple[str, ...] = (
    "every_side_effect_audited",
    "every_side_effect_on_intended_account",
    "no_credential_across_tenants",
    "no_duplicate_side_effects",
    "no_secret_in_artifacts",
    "no_side_effects_while_killed",
    "no_unverified_publish_reported_live",
    "rate_within_platform_limits",
    "engagement_loops_bounded",
    "no_side_effect_while_toolgate_failing",
    "spend_within_budget",
)
#: provider faults the other provider covers (the routing fails over): a revoked key too
_TRANSIENT_PROVIDER = (
    "http.",
    "overloaded",
    "rate_limited",
    "stream_cut",
    "quota_exhausted",
    "key_revoked",
)


def invariants_for(raw: dict[str, Any]) -> list[Any]:
    """Every invariant that applies to a drawn schedule (a scenario mapping), with parameters.

    Beyond :data:`ALWAYS`, every job must end terminal, and a kind of job must *succeed* where
    the schedule leaves it a healthy path: text generation when one LLM provider alone is faulted
    (the other is its failover) and no budget caps spend; publishing when the only trouble on
    the social platforms is a token expiring (refresh must recover it). The publish queue must
    return fresh after healing when the social platforms themselves are not faulted.
    """
    faults = raw.get("faults") or []
    wl = raw.get("workload") or {}
    fakes = [_fake_of(f) for f in faults]
    must: list[str] = []
    llm = {fk for fk in fakes if fk in LLM}
    llm_ok = all(
        any(t in f["kind"] for t in _TRANSIENT_PROVIDER)
        for f, fk in zip(faults, fakes, strict=True)
        if fk in LLM
    )
    if len(llm) == 1 and llm_ok and not (raw.get("world") or {}).get("budgets"):
        must.append("generate_text")
    social = [f for f, fk in zip(faults, fakes, strict=True) if fk in SOCIAL]
    misrouted = any(s.get("job") == "misrouted_publish" for s in wl.get("surges") or ())
    # a token expiring (with its endpoint slow, at worst) leaves refreshing as a healthy path
    only_expiry = all(
        f["kind"].endswith("token_expired")
        or (
            f["kind"] == "http.latency"
            and (f.get("match") or {}).get("route") == TOKEN_ROUTES.get(_fake_of(f))
        )
        for f in social
    )
    timed = all(f.get("duration") is not None for f in faults)
    if social and not misrouted and only_expiry and timed and not wl.get("tool_calls_per_hour"):
        must.append("publish")
    out: list[Any] = list(ALWAYS)
    # a job parked for a person's approval (the tool gateway failed closed) has ended for the automation
    terminal: dict[str, Any] = {"also_terminal": ["awaiting_approval"]}
    if must:
        terminal["must_succeed"] = must
    out.append({"name": "every_job_terminal_after_healing", "params": terminal})
    if not social and all(f.get("duration") is not None for f in faults):
        out.append(
            {
                "name": "queue_freshness_restored",
                "params": {"metric": 'queue_oldest_age_s{job_class="publish"}'},
            }
        )
    return out
