"""Mitigation invariants: the control plane does what the operator asked, and the pacing it
reports is what its side effects do.

A mitigation is only as good as the control that carries it. ``controls_as_requested`` does not
take the platform's word for its control state: it replays the control requests the harness
sent (``record.control_requests``: operator steps, the automated Ops Lead, a game day's people)
over the platform's control state at the start (``record.controls_at_start``) — a partial update
changes only the fields it sets — and compares every control change the platform then reports,
and its control state at the end, with that shadow. ``pacing_in_force`` holds the platform to the
pacing it reports (``pacing`` control changes over the state at the start), judged on the fakes'
journal: when each side effect's first request reached the fake, and how long it was on the wire.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field

from ...durations import format_duration
from ..record import SOCIAL_FAKES, DrillRecord, scenario_field
from ..rows import ControlRequestRow, FaultRow, JournalRow, Json, JsonObject, json_object, number
from ..timeline import format_offset
from ._base import Findings, NoParams, NotApplicable, Params, Violation, invariant
from ._facts import configured_pacing, evidence, trace_id

__all__ = [
    "ControlKey",
    "controls_as_requested",
    "controls_survive_restart",
    "guard_refusals_stay_refused",
    "marked_jobs_left_alone",
    "operator_calls_answered",
    "pacing_in_force",
    "provider_routing_in_force",
    "requested",
    "runner_concurrency_kept",
    "snapshot_fields",
]

#: a control and its scope: ``("pacing", (("platform", "x"),))``
ControlKey = tuple[str, tuple[tuple[str, str], ...]]
Fields = dict[str, Json]

#: control call → (control, scope arguments, argument → field) of its ControlChange
_CALLS: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = {
    "set_kill_switch": ("kill_switch", (), {"engaged": "engaged"}),
    "set_lane": ("lane", ("platform",), {"lane": "lane"}),
    "set_mode": ("mode", ("client_id", "platform"), {"mode": "mode"}),
    "set_lane_read_only": ("lane_read_only", ("platform", "lane"), {"read_only": "read_only"}),
    "set_queue_paused": ("queue_paused", ("job_class",), {"paused": "paused"}),
    "set_pacing": (
        "pacing",
        ("platform",),
        {"concurrency": "concurrency", "min_interval_s": "min_interval_s", "jitter_s": "jitter_s"},
    ),
    "set_blueprint_enabled": ("blueprint_enabled", ("blueprint_id",), {"enabled": "enabled"}),
    "set_trigger_lock": ("trigger_lock", ("client_id",), {"locked": "locked"}),
    "set_provider_routing": ("provider_routing", ("capability",), {"providers": "providers"}),
    "set_budget": (
        "budget",
        ("client_id",),
        {k: k for k in ("episode_tokens", "episode_usd", "client_usd", "client_tokens")},
    ),
}
#: a control whose change value is one atom → the field it sets
_ATOM_FIELD: dict[str, str] = {
    "kill_switch": "engaged",
    "lane": "lane",
    "mode": "mode",
    "lane_read_only": "read_only",
    "queue_paused": "paused",
    "blueprint_enabled": "enabled",
    "trigger_lock": "locked",
    "provider_routing": "providers",
}


def _scope(scope: Mapping[str, Json]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in scope.items() if v is not None))


def _flat(control: str, value: Mapping[str, Json]) -> Fields:
    """A dict-valued control (pacing, budget) as fields; daily caps one field per action type."""
    out: Fields = {}
    for k, v in value.items():
        if control == "pacing" and k == "daily_caps":
            out.update({f"daily_caps.{a}": n for a, n in json_object(v).items()})
        else:
            out[k] = v
    return out


def requested(name: str, arguments: Mapping[str, Json]) -> tuple[ControlKey, Fields] | None:
    """The control, scope and fields a control request sets (fields left None are not set);
    None for a call this judge does not know."""
    call = _CALLS.get(name)
    if call is None:
        return None
    control, scope_args, field_of = call
    if control == "kill_switch":
        scope = json_object(arguments.get("scope"))
    else:
        scope = {k: arguments.get(k) for k in scope_args}
        if control == "lane_read_only" and scope.get("lane") is None:
            scope["lane"] = "browser"
    fields: Fields = {f: arguments[a] for a, f in field_of.items() if arguments.get(a) is not None}
    if control == "pacing":
        caps = json_object(arguments.get("daily_caps"))
        fields.update({f"daily_caps.{a}": n for a, n in caps.items() if n is not None})
    return (control, _scope(scope)), fields


def _reported(control: str, value: Json) -> Fields:
    if isinstance(value, Mapping) and control in ("pacing", "budget", "budgets"):
        return _flat("pacing" if control == "pacing" else "budget", value)
    if control == "kill_switch" and isinstance(value, Mapping):
        return {"engaged": bool(value.get("engaged"))}
    field_name = _ATOM_FIELD.get(control)
    return {field_name: value} if field_name else {}


#: control → the section of a ``controls()`` snapshot that states it
_SECTION_OF: dict[str, str] = {
    "kill_switch": "kill_switches",
    "lane": "lanes",
    "mode": "modes",
    "lane_read_only": "read_only_lanes",
    "queue_paused": "paused",
    "pacing": "pacing",
    "blueprint_enabled": "blueprints",
    "trigger_lock": "trigger_lock",
    "provider_routing": "provider_routing",
    "budget": "budgets",
}

#: controls a snapshot keys by their scope (a mapping of platform, blueprint or capability)
_KEYED = frozenset({"pacing", "lane", "blueprint_enabled", "provider_routing"})


def _dropped(state: Mapping[str, Json], key: ControlKey, start: Mapping[str, Json]) -> bool:
    """Whether ``state`` lists scopes of ``key``'s control but no longer ``key``'s own, which
    the state at the start had: a write that replaced the whole table, not "does not say"."""
    section = state.get(_SECTION_OF.get(key[0], ""))
    return (
        key[0] in _KEYED
        and isinstance(section, Mapping)
        and bool(section)
        and snapshot_fields(start, key) is not None
    )


def snapshot_fields(snapshot: Mapping[str, Json], key: ControlKey) -> Fields | None:
    """The fields of ``key`` in a ``controls()`` snapshot; None when the snapshot does not say."""
    control, scope_items = key
    scope = dict(scope_items)
    section = snapshot.get(_SECTION_OF.get(control, ""))
    if section is None:
        return None
    if control == "kill_switch" and isinstance(section, list):
        engaged = any(_scope(json_object(s)) == scope_items for s in section)
        return {"engaged": engaged}
    if control == "lane_read_only" and isinstance(section, list):
        return {"read_only": any(_scope(json_object(s)) == scope_items for s in section)}
    if control == "queue_paused" and isinstance(section, list):
        return {"paused": scope.get("job_class") in section}
    if control == "mode" and isinstance(section, list):
        for m in section:
            row = json_object(m)
            if _scope({k: v for k, v in row.items() if k != "mode"}) == scope_items:
                return {"mode": row.get("mode")}
        return {"mode": "auto"}
    if control == "trigger_lock" and isinstance(section, Mapping):
        if "client_id" in scope:
            clients = section.get("clients")
            return {"locked": isinstance(clients, list) and scope["client_id"] in clients}
        # the contract's field; a snapshot without it does not say the lock is off
        return {"locked": section.get("global")}
    if control == "budget" and isinstance(section, Mapping):
        if "client_id" in scope:
            own = json_object(section.get("clients")).get(scope["client_id"])
            return None if own is None else dict(json_object(own))
        return dict(json_object(section.get("platform")))
    if isinstance(section, Mapping) and len(scope) == 1:
        value = section.get(next(iter(scope.values())))
        if value is None:
            return None
        if control == "pacing":
            return _flat("pacing", json_object(value))
        return {_ATOM_FIELD[control]: value}
    return None


def _keys_of(snapshot: Mapping[str, Json]) -> list[ControlKey]:
    """The keys a snapshot states values for (pacing, budgets, lanes, blueprints, routing)."""
    out: list[ControlKey] = []
    for control, section, scope_name in (
        ("pacing", "pacing", "platform"),
        ("lane", "lanes", "platform"),
        ("blueprint_enabled", "blueprints", "blueprint_id"),
        ("provider_routing", "provider_routing", "capability"),
    ):
        out += [(control, ((scope_name, str(k)),)) for k in json_object(snapshot.get(section))]
    budgets = json_object(snapshot.get("budgets"))
    if budgets:
        out.append(("budget", ()))
        out += [("budget", (("client_id", str(c)),)) for c in json_object(budgets.get("clients"))]
    # what is on: every engaged switch, every mode override, read-only lane, pause and lock
    for control, section in (
        ("kill_switch", "kill_switches"),
        ("mode", "modes"),
        ("lane_read_only", "read_only_lanes"),
    ):
        rows = snapshot.get(section)
        for row in rows if isinstance(rows, list) else []:
            scope = {k: v for k, v in json_object(row).items() if k != "mode"}
            out.append((control, _scope(scope)))
    paused = snapshot.get("paused")
    if isinstance(paused, list):
        out += [("queue_paused", (("job_class", str(c)),)) for c in paused]
    locked = json_object(snapshot.get("trigger_lock")).get("clients")
    if isinstance(locked, list):
        out += [("trigger_lock", (("client_id", str(c)),)) for c in locked]
    return out


def _same(a: Json, b: Json) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _label(key: ControlKey) -> str:
    control, scope = key
    where = ", ".join(f"{k}={v}" for k, v in scope)
    if not where:
        where = "platform-wide" if control == "budget" else "global"
    return f"{control} ({where})"


@dataclass(frozen=True, slots=True)
class _Asked:
    """Who set a field of the shadow state to what, when (None: the state at the start)."""

    value: Json
    request: ControlRequestRow | None


class _Shadow:
    """The control state the requests ask for: the start, with each request's fields applied."""

    def __init__(self, start: Mapping[str, Json]) -> None:
        self.start = start
        self.state: dict[ControlKey, dict[str, _Asked]] = {}

    def fields(self, key: ControlKey) -> dict[str, _Asked]:
        got = self.state.get(key)
        if got is None:
            base = snapshot_fields(self.start, key)
            if base is None and key[0] == "budget" and key[1]:
                # a client without its own budget has the platform-wide one: a partial update
                # keeps the other fields at the values in force for it, the platform-wide ones
                got = dict(self.fields(("budget", ())))
            else:
                got = {k: _Asked(v, None) for k, v in (base or {}).items()}
            self.state[key] = got
        return got

    def apply(self, key: ControlKey, fields: Fields, request: ControlRequestRow) -> None:
        shadow = self.fields(key)
        for k, v in fields.items():
            shadow[k] = _Asked(v, request)


