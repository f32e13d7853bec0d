"""The search: Hypothesis draws schedules, each runs as an in-process drill, a violation is shrunk.

One Hypothesis test function (``probe``) is the whole search. Until the first violation it is a
*search draw*: the drawn scenario runs (with the chosen defects) and is judged with every
applicable invariant; a draw whose faults never fired is counted as wasted (``vacuous``), not as
a pass. The first violated invariant becomes the *target*; ``probe`` then fails exactly when the
target is violated again, so Hypothesis' own shrinker (fewer faults, shorter windows, fewer
clients, smaller workload — see :mod:`.space`) walks to a minimal schedule violating the same
invariant. A last pass drops any fault whose removal keeps the violation (1-minimality over the
faults), so every fault left is needed.

Reproducible for a seed: ``hypothesis.seed(seed)`` fixes the draws; drills are pure functions of
(scenario, seed, commit). The example database (``reports/explore/db/<space>``) replays known
failures first. With ``workers > 1`` the same draws are first generated without running them,
evaluated in order by a process pool, and then replayed from that cache by the same Hypothesis
run, so the result (the first violating draw, its shrink) does not depend on the worker count.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hseed
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from ..scenario import Scenario
from .space import Space, scenarios

__all__ = [
    "Outcome",
    "SearchConfig",
    "SearchResult",
    "evaluate",
    "minimise_faults",
    "minimise_workload",
    "search",
]


@dataclass(frozen=True)
class SearchConfig:
    """What to search: the space, the seed, the limits, the platform's defects."""

    space: Space = field(default_factory=Space)
    seed: int = 0
    budget: int = 300
    time_s: float | None = None
    workers: int = 1
    defects: tuple[str, ...] = ()
    #: drills spent shrinking at most (then the smallest failure so far is kept)
    max_shrinks: int = 150
    #: the example database's folder (None: no database)
    db_dir: Path | None = Path("reports/explore/db")

    def key(self) -> str:
        """A short digest of what makes two searches comparable (their database shares it)."""
        doc = {"space": self.space.describe(), "defects": sorted(self.defects), "seed": self.seed}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Outcome:
    """One judged drill: verdict, violated invariants (with their sentences), fault hits, cost."""

    verdict: str
    violated: tuple[str, ...]
    details: dict[str, str]
    hits: dict[str, int]
    error: str | None
    cpu_s: float

    @property
    def reached(self) -> bool:
        """Did every fault fire (not a wasted draw)?"""
        return self.verdict != "vacuous" and all(n > 0 for n in self.hits.values())


def _canon(s: Scenario) -> str:
    return json.dumps(s.model_dump(mode="json"), sort_keys=True)


def evaluate(raw: str, defects: tuple[str, ...]) -> Outcome:
    """Run one scenario (JSON) in-process on virtual time, judge it, write nothing."""
    from ..drill.run import DrillOptions, run_drill
    from ..errors import DrillError

    # the MCP client logs every malformed or dropped gateway response: expected under faults
    logging.getLogger("mcp").setLevel(logging.CRITICAL)
    s = Scenario.model_validate_json(raw)
    c0 = time.process_time()
    r = run_drill(s, DrillOptions(defects=defects, write=False))
    if r.interrupted:  # Ctrl-C / SIGTERM reached the drill's handler: stop the whole search
        raise KeyboardInterrupt
    v = r.verdict_obj
    if v is None:
        raise DrillError(f"{s.id}: the drill ended without a verdict ({r.verdict})")
    bad = tuple(i.name for i in v.invariants if i.verdict == "violated")
    details = {i.name: str(i.to_json().get("detail") or "") for i in v.invariants if i.name in bad}
    hits = {x.name.removesuffix(" served"): int(x.count) for x in v.reached}
    return Outcome(r.verdict, bad, details, hits, v.error, time.process_time() - c0)


@dataclass
class SearchResult:
    """What a search found (or not), and what it cost."""

    config: SearchConfig
    draws: int = 0
    reached: int = 0
    vacuous: int = 0
    errors: list[str] = field(default_factory=list)
    found_at: int | None = None
    invariant: str | None = None
    first: Scenario | None = None
    minimal: Scenario | None = None
    minimal_outcome: Outcome | None = None
    shrink_drills: int = 0
    #: every drill run: draws, shrinking, minimising, healthy checks (and pool draws never used)
    drills: int = 0
    dropped_faults: int = 0
    drill_cpu_s: float = 0.0
    wall_s: float = 0.0
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    #: for each fault of the minimal scenario: is the invariant still violated without it?
    without: list[dict[str, Any]] = field(default_factory=list)
    #: under defects: invariants the same draws violated on the healthy platform too (not blamed)
    healthy_violations: dict[str, int] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """Was a violation found?"""
        return self.minimal is not None


