"""``replay.json``: what a report folder records to re-run its drill, read as untrusted input.

A report folder travels (CI artifacts, attachments to an incident ticket), so its ``replay.json``
is validated like a scenario file: size, encoding, depth and duplicate keys first
(:mod:`harness.safe_input`), then the recorded scenario against the live catalogues, and the
defects against the platform's. A bad file is a :class:`ScenarioError` (exit 2), never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .safe_input import UnsafeInput, clip, load_json_file, short_repr
from .scenario import Catalogue, Scenario, default_catalogue
from .scenario_errors import ScenarioError, explain

__all__ = ["ReplayMeta", "load_replay"]


class ReplayMeta(BaseModel):
    """The recorded inputs of one drill: scenario, seed, defects, mode, and the timeline hash."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    scenario: Scenario
    seed: int
    defects: tuple[str, ...] = ()
    mode: Literal["auto", "observe"] | None = None
    commit: str | None = None
    timeline_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def load_replay(path: Path, catalogue: Catalogue | None = None) -> ReplayMeta:
    """Read and validate ``replay.json``; :class:`ScenarioError` with one clear message otherwise."""
    shown = str(path)
    try:
        raw = load_json_file(path, shown)
    except UnsafeInput as e:
        raise ScenarioError(str(e)) from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{shown}: must be a JSON object, got {type(raw).__name__}")
    cat = catalogue if catalogue is not None else default_catalogue()
    try:
        meta = ReplayMeta.model_validate(raw, context={"catalogue": cat})
    except ValidationError as e:
        raise ScenarioError(clip(f"{shown}: {explain(e, ReplayMeta, raw)}")) from None
    for i, name in enumerate(meta.defects):
        if name not in cat.defects:
            raise ScenarioError(
                clip(
                    f"{shown}: defects[{i}]: {short_repr(name)} is not a defect of this platform; "
                    f"valid: {', '.join(sorted(cat.defects))}"
                )
            )
    return meta