def _why(record: DrillRecord, asked: _Asked) -> str:
    r = asked.request
    if r is None:
        return f"it was {asked.value!r} when the drill began and no request changed it"
    return (
        f"{r.get('actor') or 'someone'} asked for {asked.value!r} at "
        f"{format_offset(record.offset(number(r.get('t'))))} (request #{r.get('seq')})"
    )


@invariant(NoParams)
def controls_as_requested(record: DrillRecord, p: NoParams) -> Findings | NotApplicable:
    """Every control field an operator's request set reads back with that value until a later request changes it.

    The requests the harness sent (operator steps, the automated Ops Lead, a game day's people;
    ``evidence/control-requests.jsonl``) are replayed over the platform's control state when the
    drill began; a request sets only the fields it names (``set_budget`` and ``set_pacing`` take
    partial updates, a field left None keeps its value; a client without its own budget starts
    from the platform-wide one). Each control change the platform reports, and its control state
    at the end, must read back every field of that shadow — a scope nobody asked to change reads
    back as it was when the drill began: budgets (platform-wide and per client), pacing
    (concurrency, min_interval_s, jitter_s, daily caps), kill switches, modes, lanes, read-only
    lanes, pauses, blueprints, trigger locks and provider routing. A refused request changes
    nothing (``runbook_steps_applied`` judges refusals).
    """
    answered = sorted(
        (r for r in record.control_requests if r.get("change_seq") is not None),
        key=lambda r: (int(r.get("change_seq") or 0), int(r.get("seq") or 0)),
    )
    if not answered:
        return NotApplicable("no control request was answered during the drill")
    asked: list[tuple[int, ControlKey, Fields, ControlRequestRow]] = []
    for r in answered:
        got = requested(str(r.get("name")), json_object(r.get("arguments")))
        if got is not None:
            asked.append((int(r.get("change_seq") or 0), got[0], got[1], r))
    shadow = _Shadow(record.controls_at_start)
    touched: set[ControlKey] = set()
    out: list[Violation] = []
    checked = 0
    nxt = 0
    order = sorted(
        enumerate(record.control_changes), key=lambda x: (int(x[1].get("seq") or 0), x[0])
    )
    for i, c in order:
        seq = int(c.get("seq") or 0)
        while nxt < len(asked) and asked[nxt][0] <= seq:
            _, key, fields, r = asked[nxt]
            shadow.apply(key, fields, r)
            touched.add(key)
            nxt += 1
        control = "budget" if c.get("control") == "budgets" else str(c.get("control"))
        key = (control, _scope(json_object(c.get("scope"))))
        got_fields = _reported(control, c.get("value"))
        for name, want in shadow.fields(key).items():
            checked += 1
            have = got_fields.get(name)
            if _same(want.value, have):
                continue
            t = number(c.get("t"))
            out.append(
                Violation(
                    t,
                    ("control field", "control fields"),
                    "read back other than requested",
                    f"{_label(key)} {name}",
                    evidence("controls.jsonl", i),
                    message=(
                        f"{_label(key)} {name} read back {have!r} in change #{seq} at "
                        f"{format_offset(record.offset(t))}, but {_why(record, want)}"
                    ),
                )
            )
    for _, key, fields, r in asked[nxt:]:
        shadow.apply(key, fields, r)
        touched.add(key)

    def compare(state: JsonObject, shadow: _Shadow, touched: set[ControlKey], t: float,
                where: str, evidence_of: str) -> None:  # fmt: skip
        nonlocal checked
        modes = state.get("modes")
        for row in modes if isinstance(modes, list) else []:
            m = json_object(row)
            if m.get("mode") != "auto":
                continue
            # the contract: setting a scope to auto removes its override (auto is the default,
            # never an override): a listed auto reads as a scope pinned against a wider mode
            scope = _scope({k: v for k, v in m.items() if k != "mode"})
            out.append(
                Violation(
                    t,
                    ("control field", "control fields"),
                    "read back other than requested",
                    f"{_label(('mode', scope))} mode",
                    evidence_of,
                    message=(
                        f"{_label(('mode', scope))} is listed as an auto override in the control "
                        f"state {where}: setting a scope to auto removes its override"
                    ),
                )
            )
        keys = set(_keys_of(record.controls_at_start)) | set(_keys_of(state)) | touched
        for key in sorted(keys):
            have_fields = snapshot_fields(state, key)
            want_fields = shadow.fields(key)
            if (
                have_fields is None
                and key[0] != "budget"
                and not _dropped(state, key, record.controls_at_start)
            ):
                continue  # the platform's state does not say (an older platform)
            for name, want in want_fields.items():
                checked += 1
                have = (have_fields or {}).get(name)
                if _same(want.value, have):
                    continue
                out.append(
                    Violation(
                        t,
                        ("control field", "control fields"),
                        "read back other than requested",
                        f"{_label(key)} {name}",
                        evidence_of,
                        message=(
                            f"{_label(key)} {name} read back {have!r} in the control state "
                            f"{where}, but {_why(record, want)}"
                        ),
                    )
                )

    # the state read back right after each request: the shadow of every request answered by then
    lines = {id(r): n for n, r in enumerate(record.control_requests, 1)}
    read_back = 0
    mid, mid_touched = _Shadow(record.controls_at_start), set[ControlKey]()
    for _, key, fields, r in asked:
        mid.apply(key, fields, r)
        mid_touched.add(key)
        state = r.get("state_after")
        if not isinstance(state, Mapping):
            continue  # not read back (another request in flight meanwhile, or it could not)
        read_back += 1
        t = number(r.get("t"))
        compare(
            json_object(state), mid, mid_touched, t,
            f"read right after request #{r.get('seq')} at {format_offset(record.offset(t))}",
            evidence("control-requests.jsonl", lines.get(id(r), 1) - 1),
        )  # fmt: skip
    end = record.controls_at_end
    if end:
        compare(end, shadow, touched, record.end_t, "at the end", "evidence/controls-state.json")
    return Findings(
        checked,
        out,
        f"{len(asked)} control requests; every field they set read back as asked "
        f"({checked} fields checked in the reported changes"
        + (f", the state read after {read_back} requests" if read_back else "")
        + (" and the control state at the end)" if end else ")"),
    )


