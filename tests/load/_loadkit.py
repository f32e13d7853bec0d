"""What the files of ``tests/load`` share: the CLI and the options of a short run, the mark in the
environment that finds every process a run started, and a parser of ``load.html``'s charts."""

from __future__ import annotations

import html.parser
import os
import sys
import uuid
from pathlib import Path
from typing import Any

RUN = ["--users", "5", "--spawn-rate", "5", "--run-time", "8s", "--drain", "30s"]
CLI = [sys.executable, "-c", "from harness.cli import main; main()", "load"]

#: every process that this test process's ``vibedrill load`` runs start inherits this variable
MARK = f"VIBEDRILL_LOAD_TEST={uuid.uuid4().hex}".encode()


def marked_env() -> dict[str, str]:
    """The environment for a ``vibedrill load`` child: this process's, with :data:`MARK`."""
    return {**os.environ, **dict([MARK.decode().split("=", 1)])}


def leftovers() -> set[int]:
    """Pids of living processes that this test process's ``vibedrill load`` runs started."""
    out: set[int] = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            env = (d / "environ").read_bytes().split(b"\0")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and MARK in env:
            out.add(int(d.name))
    return out


class Charts(html.parser.HTMLParser):
    """Each ``<svg class="chart">``: its id, its series' points, its storm rectangle."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, Any]] = {}
        self.current: str | None = None
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "svg" and a.get("class") == "chart":
            self.current = str(a["id"])
            self.charts[self.current] = {"series": {}, "storm": None}
        elif tag == "polyline" and self.current and a.get("class") == "series":
            pts = [tuple(float(v) for v in p.split(",")) for p in str(a["points"]).split()]
            self.charts[self.current]["series"].setdefault(str(a["data-series"]), []).extend(pts)
        elif tag == "rect" and self.current and a.get("class") == "storm":
            self.charts[self.current]["storm"] = float(str(a["width"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


def parse_charts(page: str) -> Charts:
    """The charts of a ``load.html`` page."""
    p = Charts()
    p.feed(page)
    return p
