"""Load the runbook library (``data/rb01.yaml`` … ``rb12.yaml``) and check every step's action."""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..errors import BadInputError
from .actions import check_step
from .model import Runbook

__all__ = ["DATA_DIR", "RunbookError", "load_runbook", "runbooks"]

#: the runbook files, package data read through importlib.resources (works from a wheel)
DATA_DIR: Traversable = resources.files(__package__ or "harness.runbooks").joinpath("data")


class RunbookError(BadInputError):
    """A runbook data file that does not load; the message names file, key path and value."""


def load_runbook(path: Path | Traversable) -> Runbook:
    """Load and check one runbook file: schema, and every step names a registered action."""
    try:
        raw = yaml.safe_load(path.read_text())
        rb = Runbook.model_validate(raw)
    except yaml.YAMLError as e:
        raise RunbookError(f"{path.name}: YAML syntax error: {e}") from None
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise RunbookError(f"{path.name}: {loc}: {err['msg']} (got {err.get('input')!r})") from None
    for section in ("immediate", "diagnosis", "fix"):
        for i, step in enumerate(getattr(rb, section)):
            why = check_step(step.action, step.params)
            if why:
                raise RunbookError(f"{path.name}: {section}[{i}].action: {why}")
    ids = rb.step_ids()
    dup = sorted({s for s in ids if ids.count(s) > 1})
    if dup:
        raise RunbookError(f"{path.name}: step ids must be unique; repeated: {', '.join(dup)}")
    return rb


@cache
def runbooks() -> dict[str, Runbook]:
    """Every runbook by id (``RB-01`` …), loaded once."""
    out: dict[str, Runbook] = {}
    files = [p for p in DATA_DIR.iterdir() if p.name.startswith("rb") and p.name.endswith(".yaml")]
    for path in sorted(files, key=lambda p: p.name):
        rb = load_runbook(path)
        if rb.id in out:
            raise RunbookError(f"{path.name}: runbook {rb.id} is defined twice")
        out[rb.id] = rb
    return out