# --- pacing -----------------------------------------------------------------------------------

#: audit actions of side effects on social accounts (what pacing admits)
_PACED = frozenset({"post.create", "post.delete", "reply.create", "dm.send", "like.create"})
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class PacingParams(Params):
    """Parameters of ``pacing_in_force``."""

    tolerance_s: float = Field(
        0.5,
        ge=0,
        description="slack on min_interval_s and on overlaps: a side effect's first request may "
        "reach the fake this long after its pacing slot opened",
    )


@dataclass(frozen=True, slots=True)
class _SideEffect:
    platform: str
    account: str
    #: when its first request reached the fake
    start: float
    #: when the platform says it was admitted (its audited attempt), never after ``start``
    admitted: float
    #: when the fake answered its last request
    end: float
    line: int
    request_id: str


def _pacing_steps(record: DrillRecord) -> dict[str, list[tuple[float, JsonObject]]]:
    """platform → ``(since, pacing)`` in force, from the state at the start and the changes.

    At the start, what the drill's settings configured (``world.pacing``) is in force whatever
    the platform reports: a platform that read its settings wrong is judged by them."""
    configured = configured_pacing(record)
    steps: dict[str, list[tuple[float, JsonObject]]] = {
        str(pf): [(-math.inf, {**json_object(v), **configured.get(str(pf), {})})]  # type: ignore[dict-item]
        for pf, v in json_object(record.controls_at_start.get("pacing")).items()
    }
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        value = c.get("value")
        if c.get("control") == "pacing" and isinstance(value, Mapping):
            platform = str(json_object(c.get("scope")).get("platform"))
            steps.setdefault(platform, []).append((number(c.get("t")), json_object(value)))
    return steps


