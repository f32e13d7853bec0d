"""Write a drill's report folder atomically: evidence, postmortem (md + html), junit, verdict.

Every file is written to a temporary name in the same folder and renamed into place, so an
interrupted run leaves only complete files. ``verdict.json`` is written last: its presence means
the report is complete. Known secrets are scrubbed from every file, and the judge's
``no_secret_in_artifacts`` sees the rendered files *before* scrubbing, so a leak is reported.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..judge.judgement import judge
from ..judge.record import DrillRecord
from ..judge.verdict import Verdict
from .evidence import render_evidence, scrub
from .junit import render_junit
from .postmortem import render_html, render_markdown

__all__ = ["Report", "atomic_write", "render_report", "write_message", "write_report"]


@dataclass(frozen=True)
class Report:
    """A written report: its folder, the verdict and the files (relative paths)."""

    dir: Path
    verdict: Verdict
    files: tuple[str, ...]


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_report(
    record: DrillRecord, *, error: str | None = None
) -> tuple[Verdict, dict[str, str]]:
    """Judge and render every file in memory (scrubbed); ``verdict.json`` is the last key."""
    first = judge(record, error=error)
    drafts = render_evidence(record, first)
    drafts["postmortem.md"] = render_markdown(record, first)
    judged = dataclasses.replace(record, artifacts={**record.artifacts, **drafts})
    verdict = judge(judged, error=error)
    files = render_evidence(record, verdict)
    files["postmortem.md"] = render_markdown(record, verdict)
    files["postmortem.html"] = render_html(record, verdict)
    files["junit.xml"] = render_junit(verdict)
    files["verdict.json"] = json.dumps(verdict.to_json(), indent=2, ensure_ascii=False) + "\n"
    secrets = record.secrets
    return verdict, {k: scrub(v, secrets) for k, v in files.items()}


def write_report(
    record: DrillRecord, reports_dir: Path | str, *, error: str | None = None
) -> Report:
    """Judge ``record`` and write ``<reports_dir>/<drill_id>/``; returns the Report."""
    out = Path(reports_dir) / record.drill_id
    verdict, files = render_report(record, error=error)
    for rel, text in files.items():
        atomic_write(out / rel, text)
    return Report(out, verdict, tuple(files))


def write_message(folder: Path | str, message: str, name: str = "error.txt") -> Path:
    """Write one message (e.g. a bad scenario's) as the only file of a report folder."""
    path = Path(folder) / name
    atomic_write(path, message.rstrip("\n") + "\n")
    return path
