"""Start ``vibedrill gameday`` as a subprocess on 127.0.0.1 and read what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Gameday:
    """A running (then finished) game day: its process, URLs and reports folder."""

    proc: subprocess.Popen[str]
    join: str
    facilitator: str
    reports: Path

    def wait(self, timeout: float) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def report(self) -> Path:
        dirs = [d for d in self.reports.iterdir() if (d / "verdict.json").is_file()]
        assert len(dirs) == 1, [d.name for d in self.reports.iterdir()]
        return dirs[0]

    def verdict(self) -> dict[str, Any]:
        return dict(json.loads((self.report() / "verdict.json").read_text()))

    def rehearsal(self) -> dict[str, Any]:
        return dict(json.loads((self.report() / "rehearsal.json").read_text()))

    def timeline(self) -> list[dict[str, Any]]:
        text = (self.report() / "evidence" / "timeline.jsonl").read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def start_gameday(tmp: Path, *args: str, wait_ready: bool = True) -> Gameday:
    """``vibedrill gameday ARGS --port 0 --ready-file … --reports-dir …`` in a subprocess."""
    ready = tmp / "ready.json"
    reports = tmp / "reports"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from harness.cli.main import main; main()",
            "gameday",
            *args,
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--reports-dir",
            str(reports),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    doc: dict[str, Any] = {}
    if wait_ready:
        deadline = time.monotonic() + 120
        while not ready.is_file():
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(
                    f"gameday exited {proc.returncode} before listening:\n{out}\n{err}"
                )
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("gameday did not write its ready file in 120 s")
            time.sleep(0.1)
        doc = json.loads(ready.read_text())
    return Gameday(proc, doc.get("join", ""), doc.get("facilitator", ""), reports)