def _at(steps: list[tuple[float, JsonObject]], t: float) -> tuple[JsonObject, float]:
    cands = [(s, v) for s, v in steps if s <= t]
    if not cands:
        return {}, -math.inf
    since, value = cands[-1]
    return value, since


def _since(record: DrillRecord, since: float) -> str:
    if since == -math.inf:
        return "since the drill began"
    return f"since {format_offset(record.offset(since))}"


def _side_effects(record: DrillRecord, tolerance_s: float) -> list[_SideEffect]:
    """Each audited attempt of a social side effect, as the fakes saw it: the mutating requests
    on its account between the attempt and its outcome — those with the job's idempotency key
    (a resend after a token refresh, Instagram's container create and publish are one side
    effect), or, through the browser lane (a form carries no key), those without one."""

    def arrival(j: JournalRow) -> float:
        return number(j.get("started"), number(j.get("t")))

    #: (fake, account, idempotency key or None) → mutating requests, by arrival
    requests: dict[tuple[str, str, str | None], list[tuple[int, JournalRow]]] = {}
    for i, j in enumerate(record.journal):
        if str(j.get("method")) in _MUTATING:
            key = j.get("idempotency_key")
            k = (str(j.get("fake")), str(j.get("account_id")), None if key is None else str(key))
            requests.setdefault(k, []).append((i, j))
    for rows in requests.values():
        rows.sort(key=lambda x: (arrival(x[1]), x[1].get("seq", 0)))
    #: (job, action) → the times of its outcomes, to close each attempt
    outcomes: dict[tuple[str, str], list[float]] = {}
    for a in record.audit:
        if a.get("phase") == "outcome":
            outcomes.setdefault((str(a.get("job_id")), str(a.get("action"))), []).append(
                number(a.get("t"))
            )
    attempts: dict[tuple[str, str, str | None], list[tuple[float, float]]] = {}
    for a in record.audit:
        if (
            a.get("phase") != "attempt"
            or a.get("action") not in _PACED
            or a.get("platform") not in SOCIAL_FAKES
        ):
            continue
        t = number(a.get("t"))
        closed = [
            o for o in outcomes.get((str(a.get("job_id")), str(a.get("action"))), []) if o >= t
        ]
        until = min(closed, default=math.inf) + tolerance_s
        key = a.get("idempotency_key")
        browser = a.get("lane") == "browser" or key is None
        k = (str(a.get("platform")), str(a.get("account_id")), None if browser else str(key))
        attempts.setdefault(k, []).append((t, until))
    out: list[_SideEffect] = []
    for k, spans in attempts.items():
        rows = requests.get(k, [])
        spans.sort()
        used = 0
        for n, (t, closed_at) in enumerate(spans):
            nxt = spans[n + 1][0] - tolerance_s if n + 1 < len(spans) else math.inf
            until = min(nxt, closed_at)
            mine = [(i, j) for i, j in rows[used:] if t - tolerance_s <= arrival(j) < until]
            if not mine:
                continue
            used = rows.index(mine[-1]) + 1
            i, first = mine[0]
            out.append(
                _SideEffect(
                    platform=k[0],
                    account=k[1],
                    start=arrival(first),
                    admitted=min(t, arrival(first)),
                    # the attempt ends when its answers came, or when the platform closed it
                    # (its outcome: a request it gave up on after its timeout may still run at
                    # the API, but the platform no longer holds a slot for it)
                    end=min(max(number(j.get("t"), arrival(j)) for _, j in mine), closed_at),
                    line=i,
                    request_id=str(first.get("request_id")),
                )
            )
    return sorted(out, key=lambda s: (s.start, s.line))


#: what each top-level section of a ``controls()`` snapshot is, for a sentence
_SECTIONS = {
    "kill_switches": "the kill switches",
    "lanes": "the lanes",
    "read_only_lanes": "the read-only lanes",
    "modes": "the modes",
    "paused": "the paused job classes",
    "pacing": "pacing and daily caps",
    "blueprints": "the blueprints enabled",
    "trigger_lock": "the trigger locks",
    "provider_routing": "provider routing",
    "budgets": "the budgets",
    "retry": "the retry policy",
}


@invariant(NoParams)
def controls_survive_restart(record: DrillRecord, p: NoParams) -> Findings | NotApplicable:
    """A platform restarted mid-drill comes back with the control state it had: every kill
    switch, mode, lane, pause, cap, budget, lock and route an operator set still holds.

    Read from each ``platform.restarted`` event, which carries the platform's ``controls()``
    just before it stopped and just after it started again on its storage (a deploy or a crash
    in the middle of an incident must not quietly release what the operator engaged)."""
    restarts = [(i, e) for i, e in enumerate(record.timeline) if e.kind == "platform.restarted"]
    if not restarts:
        return NotApplicable("the platform was not restarted during the drill")
    out: list[Violation] = []
    checked = 0
    for line, e in restarts:
        before = json_object(e.data.get("before"))
        after = json_object(e.data.get("after"))
        for section in sorted(set(before) | set(after)):
            checked += 1
            was, now = before.get(section), after.get(section)
            if was == now:
                continue
            what = _SECTIONS.get(section, section)
            out.append(
                Violation(
                    e.t,
                    ("control section", "control sections"),
                    "changed by a restart",
                    section,
                    evidence("timeline.jsonl", line),
                    message=(
                        f"{what} changed when the platform restarted at "
                        f"{format_offset(record.offset(e.t))}: {_short(was)} before, "
                        f"{_short(now)} after"
                    ),
                )
            )
    return Findings(
        checked,
        out,
        f"{len(restarts)} restart(s); every control section read back as before ({checked} checked)",
    )


