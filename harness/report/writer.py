"""Write a drill's report folder atomically: evidence, postmortem (md + html), junit, verdict.

Every file is written to a temporary name in the same folder and renamed into place, so an
interrupted run leaves only complete files. ``verdict.json`` is written last: its presence means
the report is complete. Known secrets, and any run of 12 characters of one, are scrubbed from
every file, and the judge's ``no_secret_in_artifacts`` sees the rendered files *before*
scrubbing, so a leak is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..files import atomic_write
from ..judge.judgement import judge
from ..judge.record import DrillRecord
from ..judge.secrets import SecretIndex
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


def render_report(
    record: DrillRecord, *, error: str | None = None
) -> tuple[Verdict, dict[str, str]]:
    """Judge and render every file in memory (scrubbed); ``verdict.json`` is the last key."""
    first = judge(record, error=error)
    drafts = render_evidence(record, first)
    drafts["postmortem.md"] = render_markdown(record, first)
    judged = record.with_artifacts({**record.artifacts, **drafts})
    verdict = judge(judged, error=error, reuse=first)
    if verdict == first:  # the drafts are the files (both are pure functions of record, verdict)
        files = drafts
    else:
        files = render_evidence(record, verdict)
        files["postmortem.md"] = render_markdown(record, verdict)
    files["postmortem.html"] = render_html(record, verdict)
    files["junit.xml"] = render_junit(verdict)
    files["verdict.json"] = json.dumps(verdict.to_json(), indent=2, ensure_ascii=False) + "\n"
    secrets = SecretIndex.of(record.secrets)
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
