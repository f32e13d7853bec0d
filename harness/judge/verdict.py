"""The drill's verdict: invariants, reached checks, expectations, metrics, and ``verdict.json``.

The keys of ``verdict.json`` are stable (DESIGN.md): ``drill_id, scenario, runbook, severity,
seed, commit, topology, mode, defects, verdict, invariants, reached, metrics,
timeline_sha256``; extra keys follow them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .invariants import InvariantResult
from .metrics import DrillMetrics
from .rows import JsonObject

__all__ = ["ExpectationResult", "ReachedResult", "Verdict", "VerdictName", "exit_code"]

VerdictName = Literal["held", "violated", "vacuous", "error"]


@dataclass(frozen=True, slots=True)
class ReachedResult:
    """Proof the drill bit: did the fault fire (or the probe show) at least ``min`` times."""

    name: str
    hit: bool
    count: int
    min: int = 1

    def to_json(self) -> JsonObject:
        """One entry of verdict.json's ``reached``."""
        out: JsonObject = {"name": self.name, "hit": self.hit, "count": self.count}
        if self.min != 1:  # a trap (0: a safe platform never meets it) or a count to reach
            out["min"] = self.min
        return out


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """A deadline or blast-radius expectation and whether it was met."""

    name: str
    met: bool
    actual: float | int | None
    limit: float | int
    detail: str

    def to_json(self) -> JsonObject:
        """One entry of verdict.json's ``expectations``."""
        return {
            "name": self.name,
            "met": self.met,
            "actual": self.actual,
            "max": self.limit,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Verdict:
    """The judged drill."""

    drill_id: str
    scenario: str
    runbook: str
    severity: str
    seed: int
    commit: str | None
    topology: str
    mode: str
    defects: tuple[str, ...]
    verdict: VerdictName
    invariants: tuple[InvariantResult, ...]
    reached: tuple[ReachedResult, ...]
    expectations: tuple[ExpectationResult, ...]
    metrics: DrillMetrics | None
    timeline_sha256: str
    title: str = ""
    incident_types: tuple[str, ...] = ()
    error: str | None = None
    extra: JsonObject = field(default_factory=dict)

    @property
    def violated(self) -> list[InvariantResult]:
        """The invariants that broke."""
        return [r for r in self.invariants if r.verdict == "violated"]

    @property
    def unmet(self) -> list[ExpectationResult]:
        """The expectations not met."""
        return [e for e in self.expectations if not e.met]

    @property
    def missed(self) -> list[ReachedResult]:
        """The reached checks that never hit."""
        return [r for r in self.reached if not r.hit]

    def reasons(self) -> list[str]:
        """One sentence per thing that went wrong, for a failure message."""
        out = [f"{r.name}: {r.detail}" for r in self.violated]
        out += [f"expectation {e.name}: {e.detail}" for e in self.unmet]
        out += [
            f"reached check {r.name!r} never hit (count {r.count}, needed {r.min})"
            for r in self.missed
        ]
        if self.error:
            out.append(f"error: {self.error}")
        return out

    def assert_held(self) -> None:
        """Raise AssertionError naming the scenario, seed and every reason unless the verdict is held."""
        if self.verdict != "held":
            lines = "\n  ".join(self.reasons())
            raise AssertionError(
                f"drill {self.scenario} (seed {self.seed}) is {self.verdict}:\n  {lines}"
            )

    def to_json(self) -> JsonObject:
        """verdict.json, with the DESIGN.md keys first and in order."""
        return {
            "drill_id": self.drill_id,
            "scenario": self.scenario,
            "runbook": self.runbook,
            "severity": self.severity,
            "seed": self.seed,
            "commit": self.commit,
            "topology": self.topology,
            "mode": self.mode,
            "defects": list(self.defects),
            "verdict": self.verdict,
            "invariants": [r.to_json() for r in self.invariants],
            "reached": [r.to_json() for r in self.reached],
            "metrics": self.metrics.to_json() if self.metrics else {},
            "timeline_sha256": self.timeline_sha256,
            "title": self.title,
            "incident_types": list(self.incident_types),
            "expectations": [e.to_json() for e in self.expectations],
            "error": self.error,
            **self.extra,
        }


def exit_code(verdicts: list[Verdict]) -> int:
    """CLI exit code for a set of drills: 0 all held, 1 violated or vacuous, 3 harness error."""
    names = {v.verdict for v in verdicts}
    if "error" in names:
        return 3
    if names & {"violated", "vacuous"}:
        return 1
    return 0