def _short(v: object) -> str:
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 160 else text[:157] + "…"


#: what the error of a ``blocked`` outcome starts with (or holds) when a guard refused the job
#: for something a person must look at: another tenant's account or session, a host the platform
#: was not given, a budget, a challenge page or a halted browser lane
_GUARD_REFUSALS: tuple[tuple[str, str], ...] = (
    ("tenancy:", "the tenancy guard"),
    ("egress", "the egress guard"),
    ("budget", "the budget"),
    (".browser.identity:", "the browser lane's identity check"),
    (".web.captcha:", "a challenge page"),
    (".browser.halted:", "the halted browser lane"),
)


def _guard_of(error: object) -> str | None:
    text = str(error or "")
    for mark, guard in _GUARD_REFUSALS:
        if text.startswith(mark) or (mark.startswith(".") and mark in text.split(" ", 1)[0]):
            return guard
    return None


@invariant(NoParams)
def guard_refusals_stay_refused(record: DrillRecord, p: NoParams) -> Findings | NotApplicable:
    """A job a guard refused is not run again on its own: it waits for a person (RB-01).

    Read from the audit log. A ``blocked`` outcome whose error names a guard — the tenancy guard
    (another tenant's account or browser session), the egress guard, a budget, a challenge page,
    a halted browser lane — ends what the platform does with that job: the refusal is what a
    person must look at. A later attempt of the same job, or a second refusal, is the platform
    trying it again unasked (a kill switch released, a mode changed: no reason to retry a cross-tenant
    post), re-firing its alert and, if the guard's answer changed meanwhile, sending work nobody
    cleared. (Kill switches, modes and read-only lanes are not guards: what they block runs once
    they are released.)
    """
    refused: dict[str, tuple[float, str, int]] = {}
    seen: set[str] = set()
    out: list[Violation] = []
    for j, a in enumerate(record.audit):
        job = a.get("job_id")
        if job is None:
            continue
        first = refused.get(str(job))
        again = a.get("phase") == "attempt" or (
            a.get("outcome") == "blocked" and _guard_of(a.get("error")) is not None
        )
        if first is not None and again:  # (an outcome closing the refused attempt is no rerun)
            t, guard, _ = first
            out.append(
                Violation(
                    float(a.get("t") or record.end_t),
                    ("job", "jobs"),
                    f"run again after {guard} refused it at "
                    f"{format_offset(record.offset(t))}, with no one clearing it "
                    f"({a.get('action')} {a.get('phase')} {a.get('outcome') or ''})".rstrip(),
                    str(job),
                    evidence("audit.jsonl", j),
                )
            )
            del refused[str(job)]  # one finding per refusal
            continue
        by = _guard_of(a.get("error")) if a.get("outcome") == "blocked" else None
        if by is not None:
            refused[str(job)] = (float(a.get("t") or 0.0), by, j)
            seen.add(str(job))
    judged = len(seen)
    if judged == 0:
        return NotApplicable("no guard refused a job")
    return Findings(
        judged,
        out,
        f"all {judged} jobs a guard refused stayed refused",
    )


#: a gap past min_interval_s shorter than this share of jitter_s is "no jitter drawn"
JITTER_FLOOR = 0.001


