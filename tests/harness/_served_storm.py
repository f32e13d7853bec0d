"""The short storm the served-drill tests drill over HTTP, and the options of such a drill."""

from __future__ import annotations

from pathlib import Path

from harness.drill.run import DrillOptions

STORM = """
id: served_storm
title: a short 429 storm on X, drilled over HTTP
runbook: RB-05
severity: P2
incident_types: [RATE]
seed: 3
world: {clients: 2, platforms: [x]}
workload: {duration: 40m, steady_state: 5m, posts_per_hour: 60}
faults:
  - {kind: x.rate_limited, at: 10m, duration: 15m, params: {retry_after_s: 60}, probability: 0.9}
response: auto
invariants: [rate_within_platform_limits, no_duplicate_side_effects, every_side_effect_audited]
"""

SCALE = 120.0


def served_options(pair: object, reports: Path, **kw: object) -> DrillOptions:
    """The options of a drill of ``pair`` (a served pair at :data:`SCALE`), reports in ``reports``."""
    return DrillOptions(
        reports_dir=reports,
        platform_url=pair.platform_url,  # type: ignore[attr-defined]
        world=pair.world,  # type: ignore[attr-defined]
        time_scale=SCALE,
        **kw,  # type: ignore[arg-type]
    )