class _Found(AssertionError):
    """Raised by the probe when the target invariant is violated (Hypothesis shrinks it)."""


def _settings(cfg: SearchConfig, db: ExampleDatabase | None, phases: list[Phase]) -> settings:
    return settings(
        max_examples=cfg.budget,
        database=db,
        deadline=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=False,
        derandomize=False,
    )


def _pregenerate(cfg: SearchConfig, strategy: Any) -> list[str]:
    """The search draws in order, without running them (for the worker pool)."""
    out: list[str] = []

    @hseed(cfg.seed)
    @_settings(cfg, None, [Phase.generate])
    @given(strategy)
    def collect(s: Scenario) -> None:
        out.append(_canon(s))

    collect()
    return out


def search(cfg: SearchConfig, progress: Callable[[str], None] | None = None) -> SearchResult:
    """Search ``cfg.space`` for a violation; shrink and minimise it; see the module doc."""
    t0 = time.perf_counter()
    res = SearchResult(cfg)
    cache: dict[str, Outcome] = {}
    strategy = scenarios(cfg.space, seed=cfg.seed)
    say = progress or (lambda _m: None)

    healthy: dict[str, Outcome] = {}

    def run(raw: str) -> Outcome:
        if raw not in cache:
            cache[raw] = evaluate(raw, cfg.defects)
            res.drill_cpu_s += cache[raw].cpu_s
            res.drills += 1
        return cache[raw]

    def blame(raw: str) -> tuple[str, ...]:
        """The invariants violated by ``raw``; under defects, only those that hold without them."""
        out = run(raw)
        if not cfg.defects or not out.violated:
            return out.violated
        if raw not in healthy:
            healthy[raw] = evaluate(raw, ())
            res.drill_cpu_s += healthy[raw].cpu_s
            res.drills += 1
            for name in healthy[raw].violated:
                res.healthy_violations[name] = res.healthy_violations.get(name, 0) + 1
        return tuple(v for v in out.violated if v not in healthy[raw].violated)

    if cfg.workers > 1:
        draws = _pregenerate(cfg, strategy)
        batch = cfg.workers * 2
        with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
            for i in range(0, len(draws), batch):
                chunk = [d for d in draws[i : i + batch] if d not in cache]
                for raw, out in zip(
                    chunk, pool.map(evaluate, chunk, [cfg.defects] * len(chunk)), strict=True
                ):
                    cache[raw] = out
                    res.drill_cpu_s += out.cpu_s
                    res.drills += 1
                say(f"evaluated {min(i + batch, len(draws))}/{len(draws)} draws")
                if any(cache[d].violated for d in draws[i : i + batch]):
                    break
                if cfg.time_s is not None and time.perf_counter() - t0 > cfg.time_s:
                    break

    state: dict[str, Any] = {"target": None, "best": None, "out_of_time": False}
    drawn: set[str] = set()

    @hseed(cfg.seed)
    @_settings(cfg, _db(cfg), [Phase.reuse, Phase.generate, Phase.shrink])
    @given(strategy)
    def probe(s: Scenario) -> None:
        # one raise site: Hypothesis tells failures apart by where they are raised
        failed = _probe(s)
        if failed:
            raise _Found(failed)

    def _probe(s: Scenario) -> str | None:
        raw = _canon(s)
        target = state["target"]
        if target is None:
            if state["out_of_time"] or (
                cfg.time_s is not None and time.perf_counter() - t0 > cfg.time_s
            ):
                state["out_of_time"] = True
                return None
            if raw in drawn:  # Hypothesis replayed a draw: no new information, not a new draw
                return None
            drawn.add(raw)
            out = run(raw)
            res.draws += 1
            _cover(res, s, out)
            if out.error:
                res.errors.append(out.error)
            elif out.verdict == "vacuous":
                res.vacuous += 1
            if out.reached:
                res.reached += 1
            bad = blame(raw)
            if bad:
                state["target"] = bad[0]
                state["best"] = raw
                res.found_at, res.first, res.invariant = res.draws, s, bad[0]
                say(f"draw {res.draws}: {bad[0]} violated; shrinking")
                return bad[0]
            if res.draws % 25 == 0:
                say(f"{res.draws} draws, {res.reached} reached their faults, nothing violated")
            return None
        late = cfg.time_s is not None and time.perf_counter() - t0 > cfg.time_s
        if raw not in cache and (res.shrink_drills >= cfg.max_shrinks or late):
            return None  # the shrink budget is spent: untried candidates count as not failing
        if raw not in cache:
            res.shrink_drills += 1
        if target in blame(raw):
            state["best"] = raw
            return str(target)
        return None

    with contextlib.suppress(_Found):
        probe()
    if state["best"] is not None:
        shrunk = Scenario.model_validate_json(state["best"])
        target = str(state["target"])
        smaller, _ = minimise_faults(shrunk, target, blame)
        # with faults gone, the traffic they needed may be too: shrink the workload once more
        smaller = minimise_workload(smaller, target, blame)
        res.minimal, res.without = minimise_faults(smaller, target, blame)
        res.minimal_outcome = run(_canon(res.minimal))
        res.dropped_faults = len(shrunk.faults) - len(res.minimal.faults)
    res.wall_s = time.perf_counter() - t0
    return res