@invariant(PacingParams)
def pacing_in_force(record: DrillRecord, p: PacingParams) -> Findings | NotApplicable:
    """Side effects keep the pacing the platform reports: min_interval_s apart on an account, at most concurrency in flight per platform.

    Judged on the fakes' journal: a side effect is an audited attempt of a post, reply, DM, like
    or deletion, counted once by its first mutating request (Instagram's container create and
    publish, a resend after a token refresh are the same side effect; through the browser lane,
    the form posts between the attempt and its outcome); it is in flight from that request's
    arrival to the answer of its last. The next side effect on the account reaches the fake at
    least the ``min_interval_s`` in force when the one before was admitted after that admission
    (its audited attempt, or its first request if that came sooner; jitter only adds to it); a
    side effect starts only while fewer than the ``concurrency`` in force of its platform are in
    flight. The pacing in force is the platform's control state when the drill began and its
    ``pacing`` control changes since (``controls_as_requested`` holds those to the requests).
    """
    steps = _pacing_steps(record)
    changed = any(c.get("control") == "pacing" for c in record.control_changes)
    paced = any(number(v.get("min_interval_s")) > 0 for s in steps.values() for _, v in s[:1])
    out: list[Violation] = []
    # the pacing the platform reports at the start is what its settings configured
    configured = configured_pacing(record)
    reported = json_object(record.controls_at_start.get("pacing"))
    for platform, fields in sorted(configured.items()):
        have = json_object(reported.get(platform))
        for name, want in sorted(fields.items()):
            got = have.get(name)
            if got != want and not (
                isinstance(got, int | float) and isinstance(want, int | float) and got == want
            ):
                out.append(
                    Violation(
                        record.start_t,
                        ("setting", "settings"),
                        f"of {platform}'s pacing read {name}={json.dumps(got)} at the start, "
                        f"though the platform's settings gave {json.dumps(want)}",
                        f"{platform}.{name}",
                        "evidence/controls-state.json",
                    )
                )
    if not changed and not paced and not configured:
        return NotApplicable(
            "pacing was not changed during the drill and no platform spaces an account's side "
            "effects (min_interval_s 0 at the start)"
        )
    slack = (
        p.tolerance_s
        + float(record.extra.get("clock_skew_s") or 0.0)
        + float(record.extra.get("in_flight_s") or 0.0)
    )
    effects = _side_effects(record, slack)
    if not effects and not out:
        return NotApplicable(
            "no audited side-effect attempt on a social platform reached the fakes"
        )
    last: dict[tuple[str, str], _SideEffect] = {}
    in_flight: dict[str, list[_SideEffect]] = {}
    # in virtual time the gaps are exact: the jitter the platform draws shows in each of them
    exact = record.topology == "in-process" and "time_scale" not in record.extra
    unjittered: dict[tuple[str, str], list[tuple[_SideEffect, _SideEffect, float]]] = {}
    for s in effects:
        # the interval on the account, by the pacing in force when the one before started
        prev = last.get((s.platform, s.account))
        if prev is not None:
            # from when the one before was admitted (its attempt; never later than its first
            # request): a browser's form reaches the fake seconds after the pacer let it go
            pacing, since = _at(steps.get(s.platform, []), prev.admitted)
            need = number(pacing.get("min_interval_s"))
            gap = s.start - prev.admitted
            jitter = number(pacing.get("jitter_s"))
            if exact and jitter > 0 and 0 <= gap < need + JITTER_FLOOR * jitter:
                # a draw of up to jitter_s this close to none is a one-in-a-thousand chance
                unjittered.setdefault((s.platform, s.account), []).append((s, prev, jitter))
            if need > 0 and gap < need - slack:
                out.append(
                    Violation(
                        s.start,
                        ("side effect", "side effects"),
                        f"sent sooner after the one before on its account than {s.platform}'s "
                        "min_interval_s",
                        f"{s.request_id} on {record.handle(s.account)} {gap:.1f}s after "
                        f"{prev.request_id} was let through (min_interval_s {need:g} in force "
                        f"{_since(record, since)})",
                        evidence("journal.jsonl", s.line),
                    )
                )
        last[(s.platform, s.account)] = s
        # the platform's side effects in flight when this one started
        flying = [o for o in in_flight.get(s.platform, []) if o.end - slack > s.start]
        pacing, since = _at(steps.get(s.platform, []), s.start)
        limit = pacing.get("concurrency")
        if limit is not None and len(flying) >= number(limit):
            out.append(
                Violation(
                    s.start,
                    ("side effect", "side effects"),
                    f"started on {s.platform} while its concurrency was already in flight",
                    f"{s.request_id} with {len(flying)} in flight (concurrency {number(limit):g} "
                    f"in force {_since(record, since)})",
                    evidence("journal.jsonl", s.line),
                )
            )
        in_flight[s.platform] = [*flying, s]
    for (platform, account), misses in sorted(unjittered.items()):
        if len(misses) < 2:  # one draw that close may happen; two in a drill do not
            continue
        s, prev, jitter = misses[0]
        out.append(
            Violation(
                s.start,
                ("account", "accounts"),
                f"sent side effects with no jitter between them though {platform}'s jitter_s "
                "was in force",
                f"{record.handle(account)}: {len(misses)} side effects within "
                f"{JITTER_FLOOR * jitter:.2g}s past min_interval_s after the one before "
                f"(jitter_s {jitter:g}; first {s.request_id} after {prev.request_id})",
                evidence("journal.jsonl", s.line),
            )
        )
    return Findings(
        len(effects),
        out,
        f"{len(effects)} side effects kept the pacing in force (min_interval_s per account, "
        "jitter, concurrency per platform)",
    )


#: audited provider actions → the capability whose routing they follow
_ROUTED_ACTIONS: dict[str, str] = {
    "llm.complete": "text",
    "image.generate": "image",
    "video.generate": "video",
}


def _routing_steps(record: DrillRecord) -> dict[str, list[tuple[float, tuple[str, ...]]]]:
    """capability → ``(since, providers)`` in force, from the state at the start and the changes."""
    steps: dict[str, list[tuple[float, tuple[str, ...]]]] = {}
    for cap, v in json_object(record.controls_at_start.get("provider_routing")).items():
        if isinstance(v, list | tuple):
            steps[str(cap)] = [(-math.inf, tuple(str(x) for x in v))]
    for c in sorted(record.control_changes, key=lambda c: (c.get("t", 0.0), c.get("seq", 0))):
        value = c.get("value")
        if c.get("control") == "provider_routing" and isinstance(value, list | tuple):
            cap = str(json_object(c.get("scope")).get("capability"))
            steps.setdefault(cap, []).append((number(c.get("t")), tuple(str(x) for x in value)))
    return steps


def _provider_hold_s(
    throttle: JournalRow, rules: Mapping[str, FaultRow], longest: float, in_flight_s: float
) -> float:
    """How long a provider's 429 may hold it: the Retry-After its fault rule gave (and a second
    more, plus a served drill's in-flight allowance), else ``longest`` — a spent quota names no
    wait, and a 429 of the fake's own buckets names one this record does not keep."""
    rule = rules.get(str(throttle.get("fault_id")))
    if rule is None or not str(rule.get("kind") or "").endswith(".rate_limited"):
        return longest
    said = json_object(rule.get("params")).get("retry_after_s")
    if said is None:
        return longest
    return min(longest, number(said) + 1.0 + in_flight_s)


class RoutingParams(Params):
    hold_s: float = Field(
        3600.0,
        ge=0,
        description=(
            "how long after its 429 a provider may be skipped as held when the 429 named no "
            "Retry-After this record keeps (a spent quota); a fault rule's retry_after_s "
            "bounds the hold of its own 429s"
        ),
    )


