"""``vibedrill explore``: search the fault space for a failure nobody scripted, shrink it to a scenario.

:func:`explore` runs a :class:`SearchConfig` (see :mod:`.loop`), then checks the minimal
schedule the way a user will: written as a scenario file (:mod:`.output`), loaded back, run with
the same defects (it must violate the same invariant) and on the healthy platform (under a
defect, to say whether the defect is what breaks it); and writes the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..scenario import Scenario, load_scenario
from .loop import Outcome, SearchConfig, SearchResult, evaluate, search, without_fault
from .output import found_id, reproduce_command, write_found, write_summary
from .space import Space, scenarios

__all__ = [
    "ExploreRun",
    "Outcome",
    "SearchConfig",
    "SearchResult",
    "Space",
    "evaluate",
    "explore",
    "found_id",
    "reproduce_command",
    "scenarios",
    "search",
    "without_fault",
]


@dataclass
class ExploreRun:
    """A finished exploration: the search, the written files and the replay checks."""

    result: SearchResult
    summary_dir: Path
    scenario: Path | None = None
    reproduced: bool | None = None
    healthy_holds: bool | None = None


def explore(
    cfg: SearchConfig,
    *,
    reports_dir: Path = Path("reports"),
    found_dir: Path = Path("scenarios/found"),
    search_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExploreRun:
    """Search, write the minimal scenario and the summary, and replay the scenario from its file."""
    res = search(cfg, progress)
    run = ExploreRun(res, reports_dir)
    if res.minimal is not None and res.invariant is not None:
        if cfg.defects:
            healthy = evaluate(res.minimal.model_dump_json(), ())
            run.healthy_holds = res.invariant not in healthy.violated
            # what the healthy platform breaks too is not the finding (a wait past the drill's
            # end on a platform's daily limit, say): the file judges only what holds without
            # the defect, so it is a regression test that holds on the healthy platform
            noise = set(healthy.violated) - {res.invariant}
            if run.healthy_holds and noise:
                raw = res.minimal.model_dump(mode="json")
                raw["invariants"] = [i for i in raw["invariants"] if i["name"] not in noise]
                res.minimal = Scenario.model_validate(raw)
        run.scenario = write_found(res, found_dir, run.healthy_holds)
        again = load_scenario(run.scenario)
        out = evaluate(again.model_dump_json(), cfg.defects)
        run.reproduced = res.invariant in out.violated
    run.summary_dir = write_summary(res, reports_dir, run.scenario, search_id)
    _amend(run)
    return run


def _amend(run: ExploreRun) -> None:
    """Add the replay checks to summary.json."""
    import json

    p = run.summary_dir / "summary.json"
    doc = json.loads(p.read_text(encoding="utf-8"))
    if doc.get("violation") is not None:
        doc["violation"]["reproduced_from_file"] = run.reproduced
        doc["violation"]["holds_on_healthy_platform"] = run.healthy_holds
    p.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