def _db(cfg: SearchConfig) -> ExampleDatabase | None:
    if cfg.db_dir is None:
        return None
    return DirectoryBasedExampleDatabase(str(cfg.db_dir / cfg.key()))


def _cover(res: SearchResult, s: Scenario, out: Outcome) -> None:
    for f in s.faults:
        row = res.coverage.setdefault(f"{f.kind}@{f.target()}", {"drawn": 0, "fired": 0})
        row["drawn"] += 1
        row["fired"] += int(out.hits.get(f.kind, 0) > 0)


def without_fault(s: Scenario, i: int) -> Scenario:
    """``s`` with its ``i``-th fault removed (everything else as it was)."""
    raw = s.model_dump(mode="json")
    raw["faults"] = [f for j, f in enumerate(raw["faults"]) if j != i]
    return Scenario.model_validate(raw)


def minimise_faults(
    s: Scenario, target: str, blame: Callable[[str], tuple[str, ...]]
) -> tuple[Scenario, list[dict[str, Any]]]:
    """Drop every fault whose removal keeps ``target`` violated, until each one left is needed.

    ``blame`` names the invariants a scenario (JSON) violates. Returns the scenario and, for each
    fault left, whether ``target`` still broke without it (never, once this returns).
    """
    changed = True
    while changed:
        changed = False
        for i in range(len(s.faults)):
            smaller = without_fault(s, i)
            if target in blame(_canon(smaller)):
                s, changed = smaller, True
                break
    proof = [
        {
            "fault": i,
            "kind": f.kind,
            "violated_without": target in blame(_canon(without_fault(s, i))),
        }
        for i, f in enumerate(s.faults)
    ]
    return s, proof


def _workload_cuts(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Smaller variants of a scenario (JSON mapping): one surge, rate, platform or client less,
    the runbook's controls and alerting as written."""
    out: list[dict[str, Any]] = []
    wl = raw["workload"]

    def variant(**workload: Any) -> dict[str, Any]:
        return {**raw, "workload": {**wl, **workload}}

    for i in range(len(wl.get("surges") or ())):
        out.append(variant(surges=[x for j, x in enumerate(wl["surges"]) if j != i]))
    for key, extra in (
        ("dms_per_hour", {}),
        ("inbound_comments_per_hour", {"dms_per_hour": 0.0}),
        ("tool_calls_per_hour", {"tool_followup": "none"}),
        ("generation_jobs_per_hour", {"text_tools": []}),
        ("video_jobs_per_hour", {}),
        ("image_jobs_per_hour", {}),
    ):
        if wl.get(key):
            out.append(variant(**{key: 0.0, **extra}))
    if (wl.get("posts_per_hour") or 0) > 30:
        out.append(variant(posts_per_hour=30.0))
    # a control the draw made unavailable, an alerting more watchful than the runbook's: back to
    # the runbook as written when the violation does not need them
    overrides = raw.get("runbook_overrides") or {}
    if overrides.get("skip"):
        out.append({**raw, "runbook_overrides": {**overrides, "skip": []}})
    detection = raw.get("detection") or {}
    if detection.get("rules"):
        out.append({**raw, "detection": {**detection, "rules": []}})
    world = raw["world"]
    if world.get("budgets"):
        out.append({**raw, "world": {**world, "budgets": None}})
    for p in world["platforms"]:
        if len(world["platforms"]) > 1:
            kept = [x for x in world["platforms"] if x != p]
            out.append({**raw, "world": {**world, "platforms": kept}})
    if world["clients"] > 1:
        out.append({**raw, "world": {**world, "clients": world["clients"] - 1}})
    return out


def minimise_workload(
    s: Scenario, target: str, blame: Callable[[str], tuple[str, ...]]
) -> Scenario:
    """Greedily drop surges, traffic, budgets, platforms and clients while ``target`` still breaks."""
    from pydantic import ValidationError

    changed = True
    while changed:
        changed = False
        for cut in _workload_cuts(s.model_dump(mode="json")):
            try:
                smaller = Scenario.model_validate(cut)
            except ValidationError:  # e.g. a fault still targets the platform dropped
                continue
            if target in blame(_canon(smaller)):
                s, changed = smaller, True
                break
    return s