@invariant(RoutingParams)
def provider_routing_in_force(record: DrillRecord, p: RoutingParams) -> Findings | NotApplicable:
    """Generation calls go only to providers the routing in force names for their capability.

    RB-09's mitigation is a routing change: "switch provider". A platform that reports the new
    routing (``controls_as_requested`` holds the report to the request) but keeps calling the
    provider it was routed away from has not mitigated anything — while the provider's failures
    still fail over, nothing else shows it. Judged on the platform's audit: each provider call's
    attempt (``llm.complete``, ``image.generate``, ``video.generate``) names its provider, which
    must be one the capability's routing lists when the attempt was made (the platform's control
    state at the start and its ``provider_routing`` changes since). A call that a routed request
    begun before a change still makes — the next provider of the list it started with — is
    excused: its job attempted the same action before the change and has had no success since.
    The order is the operator's too: a routed request (a job's first attempt of the action
    since its last success) goes first to the first provider the routing lists, unless that
    provider throttled the agency (a 429) and its hold still runs — the Retry-After the 429's
    fault rule gave, or ``hold_s`` for a 429 that named none the record keeps (a spent quota):
    a provider held after a 429 is rightly skipped, one whose hold ended is not.
    """
    steps = _routing_steps(record)
    changed = any(c.get("control") == "provider_routing" for c in record.control_changes)
    if not changed:
        return NotApplicable("the provider routing was not changed during the drill")
    out: list[Violation] = []
    checked = 0
    #: provider → (429 answered at, how long it may hold the provider)
    throttled: dict[str, list[tuple[float, float]]] = {}
    rules = {str(r.get("id")): r for r in record.fault_rows()}
    for j in record.journal:
        if j.get("status") == 429:
            throttled.setdefault(str(j.get("fake")), []).append(
                (
                    number(j.get("t")),
                    _provider_hold_s(
                        j, rules, p.hold_s, float(record.extra.get("in_flight_s") or 0.0)
                    ),
                )
            )

    def held(provider: str, t: float) -> bool:
        return any(at <= t <= at + hold for at, hold in throttled.get(provider, ()))

    #: (job, action) → when its routed request began (its first attempt since its last success)
    began: dict[tuple[str, str], float] = {}
    for i, a in sorted(enumerate(record.audit), key=lambda e: number(e[1].get("seq"), e[0])):
        action = str(a.get("action"))
        cap = _ROUTED_ACTIONS.get(action)
        if cap is None:
            continue
        key = (str(a.get("job_id")), action)
        t = number(a.get("t"))
        if a.get("phase") == "outcome":
            if a.get("outcome") == "success":
                began.pop(key, None)
            continue
        if a.get("phase") != "attempt" or cap not in steps:
            continue
        fresh = key not in began
        start = began.setdefault(key, t)
        routed, since = next(((v, s) for s, v in reversed(steps[cap]) if s <= t), ((), -math.inf))
        checked += 1
        provider = str(a.get("platform"))
        if (
            fresh
            and since > -math.inf
            and provider in routed
            and provider != routed[0]
            and not held(routed[0], t)
        ):
            phrase = (
                f"made first to {provider} for {cap} while the routing put {routed[0]} first "
                f"({', '.join(routed)} since {format_offset(record.offset(since))})"
            )
            ref = f"{a.get('job_id')} at {format_offset(record.offset(t))}"
            out.append(Violation(t, ("call", "calls"), phrase, ref, evidence("audit.jsonl", i)))
            continue
        if not routed or provider in routed or start < since:
            continue
        when = (
            "since the drill began"
            if since == -math.inf
            else f"since {format_offset(record.offset(since))}"
        )
        phrase = (
            f"made to {provider} for {cap} while the routing named only "
            f"{', '.join(routed)} ({when})"
        )
        ref = f"{a.get('job_id')} at {format_offset(record.offset(t))}"
        out.append(Violation(t, ("call", "calls"), phrase, ref, evidence("audit.jsonl", i)))
    if checked == 0:
        return NotApplicable("no provider call was attempted under a routing")
    return Findings(
        checked,
        out,
        f"all {checked} provider calls went to a provider their capability's routing named",
    )


@invariant(NoParams)
def operator_calls_answered(record: DrillRecord, p: NoParams) -> Findings | NotApplicable:
    """Every control call a person makes gets an answer: none of the operator's calls goes
    unanswered for 15 minutes.

    A console that hangs in the middle of an incident leaves the on-call engineer not knowing
    whether the kill switch is on or the canary went out: a canary that waits for a job a kill
    switch parked instead of reporting it blocked, a call that waits on a lock never released.
    The drill gives up on such a call after 15 minutes of platform time (``operator.unanswered``
    on the timeline) and goes on with the next step; the automated Ops Lead's unanswered steps
    are ``runbook_steps_applied``'s to judge. A call the scenario marks ``refused: true`` (a
    misspelt platform, a scope that names nothing) must be refused: one the platform takes
    leaves the operator believing in a control that stops nothing. A canary (``canary.run``)
    is answered with a test post made for that call: one answered with a canary job created
    before the call reports an earlier canary's result as today's.
    """
    steps = record.timeline.of_kind("operator.step", "operator.unanswered")
    if not steps:
        return NotApplicable("the scenario has no operator steps")
    out = [
        Violation(
            e.t,
            ("operator call", "operator calls"),
            f"went unanswered: {e.summary.split(': ', 1)[-1]}",
            f"{e.data.get('action')} at {format_offset(float(str(e.data.get('at') or 0)))}",
            "evidence/timeline.jsonl",
        )
        for e in steps
        if e.kind == "operator.unanswered"
    ]
    # a step that says how soon it needs its answer (``within``): a later one came too late
    for e in steps:
        asked, within = e.data.get("asked_at"), e.data.get("within_s")
        if e.kind != "operator.step" or asked is None or within is None:
            continue
        took = e.t - number(asked)
        if took > number(within) + 1e-6:
            out.append(
                Violation(
                    e.t,
                    ("operator call", "operator calls"),
                    f"was answered {format_duration(took)} after it was made, where the step "
                    f"needs its answer within {format_duration(number(within))}: "
                    f"{e.summary.split(': ', 1)[-1]}",
                    f"{e.data.get('action')} at {format_offset(record.offset(number(asked)))}",
                    "evidence/timeline.jsonl",
                )
            )
    # a canary answered with a job older than the call: the answer of an earlier canary (a key
    # that makes every canary of a client and platform the same job), not a test post made now
    created = {str(j.get("id")): number(j.get("created_at")) for j in record.jobs}
    for e in steps:
        result = json_object(e.data.get("result"))
        # the answer agrees with itself: a canary whose job succeeded made and verified its
        # post (ok, naming it); one that says ok names the post it made
        if e.data.get("action") == "canary.run" and result.get("job_id") is not None:
            said = (
                "not ok though its job succeeded"
                if result.get("state") == "succeeded" and not result.get("ok")
                else "ok naming no post"
                if result.get("ok") and not result.get("resource_id")
                else None
            )
            if said is not None:
                out.append(
                    Violation(
                        e.t,
                        ("operator call", "operator calls"),
                        f"was answered {said} (canary {result.get('job_id')}: a golden path "
                        f"check that cannot be read): {e.summary.split(': ', 1)[-1]}",
                        f"{e.data.get('action')} at {format_offset(record.offset(e.t))}",
                        "evidence/timeline.jsonl",
                    )
                )
        asked, job_id = e.data.get("asked_at"), result.get("job_id")
        if e.data.get("action") != "canary.run" or asked is None or str(job_id) not in created:
            continue
        born = created[str(job_id)]
        if born < number(asked) - 1e-6:
            out.append(
                Violation(
                    e.t,
                    ("operator call", "operator calls"),
                    f"was answered with canary {job_id}, created at "
                    f"{format_offset(record.offset(born))} before the call was made (an earlier "
                    f"canary's result, not a test post of now): {e.summary.split(': ', 1)[-1]}",
                    f"{e.data.get('action')} at {format_offset(record.offset(number(asked)))}",
                    "evidence/timeline.jsonl",
                )
            )
    # a call the platform must refuse (the scenario's ``refused: true``: a misspelt platform, a
    # scope that names nothing) was taken: the operator believes a control is in force that
    # stops nothing
    for e in steps:
        if e.kind == "operator.step" and e.data.get("must_refuse") and not e.data.get("refused"):
            out.append(
                Violation(
                    e.t,
                    ("operator call", "operator calls"),
                    "was accepted though the platform must refuse it (it names nothing the "
                    f"platform has, so it controls nothing): {e.summary.split(': ', 1)[-1]}",
                    f"{e.data.get('action')} at {format_offset(record.offset(e.t))}",
                    "evidence/timeline.jsonl",
                )
            )
    return Findings(
        len(steps), out, f"all {len(steps)} operator calls were answered by the platform"
    )


@invariant()
def runner_concurrency_kept(record: DrillRecord, p: NoParams) -> Findings | NotApplicable:
    """No more jobs work at once than the runner's concurrency the platform's settings give it
    (the scenario's ``world.runner_concurrency``).

    Judged from the fakes' journal: a job works while one of its requests (its trace) is on
    the wire, from the request's arrival to its answer; jobs that wait (on pacing, a back-off, a
    provider called without a trace) are not seen, so the count is a floor of the jobs running.
    More than the limit means the runner started work past the bound the operator set to
    protect the APIs' rates and the platform's connections.
    """
    world = scenario_field(record.scenario, "world")
    raw = scenario_field(world, "runner_concurrency") if world is not None else None
    if raw is None:
        return NotApplicable("the drill leaves the runner's concurrency at the platform's default")
    limit = int(number(raw))
    edges: list[tuple[float, int, str, int]] = []
    for i, j in enumerate(record.journal):
        trace = trace_id(j.get("traceparent"))
        if trace is None:
            continue
        start, end = number(j.get("started"), number(j.get("t"))), number(j.get("t"))
        if end <= start:
            continue  # answered the instant it arrived (virtual time): on the wire for no time
        edges.append((start, 1, trace, i))
        edges.append((end, -1, trace, i))
    if not edges:
        return NotApplicable("no request of a job was on the wire for any time")
    # an answer at the very instant another request arrives frees its place first
    edges.sort(key=lambda e: (e[0], e[1]))
    on_wire: dict[str, int] = {}
    out: list[Violation] = []
    most = 0
    for t, step, trace, i in edges:
        on_wire[trace] = on_wire.get(trace, 0) + step
        if on_wire[trace] <= 0:
            del on_wire[trace]
        working = len(on_wire)
        if step > 0 and working > limit and working > most:
            out.append(
                Violation(
                    t,
                    ("moment", "moments"),
                    f"with {working} jobs' requests on the wire at once at "
                    f"{format_offset(record.offset(t))} (runner_concurrency {limit})",
                    str(record.journal[i].get("request_id")),
                    evidence("journal.jsonl", i),
                )
            )
        most = max(most, working)
    return Findings(
        len(edges) // 2,
        out,
        f"at most {most} jobs had requests on the wire at once (runner_concurrency {limit})",
    )


@invariant()
def marked_jobs_left_alone(record: DrillRecord, p: NoParams) -> Findings | NotApplicable:
    """A job a person set aside for a confirmation (RB-03's "mark the unconfirmed posts
    needs_human_confirm") makes no further side-effect attempt unless that person's decision
    came back (an approval after the mark): its audit shows no attempt after the mark.

    The mark is the operator saying "do not post this until someone looks": a job that runs
    anyway — a stale entry of the queue that still names it, a retry timer that fires after the
    mark — posts what a person was to check, the double post RB-03 is there to prevent.
    """
    marked = {
        str(j.get("id")): (number(j.get("marked_at")), i, j)
        for i, j in enumerate(record.jobs)
        if j.get("marked_at") is not None
    }
    if not marked:
        return NotApplicable("no job was marked needs_human_confirm by a person")
    out: list[Violation] = []
    ran: set[str] = set()
    for i, a in enumerate(record.audit):
        jid = str(a.get("job_id"))
        if jid not in marked or jid in ran or a.get("phase") != "attempt":
            continue
        at, _, job = marked[jid]
        approved = job.get("approved_at")
        if number(a.get("t")) > at + 1e-6 and (approved is None or number(approved) < at):
            ran.add(jid)
            out.append(
                Violation(
                    number(a.get("t")),
                    ("job", "jobs"),
                    f"attempted its side effect at {format_offset(record.offset(number(a.get('t'))))}"
                    f" after a person marked it needs_human_confirm at "
                    f"{format_offset(record.offset(at))}",
                    jid,
                    evidence("audit.jsonl", i),
                )
            )
    return Findings(
        len(marked),
        out,
        f"none of {len(marked)} jobs a person marked needs_human_confirm acted afterwards",
    )
